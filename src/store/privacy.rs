//! Personal data (GDPR Art. 15 and 17): everything stored about a person exported, or their
//! content removed from every ticket, message, raw mail, attachment, outbound mail, event and
//! notification — while the tickets' decisions, SLA figures and content-free events stay
//! for the reports. Retention does the same for tickets closed long enough.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use entity::{attachments, events, mail_outbox, mail_raw, messages, notifications, tickets};

use super::locks::{claim_write_lock, skip_locked};
use super::mail::{delete_raw, read_raw, write_raw};
use super::tickets::{insert_events, status_is, NewEvent};
use super::{Store, StoreError};

/// What stands in for removed content.
pub const ERASED: &str = "[erased]";

/// What an erasure removed, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erased {
    pub tickets: u64,
    pub messages: u64,
    pub raw_mails: u64,
    pub attachments: u64,
    pub outbound_mails: u64,
    pub events: u64,
    pub notifications: u64,
}

impl Erased {
    fn add(&mut self, o: &Erased) {
        self.tickets += o.tickets;
        self.messages += o.messages;
        self.raw_mails += o.raw_mails;
        self.attachments += o.attachments;
        self.outbound_mails += o.outbound_mails;
        self.events += o.events;
        self.notifications += o.notifications;
    }
}

/// Replaces every occurrence of a needle (case-insensitively for addresses) in a JSON
/// value's text, keeping its shape; `None` when nothing matched.
fn scrub(value: &Value, needles: &[String]) -> Option<Value> {
    let text = value.to_string();
    let mut out = text.clone();
    for n in needles.iter().filter(|n| n.chars().count() >= 3) {
        // The needle as it stands in JSON text (quotes and backslashes escaped).
        let encoded = serde_json::to_string(n).unwrap_or_default();
        let inner = &encoded[1..encoded.len().saturating_sub(1)];
        out = replace_ignore_case(&out, inner, ERASED);
    }
    if out == text {
        return None;
    }
    serde_json::from_str(&out).ok()
}

fn replace_ignore_case(haystack: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return haystack.to_owned();
    }
    let lower = haystack.to_lowercase();
    let target = needle.to_lowercase();
    // Lower-casing may change byte lengths outside ASCII; fall back to an exact replace.
    if lower.len() != haystack.len() {
        return haystack.replace(needle, with);
    }
    let mut out = String::with_capacity(haystack.len());
    let mut last = 0;
    for (i, _) in lower.match_indices(&target) {
        out.push_str(&haystack[last..i]);
        out.push_str(with);
        last = i + target.len();
    }
    out.push_str(&haystack[last..]);
    out
}

/// The person's content on one ticket: what to look for in its JSON columns.
fn needles_of(t: &tickets::Model, extra: &[String]) -> Vec<String> {
    let mut n: Vec<String> = extra.to_vec();
    n.extend(t.from_email.clone());
    n.extend(t.from_name.clone());
    n.extend(t.from_phone.clone());
    if t.subject != ERASED {
        n.push(t.subject.clone());
    }
    if t.body != ERASED {
        n.push(t.body.clone());
    }
    n.sort();
    n.dedup();
    n
}

