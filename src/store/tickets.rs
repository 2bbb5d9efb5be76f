//! Tickets as stored: reading them (by id, number or external id, lists with filters and
//! cursors, their events) and changing them — every change checked against the ticket's
//! version and written with its events and message in one transaction.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use entity::{events, messages, tickets};

use super::mail::{self, InboundMail};
use super::sla::SlaColumns;
use super::{parse_ticket_number, EventRecord, Store, StoreError, TicketRecord, TICKET_NUMBER};
use crate::model::{Decision, Sender, Ticket};
use crate::sla::SlaState;

/// A new ticket to store, with its decision and how to recognise a repeat of it.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub ticket: Ticket,
    pub decision: Decision,
    pub external_id: Option<String>,
    /// `Idempotency-Key` and a hash of the request it came with.
    pub idempotency: Option<(String, String)>,
    /// The clocks the ticket starts with.
    pub sla: SlaColumns,
    /// The clock event that started them, kept in the `created` event for recomputation.
    pub clock_event: Option<serde_json::Value>,
    /// The status it starts in (`open` unless answered automatically).
    pub status: String,
    /// What the FAQ did for it.
    pub faq: Option<serde_json::Value>,
    /// An automatic answer sent at intake, with its event.
    pub answer: Option<(NewMessage, NewEvent)>,
    /// The e-mail the ticket arrived as, its Message-ID looked up by the caller just before
    /// (see [`super::Store::create_ticket`]).
    pub mail: Option<InboundMail>,
    /// More events for its trail (a link to a related ticket).
    pub events: Vec<NewEvent>,
    /// The lead it carries (an event task of a lead trigger).
    pub lead: Option<super::NewLead>,
}

/// The result of storing a ticket: a new one, or the one an earlier identical request made.
#[derive(Debug)]
pub enum Created {
    New(TicketRecord),
    Existing(TicketRecord),
}

/// Filters of the ticket list; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub segment: Option<String>,
    pub category: Option<String>,
    pub queue: Option<String>,
    pub status: Option<String>,
    pub channel: Option<String>,
    pub organisation: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Only tickets with a running clock due before this moment, soonest first.
    pub due_before: Option<DateTime<Utc>>,
    /// `running`, `paused`, `met`, `breached` or `none`, judged at `now`.
    pub sla_state: Option<String>,
    /// The moment `sla_state` and `due_before` are judged at.
    pub now: Option<DateTime<Utc>>,
}

/// Where the next page of a list starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// Newest first: tickets before this sequence.
    Before(i64),
    /// Soonest due first: after this due time (Unix seconds) and sequence.
    DueAfter(i64, i64),
}

/// A change of the decision fields, as recorded in the `reclassified` event.
pub type Changes = serde_json::Map<String, serde_json::Value>;

/// The clocks stored with a ticket; a ticket without clocks has none, one whose clocks
/// cannot be read is an error (never shown as "no service level").
pub fn clock_state(r: &TicketRecord) -> Result<Option<SlaState>, StoreError> {
    match &r.sla {
        None => Ok(None),
        Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
            StoreError::Corrupt(format!(
                "the SLA clocks of ticket {}: {e}",
                super::ticket_number(r.seq)
            ))
        }),
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> StoreError {
        StoreError::Corrupt(e.to_string())
    }
}

/// An event to append to a ticket's audit trail.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: String,
    pub actor: String,
    pub data: Value,
}

/// A message to add to a ticket.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// `inbound` (from the customer) or `outbound` (a reply).
    pub direction: String,
    pub author: Option<String>,
    pub body: String,
    /// How it came or goes: `email`, `web`, `phone`.
    pub channel: Option<String>,
    /// The e-mail it arrived as.
    pub mail: Option<super::mail::InboundMail>,
    /// The e-mail to send it as.
    pub outbound: Option<super::mail::OutboundMail>,
}

/// A change to a stored ticket; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TicketUpdate<'a> {
    pub decision: Option<&'a Decision>,
    pub status: Option<String>,
    pub sla: Option<SlaColumns>,
    pub message: Option<NewMessage>,
    pub events: Vec<NewEvent>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<String>>,
    /// Another queue (a transfer).
    pub queue: Option<String>,
    /// A new decision trace (a transfer's reason on the queue).
    pub trace: Option<Value>,
    /// The ticket's lead as it is now (a handover, an outcome).
    pub lead: Option<super::LeadRecord>,
}

