//! E-mail in the store: received messages (raw bytes, attachments), the conversation
//! lookups threading needs, and the outbound mail queue the worker sends from.
//!
//! A Message-ID is unique over all messages, so a redelivered mail is stored once even when
//! two processes take it at the same moment; the outbox is leased like the notification
//! outbox (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so each mail is sent by one worker.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;

use entity::{attachments, mail_outbox, mail_raw, mail_raw_parts, messages, tickets};

use super::locks::{lease_columns, lease_due};
use super::tickets::insert_events;
use super::{NewEvent, Store, StoreError, TicketRecord};
use crate::intake::mail::Attachment;

pub use entity::attachments::Model as AttachmentRecord;
pub use entity::mail_outbox::Model as OutboxRecord;
pub use entity::messages::Model as MessageRecord;

/// A received e-mail as stored with its message.
#[derive(Debug, Clone)]
pub struct InboundMail {
    /// As received, or made up when the mail had none.
    pub message_id: String,
    /// From, reply-to, to, cc, date, refers-to, automatic, spam.
    pub meta: Value,
    pub raw: Vec<u8>,
    pub attachments: Vec<Attachment>,
}

/// An e-mail to send for a message.
#[derive(Debug, Clone)]
pub struct OutboundMail {
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// An automatic answer: marked `Auto-Submitted: auto-replied`, and counted against the
    /// per-sender limit.
    pub automatic: bool,
    /// An HTML alternative of the text (sent as multipart/alternative).
    pub html: Option<String>,
}

