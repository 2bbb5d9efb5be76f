//! Ticket endpoints: create (idempotent), read, list, the audit trail, the conversation,
//! reclassify.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::error::{ApiError, Problem};
use super::extract::{page_size, utc, ApiQuery, IdempotencyKey, IfMatch, JsonWithBytes, Who};
use super::views::{
    EventView, MessagePage, OrReceipt, Receipt, TicketPage, TicketResponse, TicketView,
};
use super::AppState;
use crate::desk::{self, conversation};
use crate::intake::jsonl::TicketInput;
use crate::model::{Channel, Segment};
use crate::store::{Created, Cursor, TicketFilter};

/// Create a ticket; classify it and store it durably. A repeat of the same
/// `Idempotency-Key` (the caller's own) or `external_id` returns the first ticket with 200.
/// Agents and above get the ticket; a gateway gets a [`Receipt`] (outcome, number, status).
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets",
    request_body = TicketInput,
    params(("Idempotency-Key" = Option<String>, Header, pattern = r"^[\x21-\x7E]{1,255}$", description = "Makes retries safe: a repeat returns the first ticket; 1 to 255 visible ASCII characters")),
    responses(
        (status = 201, description = "Created: the ticket for agents and above, a receipt for a gateway", body = OrReceipt<TicketView>, headers(("Location" = String), ("ETag" = String))),
        (status = 200, description = "A repeat of an earlier request: the ticket it created (a receipt for a gateway)", body = OrReceipt<TicketView>, headers(("ETag" = String))),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    who: Who,
    IdempotencyKey(key): IdempotencyKey,
    JsonWithBytes(input, raw): JsonWithBytes<TicketInput>,
) -> Result<Response, ApiError> {
    let cx = state.ctx();
    let hash = crate::model::hex(&Sha256::digest(&raw));
    let idempotency = key.map(|k| (who.scoped_key(&k), hash));
    let (status, outcome, record) = match desk::intake::create(&cx, input, idempotency).await? {
        Created::New(r) => (StatusCode::CREATED, "created", r),
        Created::Existing(r) => (StatusCode::OK, "duplicate", r),
    };
    let location = [(header::LOCATION, format!("/api/v1/tickets/{}", record.id))];
    if who.is_gateway() {
        let receipt = Json(Receipt::new(outcome, &record, None));
        return Ok((status, location, receipt).into_response());
    }
    Ok((status, location, TicketResponse::new(record, &cx)?).into_response())
}

