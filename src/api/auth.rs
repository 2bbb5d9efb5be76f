//! Bearer tokens and roles: who may call which endpoint. Checked before any handler runs,
//! so a caller without the right role learns nothing about what exists (403 for a ticket
//! that exists and for one that does not).

use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::error::ApiError;
use super::AppState;
use crate::model::Role;

/// Who is calling, for handlers that record it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// The session token's name, for a caller signed in through the dashboard.
    pub session: Option<String>,
}

/// Recently checked tokens (by hash), so a request costs no database read; a revoked token
/// stops working within the cache's lifetime.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Instant, Option<Caller>)>>,
}

impl TokenCache {
    /// Forgets every checked token: this instance sees a revocation at once.
    pub fn forget_all(&self) {
        if let Ok(mut m) = self.entries.lock() {
            m.clear();
        }
    }
}

// Dashboard sessions (see `session.rs`): the cookies, their CSRF token and the session
// token's name.

/// The cookie that carries the session token.
pub const SESSION_COOKIE: &str = "triage_session";
/// The cookie the page reads its CSRF token from (not HttpOnly, same site only).
pub const CSRF_COOKIE: &str = "triage_csrf";
/// The header a write with the session cookie must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

/// How a session token's name begins.
pub const SESSION_PREFIX: &str = "session:";

/// The CSRF token of a session: derived from the secret session token, so no state is kept
/// and no other site can know it.
pub fn csrf_of(session_token: &str) -> String {
    crate::model::hex(&sha2::Sha256::digest(
        format!("csrf:{session_token}").as_bytes(),
    ))[..32]
        .to_owned()
}

/// The caller's name and the session's expiry, from a session token's name; `None` for a
/// token that is not a session.
pub fn parse_name(token_name: &str) -> Option<(&str, DateTime<Utc>)> {
    let rest = token_name.strip_prefix(SESSION_PREFIX)?;
    let (rest, expires) = rest.rsplit_once(':')?;
    let (caller, _nonce) = rest.rsplit_once(':')?;
    Some((caller, DateTime::from_timestamp(expires.parse().ok()?, 0)?))
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The roles allowed on a route; `None`: no token needed.
pub fn allowed(method: &Method, route: &str, public_metrics: bool) -> Option<&'static [Role]> {
    use Role::*;
    const ALL: &[Role] = &[Gateway, Agent, Manager, Admin];
    const PEOPLE: &[Role] = &[Agent, Manager, Admin];
    const MANAGERS: &[Role] = &[Manager, Admin];
    match (method.as_str(), route) {
        (_, "/healthz" | "/readyz" | "/openapi.json") => None,
        // The dashboard's pages and sign-in: the page asks for a token, the API checks it.
        // GET answers for itself: who is signed in, or nobody.
        ("POST" | "GET", "/api/v1/session") => None,
        (_, r) if r == "/ui" || r.starts_with("/ui/") => None,
        (_, "/metrics") if public_metrics => None,
        (_, "/metrics") => Some(MANAGERS),
        // Intake: mail gateways, CTI, web forms — and agents logging a call.
        ("POST", "/api/v1/tickets" | "/api/v1/intake/mail" | "/api/v1/intake/call") => Some(ALL),
        // What other systems saw (a webinar attended, a quote sent).
        ("POST", "/api/v1/events") => Some(ALL),
        // Self-service before a ticket exists: a web form's backend searches the FAQ and
        // says when the person went away satisfied.
        ("GET", "/api/v1/faq/search") | ("POST", "/api/v1/faq/{id}/deflections") => Some(ALL),
        // The FAQ and the mail queue are managed; agents read articles.
        ("GET", "/api/v1/faq" | "/api/v1/faq/{id}") => Some(PEOPLE),
        (_, "/api/v1/faq/{id}") => Some(MANAGERS),
        (
            _,
            "/api/v1/sla/report"
            | "/api/v1/sla/report/series"
            | "/api/v1/automation/report"
            | "/api/v1/leads/report"
            | "/api/v1/leads/export"
            | "/api/v1/mail/outbox"
            | "/api/v1/mail/outbox/{id}/retry",
        ) => Some(MANAGERS),
        ("PUT", "/api/v1/agents/{id}") => Some(MANAGERS),
        (_, r) if r.starts_with("/api/v1/rules") => Some(MANAGERS),
        // A person's data: admins only.
        (_, "/api/v1/privacy/erase" | "/api/v1/privacy/export") => Some(&[Admin]),
        // Everything else is ticket work.
        (_, r) if r.starts_with("/api/") => Some(PEOPLE),
        _ => Some(&[Admin]),
    }
}

fn unauthorized(detail: &str) -> Response {
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"triage\""),
    );
    resp
}

