//! Browser sessions for the dashboard: a person's token is exchanged once for a session
//! token of the same role, kept in an HttpOnly, SameSite=Strict cookie, so the page's
//! script never holds a token. A session is an API token of its own (named `session:`,
//! the caller and its expiry), so every instance accepts it and signing out revokes it
//! everywhere. Writes with the cookie need the CSRF token in `X-CSRF-Token` as well.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{
    cookie, csrf_of, parse_name, CSRF_COOKIE, SESSION_COOKIE, SESSION_HOURS, SESSION_PREFIX,
};
use super::error::{ApiError, Problem};
use super::extract::{ApiJson, Who};
use super::AppState;
use crate::model::Role;

/// A sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// An agent's, manager's or admin's API token.
    #[schema(min_length = 1)]
    pub token: String,
}

/// The signed-in person.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The name of the token signed in with.
    pub name: String,
    pub role: String,
    /// Send as `X-CSRF-Token` with every write (it is also in the `triage_csrf` cookie).
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// Whether the browser reached us over TLS (through a proxy that says so): the cookies are
/// then `Secure` as well.
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookies(
    session: &str,
    max_age: i64,
    secure: bool,
) -> AppendHeaders<[(header::HeaderName, HeaderValue); 2]> {
    let csrf = if max_age > 0 {
        csrf_of(session)
    } else {
        String::new()
    };
    let secure = if secure { "; Secure" } else { "" };
    let set = |v: String| HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static(""));
    AppendHeaders([
        (
            header::SET_COOKIE,
            set(format!(
                "{SESSION_COOKIE}={session}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
            )),
        ),
        (
            header::SET_COOKIE,
            set(format!(
                "{CSRF_COOKIE}={csrf}; Path=/; Max-Age={max_age}; SameSite=Strict{secure}"
            )),
        ),
    ])
}

/// Exchanges an agent's, manager's or admin's token for a session cookie (12 hours).
#[utoipa::path(post, path = "/api/v1/session", tag = "operations", request_body = SignIn,
    security(()),
    responses(
        (status = 201, body = SessionView, description = "Signed in: the session cookie is set"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(input): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    let store = &state.desk.store;
    let Some((name, role)) = store.token_role(input.token.trim()).await? else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the token is unknown or revoked",
        ));
    };
    if role == Role::Gateway {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "a gateway token cannot sign in to the dashboard",
        ));
    }
    // A session is not renewed by signing in with it: it ends when it ends.
    if parse_name(&name).is_some() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in with an API token, not with a session",
        ));
    }
    let person = name;
    let now = state.desk.clock.now();
    // Ended sessions (expired or signed out) are removed as new ones begin.
    store
        .delete_ended_tokens(SESSION_PREFIX, now - Duration::hours(SESSION_HOURS))
        .await?;
    let expires_at = now + Duration::hours(SESSION_HOURS);
    let token = crate::store::new_token();
    let session_name = format!(
        "{SESSION_PREFIX}{person}:{}:{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8],
        expires_at.timestamp()
    );
    store.add_token(&session_name, role, &token, now).await?;
    let body = SessionView {
        name: person,
        role: role.to_string(),
        csrf: csrf_of(&token),
        expires_at,
    };
    Ok((
        StatusCode::CREATED,
        cookies(&token, SESSION_HOURS * 3600, over_tls(&headers)),
        Json(body),
    )
        .into_response())
}

/// The signed-in person (by the session cookie, or a token); 204 when nobody is, so that a
/// page can ask without an error.
#[utoipa::path(get, path = "/api/v1/session", tag = "operations",
    security(()),
    responses(
        (status = 200, body = SessionView),
        (status = 204, description = "Not signed in"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "The token or session is unknown, revoked or expired"),
    ))]
pub async fn current(
    State(state): State<Arc<AppState>>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Response {
    if !state.config.auth {
        // Demo mode: everybody is an admin.
        return Json(SessionView {
            name: "demo".into(),
            role: Role::Admin.to_string(),
            csrf: String::new(),
            expires_at: state.desk.clock.now() + Duration::hours(SESSION_HOURS),
        })
        .into_response();
    }
    let caller = match super::auth::identify(&state, &method, &headers).await {
        Ok(Some(c)) => c,
        Ok(None) => return StatusCode::NO_CONTENT.into_response(),
        Err(resp) => return resp,
    };
    let session = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    let expires_at = caller.session.as_deref().and_then(parse_name).map_or_else(
        || state.desk.clock.now() + Duration::hours(SESSION_HOURS),
        |(_, e)| e,
    );
    Json(SessionView {
        name: caller.name,
        role: caller.role.to_string(),
        csrf: csrf_of(session),
        expires_at,
    })
    .into_response()
}

/// Signs out: the session is revoked on every instance and its cookies are cleared.
#[utoipa::path(delete, path = "/api/v1/session", tag = "operations",
    responses((status = 204, description = "Signed out")))]
pub async fn sign_out(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    who: Who,
) -> Result<Response, ApiError> {
    if let Some(session) = who.0.and_then(|c| c.session) {
        let now = state.desk.clock.now();
        state.desk.store.revoke_token(&session, now).await?;
        state.tokens.forget_all();
    }
    Ok((StatusCode::NO_CONTENT, cookies("", 0, over_tls(&headers))).into_response())
}