/// One ticket by UUID or number (`T-000123`).
#[utoipa::path(get, path = "/api/v1/tickets/{key}", tag = "tickets",
    params(("key" = String, Path, description = "UUID or number such as T-000123")),
    responses(
        (status = 200, body = TicketView, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
) -> Result<TicketResponse, ApiError> {
    let cx = state.ctx();
    TicketResponse::new(cx.store.get(&key).await?, &cx)
}

/// Filters and paging of `GET /api/v1/tickets`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(value_type = Option<Segment>)]
    pub segment: Option<String>,
    pub category: Option<String>,
    pub queue: Option<String>,
    pub status: Option<String>,
    #[param(value_type = Option<Channel>)]
    pub channel: Option<String>,
    pub organisation: Option<String>,
    /// Created at or after (RFC 3339).
    pub created_from: Option<DateTime<FixedOffset>>,
    /// Created before (RFC 3339).
    pub created_to: Option<DateTime<FixedOffset>>,
    /// Only tickets with a running clock due before this moment (RFC 3339), soonest first:
    /// what breaches next.
    pub due_before: Option<DateTime<FixedOffset>>,
    /// `running`, `paused`, `met`, `breached` or `none`.
    #[param(value_type = Option<SlaStateParam>)]
    pub sla_state: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^(t[0-9]+|d-?[0-9]+\.[0-9]+)$")]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// Tickets, newest first, filtered; cursor pagination stays stable while tickets arrive.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(ListParams),
    responses(
        (status = 200, body = TicketPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<TicketPage>, ApiError> {
    if let Some(s) = &p.segment {
        s.parse::<Segment>()
            .map_err(|e| ApiError::invalid_field("segment", e.to_string()))?;
    }
    if let Some(c) = &p.channel {
        c.parse::<Channel>()
            .map_err(|e| ApiError::invalid_field("channel", e.to_string()))?;
    }
    let limit = page_size(p.limit, 50, 500)?;
    if let Some(s) = &p.sla_state {
        if !["running", "paused", "met", "breached", "none"].contains(&s.as_str()) {
            return Err(ApiError::invalid_field(
                "sla_state",
                format!(
                    "unknown sla_state \"{s}\" (expected running, paused, met, breached or none)"
                ),
            ));
        }
    }
    let cursor = cursor(p.cursor.as_deref(), parse_cursor)?;
    let cx = state.ctx();
    let filter = TicketFilter {
        segment: p.segment,
        category: p.category,
        queue: p.queue,
        status: p.status,
        channel: p.channel,
        organisation: p.organisation,
        created_from: utc(p.created_from),
        created_to: utc(p.created_to),
        due_before: utc(p.due_before),
        sla_state: p.sla_state,
        now: Some(cx.now),
    };
    let (rows, next) = cx.store.list(&filter, cursor, limit).await?;
    Ok(Json(TicketPage {
        items: TicketView::all(rows, &cx)?,
        next_cursor: next.map(|c| match c {
            Cursor::Before(seq) => format!("t{seq}"),
            Cursor::DueAfter(at, seq) => format!("d{at}.{seq}"),
        }),
    }))
}

/// The SLA states a ticket list filters by.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum SlaStateParam {
    Running,
    Paused,
    Met,
    Breached,
    None,
}

/// A `cursor` parameter read by `parse`; one this API did not hand out is 422.
fn cursor<T>(
    given: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    given
        .map(|c| {
            parse(c).ok_or_else(|| {
                ApiError::invalid_field("cursor", "cursor is not one this API returned")
            })
        })
        .transpose()
}

/// `t<seq>` (newest first) or `d<due>.<seq>` (soonest due first).
fn parse_cursor(c: &str) -> Option<Cursor> {
    if let Some(n) = c.strip_prefix('t') {
        return n.parse().ok().map(Cursor::Before);
    }
    let (at, seq) = c.strip_prefix('d')?.split_once('.')?;
    Some(Cursor::DueAfter(at.parse().ok()?, seq.parse().ok()?))
}

/// The audit trail of a ticket, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/events", tag = "tickets",
    params(("key" = String, Path, description = "UUID or number")),
    responses(
        (status = 200, body = Vec<EventView>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn events(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    let store = &state.desk.store;
    let ticket = store.get(&key).await?;
    let events = store.events(ticket.id).await?;
    Ok(Json(events.into_iter().map(EventView::from).collect()))
}

/// Paging of a ticket's conversation.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessageParams {
    /// `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]+$")]
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// The conversation, oldest first: the customer's messages, agents' replies, internal
/// notes, automatic answers and bounces, with their mail Message-IDs and attachments.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/messages", tag = "tickets",
    params(("key" = String, Path, description = "UUID or number"), MessageParams),
    responses(
        (status = 200, body = MessagePage),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn messages(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    ApiQuery(p): ApiQuery<MessageParams>,
) -> Result<Json<MessagePage>, ApiError> {
    let limit = page_size(p.limit, 100, 500)?;
    let after = cursor(p.cursor.as_deref(), |c| c.parse::<i64>().ok())?;
    let store = &state.desk.store;
    let ticket = store.get(&key).await?;
    let (rows, files, more) = store.conversation(ticket.id, after, limit).await?;
    Ok(Json(MessagePage::new(rows, files, more)))
}

/// Re-runs the current rules on a ticket and records what changed as an event; a queue an
/// agent chose by a transfer stays.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/reclassify", tag = "tickets",
    params(("key" = String, Path, description = "UUID or number")),
    responses(
        (status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed concurrently; retry", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reclassify(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    who: Who,
    IfMatch(expected): IfMatch,
) -> Result<TicketResponse, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), None, "actor", "api").await?;
    let record = conversation::reclassify(&cx, &key, &expected, &actor).await?;
    TicketResponse::new(record, &cx)
}
