//! Agent and customer actions that drive the SLA clocks, the notification outbox, and the
//! compliance report.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::extract::{csv, page_size, utc, wants_csv, ApiJson, ApiQuery, IfMatch, Who};
use super::views::{NotificationView, TicketResponse, TicketView};
use super::AppState;
use crate::desk::{self, conversation};
use crate::sla::report::{series_to_csv, to_csv, SeriesGroup};
use crate::store::NotificationFilter;

/// A reply or note by an agent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    #[schema(min_length = 1)]
    pub body: String,
    /// The agent a manager writes for (recorded as acting on their behalf); agents write as
    /// themselves and leave it out.
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
    #[schema(min_length = 1)]
    pub body: String,
    /// The customer's address or name (default: the ticket's requester).
    pub from: Option<String>,
}

/// A status change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    /// `open`, `reopen`, `pending-customer` (or another configured pausing status),
    /// `resolved`, `closed`.
    pub status: String,
    /// The agent a manager acts for; agents act as themselves and leave it out.
    pub actor: Option<String>,
}

/// An agent's public reply (meets first response and next reply) or internal note.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/replies", tag = "sla",
    params(("key" = String, Path, description = "UUID or number")),
    request_body = ReplyInput,
    responses(
        (status = 200, body = TicketView),
        (status = 403, description = "An agent naming another author", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Closed, or changed concurrently", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reply(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    who: Who,
    IfMatch(expected): IfMatch,
    ApiJson(input): ApiJson<ReplyInput>,
) -> Result<TicketResponse, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), input.author, "author", "agent").await?;
    let reply = conversation::Reply {
        body: input.body,
        internal: input.internal,
        status: input.status,
    };
    let record = conversation::reply(&cx, &key, &expected, &actor, reply).await?;
    TicketResponse::new(record, &cx)
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
        (status = 412, description = "If-Match is stale", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn customer_message(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    who: Who,
    IfMatch(expected): IfMatch,
    ApiJson(input): ApiJson<MessageInput>,
) -> Result<TicketResponse, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), None, "from", "customer").await?;
    let record =
        conversation::customer_message(&cx, &key, &expected, &actor, input.from, input.body)
            .await?;
    TicketResponse::new(record, &cx)
}

/// Changes the status: a pausing status stops the clocks, `resolved` stops them all,
/// `open`/`reopen` continues them with the time already used.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/status", tag = "sla",
    params(("key" = String, Path, description = "UUID or number")),
    request_body = StatusInput,
    responses(
        (status = 200, body = TicketView),
        (status = 403, description = "An agent naming another actor", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Closed, or changed concurrently", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_status(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    who: Who,
    IfMatch(expected): IfMatch,
    ApiJson(input): ApiJson<StatusInput>,
) -> Result<TicketResponse, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), input.actor, "actor", "agent").await?;
    let record = conversation::set_status(&cx, &key, &expected, &actor, &input.status).await?;
    TicketResponse::new(record, &cx)
}

/// The states of a notification.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum NotificationStatus {
    Pending,
    Delivered,
    Dead,
    Recorded,
}

/// What the compliance report groups by.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum GroupBy {
    Segment,
    Channel,
    Queue,
    Category,
    Policy,
    Trigger,
}

/// Filters of `GET /api/v1/notifications`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// `pending`, `delivered`, `dead` or `recorded`.
    #[param(value_type = Option<NotificationStatus>)]
    pub status: Option<String>,
    /// Ticket UUID or number.
    pub ticket: Option<String>,
    /// `queue:NAME`, `agent:NAME` (a follow-up owed by the assignee), `role:NAME` or `webhook:NAME`.
    pub target: Option<String>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
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
    ApiQuery(p): ApiQuery<NotificationParams>,
) -> Result<Json<Vec<NotificationView>>, ApiError> {
    let limit = page_size(p.limit, 100, 500)?;
    if let Some(s) = &p.status {
        if !["pending", "delivered", "dead", "recorded"].contains(&s.as_str()) {
            return Err(ApiError::invalid_field(
                "status",
                format!("unknown status \"{s}\" (expected pending, delivered, dead or recorded)"),
            ));
        }
    }
    let ticket = match &p.ticket {
        Some(k) => Some(state.desk.store.get(k).await?.id),
        None => None,
    };
    let rows = state
        .desk
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
    /// `segment` (default), `channel`, `queue`, `category`, `policy` or `trigger`.
    #[param(value_type = Option<GroupBy>)]
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
    ApiQuery(p): ApiQuery<ReportParams>,
) -> Result<Response, ApiError> {
    let cx = state.ctx();
    let rows = desk::report::sla_report(&cx, utc(p.from), utc(p.to), p.group_by.as_deref()).await?;
    if wants_csv(&headers) {
        return Ok(csv(to_csv(&rows)));
    }
    Ok(Json(rows).into_response())
}

/// How the series cuts the period.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum BucketName {
    Day,
    Week,
}

/// Period, grouping and buckets of the compliance time series.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// Tickets created at or after (RFC 3339); default: 30 days before `to`.
    pub from: Option<DateTime<FixedOffset>>,
    /// Tickets created before (RFC 3339); default: now.
    pub to: Option<DateTime<FixedOffset>>,
    /// `segment` (default), `channel`, `queue`, `category`, `policy` or `trigger`.
    #[param(value_type = Option<GroupBy>)]
    pub group_by: Option<String>,
    /// `day` (default) or `week` (from Monday).
    #[param(value_type = Option<BucketName>)]
    pub bucket: Option<String>,
    /// The IANA time zone whose days and weeks the buckets are (default `UTC`).
    pub tz: Option<String>,
    /// Median and p90 minutes per bucket too (default false: those figures are null, and
    /// the series costs a fraction; the report has them for the whole period).
    pub percentiles: Option<bool>,
}

/// The compliance time series.
#[derive(Debug, serde::Serialize)]
pub struct SeriesView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: &'static str,
    pub tz: String,
    pub group_by: &'static str,
    /// Each bucket's first moment, local midnight in `tz`.
    pub starts: Vec<DateTime<FixedOffset>>,
    /// Per group in name order, a point per bucket (the same figures as a report row).
    pub groups: Vec<SeriesGroup>,
}

/// The report's figures per day or week and group, every bucket present: for attainment
/// over time. Counted from the same kept clocks as the report, a bucket holding the tickets
/// created in it. CSV with `Accept: text/csv`.
#[utoipa::path(get, path = "/api/v1/sla/report/series", tag = "sla", params(SeriesParams),
    responses(
        (status = 200, body = Object, description = "{from, to, bucket, tz, group_by, starts, groups: [{group, points: [{start, attainment_pct, first_response, next_reply, resolution, follow_up}]}]}, or CSV with Accept: text/csv"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sla_series(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<SeriesParams>,
) -> Result<Response, ApiError> {
    let cx = state.ctx();
    let series = desk::report::sla_series(
        &cx,
        utc(p.from),
        utc(p.to),
        p.group_by.as_deref(),
        p.bucket.as_deref(),
        p.tz.as_deref(),
        p.percentiles.unwrap_or(false),
    )
    .await?;
    if wants_csv(&headers) {
        return Ok(csv(series_to_csv(&series.groups)));
    }
    Ok(Json(SeriesView {
        from: series.from,
        to: series.to,
        bucket: series.plan.bucket.as_str(),
        tz: series.tz,
        group_by: series.group.as_str(),
        starts: series.plan.starts.iter().map(|s| s.1).collect(),
        groups: series.groups,
    })
    .into_response())
}