/// The outcome of one sending attempt.
#[derive(Debug, Clone)]
pub enum Sent {
    Sent,
    /// Failed; try again at the given time, or give up (`None`: dead letter).
    Failed {
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Writes received mails' raw bytes and attachments (their message rows are written by the
/// caller, with the Message-IDs): a batch's mails in a few multi-row inserts.
pub(super) async fn insert_inbound(
    txn: &DatabaseTransaction,
    mails: &[(Uuid, &InboundMail, DateTime<Utc>)],
) -> Result<(), StoreError> {
    let raws: Vec<_> = mails
        .iter()
        .map(|&(t, m, at)| (m.message_id.as_str(), t, m.raw.as_slice(), at))
        .collect();
    write_raw(txn, &raws).await?;
    let rows = mails.iter().flat_map(|&(ticket, mail, now)| {
        mail.attachments.iter().map(move |a| {
            let row = attachments::ActiveModel {
                ticket_id: Set(ticket),
                message_id: Set(mail.message_id.clone()),
                name: Set(a.name.clone()),
                content_type: Set(a.content_type.clone()),
                size: Set(a.size as i64),
                inline: Set(a.inline),
                content: Set(a.content.clone()),
                note: Set(a.note.clone()),
                created_at: Set(now),
                ..Default::default()
            };
            (a.content.as_ref().map_or(0, Vec::len), row)
        })
    });
    for chunk in by_size(rows) {
        attachments::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// The most of a raw mail one row holds, and the most bytes one multi-row insert binds:
/// through the driver a bound value is copied several times, so a 50 MB mail is written
/// and read a part at a time.
const RAW_PART: usize = 1 << 20;

/// Most rows one multi-row insert writes (far below the databases' limits on bound values).
const ROWS_PER_INSERT: usize = 256;

/// Rows grouped for multi-row inserts, each group at most [`RAW_PART`] bytes (a larger row
/// alone) and [`ROWS_PER_INSERT`] rows.
fn by_size<R>(rows: impl IntoIterator<Item = (usize, R)>) -> Vec<Vec<R>> {
    let mut out: Vec<Vec<R>> = Vec::new();
    let mut bytes = 0;
    for (size, row) in rows {
        match out.last_mut() {
            Some(last) if bytes + size <= RAW_PART && last.len() < ROWS_PER_INSERT => {
                bytes += size;
                last.push(row);
            }
            _ => {
                bytes = size;
                out.push(vec![row]);
            }
        }
    }
    out
}

/// Stores mails' bytes, each given as (Message-ID, ticket, bytes, time): the first part in
/// `mail_raw`, the rest in `mail_raw_parts`, written without RETURNING (reading a part back
/// would double what it costs).
pub(super) async fn write_raw<C: ConnectionTrait>(
    c: &C,
    mails: &[(&str, Uuid, &[u8], DateTime<Utc>)],
) -> Result<(), StoreError> {
    let mut firsts = Vec::with_capacity(mails.len());
    let mut rest = Vec::new();
    for &(message_id, ticket, raw, at) in mails {
        let mut parts = raw.chunks(RAW_PART);
        let first = parts.next().unwrap_or_default();
        let row = mail_raw::ActiveModel {
            message_id: Set(message_id.to_owned()),
            ticket_id: Set(ticket),
            raw: Set(first.to_vec()),
            created_at: Set(at),
        };
        firsts.push((first.len(), row));
        rest.extend((1..).zip(parts).map(|(seq, part)| {
            let row = mail_raw_parts::ActiveModel {
                message_id: Set(message_id.to_owned()),
                seq: Set(seq),
                ticket_id: Set(ticket),
                bytes: Set(part.to_vec()),
            };
            (part.len(), row)
        }));
    }
    for chunk in by_size(firsts) {
        mail_raw::Entity::insert_many(chunk)
            .exec_without_returning(c)
            .await?;
    }
    for chunk in by_size(rest) {
        mail_raw_parts::Entity::insert_many(chunk)
            .exec_without_returning(c)
            .await?;
    }
    Ok(())
}

/// A stored mail's whole bytes: its first row and its parts in order, read one at a time.
pub(super) async fn read_raw<C: ConnectionTrait>(
    c: &C,
    first: mail_raw::Model,
) -> Result<Vec<u8>, StoreError> {
    let mut raw = first.raw;
    for seq in 1.. {
        match mail_raw_parts::Entity::find_by_id((first.message_id.clone(), seq))
            .one(c)
            .await?
        {
            Some(part) => raw.extend_from_slice(&part.bytes),
            None => break,
        }
    }
    Ok(raw)
}

/// Removes stored mails with their parts: those of a ticket, or one by its Message-ID.
/// Returns how many mails.
pub(super) async fn delete_raw<C: ConnectionTrait>(
    c: &C,
    ticket: Option<Uuid>,
    message_id: Option<&str>,
) -> Result<u64, StoreError> {
    let mut mails = mail_raw::Entity::delete_many();
    let mut parts = mail_raw_parts::Entity::delete_many();
    if let Some(t) = ticket {
        mails = mails.filter(mail_raw::Column::TicketId.eq(t));
        parts = parts.filter(mail_raw_parts::Column::TicketId.eq(t));
    }
    if let Some(m) = message_id {
        mails = mails.filter(mail_raw::Column::MessageId.eq(m));
        parts = parts.filter(mail_raw_parts::Column::MessageId.eq(m));
    }
    parts.exec(c).await?;
    Ok(mails.exec(c).await?.rows_affected)
}

/// An outbound mail's row in the outbox; `number` replaces the ticket-number placeholder in
/// its subject and HTML.
pub(super) fn outbound_row(
    ticket: Uuid,
    mail: &OutboundMail,
    body: &str,
    number: &str,
    now: DateTime<Utc>,
) -> mail_outbox::ActiveModel {
    mail_outbox::ActiveModel {
        ticket_id: Set(ticket),
        message_id: Set(mail.message_id.clone()),
        recipient: Set(mail.recipient.clone()),
        subject: Set(mail.subject.replace(super::TICKET_NUMBER, number)),
        body: Set(body.to_owned()),
        in_reply_to: Set(mail.in_reply_to.clone()),
        references: Set(Some(mail.references.join(" ")).filter(|s| !s.is_empty())),
        automatic: Set(mail.automatic),
        body_html: Set(mail
            .html
            .as_ref()
            .map(|h| h.replace(super::TICKET_NUMBER, number))),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    }
}

impl Store {
    /// The ticket holding a message with one of these Message-IDs (the first id that has
    /// one wins), with the id that matched.
    pub async fn ticket_of_message(
        &self,
        ids: &[String],
    ) -> Result<Option<(TicketRecord, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(None);
        }
        let rows = messages::Entity::find()
            .filter(messages::Column::MessageId.is_in(ids.iter().cloned()))
            .all(&self.db)
            .await?;
        for id in ids {
            if let Some(m) = rows.iter().find(|m| m.message_id.as_deref() == Some(id)) {
                return Ok(Some((self.by_id(m.ticket_id).await?, id.clone())));
            }
        }
        Ok(None)
    }

    /// Every address on a ticket: its requester, the authors of its messages, and whoever
    /// was copied on its mail.
    pub async fn participants(&self, ticket: &TicketRecord) -> Result<Vec<String>, StoreError> {
        let mut out: Vec<String> = ticket.from_email.iter().cloned().collect();
        let rows = messages::Entity::find()
            .filter(messages::Column::TicketId.eq(ticket.id))
            .all(&self.db)
            .await?;
        for m in rows {
            if m.direction == "inbound" {
                out.extend(m.author.clone());
            }
            if let Some(meta) = &m.mail {
                for key in ["to", "cc"] {
                    for a in meta[key].as_array().into_iter().flatten() {
                        out.extend(a["address"].as_str().map(str::to_owned));
                    }
                }
            }
        }
        for a in &mut out {
            *a = a.to_lowercase();
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Where e-mail answers to a ticket go: the Reply-To (else From) of the mail that
    /// opened it, else the requester's address.
    pub async fn reply_address(&self, ticket: &TicketRecord) -> Result<Option<String>, StoreError> {
        let first = messages::Entity::find()
            .filter(messages::Column::TicketId.eq(ticket.id))
            .filter(messages::Column::Direction.eq("inbound"))
            .order_by_asc(messages::Column::Id)
            .one(&self.db)
            .await?;
        let from_mail = first.and_then(|m| m.mail).and_then(|meta| {
            ["reply_to", "from"]
                .iter()
                .find_map(|k| meta[*k]["address"].as_str().map(str::to_owned))
        });
        Ok(from_mail.or_else(|| ticket.from_email.clone()))
    }

    /// The Message-IDs of a ticket's mail, oldest first, for an answer's `References`.
    pub async fn message_ids(&self, ticket: Uuid) -> Result<Vec<String>, StoreError> {
        Ok(messages::Entity::find()
            .filter(messages::Column::TicketId.eq(ticket))
            .filter(messages::Column::MessageId.is_not_null())
            .order_by_asc(messages::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|m| m.message_id)
            .collect())
    }

    /// A page of a ticket's messages, oldest first, after message `after`; with the
    /// attachments of those messages (without content) and whether more follow.
    pub async fn conversation(
        &self,
        ticket: Uuid,
        after: Option<i64>,
        limit: u64,
    ) -> Result<(Vec<MessageRecord>, Vec<AttachmentRecord>, bool), StoreError> {
        let mut q = messages::Entity::find().filter(messages::Column::TicketId.eq(ticket));
        if let Some(after) = after {
            q = q.filter(messages::Column::Id.gt(after));
        }
        let mut rows = q
            .order_by_asc(messages::Column::Id)
            .limit(limit + 1)
            .all(&self.db)
            .await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let ids: Vec<String> = rows.iter().filter_map(|m| m.message_id.clone()).collect();
        let mut files = if ids.is_empty() {
            Vec::new()
        } else {
            attachments::Entity::find()
                .filter(attachments::Column::TicketId.eq(ticket))
                .filter(attachments::Column::MessageId.is_in(ids))
                .order_by_asc(attachments::Column::Id)
                .all(&self.db)
                .await?
        };
        for f in &mut files {
            f.content = None;
        }
        Ok((rows, files, more))
    }

    /// A ticket's attachments, without their content.
    pub async fn attachments(&self, ticket: Uuid) -> Result<Vec<AttachmentRecord>, StoreError> {
        let mut rows = attachments::Entity::find()
            .filter(attachments::Column::TicketId.eq(ticket))
            .order_by_asc(attachments::Column::Id)
            .all(&self.db)
            .await?;
        for r in &mut rows {
            r.content = None;
        }
        Ok(rows)
    }

    /// One attachment of a ticket, with its content.
    pub async fn attachment(&self, ticket: Uuid, id: i64) -> Result<AttachmentRecord, StoreError> {
        attachments::Entity::find_by_id(id)
            .filter(attachments::Column::TicketId.eq(ticket))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))
    }

    /// A received mail exactly as it arrived.
    pub async fn raw_mail(&self, ticket: Uuid, message_id: &str) -> Result<Vec<u8>, StoreError> {
        let first = mail_raw::Entity::find_by_id(message_id.to_owned())
            .filter(mail_raw::Column::TicketId.eq(ticket))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("message {message_id}")))?;
        read_raw(&self.db, first).await
    }

    /// Automatic answers queued for an address since a moment (the per-sender limit).
    pub async fn automatic_mail_since(
        &self,
        recipient: &str,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        Ok(mail_outbox::Entity::find()
            .filter(mail_outbox::Column::Recipient.eq(recipient))
            .filter(mail_outbox::Column::Automatic.eq(true))
            .filter(mail_outbox::Column::CreatedAt.gte(since))
            .count(&self.db)
            .await?)
    }

    /// Outbound mail, newest first; of one ticket if given.
    /// Queues a mail that was given up on (`dead`) again, as if new: attempts from zero,
    /// due now, with an event on its ticket. Returns the row, or `None` when it is not dead
    /// (pending, sent or bounced mail is left as it is).
    pub async fn send_again(
        &self,
        id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<OutboxRecord>, StoreError> {
        let txn = self.db.begin().await?;
        let done = mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::Status, Expr::value("pending"))
            .col_expr(mail_outbox::Column::Attempts, Expr::value(0))
            .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(now))
            .col_expr(
                mail_outbox::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(mail_outbox::Column::Id.eq(id))
            .filter(mail_outbox::Column::Status.eq("dead"))
            .exec(&txn)
            .await?;
        let Some(row) = mail_outbox::Entity::find_by_id(id).one(&txn).await? else {
            txn.rollback().await?;
            return Err(StoreError::NotFound(format!("outbound mail {id}")));
        };
        if done.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        let event = NewEvent {
            kind: "mail.send_again".into(),
            actor: actor.to_owned(),
            data: serde_json::json!({ "mail": id, "message_id": row.message_id, "last_error": row.last_error }),
        };
        insert_events(&txn, row.ticket_id, vec![event], now).await?;
        txn.commit().await?;
        Ok(Some(row))
    }

    pub async fn outbox(
        &self,
        ticket: Option<Uuid>,
        limit: u64,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        let mut q = mail_outbox::Entity::find();
        if let Some(t) = ticket {
            q = q.filter(mail_outbox::Column::TicketId.eq(t));
        }
        Ok(q.order_by_desc(mail_outbox::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Leases up to `limit` mails that are due for a sending attempt.
    pub async fn lease_mail(
        &self,
        now: DateTime<Utc>,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        let cols = lease_columns!(mail_outbox);
        lease_due::<mail_outbox::Entity>(&self.db, cols, now, limit, lease, |r| {
            (r.id, &mut r.attempts)
        })
        .await
    }

    /// Records the outcome of a sending attempt; sent and dead mail are events on the
    /// ticket.
    pub async fn finish_mail(
        &self,
        m: &OutboxRecord,
        outcome: Sent,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let mut row = mail_outbox::ActiveModel {
            id: Set(m.id),
            lease_until: Set(None),
            ..Default::default()
        };
        let event = match outcome {
            Sent::Sent => {
                row.status = Set("sent".into());
                row.sent_at = Set(Some(now));
                row.last_error = Set(None);
                NewEvent {
                    kind: "mail.sent".into(),
                    actor: "worker".into(),
                    data: serde_json::json!({
                        "message_id": m.message_id, "to": m.recipient, "attempts": m.attempts,
                    }),
                }
            }
            Sent::Failed { error, retry_at } => {
                row.last_error = Set(Some(error.clone()));
                match retry_at {
                    Some(at) => {
                        row.next_attempt_at = Set(at);
                        row.update(&txn).await?;
                        txn.commit().await?;
                        return Ok(());
                    }
                    None => {
                        row.status = Set("dead".into());
                        NewEvent {
                            kind: "mail.dead".into(),
                            actor: "worker".into(),
                            data: serde_json::json!({
                                "message_id": m.message_id, "to": m.recipient,
                                "attempts": m.attempts, "error": error,
                            }),
                        }
                    }
                }
            }
        };
        row.update(&txn).await?;
        insert_events(&txn, m.ticket_id, vec![event], now).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Marks our mail with one of these Message-IDs as bounced; returns the ticket it
    /// belongs to and the ids that matched.
    pub async fn mark_bounced(
        &self,
        ids: &[String],
        reason: &str,
    ) -> Result<Option<(TicketRecord, Vec<String>)>, StoreError> {
        if ids.is_empty() {
            return Ok(None);
        }
        let rows = mail_outbox::Entity::find()
            .filter(mail_outbox::Column::MessageId.is_in(ids.iter().cloned()))
            .all(&self.db)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let ticket = first.ticket_id;
        let matched: Vec<String> = rows.iter().map(|r| r.message_id.clone()).collect();
        mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::Status, Expr::value("bounced"))
            .col_expr(mail_outbox::Column::LastError, Expr::value(reason))
            .filter(mail_outbox::Column::MessageId.is_in(matched.clone()))
            .exec(&self.db)
            .await?;
        let record = tickets::Entity::find()
            .filter(tickets::Column::Id.eq(ticket))
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(ticket.to_string()))?;
        Ok(Some((record, matched)))
    }
}
