//! E-mail endpoints: raw messages from an MTA in, attachments and raw mail out, and the
//! outbound mail queue.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::tickets::{apply_clock_changes, intake, Intake, MailIntake, TicketView};
use super::AppState;
use crate::intake::mail::{self, Mail};
use crate::model::{Channel, Sender, Ticket};
use crate::rules::CompiledRules;
use crate::store::{self, Created, InboundMail, NewEvent, NewMessage, OutboundMail, StoreError};

/// What became of a delivered message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailIntakeView {
    /// `created` (a new ticket), `appended` (a reply on its ticket), `duplicate` (this
    /// Message-ID was delivered before), `bounce` (a bounce of our mail, on its ticket).
    pub outcome: String,
    /// The Message-ID the message is stored under (made up if it had none).
    pub message_id: String,
    pub ticket: TicketView,
}

/// A Message-ID of ours, in the domain of the gateway's address.
pub(super) fn new_message_id(rules: &CompiledRules) -> String {
    let domain = rules
        .mail
        .address
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    format!("{}@{domain}", uuid::Uuid::new_v4())
}

/// The mail an answer goes out as: the template's subject with the ticket tag, threading
/// headers pointing at the conversation so far.
pub(super) fn outbound(
    rules: &CompiledRules,
    language: &str,
    subject: &str,
    recipient: String,
    references: &[String],
    automatic: bool,
) -> OutboundMail {
    let t = rules.mail.template(language);
    let lower = subject.to_lowercase();
    let subject = if lower.starts_with("re:") || lower.starts_with("aw:") {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    };
    OutboundMail {
        message_id: new_message_id(rules),
        recipient,
        subject: t
            .subject
            .replace("{ticket}", store::TICKET_NUMBER)
            .replace("{subject}", &subject),
        in_reply_to: references.last().cloned(),
        references: references.to_vec(),
        automatic,
    }
}

fn meta(m: &Mail) -> serde_json::Value {
    serde_json::json!({
        "from": m.from,
        "reply_to": m.reply_to,
        "to": m.to,
        "cc": m.cc,
        "date": m.date,
        "refers_to": m.refers_to,
        "automatic": m.automatic,
        "spam_flag": m.spam_flag,
        "spam_score": m.spam_score,
        "attachments": m.attachments.iter().map(|a| serde_json::json!({
            "name": a.name, "content_type": a.content_type, "size": a.size, "note": a.note,
        })).collect::<Vec<_>>(),
    })
}

/// Attachments over a limit are named in the text, so an agent sees what is missing.
fn body_with_notes(m: &Mail) -> String {
    let mut body = if m.body.trim().is_empty() {
        "(no text)".to_owned()
    } else {
        m.body.clone()
    };
    for a in m.attachments.iter().filter(|a| a.content.is_none()) {
        body.push_str(&format!(
            "\n\n[attachment {} ({}, {} bytes) {}]",
            a.name,
            a.content_type,
            a.size,
            a.note.as_deref().unwrap_or("not stored")
        ));
    }
    body
}

fn is_rfc822(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("message/rfc822")
        })
}