/// Removes the content of one ticket and everything on it, in `txn`; its decision, clocks
/// and content-free events stay.
async fn erase_ticket(
    txn: &DatabaseTransaction,
    t: tickets::Model,
    extra: &[String],
    now: DateTime<Utc>,
) -> Result<Erased, StoreError> {
    let needles = needles_of(&t, extra);
    let mut done = Erased {
        tickets: 1,
        ..Erased::default()
    };
    done.messages = messages::Entity::update_many()
        .col_expr(messages::Column::Body, Expr::value(ERASED))
        .col_expr(messages::Column::Subject, Expr::value(ERASED))
        .col_expr(messages::Column::Mail, Expr::value(Option::<Value>::None))
        .filter(messages::Column::TicketId.eq(t.id))
        .exec(txn)
        .await?
        .rows_affected;
    // Authors: the person's address or name goes; agents' names stay.
    messages::Entity::update_many()
        .col_expr(
            messages::Column::Author,
            Expr::value(Option::<String>::None),
        )
        .filter(messages::Column::TicketId.eq(t.id))
        .filter(messages::Column::Author.is_in(needles.iter().cloned()))
        .exec(txn)
        .await?;
    done.raw_mails = delete_raw(txn, Some(t.id), None).await?;
    done.attachments = attachments::Entity::delete_many()
        .filter(attachments::Column::TicketId.eq(t.id))
        .exec(txn)
        .await?
        .rows_affected;
    for m in mail_outbox::Entity::find()
        .filter(mail_outbox::Column::TicketId.eq(t.id))
        .all(txn)
        .await?
    {
        let pending = m.status == "pending";
        let mut am = m.into_active_model();
        am.recipient = Set(ERASED.into());
        am.subject = Set(ERASED.into());
        am.body = Set(ERASED.into());
        am.body_html = Set(None);
        if pending {
            // Content that is gone is never sent.
            am.status = Set("dead".into());
            am.last_error = Set(Some("erased before it was sent".into()));
        }
        am.update(txn).await?;
        done.outbound_mails += 1;
    }
    scrub_events(txn, t.id, &needles, &mut done).await?;
    super::leads::erase(txn, t.id).await?;
    let trace = scrub(&t.trace, &needles).unwrap_or_else(|| t.trace.clone());
    let faq = t
        .faq
        .as_ref()
        .map(|f| scrub(f, &needles).unwrap_or_else(|| f.clone()));
    // Message-IDs stay as the conversation's threading keys; the mail they named is gone.
    let mut am = t.into_active_model();
    am.subject = Set(ERASED.into());
    am.body = Set(ERASED.into());
    am.from_email = Set(None);
    am.from_name = Set(None);
    am.from_phone = Set(None);
    am.external_id = Set(None);
    am.trace = Set(trace);
    am.faq = Set(faq);
    am.erased_at = Set(Some(now));
    am.update(txn).await?;
    Ok(done)
}

/// Replaces the needles in a ticket's events (data and actor) and notifications.
async fn scrub_events(
    txn: &DatabaseTransaction,
    ticket: Uuid,
    needles: &[String],
    done: &mut Erased,
) -> Result<(), StoreError> {
    for e in events::Entity::find()
        .filter(events::Column::TicketId.eq(ticket))
        .all(txn)
        .await?
    {
        let actor_is_them = mentions(&e.actor, needles);
        let data = scrub(&e.data, needles);
        if actor_is_them || data.is_some() {
            let mut am = e.into_active_model();
            if let Some(data) = data {
                am.data = Set(data);
            }
            if actor_is_them {
                am.actor = Set(ERASED.into());
            }
            am.update(txn).await?;
            done.events += 1;
        }
    }
    for n in notifications::Entity::find()
        .filter(notifications::Column::TicketId.eq(ticket))
        .all(txn)
        .await?
    {
        if let Some(payload) = scrub(&n.payload, needles) {
            let mut am = n.into_active_model();
            am.payload = Set(payload);
            am.update(txn).await?;
            done.notifications += 1;
        }
    }
    Ok(())
}

