//! Personal data on request (admins): export everything stored about a person, or erase
//! their content everywhere.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, ApiQuery, Who};
use super::AppState;
use crate::desk::{self, privacy};
use crate::store::Erased;

/// Whose data.
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Person {
    #[schema(format = Email, min_length = 3)]
    #[param(format = Email, min_length = 3)]
    pub email: String,
}

/// What an erasure removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureView {
    pub email: String,
    #[schema(value_type = Object)]
    pub removed: Erased,
}

/// Erase a person's content (GDPR Art. 17): from every ticket they opened (with everything
/// on it), their messages on other tickets, mail to them, and their address in events and
/// notifications. Decisions, SLA figures and content-free events stay.
#[utoipa::path(post, path = "/api/v1/privacy/erase", tag = "privacy",
    request_body = Person,
    responses(
        (status = 200, body = ErasureView),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn erase(
    State(state): State<Arc<AppState>>,
    who: Who,
    ApiJson(p): ApiJson<Person>,
) -> Result<Json<ErasureView>, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), None, "actor", "admin").await?;
    let removed = privacy::erase(&cx, &p.email, &actor).await?;
    Ok(Json(ErasureView {
        email: p.email.trim().to_lowercase(),
        removed,
    }))
}

/// Everything stored about a person (GDPR Art. 15), as one JSON document.
#[utoipa::path(get, path = "/api/v1/privacy/export", tag = "privacy", params(Person),
    responses(
        (status = 200, body = Object),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn export(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<Person>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(privacy::export(&state.ctx(), &p.email).await?))
}
