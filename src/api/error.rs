//! The API's one error type, rendered as RFC 9457 `application/problem+json`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::desk::DeskError;
use crate::store::StoreError;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An HTTP error with a problem type, a human title and a specific detail.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// Short slug; the problem `type` is `/problems/<slug>`.
    pub kind: &'static str,
    pub detail: String,
    /// The request field the problem is about, when there is one.
    pub field: Option<String>,
    /// Seconds after which a refused request may be tried again (`Retry-After`).
    pub retry_after: Option<u64>,
    /// Every error of a rejected rules set, as `file:line:column: error: sentence`.
    pub errors: Vec<String>,
}

/// The problem document (RFC 9457) with two extension members, `field` and `request_id`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every error of a rejected rules set, as `file:line:column: error: sentence`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            kind,
            detail: detail.into(),
            field: None,
            retry_after: None,
            errors: Vec::new(),
        }
    }

    /// 429: the caller asked too often; it may try again after `seconds`.
    pub fn too_many_requests(detail: impl Into<String>, seconds: u64) -> ApiError {
        ApiError {
            retry_after: Some(seconds),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too-many-requests", detail)
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    /// 422 about one field of the request.
    pub fn invalid_field(field: impl Into<String>, detail: impl Into<String>) -> ApiError {
        let field = field.into();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "invalid-field",
            detail: detail.into(),
            field: Some(field),
            retry_after: None,
            errors: Vec::new(),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", detail)
    }

    /// 422: rules with errors, each listed with its `file:line:column`.
    pub fn rules_rejected(e: &crate::rules::RulesError) -> ApiError {
        let errors: Vec<String> = e.errors().map(|d| d.to_string()).collect();
        ApiError {
            errors,
            ..ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rules-rejected",
                format!(
                    "{}; the running rules stay",
                    e.to_string().lines().next().unwrap_or("rules rejected")
                ),
            )
        }
    }

    /// 500: a stored value cannot be read back.
    pub fn corrupt(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt-record", detail)
    }

    /// The problem document; `request_id` is added by the middleware that knows it.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("/problems/{}", self.kind),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            field: self.field.clone(),
            request_id: None,
            errors: self.errors.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, detail = %self.detail, "request failed");
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut resp = (self.status, body).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(key) => ApiError::not_found(format!("no ticket {key}")),
            StoreError::Conflict { .. } | StoreError::Duplicate(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
            }
            StoreError::Unavailable(why) => {
                ApiError::new(StatusCode::CONFLICT, "agent-unavailable", why)
            }
            StoreError::IdempotencyMismatch(_) => {
                let mut err = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency-key-reused",
                    e.to_string(),
                );
                err.field = Some("Idempotency-Key".into());
                err
            }
            StoreError::Corrupt(what) => ApiError::corrupt(what),
            StoreError::Db(_) | StoreError::SchemaTooNew(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                format!("the ticket store cannot be used right now: {e}"),
            ),
        }
    }
}

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> ApiError {
        let status = |s: StatusCode, kind: &'static str, d: String| ApiError::new(s, kind, d);
        match e {
            DeskError::Invalid { field, detail } => ApiError::invalid_field(field, detail),
            DeskError::NotFound(d) => ApiError::not_found(d),
            DeskError::Conflict(d) => status(StatusCode::CONFLICT, "conflict", d),
            DeskError::AlreadyAssigned(d) => status(StatusCode::CONFLICT, "already-assigned", d),
            DeskError::Stale(d) => {
                status(StatusCode::PRECONDITION_FAILED, "precondition-failed", d)
            }
            DeskError::Forbidden(d) => status(StatusCode::FORBIDDEN, "forbidden", d),
            DeskError::NotAnAgent(d) => status(StatusCode::UNPROCESSABLE_ENTITY, "not-an-agent", d),
            DeskError::Unparseable(d) => {
                status(StatusCode::UNPROCESSABLE_ENTITY, "unparseable-mail", d)
            }
            DeskError::Busy(d) => status(StatusCode::SERVICE_UNAVAILABLE, "busy", d),
            DeskError::RulesRejected(e) => ApiError::rules_rejected(&e),
            DeskError::Store(e) => e.into(),
        }
    }
}