/// Replaces the needles wherever another person's ticket mentions them: its events,
/// notifications, messages (text and mail data), raw mail and trace. The ticket and its
/// other content stay.
async fn scrub_mentions(
    txn: &DatabaseTransaction,
    ticket: Uuid,
    needles: &[String],
) -> Result<Erased, StoreError> {
    let mut done = Erased::default();
    scrub_events(txn, ticket, needles, &mut done).await?;
    for m in messages::Entity::find()
        .filter(messages::Column::TicketId.eq(ticket))
        .all(txn)
        .await?
    {
        let body = replace_all(&m.body, needles);
        let mail = m.mail.as_ref().and_then(|v| scrub(v, needles));
        if body != m.body || mail.is_some() {
            let mut am = m.into_active_model();
            am.body = Set(body);
            if let Some(mail) = mail {
                am.mail = Set(Some(mail));
            }
            am.update(txn).await?;
            done.messages += 1;
        }
    }
    for r in mail_raw::Entity::find()
        .filter(mail_raw::Column::TicketId.eq(ticket))
        .all(txn)
        .await?
    {
        // The archived bytes of someone else's mail keep everything but the person.
        let (message_id, at) = (r.message_id.clone(), r.created_at);
        let raw = read_raw(txn, r).await?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let scrubbed = replace_all(&text, needles);
        if scrubbed != text {
            delete_raw(txn, None, Some(&message_id)).await?;
            write_raw(txn, &[(&message_id, ticket, scrubbed.as_bytes(), at)]).await?;
            done.raw_mails += 1;
        }
    }
    if let Some(t) = tickets::Entity::find()
        .filter(tickets::Column::Id.eq(ticket))
        .one(txn)
        .await?
    {
        if let Some(trace) = scrub(&t.trace, needles) {
            let mut am = t.into_active_model();
            am.trace = Set(trace);
            am.update(txn).await?;
        }
    }
    Ok(done)
}

/// Whether `text` is one of the needles (an actor, an author), ignoring case.
fn mentions(text: &str, needles: &[String]) -> bool {
    needles.iter().any(|n| n.eq_ignore_ascii_case(text))
}

fn replace_all(text: &str, needles: &[String]) -> String {
    needles
        .iter()
        .filter(|n| n.chars().count() >= 3)
        .fold(text.to_owned(), |t, n| replace_ignore_case(&t, n, ERASED))
}

