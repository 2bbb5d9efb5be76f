//! Agents and the work lists: a queue's open tickets soonest due first, an agent's own.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, NullOrdering, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, FromQueryResult, Order,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use entity::{agents, tickets};

use super::locks::{claim_write_lock, for_update};
use super::tickets::{insert_events, status_not_in, NewEvent};
use super::{Store, StoreError, TicketRecord};

pub use entity::agents::Model as AgentRecord;

/// Statuses in which a ticket needs no more work. The partial indexes
/// `tickets_open_queue_due` and `tickets_assignee_open` hold the other tickets (migrations 8
/// and 22 name these).
const DONE: [&str; 2] = ["resolved", "closed"];

/// Statuses in which a ticket needs no agent (yet): done, or answered by the FAQ. The
/// partial index `tickets_waiting_queue` holds the other tickets (migration 17 names these).
const NO_AGENT: [&str; 4] = ["resolved", "closed", "answered-automatically", "noise"];

/// An agent with the open tickets they hold now.
#[derive(Clone, Debug)]
pub struct AgentLoad {
    pub agent: AgentRecord,
    pub load: u32,
}

/// One automatic assignment.
#[derive(Clone, Debug, PartialEq)]
pub struct Assigned {
    pub ticket: Uuid,
    pub seq: i64,
    pub agent: String,
}

/// A queue's tickets that wait for people, as the "now" view counts them.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct QueueCount {
    pub queue: String,
    /// Open and needing an agent (not done, not answered by the FAQ, not noise).
    pub open: i64,
    /// Of those, held by nobody.
    pub unassigned: i64,
    /// Of those, with a clock due before the moment counted at.
    pub overdue: i64,
}

#[derive(FromQueryResult)]
struct Load {
    assignee: Option<String>,
    n: i64,
}

/// Open tickets per agent (inside a transaction where capacity is checked).
async fn loads(
    db: &impl ConnectionTrait,
    ids: Vec<String>,
) -> Result<std::collections::HashMap<String, u32>, StoreError> {
    let rows = tickets::Entity::find()
        .select_only()
        .column(tickets::Column::Assignee)
        .column_as(Expr::col(tickets::Column::Id).count(), "n")
        .filter(tickets::Column::Assignee.is_in(ids))
        .filter(status_not_in(&DONE))
        .group_by(tickets::Column::Assignee)
        .into_model::<Load>()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|l| Some((l.assignee?, u32::try_from(l.n).unwrap_or(u32::MAX))))
        .collect())
}

/// The agents with the open tickets each holds.
async fn with_loads(
    db: &impl ConnectionTrait,
    agents: Vec<AgentRecord>,
) -> Result<Vec<AgentLoad>, StoreError> {
    let held = loads(db, agents.iter().map(|a| a.id.clone()).collect()).await?;
    Ok(agents
        .into_iter()
        .map(|agent| AgentLoad {
            load: held.get(&agent.id).copied().unwrap_or(0),
            agent,
        })
        .collect())
}

/// Gives `ticket` to `agent` inside `txn` if it is unchanged since read, with its event;
/// false if another assigner (or any other change) was first.
async fn give(
    txn: &DatabaseTransaction,
    ticket: &TicketRecord,
    agent: &str,
    event: NewEvent,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = tickets::Entity::update_many()
        .col_expr(tickets::Column::Assignee, Expr::value(agent))
        .col_expr(tickets::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            tickets::Column::Version,
            Expr::col(tickets::Column::Version).add(1),
        )
        .filter(tickets::Column::Id.eq(ticket.id))
        .filter(tickets::Column::Version.eq(ticket.version))
        .exec(txn)
        .await?;
    if r.rows_affected == 0 {
        return Ok(false);
    }
    insert_events(txn, ticket.id, vec![event], now).await?;
    agents::Entity::update_many()
        .col_expr(agents::Column::LastAssignedAt, Expr::value(now))
        .filter(agents::Column::Id.eq(agent))
        .exec(txn)
        .await?;
    Ok(true)
}

