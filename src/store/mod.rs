//! The store: tickets, messages, events, organisations and idempotency keys through sea-orm,
//! on SQLite (embedded default) or PostgreSQL. The only module that talks SQL.
//!
//! Correctness with several processes on one PostgreSQL rests on the database, not on the
//! processes: ticket numbers come from the table's identity column, a repeated
//! `Idempotency-Key` or `external_id` is caught by a unique constraint, and every update
//! checks and bumps the ticket's `version`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DbBackend, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    SqlErr, Statement, TransactionTrait,
};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use entity::{events, idempotency_keys, messages, organisations, tickets};
use migration::{Migrator, MigratorTrait};

use crate::model::{Decision, Sender, Ticket};
use crate::rules::CustomerIndex;

mod agents;
mod faq;
mod mail;
mod sla;
mod tokens;

pub use agents::{AgentLoad, AgentRecord, Assigned};
pub use entity::events::Model as EventRecord;
pub use entity::tickets::Model as TicketRecord;
pub use faq::{article_of, FaqArticleRecord, FaqOutcome};
pub use mail::{AttachmentRecord, InboundMail, MessageRecord, OutboundMail, OutboxRecord, Sent};
pub use sla::{
    clock_state, AlarmPlan, Delivery, NewEvent, NewMessage, NewNotification, NotificationFilter,
    NotificationRecord, SlaColumns, TicketUpdate,
};
pub use tokens::{new_token, token_hash, TokenRecord};

/// What can go wrong in the store, in terms the API can map to statuses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("no ticket {0}")]
    NotFound(String),
    #[error("ticket {id} was changed concurrently (expected version {expected})")]
    Conflict { id: Uuid, expected: i32 },
    #[error("Idempotency-Key \"{0}\" was already used for a different request")]
    IdempotencyMismatch(String),
    #[error("{0}")]
    Duplicate(String),
    /// An agent who cannot take a ticket now (offline, at capacity).
    #[error("{0}")]
    Unavailable(String),
    /// A stored value that cannot be read back (a JSON column another program broke).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the database schema is newer than this binary (unknown migrations: {}); upgrade triage before starting it on this database", .0.join(", "))]
    SchemaTooNew(Vec<String>),
}

pub use crate::model::{parse_ticket_number, ticket_number, TICKET_NUMBER};

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
    /// The e-mail the ticket arrived as.
    pub mail: Option<InboundMail>,
    /// More events for its trail (a link to a related ticket).
    pub events: Vec<NewEvent>,
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

/// A ticket waiting for the intake writer, with where to send the outcome.
type Job = (
    NewTicket,
    DateTime<Utc>,
    oneshot::Sender<Result<Created, StoreError>>,
);

/// Most tickets written in one transaction.
const MAX_BATCH: usize = 64;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    intake: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("db", &self.db).finish()
    }
}

