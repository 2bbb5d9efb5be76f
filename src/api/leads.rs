//! Leads handed to sales: a ticket's lead, marketing's handover, sales' outcome, and the
//! report and export of outcomes per trigger and source.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::extract::{csv, utc, wants_csv, ApiJson, ApiQuery, IfMatch, Who};
use super::AppState;
use crate::desk::leads::{self, ExportRow, HandoverInput, OutcomeInput};
use crate::desk::{self};
use crate::sla::lead::LeadRow;
use crate::store::{self, LeadRecord, TicketRecord};

/// A ticket's lead: the export's row, with the ticket's state and marketing's fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadView {
    #[serde(flatten)]
    pub lead: ExportRow,
    /// The ticket's queue now: sales, or marketing while fields are missing.
    pub queue: String,
    pub status: String,
    /// The ticket's version, for `If-Match`.
    pub version: i32,
    #[schema(value_type = Object)]
    pub fields: std::collections::BTreeMap<String, String>,
}

fn view(record: &TicketRecord, l: &LeadRecord) -> Json<LeadView> {
    Json(LeadView {
        lead: ExportRow::of(l, store::LeadTicket::of(record)),
        queue: record.queue.clone(),
        status: record.status.clone(),
        version: record.version,
        fields: store::fields_of(l),
    })
}

/// A ticket's lead: its fields, what is missing, and the outcome.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/lead", tag = "leads",
    params(("key" = String, Path)),
    responses((status = 200, body = LeadView),
        (status = 404, description = "No such ticket, or it is not a lead", body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
) -> Result<Json<LeadView>, ApiError> {
    let cx = state.ctx();
    let (record, lead) = leads::get(&cx, &key).await?;
    Ok(view(&record, &lead))
}

/// Marketing completes a lead: the fields are added, and once every field the rules'
/// `[lead]` requires is given the lead goes to sales (screened like any task). Until then
/// it stays with marketing and `missing` names what is left.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/lead", tag = "leads",
    params(("key" = String, Path)),
    request_body = HandoverInput,
    responses((status = 200, body = LeadView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a lead, closed, or its outcome is recorded", body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn handover(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    who: Who,
    IfMatch(expected): IfMatch,
    ApiJson(input): ApiJson<HandoverInput>,
) -> Result<Json<LeadView>, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), None, "actor", "agent").await?;
    let (record, lead) = leads::handover(&cx, &key, &expected, &actor, input).await?;
    Ok(view(&record, &lead))
}

/// Sales records what became of a lead: `accept` (with the CRM's opportunity), `requalify`
/// (back to marketing, with why) or `disqualify` (a reason from the rules' list). The lead
/// is resolved; whether in time is its resolution clock's verdict.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/outcome", tag = "leads",
    params(("key" = String, Path)),
    request_body = OutcomeInput,
    responses((status = 200, body = LeadView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a lead, still with marketing, closed, or decided already", body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown outcome, no opportunity, or a reason not in the rules' list", body = Problem, content_type = "application/problem+json")))]
pub async fn outcome(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    who: Who,
    IfMatch(expected): IfMatch,
    ApiJson(input): ApiJson<OutcomeInput>,
) -> Result<Json<LeadView>, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), None, "actor", "agent").await?;
    let (record, lead) = leads::outcome(&cx, &key, &expected, &actor, input).await?;
    Ok(view(&record, &lead))
}

/// What the lead report groups by.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum LeadGroupName {
    Trigger,
    Source,
}

/// Period and grouping of the lead report.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeadParams {
    /// Leads created at or after (RFC 3339); default: 30 days before `to`.
    pub from: Option<DateTime<FixedOffset>>,
    /// Leads created before (RFC 3339); default: now.
    pub to: Option<DateTime<FixedOffset>>,
    /// `trigger` (default) or `source`.
    #[param(value_type = Option<LeadGroupName>)]
    pub group_by: Option<String>,
}

/// The period of the lead export.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Leads created at or after (RFC 3339); default: 30 days before `to`.
    pub from: Option<DateTime<FixedOffset>>,
    /// Leads created before (RFC 3339); default: now.
    pub to: Option<DateTime<FixedOffset>>,
}

/// The lead report.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: String,
    pub rows: Vec<LeadRow>,
}

/// Leads per trigger or source: how many reached sales, accepted / requalified /
/// disqualified (with the reasons), the acceptance rate, the median time from handover to
/// outcome and how many outcomes came within the lead's target.
#[utoipa::path(get, path = "/api/v1/leads/report", tag = "leads", params(LeadParams),
    responses((status = 200, body = LeadReport),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn report(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<LeadParams>,
) -> Result<Json<LeadReport>, ApiError> {
    let cx = state.ctx();
    let (from, to) = leads::period(&cx, utc(p.from), utc(p.to))?;
    let rows = leads::report(&cx, from, to, p.group_by.as_deref()).await?;
    Ok(Json(LeadReport {
        from,
        to,
        group_by: p.group_by.unwrap_or_else(|| "trigger".into()),
        rows,
    }))
}

/// Every lead of the period with its trigger, source, outcome, reason, opportunity and
/// time to outcome, for the lead scoring upstream. CSV with `Accept: text/csv`.
#[utoipa::path(get, path = "/api/v1/leads/export", tag = "leads", params(ExportParams),
    responses((status = 200, body = Vec<ExportRow>, description = "JSON rows, or CSV with Accept: text/csv"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn export(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let cx = state.ctx();
    let (from, to) = leads::period(&cx, utc(p.from), utc(p.to))?;
    let rows = leads::export(&cx, from, to).await?;
    if wants_csv(&headers) {
        return Ok(csv(leads::export_csv(&rows)));
    }
    Ok(Json(rows).into_response())
}