/// Take one raw e-mail (RFC 5322) from a mail server: a new ticket, a reply on its ticket
/// (by In-Reply-To/References, or by the `[T-000123]` tag when the sender is on that
/// ticket), a bounce of our mail, or a repeat of a message already stored.
#[utoipa::path(post, path = "/api/v1/intake/mail", tag = "mail",
    request_body(content = String, content_type = "message/rfc822", description = "The raw message"),
    responses(
        (status = 201, description = "A new ticket", body = MailIntakeView),
        (status = 200, description = "Appended to a ticket, a bounce, or a repeat", body = MailIntakeView),
        (status = 413, description = "Larger than the mail body limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not message/rfc822", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an e-mail at all", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn intake_mail(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let raw = super::tickets::body_bytes(
        body,
        "the message is larger than the configured mail body limit",
    )?;
    if !is_rfc822(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the raw message as Content-Type: message/rfc822",
        ));
    }
    let rules = state.rules();
    let parsed = mail::parse(&raw, &rules.mail.limits)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unparseable-mail", e.0))?;
    let now = Utc::now();
    // Without a Message-ID, the hash of the bytes: a redelivery of the same bytes is
    // still recognised.
    let message_id = parsed.message_id.clone().unwrap_or_else(|| {
        let hash = crate::model::hex(&Sha256::digest(&raw)[..16]);
        format!("{hash}@no-message-id.invalid")
    });
    let inbound = InboundMail {
        message_id: message_id.clone(),
        meta: meta(&parsed),
        raw: raw.to_vec(),
        attachments: parsed.attachments.clone(),
    };
    let view = |outcome: &str, status: StatusCode, record: store::TicketRecord| {
        let v = MailIntakeView {
            outcome: outcome.into(),
            message_id: message_id.clone(),
            ticket: TicketView::new(record, &rules, Utc::now()),
        };
        (status, Json(v)).into_response()
    };
    if let Some((record, _)) = state
        .store
        .ticket_of_message(std::slice::from_ref(&message_id))
        .await?
    {
        return Ok(view("duplicate", StatusCode::OK, record));
    }
    if let Some(a) = parsed.automatic.as_ref().filter(|a| a.bounce) {
        if let Some((record, ids)) = state.store.mark_bounced(&parsed.bounced, &a.reason).await? {
            let message = NewMessage {
                direction: "bounce".into(),
                author: parsed.from.as_ref().map(|f| f.address.clone()),
                body: body_with_notes(&parsed),
                mail: Some(inbound),
                ..Default::default()
            };
            let event = NewEvent {
                kind: "mail.bounced".into(),
                actor: "mail".into(),
                data: serde_json::json!({ "message_ids": ids, "reason": a.reason }),
            };
            let record = append(&state, record, message, vec![event], false).await?;
            return Ok(view("bounce", StatusCode::OK, record));
        }
    }
    let sender = parsed.from.as_ref().map(|f| f.address.clone());
    let mut links = Vec::new();
    let existing = match state.store.ticket_of_message(&parsed.refers_to).await? {
        Some((record, _)) => Some(record),
        None => match mail::subject_tag(&parsed.subject) {
            Some(seq) => match state.store.get(&seq.to_string()).await {
                Ok(record) => {
                    let on_ticket = match &sender {
                        Some(s) => state.store.participants(&record).await?.contains(s),
                        None => false,
                    };
                    if on_ticket {
                        Some(record)
                    } else {
                        links.push((record, "the subject names it, but the sender is not on it"));
                        None
                    }
                }
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        },
    };
    let existing = match existing {
        Some(r) if r.status == "closed" => {
            links.push((r, "it is closed"));
            None
        }
        other => other,
    };
    if let Some(record) = existing {
        let actor = sender.clone().unwrap_or_else(|| "customer".into());
        let message = NewMessage {
            direction: "inbound".into(),
            author: Some(actor.clone()),
            body: body_with_notes(&parsed),
            mail: Some(inbound),
            ..Default::default()
        };
        let record = append(&state, record, message, Vec::new(), true).await?;
        return Ok(view("appended", StatusCode::OK, record));
    }
    let mut references: Vec<String> = parsed.refers_to.iter().rev().cloned().collect();
    references.push(message_id.clone());
    let events = links
        .iter()
        .map(|(r, why)| NewEvent {
            kind: "linked".into(),
            actor: "mail".into(),
            data: serde_json::json!({
                "ticket": store::ticket_number(r.seq),
                "why": format!("the mail refers to {}, but {why}", store::ticket_number(r.seq)),
            }),
        })
        .collect();
    let spam = rules.mail.spam(
        sender.as_deref(),
        parsed.spam_flag,
        parsed.spam_score,
        &parsed.subject,
        &parsed.body,
    );
    let ticket = Ticket {
        channel: Channel::Email,
        subject: parsed.subject.clone(),
        body: body_with_notes(&parsed),
        from: Sender {
            email: sender,
            name: parsed.from.as_ref().and_then(|f| f.name.clone()),
            phone: None,
        },
        received_at: now,
    };
    let created = intake(
        &state,
        &rules,
        ticket,
        Intake {
            mail: Some(MailIntake {
                inbound,
                withhold: parsed.automatic.as_ref().map(|a| a.reason.clone()),
                spam,
                reply_to: parsed.reply_address().map(str::to_owned),
                references,
                events,
            }),
            ..Intake::default()
        },
        now,
    )
    .await?;
    Ok(match created {
        Created::New(r) => view("created", StatusCode::CREATED, r),
        Created::Existing(r) => view("duplicate", StatusCode::OK, r),
    })
}