impl Store {
    /// A ticket by its UUID.
    pub async fn by_id(&self, id: Uuid) -> Result<TicketRecord, StoreError> {
        by_id(&self.db, id).await
    }

    /// A ticket by the caller's own id (`external_id`).
    pub async fn get_by_external_id(&self, external_id: &str) -> Result<TicketRecord, StoreError> {
        tickets::Entity::find()
            .filter(tickets::Column::ExternalId.eq(external_id))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(external_id.to_owned()))
    }

    /// A ticket by UUID or number (`T-000123`).
    pub async fn get(&self, key: &str) -> Result<TicketRecord, StoreError> {
        if let Ok(id) = Uuid::parse_str(key) {
            return self.by_id(id).await;
        }
        let seq = parse_ticket_number(key).ok_or_else(|| StoreError::NotFound(key.to_owned()))?;
        tickets::Entity::find_by_id(seq)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(key.to_owned()))
    }

    /// One page of tickets, newest first. `before` is the cursor: the sequence of the last
    /// ticket of the previous page. Tickets created meanwhile have higher sequences, so they
    /// never shift later pages. Returns the page and the next cursor.
    pub async fn list(
        &self,
        filter: &TicketFilter,
        cursor: Option<Cursor>,
        limit: u64,
    ) -> Result<(Vec<TicketRecord>, Option<Cursor>), StoreError> {
        use sea_orm::Condition;
        let mut q = tickets::Entity::find();
        let eq =
            |q: sea_orm::Select<tickets::Entity>, col: tickets::Column, v: &Option<String>| match v
            {
                Some(v) => q.filter(col.eq(v.as_str())),
                None => q,
            };
        q = eq(q, tickets::Column::Segment, &filter.segment);
        q = eq(q, tickets::Column::Category, &filter.category);
        q = eq(q, tickets::Column::Queue, &filter.queue);
        q = eq(q, tickets::Column::Status, &filter.status);
        q = eq(q, tickets::Column::Channel, &filter.channel);
        q = eq(q, tickets::Column::Organisation, &filter.organisation);
        if let Some(from) = filter.created_from {
            q = q.filter(tickets::Column::CreatedAt.gte(from));
        }
        if let Some(to) = filter.created_to {
            q = q.filter(tickets::Column::CreatedAt.lt(to));
        }
        let now = filter.now.unwrap_or_else(Utc::now);
        // A running clock past its due time is breached even before the worker noticed.
        let running = tickets::Column::SlaState.eq("running");
        q = match filter.sla_state.as_deref() {
            None => q,
            Some("breached") => q.filter(
                Condition::any()
                    .add(tickets::Column::SlaState.eq("breached"))
                    .add(running.clone().and(tickets::Column::SlaDueAt.lt(now))),
            ),
            // With a due bound the ticket has a due time: without the `IS NULL` arm, the
            // planner reads one range of the due-time index instead of merging two.
            Some("running") if filter.due_before.is_some() => {
                q.filter(running.clone().and(tickets::Column::SlaDueAt.gte(now)))
            }
            Some("running") => q.filter(
                running.clone().and(
                    tickets::Column::SlaDueAt
                        .gte(now)
                        .or(tickets::Column::SlaDueAt.is_null()),
                ),
            ),
            Some(other) => q.filter(tickets::Column::SlaState.eq(other)),
        };
        let by_due = filter.due_before.is_some();
        if let Some(due) = filter.due_before {
            q = q.filter(tickets::Column::SlaDueAt.lt(due));
        }
        match cursor {
            Some(Cursor::Before(seq)) => q = q.filter(tickets::Column::Seq.lt(seq)),
            Some(Cursor::DueAfter(secs, seq)) => {
                let at = DateTime::from_timestamp(secs, 0).unwrap_or_default();
                q = q.filter(
                    Condition::any().add(tickets::Column::SlaDueAt.gt(at)).add(
                        tickets::Column::SlaDueAt
                            .eq(at)
                            .and(tickets::Column::Seq.gt(seq)),
                    ),
                );
            }
            None => {}
        }
        q = if by_due {
            q.order_by_asc(tickets::Column::SlaDueAt)
                .order_by_asc(tickets::Column::Seq)
        } else {
            q.order_by_desc(tickets::Column::Seq)
        };
        let mut rows = q.limit(limit + 1).all(&self.db).await?;
        let next = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| match (by_due, r.sla_due_at) {
                (true, Some(due)) => Cursor::DueAfter(due.timestamp(), r.seq),
                _ => Cursor::Before(r.seq),
            })
        } else {
            None
        };
        Ok((rows, next))
    }

    /// The audit trail of a ticket, oldest first.
    pub async fn events(&self, ticket: Uuid) -> Result<Vec<EventRecord>, StoreError> {
        Ok(events::Entity::find()
            .filter(events::Column::TicketId.eq(ticket))
            .order_by_asc(events::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Up to `limit` tickets after sequence `after`, oldest first, received in
    /// `[since, until)`: one page of a history read in bounded memory, with only what a
    /// replay reads — who chose the queue from its own column (kept by the database from
    /// the trace), and the clocks, as text, only `with_clocks`.
    pub async fn history_after(
        &self,
        after: i64,
        range: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
        limit: u64,
        with_clocks: bool,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        use sea_orm::QuerySelect;
        let mut q = tickets::Entity::find()
            .select_only()
            .columns([
                tickets::Column::Seq,
                tickets::Column::Channel,
                tickets::Column::Subject,
                tickets::Column::Body,
                tickets::Column::FromEmail,
                tickets::Column::FromName,
                tickets::Column::FromPhone,
                tickets::Column::ReceivedAt,
                tickets::Column::Queue,
                tickets::Column::Automation,
                tickets::Column::Assignee,
            ])
            // As text: parsed straight into the clocks, without a JSON tree per row.
            .column_as(
                Expr::cust(if with_clocks {
                    "CAST(sla AS TEXT)"
                } else {
                    "CAST(NULL AS TEXT)"
                }),
                "sla",
            )
            .column_as(Expr::cust("queue_by"), "queue_by")
            .filter(tickets::Column::Seq.gt(after));
        if let Some(t) = range.0 {
            q = q.filter(tickets::Column::ReceivedAt.gte(t));
        }
        if let Some(t) = range.1 {
            q = q.filter(tickets::Column::ReceivedAt.lt(t));
        }
        Ok(q.order_by_asc(tickets::Column::Seq)
            .limit(limit)
            .into_model::<HistoryRow>()
            .all(&self.db)
            .await?)
    }

    /// Number of stored tickets.
    pub async fn count(&self) -> Result<u64, StoreError> {
        Ok(tickets::Entity::find().count(&self.db).await?)
    }

    /// Replaces a ticket's decision if it is still at `expected_version`, and records the
    /// change as an event by `actor`.
    pub async fn update_decision(
        &self,
        record: &TicketRecord,
        decision: &Decision,
        changes: Changes,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<TicketRecord, StoreError> {
        self.update_ticket(
            record,
            TicketUpdate {
                decision: Some(decision),
                events: vec![reclassified_event(record, decision, changes, actor)],
                ..Default::default()
            },
            now,
        )
        .await
    }

    /// Applies a change to a ticket if it is still at the version `record` has, with its
    /// events and message, in one transaction.
    pub async fn update_ticket(
        &self,
        record: &TicketRecord,
        update: TicketUpdate<'_>,
        now: DateTime<Utc>,
    ) -> Result<TicketRecord, StoreError> {
        let mut cols = update.decision.map(decision_columns).unwrap_or_default();
        if let Some(sla) = &update.sla {
            sla.set_on(&mut cols);
        }
        if let Some(s) = &update.status {
            cols.status = Set(s.clone());
        }
        if let Some(a) = &update.assignee {
            cols.assignee = Set(a.clone());
        }
        if let Some(q) = &update.queue {
            cols.queue = Set(q.clone());
        }
        if let Some(t) = &update.trace {
            cols.trace = Set(t.clone());
        }
        let txn = self.db.begin().await?;
        let result = tickets::Entity::update_many()
            .set(cols)
            .col_expr(tickets::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                tickets::Column::Version,
                Expr::col(tickets::Column::Version).add(1),
            )
            .filter(tickets::Column::Id.eq(record.id))
            .filter(tickets::Column::Version.eq(record.version))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            txn.rollback().await?;
            return Err(StoreError::Conflict {
                id: record.id,
                expected: record.version,
            });
        }
        if let Some(m) = update.message {
            let number = super::ticket_number(record.seq);
            let on = MessageOn {
                ticket: record.id,
                subject: &record.subject,
                message: &m,
                number: &number,
                at: now,
            };
            insert_messages(&txn, &[on]).await?;
        }
        insert_events(&txn, record.id, update.events, now).await?;
        if let Some(lead) = &update.lead {
            super::leads::put(&txn, lead).await?;
        }
        let updated = by_id(&txn, record.id).await?;
        // What the report groups by or counts may have changed.
        if update.decision.is_some() || update.sla.is_some() || update.queue.is_some() {
            super::report::keep_clocks(&txn, std::slice::from_ref(&updated), now).await?;
        }
        txn.commit().await?;
        Ok(updated)
    }
}

impl Store {
    /// Up to `limit` tickets in `status` that have not changed since before `before`, the
    /// longest unchanged first.
    pub async fn unchanged_in_status(
        &self,
        status: &'static str,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<TicketRecord>, StoreError> {
        Ok(tickets::Entity::find()
            .filter(status_is(status))
            .filter(tickets::Column::UpdatedAt.lt(before))
            .order_by_asc(tickets::Column::UpdatedAt)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}

/// `status = '…'`, written into the statement rather than bound. A partial index over the
/// tickets in some statuses serves a query only when the planner sees those statuses:
/// SQLite matches the statement's terms against the index's own, and PostgreSQL's generic
/// plan of a cached statement knows no bound value.
pub(super) fn status_is(status: &'static str) -> SimpleExpr {
    Expr::cust(format!("status = {}", status_literal(status)))
}

/// `status NOT IN (…)`, written out for the same reason as [`status_is`].
pub(super) fn status_not_in(statuses: &[&'static str]) -> SimpleExpr {
    let list: Vec<String> = statuses.iter().map(|s| status_literal(s)).collect();
    Expr::cust(format!("status NOT IN ({})", list.join(", ")))
}

/// A status as an SQL string literal. Statuses are the code's own words; anything else
/// would be a programming error, never input.
fn status_literal(status: &'static str) -> String {
    assert!(
        !status.is_empty() && status.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
        "status {status:?} is not a plain word"
    );
    format!("'{status}'")
}

pub(super) async fn by_id<C: sea_orm::ConnectionTrait>(
    db: &C,
    id: Uuid,
) -> Result<TicketRecord, StoreError> {
    tickets::Entity::find()
        .filter(tickets::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(id.to_string()))
}

/// The `reclassified` event: which fields changed and under which rules.
pub fn reclassified_event(
    record: &TicketRecord,
    decision: &Decision,
    changes: Changes,
    actor: &str,
) -> NewEvent {
    NewEvent {
        kind: "reclassified".into(),
        actor: actor.to_owned(),
        data: reclassified_data(record, decision, changes),
    }
}

/// What the `reclassified` event records: the fields that changed and under which rules.
pub fn reclassified_data(record: &TicketRecord, decision: &Decision, changes: Changes) -> Value {
    json!({
        "changes": changes,
        "rules_version": decision.rules_version,
        "previous_rules_version": record.rules_version,
    })
}

/// The ticket columns that hold a decision, for inserts and reclassification alike; all
/// other columns are left unset.
pub(super) fn decision_columns(d: &Decision) -> tickets::ActiveModel {
    tickets::ActiveModel {
        language: Set(d.language.to_string()),
        organisation: Set(d.organisation.as_deref().map(str::to_owned)),
        segment: Set(d.segment.to_string()),
        category: Set(d.category.to_string()),
        priority: Set(d.priority.to_string()),
        time_window: Set(d.time_window.to_string()),
        within_window: Set(d.within_window),
        automation: Set(d.automation.to_string()),
        queue: Set(d.queue.to_string()),
        tags: Set(json!(d.tags)),
        rules_version: Set(d.rules_version.to_string()),
        trace: Set(serde_json::to_value(&d.trace).unwrap_or_default()),
        ..Default::default()
    }
}

/// A message to add to a ticket.
pub(super) struct MessageOn<'a> {
    pub ticket: Uuid,
    /// The ticket's subject.
    pub subject: &'a str,
    pub message: &'a NewMessage,
    /// The ticket's number, for the placeholder in what we write.
    pub number: &'a str,
    pub at: DateTime<Utc>,
}

/// Adds messages to tickets, with the mails they came as or are to be sent as: the ticket
/// number replaces its placeholder in what we write (never in a customer's text). A batch's
/// messages take one insert, their mails and outbox rows a few more.
pub(super) async fn insert_messages(
    txn: &sea_orm::DatabaseTransaction,
    list: &[MessageOn<'_>],
) -> Result<(), StoreError> {
    if list.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(list.len());
    let mut inbound = Vec::new();
    let mut outbox = Vec::new();
    for &MessageOn {
        ticket,
        subject,
        message: m,
        number,
        at: now,
    } in list
    {
        let ours = m.direction == "outbound";
        let fill = |s: &str| {
            if ours {
                s.replace(TICKET_NUMBER, number)
            } else {
                s.to_owned()
            }
        };
        let body = fill(&m.body);
        let message_id = m
            .mail
            .as_ref()
            .map(|i| i.message_id.clone())
            .or_else(|| m.outbound.as_ref().map(|o| o.message_id.clone()));
        if let Some(i) = &m.mail {
            inbound.push((ticket, i, now));
        }
        if let Some(o) = &m.outbound {
            outbox.push(mail::outbound_row(ticket, o, &body, number, now));
        }
        rows.push(messages::ActiveModel {
            ticket_id: Set(ticket),
            direction: Set(m.direction.clone()),
            author: Set(m.author.clone()),
            subject: Set(subject.to_owned()),
            body: Set(body),
            created_at: Set(now),
            message_id: Set(message_id),
            mail: Set(m.mail.as_ref().map(|i| i.meta.clone())),
            channel: Set(m.channel.clone()),
            ..Default::default()
        });
    }
    messages::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    mail::insert_inbound(txn, &inbound).await?;
    if !outbox.is_empty() {
        entity::mail_outbox::Entity::insert_many(outbox)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

pub(super) async fn insert_events(
    txn: &DatabaseTransaction,
    ticket: Uuid,
    list: Vec<NewEvent>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if list.is_empty() {
        return Ok(());
    }
    events::Entity::insert_many(list.into_iter().map(|e| events::ActiveModel {
        ticket_id: Set(ticket),
        kind: Set(e.kind),
        actor: Set(e.actor),
        data: Set(e.data),
        created_at: Set(now),
        ..Default::default()
    }))
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// The ticket as the engine sees it, rebuilt from a stored record (for reclassification).
/// A ticket's tags as its decision set them.
pub fn tags_of(record: &TicketRecord) -> Result<Vec<std::sync::Arc<str>>, StoreError> {
    serde_json::from_value(record.tags.clone()).map_err(|e| {
        StoreError::Corrupt(format!(
            "the tags of ticket {}: {e}",
            super::ticket_number(record.seq)
        ))
    })
}

/// A stored ticket as a replay of the history reads it.
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct HistoryRow {
    pub seq: i64,
    pub channel: String,
    pub subject: String,
    pub body: String,
    pub from_email: Option<String>,
    pub from_name: Option<String>,
    pub from_phone: Option<String>,
    pub received_at: DateTime<Utc>,
    pub queue: String,
    pub automation: String,
    pub assignee: Option<String>,
    /// The SLA clocks as JSON text (read only when they are replayed).
    pub sla: Option<String>,
    /// Who decided the queue (`by` of the trace's queue reason).
    pub queue_by: Option<String>,
}

pub fn ticket_of(record: &TicketRecord) -> Option<Ticket> {
    Some(Ticket {
        channel: record.channel.parse().ok()?,
        subject: record.subject.clone(),
        body: record.body.clone(),
        from: Sender {
            email: record.from_email.clone(),
            name: record.from_name.clone(),
            phone: record.from_phone.clone(),
        },
        received_at: record.received_at,
    })
}
