//! Rules endpoints for managers: what this and every other instance runs, a reload from the
//! rules directory, and any version ever loaded with its files' text.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::extract::{utc, ApiQuery, Who};
use super::AppState;
use crate::desk::rules::{self, RulesOverview, Trigger, VersionView};

/// The rules this instance runs (version, files with their hashes, when loaded, the last
/// refused reload) and what every instance sharing the database runs, with a heartbeat.
#[utoipa::path(get, path = "/api/v1/rules", tag = "rules",
    responses((status = 200, body = RulesOverview)))]
pub async fn overview(State(state): State<Arc<AppState>>) -> Result<Json<RulesOverview>, ApiError> {
    let d = &state.desk;
    Ok(Json(
        rules::overview(&d.store, &d.rules, d.clock.now()).await?,
    ))
}

/// A reload's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reloaded {
    pub version: String,
    /// False when the files were unchanged.
    pub changed: bool,
    /// Warnings of the new rules, as `file:line:column: warning: sentence`.
    pub warnings: Vec<String>,
}

/// Reads the rules directory again. Valid rules are stored and go into force; invalid ones
/// are refused with every `file:line` error, recorded, and the running rules stay.
#[utoipa::path(post, path = "/api/v1/rules/reload", tag = "rules",
    responses((status = 200, body = Reloaded),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "No rules directory to reload from"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The rules have errors (listed in `errors`); the running rules stay")))]
pub async fn reload(
    State(state): State<Arc<AppState>>,
    who: Who,
) -> Result<Json<Reloaded>, ApiError> {
    let d = &state.desk;
    let before = d.rules.current().version.clone();
    let token = who.identity().map(|(name, _)| name);
    let (now, warnings) =
        rules::reload(&d.store, &d.rules, Trigger::Api, token, d.clock.now()).await?;
    Ok(Json(Reloaded {
        changed: now.version != before,
        version: now.version.to_string(),
        warnings,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VersionParams {
    /// A trace's `file:line` (e.g. `rules/sla.toml:78`): the answer adds the lines there.
    pub at: Option<String>,
}

/// A rules version ever loaded here, by the hash tickets record (`sha256:…`): its files'
/// text, who loaded it when, and the lines a trace's `file:line` points at.
#[utoipa::path(get, path = "/api/v1/rules/versions/{version}", tag = "rules",
    params(("version" = String, Path), VersionParams),
    responses((status = 200, body = VersionView),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such version, or no such file or line in it"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "`at` is not file:line")))]
pub async fn version(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    ApiQuery(p): ApiQuery<VersionParams>,
) -> Result<Json<VersionView>, ApiError> {
    Ok(Json(
        rules::version(&state.desk.store, &version, p.at.as_deref()).await?,
    ))
}

/// The most tickets one simulation may replay.
const MAX_LIMIT: u64 = 10_000_000;

/// A candidate rules change: files (name → content) laid over the rules in force.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateInput {
    /// File name (`classification.toml`, `customers.csv`, …) → its new text; files not
    /// named stay as they are in force.
    pub files: std::collections::BTreeMap<String, String>,
    /// Only tickets received at or after.
    pub since: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Only tickets received before.
    pub until: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// At most this many tickets, oldest first (1 to 10,000,000).
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub limit: Option<u64>,
    /// Decide the FAQ answer again too (default true; the search costs most of a replay).
    pub faq: Option<bool>,
}

/// Tries a rules change on the stored tickets, as `triage rules diff` does: changes per
/// field with from → to transitions, examples with both traces, projected attainment,
/// automation and queues. An invalid candidate is refused with every `file:line` error.
#[utoipa::path(post, path = "/api/v1/rules/simulate", tag = "rules",
    request_body = SimulateInput,
    responses((status = 200, body = Object, description = "The diff report (as `rules diff --format json`)"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The candidate rules have errors (listed in `errors`)")))]
pub async fn simulate(
    State(state): State<Arc<AppState>>,
    super::extract::ApiJson(input): super::extract::ApiJson<SimulateInput>,
) -> Result<Json<crate::desk::simulate::DiffReport>, ApiError> {
    use crate::desk::simulate;
    if input.limit.is_some_and(|l| !(1..=MAX_LIMIT).contains(&l)) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let d = &state.desk;
    let current = d.rules.current();
    let candidate = simulate::candidate_of(&current, &input.files)?;
    let faq = input.faq.unwrap_or(true);
    let report = simulate::diff(
        &d.store,
        current,
        Arc::new(candidate),
        faq.then(|| d.faq.current()),
        simulate::DiffOptions {
            since: utc(input.since),
            until: utc(input.until),
            limit: input.limit,
            scope: simulate::Scope { sla: true, faq },
        },
    )
    .await?;
    Ok(Json(report))
}