impl Store {
    /// Creates or replaces an agent.
    pub async fn put_agent(&self, a: AgentRecord) -> Result<AgentRecord, StoreError> {
        let row = agents::ActiveModel {
            id: Set(a.id.clone()),
            name: Set(a.name.clone()),
            email: Set(a.email.clone()),
            skills: Set(a.skills.clone()),
            languages: Set(a.languages.clone()),
            capacity: Set(a.capacity),
            presence: Set(a.presence.clone()),
            updated_at: Set(a.updated_at),
            calendar: Set(a.calendar.clone()),
            last_assigned_at: Set(a.last_assigned_at),
        };
        agents::Entity::insert(row)
            .on_conflict(
                OnConflict::column(agents::Column::Id)
                    .update_columns([
                        agents::Column::Name,
                        agents::Column::Email,
                        agents::Column::Skills,
                        agents::Column::Languages,
                        agents::Column::Capacity,
                        agents::Column::Presence,
                        agents::Column::UpdatedAt,
                        agents::Column::Calendar,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        self.agent(&a.id).await
    }

    pub async fn agent(&self, id: &str) -> Result<AgentRecord, StoreError> {
        agents::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("agent {id}")))
    }

    pub async fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        Ok(agents::Entity::find()
            .order_by_asc(agents::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Whether any agent is available now: an assignment round with nobody to give tickets
    /// to ends after this one read, without a transaction or a lock per queue.
    pub async fn anyone_available(&self) -> Result<bool, StoreError> {
        Ok(agents::Entity::find()
            .filter(agents::Column::Presence.eq("available"))
            .one(&self.db)
            .await?
            .is_some())
    }

    pub async fn set_presence(
        &self,
        id: &str,
        presence: &str,
        now: DateTime<Utc>,
    ) -> Result<AgentRecord, StoreError> {
        let r = agents::Entity::update_many()
            .col_expr(
                agents::Column::Presence,
                sea_orm::sea_query::Expr::value(presence),
            )
            .col_expr(
                agents::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(agents::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        if r.rows_affected == 0 {
            return Err(StoreError::NotFound(format!("agent {id}")));
        }
        self.agent(id).await
    }

    /// A queue's tickets that still need work: soonest SLA due first (none last), then
    /// priority, then arrival.
    pub async fn queue_tickets(
        &self,
        queue: &str,
        limit: u64,
    ) -> Result<Vec<TicketRecord>, StoreError> {
        Ok(tickets::Entity::find()
            .filter(tickets::Column::Queue.eq(queue))
            .filter(status_not_in(&DONE))
            .order_by_with_nulls(tickets::Column::SlaDueAt, Order::Asc, NullOrdering::Last)
            .order_by_asc(tickets::Column::Priority)
            .order_by_asc(tickets::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// An agent's tickets that still need work, soonest due first.
    pub async fn assigned_tickets(
        &self,
        agent: &str,
        limit: u64,
    ) -> Result<Vec<TicketRecord>, StoreError> {
        Ok(tickets::Entity::find()
            .filter(tickets::Column::Assignee.eq(agent))
            .filter(status_not_in(&DONE))
            .order_by_with_nulls(tickets::Column::SlaDueAt, Order::Asc, NullOrdering::Last)
            .order_by_asc(tickets::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// The caller's newest phone ticket since `since` that still needs work: where a
    /// call-back lands.
    pub async fn open_phone_ticket(
        &self,
        caller: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<TicketRecord>, StoreError> {
        Ok(tickets::Entity::find()
            .filter(tickets::Column::Channel.eq("phone"))
            .filter(tickets::Column::FromPhone.eq(caller))
            .filter(tickets::Column::CreatedAt.gte(since))
            .filter(status_not_in(&DONE))
            .order_by_desc(tickets::Column::Seq)
            .one(&self.db)
            .await?)
    }

    /// Every agent with the open tickets they hold.
    pub async fn agent_loads(&self) -> Result<Vec<AgentLoad>, StoreError> {
        with_loads(&self.db, self.agents().await?).await
    }

    /// Per queue that has any: the tickets waiting for people, held by nobody, and overdue
    /// at `now`.
    pub async fn open_by_queue(&self, now: DateTime<Utc>) -> Result<Vec<QueueCount>, StoreError> {
        Ok(tickets::Entity::find()
            .select_only()
            .column(tickets::Column::Queue)
            .column_as(Expr::cust("COUNT(*)"), "open")
            .column_as(Expr::cust("COUNT(*) - COUNT(assignee)"), "unassigned")
            .column_as(
                Expr::expr(
                    sea_orm::sea_query::CaseStatement::new()
                        .case(tickets::Column::SlaDueAt.lt(now), Expr::val(1)),
                )
                .count(),
                "overdue",
            )
            .filter(status_not_in(&NO_AGENT))
            .group_by(tickets::Column::Queue)
            .order_by_asc(tickets::Column::Queue)
            .into_model::<QueueCount>()
            .all(&self.db)
            .await?)
    }

    /// How many open tickets an agent holds (against their capacity).
    pub async fn open_load(&self, agent: &str) -> Result<u64, StoreError> {
        let held = loads(&self.db, vec![agent.to_owned()]).await?;
        Ok(held.get(agent).copied().map_or(0, u64::from))
    }

    /// Gives up to `limit` unassigned tickets of `queues`, soonest due first, to the agents
    /// `decide` picks (an index into the available agents, with the reason for the trail;
    /// `Err` leaves the ticket in its queue).
    ///
    /// Safe with several processes: the available agents stay locked (in id order) until
    /// the assignments are committed, so no two assigners count the same free capacity, and
    /// a ticket is given only if nobody changed it since it was read. Tickets are not locked
    /// while deciding: a round that had to wait for another one reads them afresh and finds
    /// what the other left, so an agent who became available meanwhile is not passed over.
    pub async fn assign_pending(
        &self,
        queues: &[String],
        now: DateTime<Utc>,
        limit: u64,
        mut decide: impl FnMut(&TicketRecord, &[AgentLoad]) -> Option<(usize, String)>,
    ) -> Result<Vec<Assigned>, StoreError> {
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db.begin().await?;
        claim_write_lock(&txn).await?;
        let q = agents::Entity::find()
            .filter(agents::Column::Presence.eq("available"))
            .order_by_asc(agents::Column::Id);
        let available = for_update(q, &txn).all(&txn).await?;
        if available.is_empty() {
            txn.commit().await?;
            return Ok(Vec::new());
        }
        let waiting = tickets::Entity::find()
            .filter(tickets::Column::Queue.is_in(queues.iter().map(String::as_str)))
            .filter(tickets::Column::Assignee.is_null())
            .filter(status_not_in(&NO_AGENT))
            .order_by_with_nulls(tickets::Column::SlaDueAt, Order::Asc, NullOrdering::Last)
            .order_by_asc(tickets::Column::Priority)
            .order_by_asc(tickets::Column::Seq)
            .limit(limit)
            .all(&txn)
            .await?;
        let mut pool = with_loads(&txn, available).await?;
        let mut out = Vec::new();
        for ticket in &waiting {
            let Some((i, reason)) = decide(ticket, &pool) else {
                continue;
            };
            let Some(slot) = pool.get_mut(i) else {
                continue;
            };
            let event = NewEvent {
                kind: "assigned".into(),
                actor: "triage".into(),
                data: serde_json::json!({ "agent": slot.agent.id, "reason": reason }),
            };
            if give(&txn, ticket, &slot.agent.id, event, now).await? {
                slot.load += 1;
                slot.agent.last_assigned_at = Some(now);
                out.push(Assigned {
                    ticket: ticket.id,
                    seq: ticket.seq,
                    agent: slot.agent.id.clone(),
                });
            }
        }
        txn.commit().await?;
        Ok(out)
    }

    /// Gives a ticket to an agent on request (claim, assign): refused when the ticket
    /// changed since `record` was read, or the agent is offline or at capacity — checked
    /// with the agent locked, so concurrent assignments cannot push them over it.
    pub async fn assign_ticket(
        &self,
        record: &TicketRecord,
        agent: &str,
        event: NewEvent,
        now: DateTime<Utc>,
    ) -> Result<TicketRecord, StoreError> {
        let txn = self.db.begin().await?;
        claim_write_lock(&txn).await?;
        // The agent before the ticket, as automatic assignment does: no lock cycles.
        let q = agents::Entity::find_by_id(agent.to_owned());
        let Some(a) = for_update(q, &txn).one(&txn).await? else {
            return Err(StoreError::NotFound(format!("agent {agent}")));
        };
        if a.presence == "offline" {
            return Err(StoreError::Unavailable(format!("agent {agent} is offline")));
        }
        let load = loads(&txn, vec![agent.to_owned()])
            .await?
            .get(agent)
            .copied()
            .unwrap_or(0);
        let already = record.assignee.as_deref() == Some(agent);
        if !already && i64::from(load) >= i64::from(a.capacity) {
            return Err(StoreError::Unavailable(format!(
                "agent {agent} holds {load} open tickets, their capacity is {}",
                a.capacity
            )));
        }
        if !give(&txn, record, agent, event, now).await? {
            return Err(StoreError::Conflict {
                id: record.id,
                expected: record.version,
            });
        }
        txn.commit().await?;
        self.by_id(record.id).await
    }
}
