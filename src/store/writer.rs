//! Intake's group commit: tickets arriving together are written in one transaction and
//! flushed once, by a few writer tasks; a repeat of an earlier request (same
//! `Idempotency-Key`, Message-ID or `external_id`) returns the earlier ticket, also when
//! both arrive at once in different processes.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryTrait, Set, Statement, TransactionTrait, TryIntoModel,
};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use entity::{events, idempotency_keys, messages, tickets};

use super::tickets::{by_id, decision_columns, insert_messages, MessageOn};
use super::{
    is_unique_violation, mail, ticket_number, Created, NewTicket, Store, StoreError, TicketRecord,
};

/// A ticket waiting for the intake writer, with where to send the outcome.
pub(super) type Job = (
    NewTicket,
    DateTime<Utc>,
    oneshot::Sender<Result<Created, StoreError>>,
);

/// Most tickets written in one transaction.
const MAX_BATCH: usize = 64;

impl Store {
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
        // A mail's Message-ID was looked up by its delivery a moment ago, or is left to the
        // unique index: a repeat fails the batch there and is found then.
        if let Some(existing) = find_repeat(&self.db, &new, Skip::MessageId).await? {
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
}

/// Which lookup [`find_repeat`] leaves out.
#[derive(PartialEq)]
enum Skip {
    Nothing,
    MessageId,
}

/// The ticket an earlier request with the same key, Message-ID or external id created, if
/// any.
async fn find_repeat(
    db: &DatabaseConnection,
    new: &NewTicket,
    skip: Skip,
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
    if let Some(mail) = new.mail.as_ref().filter(|_| skip != Skip::MessageId) {
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

/// One ticket in its own transaction; a unique violation means a concurrent repeat won and
/// its ticket is committed.
async fn create_one(
    db: &DatabaseConnection,
    new: &NewTicket,
    now: DateTime<Utc>,
) -> Result<Created, StoreError> {
    if let Some(existing) = find_repeat(db, new, Skip::Nothing).await? {
        return Ok(Created::Existing(existing));
    }
    match insert_batch(db, &[(new, now)]).await {
        Ok(mut records) if !records.is_empty() => Ok(Created::New(records.remove(0))),
        Ok(_) => Err(StoreError::NotFound("the ticket just written".into())),
        Err(StoreError::Db(e)) if is_unique_violation(&e) => {
            match find_repeat(db, new, Skip::Nothing).await? {
                Some(existing) => Ok(Created::Existing(existing)),
                None => Err(e.into()),
            }
        }
        Err(e) => Err(e),
    }
}

/// How large the SQLite WAL may grow before the writer starts it over: a log that only
/// grows costs the file system new blocks (zeroed, then written) for every commit.
pub(super) const WAL_BOUND: i64 = 64 << 20;

/// Set by the background checkpoint when the SQLite WAL has passed [`WAL_BOUND`]; the writer
/// then finishes the checkpoint between two batches, so that its next transaction starts
/// the log over.
pub(super) type WalPast = Arc<AtomicBool>;

/// Copies the SQLite WAL back into the database file every second, without blocking
/// writers (`PASSIVE`): what other writers than intake wrote, and intake's last batches
/// once it pauses (the intake writer copies the log itself while it runs, see
/// [`CHECKPOINT_EVERY`]). Ends with the last handle to the store.
///
/// Under sustained intake the writer appends while the checkpoint copies, so the log is
/// never wholly copied when the next transaction begins and SQLite never starts it over.
/// Once it is past [`WAL_BOUND`], passes follow each other until one is short, and then the
/// writer is asked to run one more between batches: it copies only what was written since,
/// and the writer's next transaction reuses the log from its start (`journal_size_limit`
/// cuts the file back).
pub(super) async fn checkpoint_periodically(
    db: DatabaseConnection,
    alive: mpsc::WeakSender<Job>,
    past: WalPast,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut page_size = None;
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() {
            return;
        }
        if page_size.is_none() {
            page_size = pragma_number(&db, "PRAGMA page_size", "page_size").await;
        }
        let frame = page_size.unwrap_or(4096) + WAL_FRAME_HEADER;
        // Past the bound, passes follow each other until one copies little, so that what
        // the writer is left to copy takes it a moment, not a stall.
        for pass in 0..MAX_PASSES {
            let started = std::time::Instant::now();
            match checkpoint(&db).await {
                Ok(frames) if frames * frame > WAL_BOUND => {
                    if started.elapsed() < SHORT_PASS || pass + 1 == MAX_PASSES {
                        past.store(true, Ordering::Relaxed);
                        break;
                    }
                }
                Ok(_) => break,
                Err(DbErr::ConnectionAcquire(_)) => return,
                Err(e) => {
                    tracing::warn!("WAL checkpoint failed: {e}");
                    break;
                }
            }
        }
    }
}

/// A checkpoint pass this short leaves the writer little to copy.
const SHORT_PASS: std::time::Duration = std::time::Duration::from_millis(5);

/// Most passes in a row before the writer is asked anyway.
const MAX_PASSES: usize = 20;

/// The bytes SQLite writes before each page in the WAL.
const WAL_FRAME_HEADER: i64 = 24;

/// A passive checkpoint; returns the frames in the log.
async fn checkpoint(db: &DatabaseConnection) -> Result<i64, DbErr> {
    let row = db
        .query_one(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA wal_checkpoint(PASSIVE)",
        ))
        .await?;
    Ok(row
        .and_then(|r| r.try_get_by_index::<i64>(1).ok())
        .unwrap_or(0))
}

async fn pragma_number(db: &DatabaseConnection, sql: &str, column: &str) -> Option<i64> {
    let row = db
        .query_one(Statement::from_string(DbBackend::Sqlite, sql))
        .await
        .ok()??;
    row.try_get::<i64>("", column).ok()
}

/// How often the SQLite writer copies the log back between two batches.
///
/// A pass run by the writer while nothing else writes copies the whole log, so its next
/// transaction starts the log over: the log stays at what 50 ms of intake write, and a
/// pass takes a few milliseconds. Left to the background pass once a second, under steady
/// intake the log held some 20,000 frames by then, and the commits beside the passes that
/// copied them took 10–17 ms instead of 1–9 (BENCHMARKS.md, "the writer copies the log back
/// between its batches").
pub(super) const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// Starts `n` writers that take queued tickets in batches; with `wal`, they copy the SQLite
/// WAL back between batches at most every [`CHECKPOINT_EVERY`], and at once when the
/// background pass found it past its bound.
pub(super) fn spawn_writers(
    db: DatabaseConnection,
    n: usize,
    wal: Option<WalPast>,
) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..n {
        let (db, rx, wal) = (db.clone(), rx.clone(), wal.clone());
        tokio::spawn(async move {
            let mut copied = std::time::Instant::now();
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
                // The batch has its answers; the next one waits for this pass.
                let due = |w: &WalPast| {
                    w.swap(false, Ordering::Relaxed) || copied.elapsed() >= CHECKPOINT_EVERY
                };
                if wal.as_ref().is_some_and(due) {
                    copied = std::time::Instant::now();
                    if let Err(e) = checkpoint(&db).await {
                        tracing::warn!("WAL checkpoint failed: {e}");
                    }
                }
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

/// Inserts tickets with their first message, `created` event and idempotency key in one
/// transaction; returns the stored records in input order.
async fn insert_batch(
    db: &DatabaseConnection,
    items: &[(&NewTicket, DateTime<Utc>)],
) -> Result<Vec<TicketRecord>, StoreError> {
    // Time-ordered ids (version 7): the entries of a batch's tickets, and of their
    // messages, events and clocks keyed by ticket, land side by side at the end of each
    // index instead of on a random page each, so a commit writes fewer pages.
    let ids: Vec<Uuid> = items.iter().map(|_| Uuid::now_v7()).collect();
    let mut ticket_rows = Vec::with_capacity(items.len());
    let mut message_rows: Vec<messages::ActiveModel> = Vec::with_capacity(items.len());
    // (ticket, answer, subject, time) of tickets answered at intake.
    let mut answers = Vec::new();
    let mut event_rows = Vec::with_capacity(items.len());
    let mut key_rows = Vec::new();
    for (&(new, now), &id) in items.iter().zip(&ids) {
        let (t, d) = (&new.ticket, &new.decision);
        let (now, received_at) = (micros(now), micros(t.received_at));
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
            received_at: Set(received_at),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
            ..decision_columns(d)
        };
        new.sla.set_on(&mut row);
        sla_times_as_stored(&mut row);
        ticket_rows.push(row);
        message_rows.push(messages::ActiveModel {
            ticket_id: Set(id),
            direction: Set("inbound".into()),
            author: Set(t.from.email.clone().or_else(|| t.from.phone.clone())),
            subject: Set(t.subject.clone()),
            body: Set(t.body.clone()),
            created_at: Set(received_at),
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
                "clock_at": received_at,
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
    // The rows are known; only the numbers the database gives them are read back.
    let written = ticket_rows.clone();
    let mut insert = tickets::Entity::insert_many(ticket_rows).into_query();
    insert.returning(Query::returning().columns([tickets::Column::Id, tickets::Column::Seq]));
    let txn = db.begin().await?;
    let mut seq_of = HashMap::with_capacity(ids.len());
    for row in txn
        .query_all(txn.get_database_backend().build(&insert))
        .await?
    {
        seq_of.insert(
            row.try_get::<Uuid>("", "id")?,
            row.try_get::<i64>("", "seq")?,
        );
    }
    let records = written
        .into_iter()
        .zip(&ids)
        .map(|(mut row, id)| {
            let seq = seq_of.get(id).copied().ok_or_else(|| {
                StoreError::NotFound(format!("the number of ticket {id} just written"))
            })?;
            row.seq = Set(seq);
            row.assignee = Set(None);
            row.erased_at = Set(None);
            Ok(row.try_into_model()?)
        })
        .collect::<Result<Vec<TicketRecord>, StoreError>>()?;
    let latest = items.iter().map(|i| i.1).max().unwrap_or_else(Utc::now);
    super::report::insert_clocks(&txn, &records, latest).await?;
    if !key_rows.is_empty() {
        idempotency_keys::Entity::insert_many(key_rows)
            .exec_without_returning(&txn)
            .await?;
    }
    messages::Entity::insert_many(message_rows)
        .exec_without_returning(&txn)
        .await?;
    let mails: Vec<_> = items
        .iter()
        .zip(&ids)
        .filter_map(|(&(new, now), &id)| new.mail.as_ref().map(|m| (id, m, now)))
        .collect();
    mail::insert_inbound(&txn, &mails).await?;
    for (&(new, now), &id) in items.iter().zip(&ids) {
        if let Some(lead) = &new.lead {
            super::leads::put(&txn, &lead.record(id, now)).await?;
        }
    }
    let numbers: Vec<String> = answers
        .iter()
        .map(|(id, ..)| {
            seq_of
                .get(id)
                .map(|&seq| ticket_number(seq))
                .unwrap_or_default()
        })
        .collect();
    let answered: Vec<_> = answers
        .iter()
        .zip(&numbers)
        .map(|(&(ticket, message, subject, at), number)| MessageOn {
            ticket,
            subject,
            message,
            number,
            at,
        })
        .collect();
    insert_messages(&txn, &answered).await?;
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
    Ok(records)
}

/// A time as the database stores it: PostgreSQL keeps microseconds, and a ticket's record is
/// built from what was written, so it must read the same as the row read back later.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// Cuts the SLA times a ticket row carries to what the database keeps (its other times are
/// cut where they are set).
fn sla_times_as_stored(row: &mut tickets::ActiveModel) {
    for t in [
        &mut row.sla_due_at,
        &mut row.first_response_due_at,
        &mut row.resolution_due_at,
        &mut row.sla_alarm_at,
    ] {
        if let ActiveValue::Set(Some(t)) = t {
            *t = micros(*t);
        }
    }
}
