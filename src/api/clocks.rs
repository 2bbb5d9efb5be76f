//! Agent and customer actions that drive the SLA clocks, the notification outbox, and the
//! compliance report.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Caller;
use super::error::{ApiError, Problem};
use super::tickets::{
    apply_clock_changes, clock_state, ClockChange, IfMatch, TicketResponse, TicketView,
};
use super::AppState;
use crate::sla::report::{report as build_report, to_csv, ReportRow};
use crate::sla::ClockEvent;
use crate::store::{self, NewMessage, NotificationFilter, NotificationRecord, TicketRecord};

pub(super) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|r| match r {
        JsonRejection::JsonDataError(e) => ApiError::invalid_field("", e.body_text()),
        other => ApiError::new(other.status(), "bad-request", other.body_text()),
    })
}

fn conflict(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "conflict", detail)
}

/// The ticket a message is added to: a non-empty text, a ticket that exists and is not
/// closed.
async fn open_ticket_for(
    state: &AppState,
    key: &str,
    text: &str,
) -> Result<TicketRecord, ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid_field("body", "body must not be empty"));
    }
    let record = state.store.get(key).await?;
    ensure_not_closed(&record)?;
    Ok(record)
}

fn ensure_not_closed(record: &TicketRecord) -> Result<(), ApiError> {
    if record.status == "closed" {
        return Err(conflict(format!(
            "ticket {} is closed; closed tickets are final, open a new ticket instead",
            store::ticket_number(record.seq)
        )));
    }
    Ok(())
}

/// The status change to the clocks, validated against the rules' statuses.
pub(super) fn status_change(
    state: &AppState,
    status: &str,
    actor: &str,
) -> Result<ClockChange, ApiError> {
    let rules = state.rules();
    let status = if status == "reopen" { "open" } else { status };
    if !rules.sla.is_known_status(status) {
        let known: Vec<&str> = rules.sla.statuses().chain(["reopen"]).collect();
        return Err(ApiError::invalid_field(
            "status",
            format!("unknown status \"{status}\" (known: {})", known.join(", ")),
        ));
    }
    Ok(ClockChange {
        event: ClockEvent::Status {
            status: status.to_owned(),
            pauses: rules.sla.pauses(status),
        },
        kind: "status",
        actor: actor.to_owned(),
        data: serde_json::json!({ "status": status }),
        status: Some(status.to_owned()),
        message: None,
    })
}

/// A reply or note by an agent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    pub body: String,
    /// Who wrote it (agent login or address).
    pub author: Option<String>,
    /// An internal note: not sent to the customer, moves no clock.
    #[serde(default)]
    pub internal: bool,
    /// A status to set with the reply, e.g. `pending-customer` after asking a question.
    pub status: Option<String>,
}

/// A message from the customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageInput {
    pub body: String,
    pub from: Option<String>,
}

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    /// `open`, `reopen`, `pending-customer` (or another configured pausing status),
    /// `resolved`, `closed`.
    pub status: String,
    pub actor: Option<String>,
}

