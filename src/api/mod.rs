//! The HTTP API (axum): routes, middleware, and the shared application state.
//!
//! Thin: handlers extract ([`extract`]), call one [`crate::desk`] workflow, and render
//! ([`views`]); no handler file imports another. Every error leaves as
//! `application/problem+json` — also the ones produced outside handlers (unknown route,
//! wrong method, timeout), which a middleware rewrites.

pub mod agents;
pub mod auth;
pub mod calls;
pub mod clocks;
pub mod error;
pub mod events;
pub mod extract;
pub mod faq;
pub mod leads;
pub mod listen;
pub mod mail;
pub mod privacy;
pub mod rules;
pub mod session;
pub mod tickets;
pub mod ui;
pub mod views;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

use crate::clock::Clock;
pub use crate::desk::faq::FaqInitError;
use crate::desk::{Ctx, Desk, RulesHandle};
use crate::rules::CompiledRules;
use crate::store::Store;
use error::{ApiError, PROBLEM_JSON};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Limits of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted request body in bytes (413 above).
    pub body_limit: usize,
    /// Largest accepted raw e-mail in bytes (413 above, which an MTA bounces).
    pub mail_body_limit: usize,
    /// Longest a request may take before it is answered with 408.
    pub request_timeout: Duration,
    /// Bearer tokens required (off only in the loopback demo mode).
    pub auth: bool,
    /// `/metrics` without a token.
    pub public_metrics: bool,
    /// How long a checked token is trusted before it is looked up again (a revoked token
    /// stops working within this time).
    pub token_cache: Duration,
    /// Header timeout and connection cap of the accept loop.
    pub connections: listen::ConnectionLimits,
    /// FAQ self-service requests (search and deflections) one token may make per minute
    /// (429 beyond), per process.
    pub faq_search_per_minute: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            body_limit: 1 << 20,
            mail_body_limit: 50 << 20,
            request_timeout: Duration::from_secs(30),
            auth: true,
            public_metrics: true,
            token_cache: Duration::from_secs(5),
            connections: listen::ConnectionLimits::default(),
            faq_search_per_minute: 60,
        }
    }
}

/// What every handler shares: the service desk and the HTTP layer's own settings.
pub struct AppState {
    pub desk: Arc<Desk>,
    pub config: ApiConfig,
    tokens: auth::TokenCache,
    /// Per caller, the FAQ self-service requests of the current minute.
    pub(crate) search_limit: faq::RateLimit,
}

impl AppState {
    /// A state of its own over `store`, with the real clock.
    pub fn new(store: Store, rules: CompiledRules, config: ApiConfig) -> AppState {
        AppState::with_desk(
            Desk::new(store, RulesHandle::new(rules), Clock::system()),
            config,
        )
    }

    /// The HTTP surface of a desk set up elsewhere (the server, which shares its rules
    /// with the worker and the reload on SIGHUP).
    pub fn with_desk(desk: Desk, config: ApiConfig) -> AppState {
        AppState {
            desk: Arc::new(desk),
            search_limit: faq::RateLimit::new(config.faq_search_per_minute),
            config,
            tokens: auth::TokenCache::default(),
        }
    }

