//! Agents and the work lists: a queue's open tickets soonest due first, an agent's own.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{NullOrdering, OnConflict};
use sea_orm::{
    ColumnTrait, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use entity::{agents, tickets};

use super::{Store, StoreError, TicketRecord};

pub use entity::agents::Model as AgentRecord;

/// Statuses in which a ticket still needs work.
const DONE: [&str; 2] = ["resolved", "closed"];

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
            .filter(tickets::Column::Status.is_not_in(DONE))
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
            .filter(tickets::Column::Status.is_not_in(DONE))
            .order_by_with_nulls(tickets::Column::SlaDueAt, Order::Asc, NullOrdering::Last)
            .order_by_asc(tickets::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// How many open tickets an agent holds (against their capacity).
    pub async fn open_load(&self, agent: &str) -> Result<u64, StoreError> {
        Ok(tickets::Entity::find()
            .filter(tickets::Column::Assignee.eq(agent))
            .filter(tickets::Column::Status.is_not_in(DONE))
            .count(&self.db)
            .await?)
    }
}