/// The middleware: 401 without a valid token, 403 with one of the wrong role.
pub async fn require_token(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    if !state.config.auth {
        return next.run(req).await;
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    // Unknown routes answer 404 as they are (they reveal nothing).
    let Some(route) = route else {
        return next.run(req).await;
    };
    let Some(roles) = allowed(req.method(), &route, state.config.public_metrics) else {
        return next.run(req).await;
    };
    let caller = match identify(&state, req.method(), req.headers()).await {
        Ok(Some(c)) => c,
        Ok(None) => return unauthorized("send a token: Authorization: Bearer <token>"),
        Err(resp) => return resp,
    };
    if !roles.contains(&caller.role) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "role {} may not {} {route} (allowed: {})",
                caller.role,
                req.method(),
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Who sends a request: by its bearer token, else by the dashboard's session cookie (with
/// its expiry, and the CSRF token on a write). `None`: neither was sent; `Err`: the answer
/// for a token or session that is not (or no longer) good.
pub async fn identify(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Caller>, Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let from_cookie = bearer.is_none();
    let Some(token) = bearer.or_else(|| cookie(headers, SESSION_COOKIE).map(str::to_owned)) else {
        return Ok(None);
    };
    let mut caller = match caller(state, &token).await {
        Ok(Some(c)) => c,
        Ok(None) if from_cookie => {
            return Err(unauthorized("the session has ended; sign in again"))
        }
        Ok(None) => return Err(unauthorized("the token is unknown or revoked")),
        Err(e) => return Err(e.into_response()),
    };
    if let Some((person, expires)) = parse_name(&caller.name) {
        if expires <= state.desk.clock.now() {
            return Err(unauthorized("the session has expired; sign in again"));
        }
        caller.session = Some(caller.name.clone());
        caller.name = person.to_owned();
    }
    // A cookie goes with every request the browser makes to us; a write must also prove
    // it comes from our page.
    if from_cookie && !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if sent != Some(csrf_of(&token).as_str()) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "a write with the session cookie needs its X-CSRF-Token header",
            )
            .into_response());
        }
    }
    Ok(Some(caller))
}

async fn caller(state: &AppState, token: &str) -> Result<Option<Caller>, ApiError> {
    let hash = crate::store::token_hash(token);
    let ttl: Duration = state.config.token_cache;
    if let Some((at, c)) = state
        .tokens
        .entries
        .lock()
        .ok()
        .and_then(|m| m.get(&hash).cloned())
    {
        if at.elapsed() < ttl {
            return Ok(c);
        }
    }
    let found = state
        .desk
        .store
        .token_role(token)
        .await?
        .map(|(name, role)| Caller {
            name,
            role,
            session: None,
        });
    if let Ok(mut m) = state.tokens.entries.lock() {
        if m.len() > 10_000 {
            m.clear();
        }
        m.insert(hash, (Instant::now(), found.clone()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_per_route() {
        let post = Method::POST;
        let get = Method::GET;
        assert_eq!(allowed(&get, "/healthz", false), None);
        assert_eq!(allowed(&get, "/metrics", true), None);
        assert_eq!(
            allowed(&get, "/metrics", false),
            Some(&[Role::Manager, Role::Admin][..])
        );
        assert!(allowed(&post, "/api/v1/intake/mail", true)
            .unwrap()
            .contains(&Role::Gateway));
        assert!(!allowed(&get, "/api/v1/tickets/{key}", true)
            .unwrap()
            .contains(&Role::Gateway));
        assert!(!allowed(&Method::PUT, "/api/v1/faq/{id}", true)
            .unwrap()
            .contains(&Role::Agent));
        assert!(allowed(&get, "/api/v1/faq/{id}", true)
            .unwrap()
            .contains(&Role::Agent));
        assert!(allowed(&get, "/api/v1/faq/search", true)
            .unwrap()
            .contains(&Role::Gateway));
        assert!(allowed(&post, "/api/v1/events", true)
            .unwrap()
            .contains(&Role::Gateway));
        assert!(!allowed(&get, "/api/v1/faq/{id}", true)
            .unwrap()
            .contains(&Role::Gateway));
    }

    #[test]
    fn session_names_carry_person_and_expiry_and_csrf_is_per_session() {
        let (who, at) = parse_name("session:ops:manager:1a2b3c4d:1800000000").unwrap();
        assert_eq!(who, "ops:manager");
        assert_eq!(at.timestamp(), 1_800_000_000);
        assert_eq!(parse_name("admin"), None);
        assert_eq!(parse_name("session:x"), None);
        assert_ne!(csrf_of("trg_a"), csrf_of("trg_b"));
        assert_eq!(csrf_of("trg_a").len(), 32);
        use axum::http::HeaderValue;
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; triage_session=trg_x ; triage_csrf=c"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("trg_x"));
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("c"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