    /// What one request's workflow works with.
    pub fn ctx(&self) -> Ctx<'_> {
        self.desk.ctx()
    }

    /// The rules in force now.
    pub fn rules(&self) -> Arc<CompiledRules> {
        self.desk.rules.current()
    }

    /// Replaces the rules in force.
    pub fn set_rules(&self, rules: CompiledRules) {
        self.desk.rules.set(rules)
    }

    /// The clock every workflow of this state reads (settable in tests).
    pub fn clock(&self) -> &Clock {
        &self.desk.clock
    }

    /// Rebuilds the FAQ index if the articles changed (here or in another process).
    pub async fn refresh_faq(&self) -> Result<bool, FaqInitError> {
        self.desk.faq.refresh(&self.desk.store).await
    }

    /// Imports the rules' FAQ articles into an empty database, then builds the index.
    pub async fn init_faq(&self, rules_dir: &std::path::Path) -> Result<(), FaqInitError> {
        self.desk.faq.init(&self.ctx(), rules_dir).await
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "triage", description = "Helpdesk triage: segment, time window, automation, queue and SLA, each with its reason."),
    paths(tickets::create, tickets::get, tickets::list, tickets::events, tickets::messages, tickets::reclassify,
        clocks::reply, clocks::customer_message, events::record,
        leads::get, leads::handover, leads::outcome, leads::report, leads::export, clocks::set_status, clocks::notifications, clocks::sla_report, clocks::sla_series,
        faq::list, faq::get, faq::put, faq::delete, faq::feedback, faq::search, faq::deflect, faq::automation,
        agents::put, agents::list, agents::set_presence, agents::queues, agents::queue_load, agents::queue_tickets, agents::my_tickets,
        agents::claim, agents::assign, agents::transfer,
        calls::intake_call, mail::intake_mail, mail::attachments, mail::attachment, mail::raw_mail, mail::outbox, mail::retry,
        privacy::erase, privacy::export,
        rules::overview, rules::reload, rules::version, rules::simulate,
        session::sign_in, session::current, session::sign_out,
        healthz, readyz),
    tags((name = "tickets", description = "Intake and reads"),
        (name = "sla", description = "Replies, messages and statuses that drive the SLA clocks; notifications; the compliance report"),
        (name = "leads", description = "Leads handed to sales: handover with the required fields, outcomes, the report and export per trigger and source"),
        (name = "faq", description = "FAQ articles, automatic answers and feedback"),
        (name = "mail", description = "E-mail intake from a mail server, attachments, raw messages and the outbound mail queue"),
        (name = "agents", description = "Agents, presence, work lists, claim, assign, transfer"),
        (name = "privacy", description = "A person's data: export and erasure (admins)"),
        (name = "rules", description = "The rules version each instance runs, reloads, and every version ever loaded (managers)"),
        (name = "operations", description = "Health and metrics")),
    components(schemas(crate::model::Segment, crate::model::Channel, tickets::SlaStateParam,
        clocks::GroupBy, leads::LeadGroupName, clocks::BucketName, clocks::NotificationStatus, agents::Presence)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

/// Documents the bearer tokens every `/api/v1` endpoint needs.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `triage token create` (roles gateway, agent, manager, admin)",
                    ))
                    .build(),
            ),
        );
        document_common_answers(openapi);
    }
}

/// Adds what every operation can answer besides its own results, so that the document is
/// what the server does: 401 and 403 where a token is needed (and no security requirement
/// on the open endpoints), 400, 413 and 415 where a JSON body is read, 408 and 503 always.
fn document_common_answers(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |why: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(why)
                .content(
                    error::PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        let open = matches!(path.as_str(), "/healthz" | "/readyz");
        let ops = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
        ];
        for op in ops.into_iter().flatten() {
            let answers = &mut op.responses.responses;
            let mut add = |code: &str, why: &str| {
                answers
                    .entry(code.to_owned())
                    .or_insert_with(|| problem(why));
            };
            if open {
                op.security = Some(vec![
                    utoipa::openapi::security::SecurityRequirement::default(),
                ]);
            } else {
                add("401", "No bearer token, or an unknown or revoked one");
                add("403", "The token's role may not use this endpoint");
            }
            let params = op.parameters.as_deref().unwrap_or_default();
            if op.request_body.is_some() {
                add("400", "The body could not be read");
                add("413", "The body is larger than the limit");
                add("415", "The body is not of the documented media type");
                add("422", "A field of the body is invalid");
            }
            if !params.is_empty() {
                add("400", "A parameter could not be read");
                add("422", "A parameter's value is invalid");
            }
            // A path, or a query parameter naming a ticket, that names nothing.
            if params.iter().any(|p| {
                matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path)
                    || p.name == "ticket"
            }) {
                add("404", "What the path or `ticket` names does not exist");
            }
            add("408", "The request took longer than the timeout");
            add("503", "The database cannot be used right now");
        }
    }
}