/// Adds a message to a ticket: a customer's (which moves the clocks like
/// `POST /tickets/{key}/messages`) or a bounce (which moves none). Retries when another
/// request changed the ticket at the same moment: the mail server must not see a conflict.
async fn append(
    state: &AppState,
    mut record: store::TicketRecord,
    message: NewMessage,
    events: Vec<NewEvent>,
    customer: bool,
) -> Result<store::TicketRecord, ApiError> {
    for _ in 0..5 {
        let result = if customer {
            let actor = message.author.clone().unwrap_or_else(|| "customer".into());
            let changes =
                super::clocks::customer_changes(state, &record, &actor, message.clone()).await?;
            apply_clock_changes(state, &record, changes)
                .await
                .map(|_| ())
        } else {
            let update = store::TicketUpdate {
                message: Some(message.clone()),
                events: events.clone(),
                ..Default::default()
            };
            state
                .store
                .update_ticket(&record, update, Utc::now())
                .await
                .map(|_| ())
                .map_err(ApiError::from)
        };
        match result {
            Ok(()) => return Ok(state.store.by_id(record.id).await?),
            Err(e) if e.status == StatusCode::CONFLICT => {
                record = state.store.by_id(record.id).await?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "the ticket kept changing; deliver the message again",
    ))
}

/// An attachment as listed (content from `…/attachments/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: i64,
    pub message_id: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub inline: bool,
    /// Stored, or over a size limit (then `note` says which).
    pub stored: bool,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A ticket's attachments and inline images.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/attachments", tag = "mail",
    params(("key" = String, Path, description = "UUID or number")),
    responses(
        (status = 200, body = Vec<AttachmentView>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn attachments(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
) -> Result<Json<Vec<AttachmentView>>, ApiError> {
    let record = state.store.get(&key).await?;
    let rows = state.store.attachments(record.id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|a| AttachmentView {
                id: a.id,
                message_id: a.message_id,
                name: a.name,
                content_type: a.content_type,
                size: a.size,
                inline: a.inline,
                stored: a.note.is_none(),
                note: a.note,
                created_at: a.created_at,
            })
            .collect(),
    ))
}

/// One attachment's content, with its type and name.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/attachments/{id}", tag = "mail",
    params(("key" = String, Path, description = "UUID or number"), ("id" = i64, Path)),
    responses(
        (status = 200, description = "The content"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Over a size limit: not stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn attachment(
    State(state): State<Arc<AppState>>,
    Path((key, id)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    let record = state.store.get(&key).await?;
    let a = state.store.attachment(record.id, id).await?;
    let Some(content) = a.content else {
        return Err(ApiError::new(
            StatusCode::GONE,
            "not-stored",
            a.note
                .unwrap_or_else(|| "the attachment was not stored".into()),
        ));
    };
    let disposition = format!("attachment; filename*=UTF-8''{}", utf8_percent(&a.name));
    Ok((
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        content,
    )
        .into_response())
}

fn utf8_percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A received message exactly as it arrived.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/mail/{message_id}", tag = "mail",
    params(("key" = String, Path, description = "UUID or number"), ("message_id" = String, Path)),
    responses(
        (status = 200, description = "The raw message", content_type = "message/rfc822"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn raw_mail(
    State(state): State<Arc<AppState>>,
    Path((key, message_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let record = state.store.get(&key).await?;
    let raw = state.store.raw_mail(record.id, &message_id).await?;
    Ok(([(header::CONTENT_TYPE, "message/rfc822")], raw).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    /// Only this ticket's mail (UUID or number).
    pub ticket: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u64>,
}

/// One outbound mail and its delivery state.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: i64,
    pub ticket_id: uuid::Uuid,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub automatic: bool,
    /// `pending`, `sent`, `dead` or `bounced`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Outbound mail, newest first.
#[utoipa::path(get, path = "/api/v1/mail/outbox", tag = "mail",
    params(OutboxParams),
    responses((status = 200, body = Vec<OutboxView>)))]
pub async fn outbox(
    State(state): State<Arc<AppState>>,
    Query(p): Query<OutboxParams>,
) -> Result<Json<Vec<OutboxView>>, ApiError> {
    let ticket = match &p.ticket {
        Some(k) => Some(state.store.get(k).await?.id),
        None => None,
    };
    let rows = state
        .store
        .outbox(ticket, p.limit.unwrap_or(100).min(1000))
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|m| OutboxView {
                id: m.id,
                ticket_id: m.ticket_id,
                message_id: m.message_id,
                recipient: m.recipient,
                subject: m.subject,
                automatic: m.automatic,
                status: m.status,
                attempts: m.attempts,
                last_error: m.last_error,
                created_at: m.created_at,
                sent_at: m.sent_at,
            })
            .collect(),
    ))
}