/// An agent's public reply (meets first response and next reply) or internal note.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/replies", tag = "sla",
    params(("key" = String, Path, description = "UUID or number")),
    request_body = ReplyInput,
    responses(
        (status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Closed, or changed concurrently", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reply(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    caller: Option<Extension<Caller>>,
    if_match: IfMatch,
    body: Result<Json<ReplyInput>, JsonRejection>,
) -> Result<TicketResponse, ApiError> {
    let input = json_body(body)?;
    let record = open_ticket_for(&state, &key, &input.body).await?;
    if_match.check(&record)?;
    let actor = super::auth::actor(input.author.clone(), caller.as_ref(), "agent");
    let mut changes = Vec::new();
    let mut message = NewMessage {
        direction: if input.internal { "note" } else { "outbound" }.into(),
        author: Some(actor.clone()),
        body: input.body,
        ..Default::default()
    };
    if !input.internal && record.channel == "email" {
        // E-mail tickets are answered by e-mail, threaded into the customer's conversation.
        if let Some(to) = state.store.reply_address(&record).await? {
            let rules = state.rules();
            let references = state.store.message_ids(record.id).await?;
            let footer = rules
                .mail
                .template(&record.language)
                .footer
                .replace("{ticket}", crate::store::TICKET_NUMBER);
            message.body = format!("{}\n\n-- \n{footer}", message.body);
            message.outbound = Some(super::mail::outbound(
                &rules,
                &record.language,
                &record.subject,
                to,
                &references,
                false,
            ));
        }
    }
    if input.internal {
        // A note moves no clock.
        if let Some(s) = &input.status {
            let mut c = status_change(&state, s, &actor)?;
            c.message = Some(message);
            return Ok(TicketResponse(
                apply_clock_changes(&state, &record, vec![c]).await?,
            ));
        }
        let now = Utc::now();
        let update = store::TicketUpdate {
            message: Some(message),
            events: vec![store::NewEvent {
                kind: "note".into(),
                actor,
                data: serde_json::json!({}),
            }],
            ..Default::default()
        };
        let updated = state.store.update_ticket(&record, update, now).await?;
        state.wake_assigner();
        return Ok(TicketResponse(TicketView::new(
            updated,
            &state.rules(),
            now,
        )));
    }
    changes.push(ClockChange {
        event: ClockEvent::AgentReply,
        kind: "reply",
        actor: actor.clone(),
        data: serde_json::json!({}),
        status: None,
        message: Some(message),
    });
    if let Some(s) = &input.status {
        changes.push(status_change(&state, s, &actor)?);
    }
    Ok(TicketResponse(
        apply_clock_changes(&state, &record, changes).await?,
    ))
}

/// A message from the customer: starts a next-reply clock, and brings a ticket that waited
/// for the customer (or was resolved) back to `open`.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/messages", tag = "sla",
    params(("key" = String, Path, description = "UUID or number")),
    request_body = MessageInput,
    responses(
        (status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Closed, or changed concurrently", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn customer_message(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    if_match: IfMatch,
    body: Result<Json<MessageInput>, JsonRejection>,
) -> Result<TicketResponse, ApiError> {
    let input = json_body(body)?;
    let record = open_ticket_for(&state, &key, &input.body).await?;
    if_match.check(&record)?;
    let actor = input
        .from
        .clone()
        .or_else(|| record.from_email.clone())
        .unwrap_or_else(|| "customer".into());
    let message = NewMessage {
        direction: "inbound".into(),
        author: Some(actor.clone()),
        body: input.body,
        ..Default::default()
    };
    let changes = customer_changes(&state, &record, &actor, message).await?;
    Ok(TicketResponse(
        apply_clock_changes(&state, &record, changes).await?,
    ))
}

/// What a customer's message changes: a reply to an automatic answer means it did not
/// help; a ticket that waited for the customer (or was resolved) opens again; a next-reply
/// clock starts.
pub(super) async fn customer_changes(
    state: &AppState,
    record: &TicketRecord,
    actor: &str,
    message: NewMessage,
) -> Result<Vec<ClockChange>, ApiError> {
    let mut changes = super::faq::not_helped(state, record, actor).await?;
    if changes.is_empty() && record.status != "open" {
        changes.push(status_change(state, "open", actor)?);
    }
    changes.push(ClockChange {
        event: ClockEvent::CustomerMessage,
        kind: "customer_message",
        actor: actor.to_owned(),
        data: serde_json::json!({}),
        status: None,
        message: Some(message),
    });
    Ok(changes)
}

/// Changes the status: a pausing status stops the clocks, `resolved` stops resolution,
/// `open`/`reopen` continues them with the time already used.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/status", tag = "sla",
    params(("key" = String, Path, description = "UUID or number")),
    request_body = StatusInput,
    responses(
        (status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Closed, or changed concurrently", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_status(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    caller: Option<Extension<Caller>>,
    if_match: IfMatch,
    body: Result<Json<StatusInput>, JsonRejection>,
) -> Result<TicketResponse, ApiError> {
    let input = json_body(body)?;
    let record = state.store.get(&key).await?;
    if_match.check(&record)?;
    ensure_not_closed(&record)?;
    let change = status_change(
        &state,
        &input.status,
        &super::auth::actor(input.actor.clone(), caller.as_ref(), "agent"),
    )?;
    if change.status.as_deref() == Some(record.status.as_str()) {
        return Ok(TicketResponse(TicketView::new(
            record,
            &state.rules(),
            Utc::now(),
        )));
    }
    Ok(TicketResponse(
        apply_clock_changes(&state, &record, vec![change]).await?,
    ))
}

/// Filters of `GET /api/v1/notifications`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// `pending`, `delivered`, `dead` or `recorded`.
    pub status: Option<String>,
    /// Ticket UUID or number.
    pub ticket: Option<String>,
    /// `queue:NAME`, `role:NAME` or `webhook:NAME`.
    pub target: Option<String>,
    /// 1 to 500 (default 100).
    pub limit: Option<u64>,
}

/// One notification of the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub ticket_id: Uuid,
    pub ticket_number: String,
    pub metric: String,
    pub cycle: i32,
    pub level: String,
    pub target: String,
    pub status: String,
    pub attempts: i32,
    pub fire_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<NotificationRecord> for NotificationView {
    fn from(n: NotificationRecord) -> Self {
        NotificationView {
            id: n.id,
            ticket_id: n.ticket_id,
            ticket_number: store::ticket_number(n.ticket_seq),
            metric: n.metric,
            cycle: n.cycle,
            level: n.level,
            target: n.target,
            status: n.status,
            attempts: n.attempts,
            fire_at: n.fire_at,
            next_attempt_at: n.next_attempt_at,
            last_error: n.last_error,
            delivered_at: n.delivered_at,
            payload: n.payload,
        }
    }
}

/// Warnings, breaches and escalations sent or recorded, newest first; dead letters with
/// `status=dead`.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "sla", params(NotificationParams),
    responses(
        (status = 200, body = Vec<NotificationView>),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn notifications(
    State(state): State<Arc<AppState>>,
    params: Result<Query<NotificationParams>, QueryRejection>,
) -> Result<Json<Vec<NotificationView>>, ApiError> {
    let Query(p) = params.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "limit must be between 1 and 500",
        ));
    }
    if let Some(s) = &p.status {
        if !["pending", "delivered", "dead", "recorded"].contains(&s.as_str()) {
            return Err(ApiError::invalid_field(
                "status",
                format!("unknown status \"{s}\" (expected pending, delivered, dead or recorded)"),
            ));
        }
    }
    let ticket = match &p.ticket {
        Some(k) => Some(state.store.get(k).await?.id),
        None => None,
    };
    let rows = state
        .store
        .notifications(
            &NotificationFilter {
                status: p.status,
                ticket,
                target: p.target,
            },
            limit,
        )
        .await?;
    Ok(Json(rows.into_iter().map(NotificationView::from).collect()))
}