/// The process-wide Prometheus recorder (metrics macros need a global one).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is installed (embedding application): render an empty one.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The complete application: routes and middleware.
pub fn router(state: Arc<AppState>) -> Router {
    let _ = metrics_handle();
    let api = Router::new()
        .route("/api/v1/tickets", post(tickets::create).get(tickets::list))
        .route("/api/v1/tickets/{key}", get(tickets::get))
        .route("/api/v1/tickets/{key}/events", get(tickets::events))
        .route(
            "/api/v1/tickets/{key}/reclassify",
            post(tickets::reclassify),
        )
        .route("/api/v1/tickets/{key}/replies", post(clocks::reply))
        .route(
            "/api/v1/tickets/{key}/messages",
            post(clocks::customer_message).get(tickets::messages),
        )
        .route("/api/v1/tickets/{key}/status", post(clocks::set_status))
        .route("/api/v1/notifications", get(clocks::notifications))
        .route("/api/v1/sla/report", get(clocks::sla_report))
        .route("/api/v1/sla/report/series", get(clocks::sla_series))
        .route("/api/v1/faq", get(faq::list))
        .route("/api/v1/faq/search", get(faq::search))
        .route("/api/v1/events", post(events::record))
        .route(
            "/api/v1/tickets/{key}/lead",
            get(leads::get).post(leads::handover),
        )
        .route("/api/v1/tickets/{key}/outcome", post(leads::outcome))
        .route("/api/v1/leads/report", get(leads::report))
        .route("/api/v1/leads/export", get(leads::export))
        .route("/api/v1/faq/{id}/deflections", post(faq::deflect))
        .route(
            "/api/v1/faq/{id}",
            get(faq::get).put(faq::put).delete(faq::delete),
        )
        .route("/api/v1/tickets/{key}/feedback", post(faq::feedback))
        .route(
            "/api/v1/intake/mail",
            post(mail::intake_mail).layer(DefaultBodyLimit::max(state.config.mail_body_limit)),
        )
        .route("/api/v1/intake/call", post(calls::intake_call))
        .route("/api/v1/agents", get(agents::list))
        .route("/api/v1/agents/me/tickets", get(agents::my_tickets))
        .route("/api/v1/agents/{id}", put(agents::put))
        .route("/api/v1/agents/{id}/presence", post(agents::set_presence))
        .route("/api/v1/queues", get(agents::queues))
        .route("/api/v1/queues/load", get(agents::queue_load))
        .route("/api/v1/automation/report", get(faq::automation))
        .route("/api/v1/queues/{id}/tickets", get(agents::queue_tickets))
        .route("/api/v1/tickets/{key}/claim", post(agents::claim))
        .route("/api/v1/tickets/{key}/assign", post(agents::assign))
        .route("/api/v1/tickets/{key}/transfer", post(agents::transfer))
        .route("/api/v1/tickets/{key}/attachments", get(mail::attachments))
        .route(
            "/api/v1/tickets/{key}/attachments/{id}",
            get(mail::attachment),
        )
        .route(
            "/api/v1/tickets/{key}/mail/{message_id}",
            get(mail::raw_mail),
        )
        .route("/api/v1/mail/outbox", get(mail::outbox))
        .route("/api/v1/mail/outbox/{id}/retry", post(mail::retry))
        .route("/api/v1/privacy/erase", post(privacy::erase))
        .route("/api/v1/privacy/export", get(privacy::export))
        .route("/api/v1/rules", get(rules::overview))
        .route("/api/v1/rules/reload", post(rules::reload))
        .route("/api/v1/rules/simulate", post(rules::simulate))
        .route("/api/v1/rules/versions/{version}", get(rules::version))
        .route(
            "/api/v1/session",
            post(session::sign_in)
                .get(session::current)
                .delete(session::sign_out),
        )
        .route("/ui", get(ui::root))
        .route("/ui/", get(ui::index))
        .route("/ui/{*file}", get(ui::asset))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics_text))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .route_layer(middleware::from_fn(track_metrics))
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .with_state(state.clone());
    api.layer(middleware::from_fn(refuse_nul_in_url))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            state.config.request_timeout,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Serves until `shutdown` completes; requests in flight are finished first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let assigner = tokio::spawn(state.desk.clone().assign_on_wake());
    let limits = state.config.connections.clone();
    let served = listen::serve(listener, router(state), limits, shutdown).await;
    assigner.abort();
    served
}