impl Store {
    /// Connects, refuses a schema newer than this binary, and runs pending migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let sqlite = url.starts_with("sqlite:");
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            // SQLite has one writer; a few connections let reads proceed beside it.
            .max_connections(if sqlite { 4 } else { 32 })
            .min_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(10));
        if sqlite {
            // sqlx opens SQLite in WAL mode with synchronous=FULL: a committed ticket survives
            // a crash of the process or the machine. Checkpoints run in the background
            // instead of inside whichever commit crosses the WAL size limit, so no request
            // waits for one.
            opts.map_sqlx_sqlite_opts(|o| {
                o.busy_timeout(std::time::Duration::from_secs(10))
                    .pragma("wal_autocheckpoint", "0")
            });
        }
        let db = Database::connect(opts).await?;
        // SQLite has one writer anyway; PostgreSQL takes several transactions at once.
        let intake = spawn_writers(db.clone(), if sqlite { 1 } else { 4 });
        if sqlite {
            tokio::spawn(checkpoint_periodically(db.clone(), intake.downgrade()));
        }
        Ok(Store { db, intake })
    }

    /// Refuses a database that has migrations this binary does not know, then applies the
    /// missing ones.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let known: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let applied = self.applied_migrations().await?;
        let unknown: Vec<String> = applied.into_iter().filter(|a| !known.contains(a)).collect();
        if !unknown.is_empty() {
            return Err(StoreError::SchemaTooNew(unknown));
        }
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    async fn applied_migrations(&self) -> Result<Vec<String>, StoreError> {
        let backend = self.db.get_database_backend();
        let exists_sql = match backend {
            DbBackend::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'seaql_migrations'"
            }
            _ => "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'seaql_migrations'",
        };
        let row = self
            .db
            .query_one(Statement::from_string(backend, exists_sql))
            .await?;
        let exists = row
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0)
            > 0;
        if !exists {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query_all(Statement::from_string(
                backend,
                "SELECT version FROM seaql_migrations",
            ))
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String>("", "version").map_err(StoreError::from))
            .collect()
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The connection, for benchmarks that measure the database alone.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Stores a ticket with its first message and `created` event, durably, before it
    /// returns. A repeat of an earlier request (same `Idempotency-Key`, or same
    /// `external_id`) returns the earlier ticket instead, also when both arrive at once in
    /// different processes.
    ///
    /// Tickets arriving together are committed together (group commit): one transaction and
    /// one flush to disk for many tickets, which is what lets intake keep up with bursts.
    pub async fn create_ticket(
        &self,
        new: NewTicket,
        now: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        if let Some(existing) = find_repeat(&self.db, &new).await? {
            return Ok(Created::Existing(existing));
        }
        let (tx, rx) = oneshot::channel();
        let stopped = || StoreError::Db(DbErr::Custom("the intake writer has stopped".into()));
        self.intake
            .send((new, now, tx))
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Stores one ticket in its own transaction, without group commit: the plain sea-orm
    /// insert path, kept as the baseline of `triage bench`.
    pub async fn create_ticket_unbatched(
        &self,
        new: NewTicket,
        now: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        create_one(&self.db, &new, now).await
    }

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

    /// Brings the organisations table in line with the rules' customer list (insert or
    /// update by name). Organisations no longer listed are kept: old tickets refer to them.
    pub async fn import_organisations(
        &self,
        customers: &CustomerIndex,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for c in customers.iter() {
            let existing = organisations::Entity::find()
                .filter(organisations::Column::Name.eq(&*c.name))
                .one(&self.db)
                .await?;
            let segment = c.segment.map(|s| s.to_string());
            let tags = json!(c.tags);
            match existing {
                Some(o) if o.segment == segment && o.tags == tags => continue,
                Some(o) => {
                    let mut am: organisations::ActiveModel = o.into();
                    am.segment = Set(segment);
                    am.tags = Set(tags);
                    am.source = Set(source.to_owned());
                    am.updated_at = Set(now);
                    am.update(&self.db).await?;
                }
                None => {
                    let am = organisations::ActiveModel {
                        name: Set(c.name.to_string()),
                        segment: Set(segment),
                        tags: Set(tags),
                        source: Set(source.to_owned()),
                        updated_at: Set(now),
                        ..Default::default()
                    };
                    match am.insert(&self.db).await {
                        Ok(_) => {}
                        // Another process imported it at the same moment.
                        Err(e) if is_unique_violation(&e) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            n += 1;
        }
        Ok(n)
    }
}

async fn by_id(db: &DatabaseConnection, id: Uuid) -> Result<TicketRecord, StoreError> {
    tickets::Entity::find()
        .filter(tickets::Column::Id.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(id.to_string()))
}

/// The ticket an earlier request with the same key or external id created, if any.
async fn find_repeat(
    db: &DatabaseConnection,
    new: &NewTicket,
) -> Result<Option<TicketRecord>, StoreError> {
    if let Some((key, hash)) = &new.idempotency {
        if let Some(k) = idempotency_keys::Entity::find_by_id(key.clone())
            .one(db)
            .await?
        {
            if &k.request_hash != hash {
                return Err(StoreError::IdempotencyMismatch(key.clone()));
            }
            return by_id(db, k.ticket_id).await.map(Some);
        }
    }
    if let Some(mail) = &new.mail {
        if let Some(m) = messages::Entity::find()
            .filter(messages::Column::MessageId.eq(mail.message_id.as_str()))
            .one(db)
            .await?
        {
            return by_id(db, m.ticket_id).await.map(Some);
        }
    }
    if let Some(ext) = &new.external_id {
        return Ok(tickets::Entity::find()
            .filter(tickets::Column::ExternalId.eq(ext.as_str()))
            .one(db)
            .await?);
    }
    Ok(None)
}

/// Whether an insert failed on a unique constraint: the sign that a concurrent repeat (or
/// another process) wrote the same row first.
pub(super) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// One ticket in its own transaction; a unique violation means a concurrent repeat won and
/// its ticket is committed.
async fn create_one(
    db: &DatabaseConnection,
    new: &NewTicket,
    now: DateTime<Utc>,
) -> Result<Created, StoreError> {
    if let Some(existing) = find_repeat(db, new).await? {
        return Ok(Created::Existing(existing));
    }
    match insert_batch(db, &[(new, now)]).await {
        Ok(mut records) if !records.is_empty() => Ok(Created::New(records.remove(0))),
        Ok(_) => Err(StoreError::NotFound("the ticket just written".into())),
        Err(StoreError::Db(e)) if is_unique_violation(&e) => match find_repeat(db, new).await? {
            Some(existing) => Ok(Created::Existing(existing)),
            None => Err(e.into()),
        },
        Err(e) => Err(e),
    }
}

/// Copies the SQLite WAL back into the database file every second, without blocking
/// writers (`PASSIVE`). Ends with the last handle to the store.
async fn checkpoint_periodically(db: DatabaseConnection, alive: mpsc::WeakSender<Job>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() {
            return;
        }
        if let Err(e) = db
            .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await
        {
            if matches!(e, DbErr::ConnectionAcquire(_)) {
                return;
            }
            tracing::warn!("WAL checkpoint failed: {e}");
        }
    }
}

/// Starts `n` writers that take queued tickets in batches.
fn spawn_writers(db: DatabaseConnection, n: usize) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..n {
        let (db, rx) = (db.clone(), rx.clone());
        tokio::spawn(async move {
            loop {
                let mut batch = Vec::new();
                {
                    let mut rx = rx.lock().await;
                    match rx.recv().await {
                        Some(job) => batch.push(job),
                        None => return,
                    }
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                }
                write_batch(&db, batch).await;
            }
        });
    }
    tx
}

async fn write_batch(db: &DatabaseConnection, batch: Vec<Job>) {
    if batch.len() > 1 {
        let items: Vec<_> = batch.iter().map(|(new, now, _)| (new, *now)).collect();
        if let Ok(records) = insert_batch(db, &items).await {
            if records.len() == batch.len() {
                for ((_, _, reply), record) in batch.into_iter().zip(records) {
                    let _ = reply.send(Ok(Created::New(record)));
                }
                return;
            }
        }
        // One row (a repeated key, say) failed the batch: write them one by one, so that
        // it fails alone.
    }
    for (new, now, reply) in batch {
        let _ = reply.send(create_one(db, &new, now).await);
    }
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
        data: json!({
            "changes": changes,
            "rules_version": decision.rules_version,
            "previous_rules_version": record.rules_version,
        }),
    }
}