impl Store {
    /// Removes a person's content wherever it is: the tickets they opened (and everything
    /// on them), their messages on other tickets, mail to them, and their address in any
    /// event of those tickets. Each touched ticket gets a `privacy.erased` event saying what
    /// was removed (without content).
    pub async fn erase_person(
        &self,
        email: &str,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Erased, StoreError> {
        let email = email.trim().to_lowercase();
        let txn = self.db.begin().await?;
        claim_write_lock(&txn).await?;
        let theirs = tickets::Entity::find()
            .filter(Expr::expr(Func::lower(Expr::col(tickets::Column::FromEmail))).eq(&email))
            .all(&txn)
            .await?;
        let mut total = Erased::default();
        let mut touched: BTreeSet<Uuid> = BTreeSet::new();
        let extra = vec![email.clone()];
        for t in theirs {
            touched.insert(t.id);
            let id = t.id;
            let done = erase_ticket(&txn, t, &extra, now).await?;
            record(&txn, id, actor, &done, now).await?;
            total.add(&done);
        }
        // Their words on tickets others opened (copied on a mail, a forwarded thread),
        // counted per ticket.
        let mut others: BTreeMap<Uuid, Erased> = BTreeMap::new();
        let elsewhere = messages::Entity::find()
            .filter(Expr::expr(Func::lower(Expr::col(messages::Column::Author))).eq(&email))
            .filter(messages::Column::TicketId.is_not_in(touched.iter().copied()))
            .all(&txn)
            .await?;
        for m in elsewhere {
            let part = others.entry(m.ticket_id).or_default();
            part.messages += 1;
            if let Some(mid) = &m.message_id {
                part.raw_mails += delete_raw(&txn, None, Some(mid)).await?;
                part.attachments += attachments::Entity::delete_many()
                    .filter(attachments::Column::MessageId.eq(mid.as_str()))
                    .exec(&txn)
                    .await?
                    .rows_affected;
            }
            let mut am = m.into_active_model();
            am.body = Set(ERASED.into());
            am.subject = Set(ERASED.into());
            am.author = Set(None);
            am.mail = Set(None);
            am.update(&txn).await?;
        }
        // Tickets that only mention them: copied on a mail, named in a reply.
        let pattern = format!("%{email}%");
        for m in messages::Entity::find()
            .filter(
                Condition::any()
                    .add(Expr::expr(Func::lower(Expr::col(messages::Column::Body))).like(&pattern))
                    .add(
                        Expr::expr(Func::lower(
                            Expr::col(messages::Column::Mail).cast_as(Alias::new("text")),
                        ))
                        .like(&pattern),
                    ),
            )
            .all(&txn)
            .await?
        {
            others.entry(m.ticket_id).or_default();
        }
        // Each of those tickets scrubbed of their address once, and the erasure recorded.
        for (ticket, mut part) in others {
            if touched.contains(&ticket) {
                continue;
            }
            part.add(&scrub_mentions(&txn, ticket, &extra).await?);
            record(&txn, ticket, actor, &part, now).await?;
            total.add(&part);
        }
        // Mail to them from any ticket.
        total.outbound_mails += mail_outbox::Entity::update_many()
            .col_expr(mail_outbox::Column::Recipient, Expr::value(ERASED))
            .col_expr(mail_outbox::Column::Subject, Expr::value(ERASED))
            .col_expr(mail_outbox::Column::Body, Expr::value(ERASED))
            .col_expr(
                mail_outbox::Column::BodyHtml,
                Expr::value(Option::<String>::None),
            )
            .filter(Expr::expr(Func::lower(Expr::col(mail_outbox::Column::Recipient))).eq(&email))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(total)
    }

    /// Everything stored about a person, as one JSON document: the tickets they opened with
    /// their conversation, events, attachments and raw mail (base64), their messages on
    /// other tickets, and mail sent to them.
    pub async fn export_person(&self, email: &str) -> Result<Value, StoreError> {
        let email = email.trim().to_lowercase();
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let theirs = tickets::Entity::find()
            .filter(Expr::expr(Func::lower(Expr::col(tickets::Column::FromEmail))).eq(&email))
            .order_by_asc(tickets::Column::Seq)
            .all(&self.db)
            .await?;
        let mut out_tickets = Vec::new();
        for t in &theirs {
            let msgs = messages::Entity::find()
                .filter(messages::Column::TicketId.eq(t.id))
                .order_by_asc(messages::Column::Id)
                .all(&self.db)
                .await?;
            let evs = events::Entity::find()
                .filter(events::Column::TicketId.eq(t.id))
                .order_by_asc(events::Column::Id)
                .all(&self.db)
                .await?;
            let files = attachments::Entity::find()
                .filter(attachments::Column::TicketId.eq(t.id))
                .all(&self.db)
                .await?;
            let mut raws = Vec::new();
            for r in mail_raw::Entity::find()
                .filter(mail_raw::Column::TicketId.eq(t.id))
                .all(&self.db)
                .await?
            {
                let id = r.message_id.clone();
                raws.push((id, read_raw(&self.db, r).await?));
            }
            let lead = self.lead(t.id).await?;
            out_tickets.push(json!({
                "number": super::ticket_number(t.seq),
                "lead": lead.map(|l| json!({
                    "trigger": l.trigger, "source": l.source, "fields": l.fields,
                    "missing": l.missing, "handed_at": l.handed_at, "outcome": l.outcome,
                    "reason": l.reason, "opportunity": l.opportunity, "outcome_at": l.outcome_at,
                })),
                "id": t.id,
                "channel": t.channel,
                "subject": t.subject,
                "body": t.body,
                "from": {"email": t.from_email, "name": t.from_name, "phone": t.from_phone},
                "organisation": t.organisation,
                "external_id": t.external_id,
                "received_at": t.received_at,
                "status": t.status,
                "decision": {"segment": t.segment, "category": t.category, "priority": t.priority,
                    "queue": t.queue, "automation": t.automation, "trace": t.trace},
                "faq": t.faq,
                "messages": msgs.iter().map(|m| json!({
                    "direction": m.direction, "author": m.author, "channel": m.channel,
                    "subject": m.subject, "body": m.body, "created_at": m.created_at,
                    "message_id": m.message_id, "mail": m.mail,
                })).collect::<Vec<_>>(),
                "events": evs.iter().map(|e| json!({
                    "kind": e.kind, "actor": e.actor, "data": e.data, "created_at": e.created_at,
                })).collect::<Vec<_>>(),
                "attachments": files.iter().map(|a| json!({
                    "name": a.name, "content_type": a.content_type, "size": a.size,
                    "message_id": a.message_id, "content_base64": a.content.as_deref().map(b64),
                })).collect::<Vec<_>>(),
                "raw_mails": raws.iter().map(|(id, raw)| json!({
                    "message_id": id, "raw_base64": b64(raw),
                })).collect::<Vec<_>>(),
            }));
        }
        let elsewhere = messages::Entity::find()
            .filter(Expr::expr(Func::lower(Expr::col(messages::Column::Author))).eq(&email))
            .filter(messages::Column::TicketId.is_not_in(theirs.iter().map(|t| t.id)))
            .all(&self.db)
            .await?;
        let outbound = mail_outbox::Entity::find()
            .filter(Expr::expr(Func::lower(Expr::col(mail_outbox::Column::Recipient))).eq(&email))
            .all(&self.db)
            .await?;
        Ok(json!({
            "email": email,
            "tickets": out_tickets,
            "messages_on_other_tickets": elsewhere.iter().map(|m| json!({
                "ticket_id": m.ticket_id, "direction": m.direction, "subject": m.subject,
                "body": m.body, "created_at": m.created_at, "message_id": m.message_id,
            })).collect::<Vec<_>>(),
            "mail_sent_to_them": outbound.iter().map(|m| json!({
                "ticket_id": m.ticket_id, "subject": m.subject, "body": m.body,
                "status": m.status, "created_at": m.created_at, "sent_at": m.sent_at,
            })).collect::<Vec<_>>(),
        }))
    }

    /// Removes the content of up to `limit` tickets in `status` (`closed`, `noise`) since
    /// before `before` (their last change) whose content is still there, the longest
    /// unchanged first. Several workers share the work: each takes the tickets no other
    /// holds (`SKIP LOCKED`). A partial index per status holds just those tickets (migration
    /// 22), so a pass that finds none reads none.
    pub async fn erase_in_status(
        &self,
        status: &'static str,
        before: DateTime<Utc>,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Erased, StoreError> {
        let txn = self.db.begin().await?;
        claim_write_lock(&txn).await?;
        let q = tickets::Entity::find()
            .filter(status_is(status))
            .filter(tickets::Column::UpdatedAt.lt(before))
            .filter(tickets::Column::ErasedAt.is_null())
            .order_by_asc(tickets::Column::UpdatedAt)
            .limit(limit);
        let due = skip_locked(q, &txn).all(&txn).await?;
        let mut total = Erased::default();
        for t in due {
            let id = t.id;
            let done = erase_ticket(&txn, t, &[], now).await?;
            let event = NewEvent {
                kind: "privacy.retention".into(),
                actor: "retention".into(),
                data: json!({ "removed": done, "status": status, "before": before }),
            };
            insert_events(&txn, id, vec![event], now).await?;
            total.add(&done);
        }
        txn.commit().await?;
        Ok(total)
    }
}

async fn record(
    txn: &DatabaseTransaction,
    ticket: Uuid,
    actor: &str,
    done: &Erased,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let event = NewEvent {
        kind: "privacy.erased".into(),
        actor: actor.to_owned(),
        data: json!({ "removed": done }),
    };
    insert_events(txn, ticket, vec![event], now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_replaces_needles_in_json_text_and_keeps_the_shape() {
        let v = json!({"from": "Anna.Berger@alpen.example", "why": "sender anna.berger@alpen.example matches",
            "n": 3, "quote": "Er sagte \"Hallo\""});
        let out = scrub(
            &v,
            &[
                "anna.berger@alpen.example".into(),
                "Er sagte \"Hallo\"".into(),
            ],
        )
        .unwrap();
        assert_eq!(out["from"], ERASED);
        assert_eq!(out["why"], "sender [erased] matches");
        assert_eq!(out["quote"], ERASED);
        assert_eq!(out["n"], 3);
        assert!(scrub(&v, &["nobody@x.example".into()]).is_none());
    }
}