/// Process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Up")))]
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Database reachable and rules loaded.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready"),
    (status = 503, description = "Not ready", body = error::Problem, content_type = "application/problem+json")))]
async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    state.desk.store.ping().await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            format!("database unreachable: {e}"),
        )
    })?;
    let rules = state.rules();
    Ok(Json(serde_json::json!({
        "status": "ready",
        "rules_version": rules.version,
        "instance": state.desk.rules.instance(),
        "database": format!("{:?}", state.desk.store.backend()).to_lowercase(),
    })))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    // Set on every scrape: the version loaded before the recorder existed shows too.
    crate::desk::rules::version_gauge(&state.rules().version, 1.0);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics_handle().render(),
    )
}

/// Requests by route and status, and their latency.
async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("triage_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("triage_http_request_duration_seconds", "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// Refuses a path or query parameter that spells a NUL byte (`%00`), naming it: no key,
/// name or filter holds one, and the database could not compare it.
async fn refuse_nul_in_url(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let spelled = |s: &str| s.as_bytes().windows(3).any(|w| w == b"%00");
    let field = if spelled(uri.path()) {
        Some("path")
    } else {
        uri.query()
            .and_then(|q| q.split('&').find(|pair| spelled(pair)))
            .map(|pair| pair.split('=').next().unwrap_or(pair))
    };
    if let Some(field) = field {
        let detail = format!("{field} contains a NUL byte (%00)");
        return ApiError::invalid_field(field, detail).into_response();
    }
    next.run(req).await
}

/// Turns error responses made outside handlers (404 unknown route, 405, 408 timeout, …) into
/// problem documents, and adds the request id to every problem.
async fn problem_for_bare_errors(req: Request, next: Next) -> Response {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = req.uri().path().to_owned();
    let if_match = req.headers().contains_key(header::IF_MATCH);
    let resp = next.run(req).await;
    let mut status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let (parts, body) = resp.into_parts();
    let mut problem = if is_problem {
        match axum::body::to_bytes(body, 1 << 16).await {
            Ok(b) => serde_json::from_slice::<serde_json::Value>(&b).unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        }
    } else {
        let detail = match status {
            StatusCode::NOT_FOUND => format!("no such endpoint: {path}"),
            StatusCode::METHOD_NOT_ALLOWED => format!("{path} does not accept this method"),
            StatusCode::REQUEST_TIMEOUT => "the request took too long and was abandoned".into(),
            _ => status.canonical_reason().unwrap_or("error").into(),
        };
        serde_json::to_value(ApiError::new(status, "http", detail).problem()).unwrap_or_default()
    };
    // A change made on a stale view: the version checked at the start of the request moved
    // on before the write (another request won the race). With If-Match that is 412.
    if if_match && status == StatusCode::CONFLICT && problem["type"] == "/problems/conflict" {
        status = StatusCode::PRECONDITION_FAILED;
        problem["type"] = "/problems/precondition-failed".into();
        problem["status"] = 412.into();
        problem["title"] = "Precondition Failed".into();
    }
    if let (Some(obj), Some(id)) = (problem.as_object_mut(), request_id) {
        obj.insert("request_id".into(), id.into());
    }
    let mut resp = (status, serde_json::to_vec(&problem).unwrap_or_default()).into_response();
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            resp.headers_mut().insert(name.clone(), value.clone());
        }
    }
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    resp
}