/// The ticket columns that hold a decision, for inserts and reclassification alike; all
/// other columns are left unset.
fn decision_columns(d: &Decision) -> tickets::ActiveModel {
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

/// Inserts tickets with their first message, `created` event and idempotency key in one
/// transaction; returns the stored records in input order.
async fn insert_batch(
    db: &DatabaseConnection,
    items: &[(&NewTicket, DateTime<Utc>)],
) -> Result<Vec<TicketRecord>, StoreError> {
    let ids: Vec<Uuid> = items.iter().map(|_| Uuid::new_v4()).collect();
    let mut ticket_rows = Vec::with_capacity(items.len());
    let mut message_rows: Vec<messages::ActiveModel> = Vec::with_capacity(items.len());
    // (ticket, answer, subject, time) of tickets answered at intake.
    let mut answers = Vec::new();
    let mut event_rows = Vec::with_capacity(items.len());
    let mut key_rows = Vec::new();
    for (&(new, now), &id) in items.iter().zip(&ids) {
        let (t, d) = (&new.ticket, &new.decision);
        let mut row = tickets::ActiveModel {
            id: Set(id),
            external_id: Set(new.external_id.clone()),
            channel: Set(t.channel.to_string()),
            subject: Set(t.subject.clone()),
            body: Set(t.body.clone()),
            from_email: Set(t.from.email.clone()),
            from_name: Set(t.from.name.clone()),
            from_phone: Set(t.from.phone.clone()),
            status: Set(new.status.clone()),
            faq: Set(new.faq.clone()),
            received_at: Set(t.received_at),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
            ..decision_columns(d)
        };
        new.sla.set_on(&mut row);
        ticket_rows.push(row);
        message_rows.push(messages::ActiveModel {
            ticket_id: Set(id),
            direction: Set("inbound".into()),
            author: Set(t.from.email.clone().or_else(|| t.from.phone.clone())),
            subject: Set(t.subject.clone()),
            body: Set(t.body.clone()),
            created_at: Set(t.received_at),
            message_id: Set(new.mail.as_ref().map(|m| m.message_id.clone())),
            mail: Set(new.mail.as_ref().map(|m| m.meta.clone())),
            channel: Set(Some(t.channel.to_string())),
            ..Default::default()
        });
        event_rows.push(events::ActiveModel {
            ticket_id: Set(id),
            kind: Set("created".into()),
            actor: Set("rules".into()),
            data: Set(json!({
                "channel": t.channel,
                "segment": d.segment,
                "category": d.category,
                "priority": d.priority,
                "time_window": d.time_window,
                "automation": d.automation,
                "queue": d.queue,
                "rules_version": d.rules_version,
                "sla_policy": new.sla.policy,
                "clock": new.clock_event,
                "clock_at": t.received_at,
            })),
            created_at: Set(now),
            ..Default::default()
        });
        let answer_event = new.answer.as_ref().map(|(_, e)| e);
        event_rows.extend(
            new.events
                .iter()
                .chain(answer_event)
                .map(|e| events::ActiveModel {
                    ticket_id: Set(id),
                    kind: Set(e.kind.clone()),
                    actor: Set(e.actor.clone()),
                    data: Set(e.data.clone()),
                    created_at: Set(now),
                    ..Default::default()
                }),
        );
        if let Some((m, _)) = &new.answer {
            answers.push((id, m, &t.subject, now));
        }
        if let Some((key, hash)) = &new.idempotency {
            key_rows.push(idempotency_keys::ActiveModel {
                key: Set(key.clone()),
                ticket_id: Set(id),
                request_hash: Set(hash.clone()),
                created_at: Set(now),
            });
        }
    }
    let txn = db.begin().await?;
    let mut records = tickets::Entity::insert_many(ticket_rows)
        .exec_with_returning_many(&txn)
        .await?;
    if !key_rows.is_empty() {
        idempotency_keys::Entity::insert_many(key_rows)
            .exec_without_returning(&txn)
            .await?;
    }
    // Automatic answers name the ticket number, known only now.
    let seq_of: std::collections::HashMap<Uuid, i64> =
        records.iter().map(|r| (r.id, r.seq)).collect();
    messages::Entity::insert_many(message_rows)
        .exec_without_returning(&txn)
        .await?;
    for (&(new, now), &id) in items.iter().zip(&ids) {
        if let Some(mail) = &new.mail {
            mail::insert_inbound(&txn, id, mail, now).await?;
        }
    }
    for (id, m, subject, now) in answers {
        let number = seq_of
            .get(&id)
            .map(|&seq| ticket_number(seq))
            .unwrap_or_default();
        insert_message(&txn, id, subject, m, &number, now).await?;
    }
    events::Entity::insert_many(event_rows)
        .exec_without_returning(&txn)
        .await?;
    // Automatic answers count for their article in the same transaction, so an answered
    // ticket costs no write of its own.
    let mut sent: std::collections::BTreeMap<&str, i64> = Default::default();
    for (new, _) in items {
        if let Some(id) = new.faq.as_ref().and_then(|f| f["article"].as_str()) {
            *sent.entry(id).or_default() += 1;
        }
    }
    for (id, n) in sent {
        entity::faq_articles::Entity::update_many()
            .col_expr(
                entity::faq_articles::Column::Sent,
                Expr::col(entity::faq_articles::Column::Sent).add(n),
            )
            .filter(entity::faq_articles::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    records.sort_by_key(|r| ids.iter().position(|i| *i == r.id));
    Ok(records)
}

/// Adds a message to a ticket, with the mail it came as or is to be sent as; `number`
/// replaces the ticket-number placeholder in what we write (never in a customer's text).
async fn insert_message(
    txn: &sea_orm::DatabaseTransaction,
    ticket: Uuid,
    subject: &str,
    m: &NewMessage,
    number: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
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
    messages::ActiveModel {
        ticket_id: Set(ticket),
        direction: Set(m.direction.clone()),
        author: Set(m.author.clone()),
        subject: Set(subject.to_owned()),
        body: Set(body.clone()),
        created_at: Set(now),
        message_id: Set(message_id),
        mail: Set(m.mail.as_ref().map(|i| i.meta.clone())),
        channel: Set(m.channel.clone()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    if let Some(i) = &m.mail {
        mail::insert_inbound(txn, ticket, i, now).await?;
    }
    if let Some(o) = &m.outbound {
        let o = OutboundMail {
            subject: fill(&o.subject),
            ..o.clone()
        };
        mail::insert_outbound(txn, ticket, &o, &body, number, now).await?;
    }
    Ok(())
}

/// The ticket as the engine sees it, rebuilt from a stored record (for reclassification).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_round_trip() {
        assert_eq!(ticket_number(123), "T-000123");
        assert_eq!(ticket_number(12_345_678), "T-12345678");
        assert_eq!(parse_ticket_number("T-000123"), Some(123));
        assert_eq!(parse_ticket_number("t-7"), Some(7));
        assert_eq!(parse_ticket_number("42"), Some(42));
        assert_eq!(parse_ticket_number("T-"), None);
        assert_eq!(parse_ticket_number("T-0"), None);
        assert_eq!(parse_ticket_number("X-1"), None);
    }
}