/// Period and grouping of the compliance report.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Tickets created at or after (RFC 3339); default: 30 days before `to`.
    pub from: Option<DateTime<FixedOffset>>,
    /// Tickets created before (RFC 3339); default: now.
    pub to: Option<DateTime<FixedOffset>>,
    /// `segment` (default), `channel`, `queue`, `category` or `policy`.
    pub group_by: Option<String>,
}

/// The report: per group, attainment, met/breached counts, and median and p90 business
/// minutes to first response and resolution. CSV with `Accept: text/csv`.
#[utoipa::path(get, path = "/api/v1/sla/report", tag = "sla", params(ReportParams),
    responses(
        (status = 200, body = Vec<Object>, description = "JSON rows, or CSV with Accept: text/csv"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sla_report(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    params: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(p) = params.map_err(|r| ApiError::bad_request(r.body_text()))?;
    let now = Utc::now();
    let to = p.to.map_or(now, |t| t.with_timezone(&Utc));
    let from = p
        .from
        .map_or(to - Duration::days(30), |t| t.with_timezone(&Utc));
    if from >= to {
        return Err(ApiError::invalid_field("from", "from must be before to"));
    }
    let group_by = p.group_by.as_deref().unwrap_or("segment");
    let key: fn(&TicketRecord) -> String = match group_by {
        "segment" => |r| r.segment.clone(),
        "channel" => |r| r.channel.clone(),
        "queue" => |r| r.queue.clone(),
        "category" => |r| r.category.clone(),
        "policy" => |r| r.sla_policy.clone().unwrap_or_else(|| "(none)".into()),
        other => {
            return Err(ApiError::invalid_field(
                "group_by",
                format!(
                    "cannot group by \"{other}\" (use segment, channel, queue, category or policy)"
                ),
            ))
        }
    };
    let rules = state.rules();
    let records = state.store.tickets_created_between(from, to).await?;
    let views: Vec<(String, Vec<crate::sla::ClockView>)> = records
        .iter()
        .map(|r| {
            let clocks = clock_state(r).map_or_else(Vec::new, |s| s.view(now, &rules.calendars));
            (key(r), clocks)
        })
        .collect();
    let rows: Vec<ReportRow> = build_report(views.iter().map(|(g, c)| (g.clone(), &c[..])));
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    if wants_csv {
        return Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            to_csv(&rows),
        )
            .into_response());
    }
    Ok(Json(rows).into_response())
}
