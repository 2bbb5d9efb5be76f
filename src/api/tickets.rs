//! Ticket endpoints: create (idempotent), read, list, events, reclassify.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::{ApiError, Problem};
use super::AppState;
use crate::classify::classify;
use crate::intake::jsonl::TicketInput;
use crate::model::{Channel, Segment};
use crate::rules::CompiledRules;
use crate::sla::{self, ClockEvent, ClockView, SlaState};
use crate::store::{
    self, Created, Cursor, NewEvent, NewTicket, SlaColumns, TicketFilter, TicketRecord,
    TicketUpdate,
};

/// A ticket with the decision the engine made about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    pub id: Uuid,
    /// Human number, `T-000123`.
    pub number: String,
    pub status: String,
    pub channel: String,
    pub subject: String,
    pub body: String,
    pub language: String,
    pub from: SenderView,
    pub organisation: Option<String>,
    pub external_id: Option<String>,
    pub received_at: DateTime<Utc>,
    pub decision: DecisionView,
    /// Service level: the policy and every clock, as of this response.
    pub sla: SlaView,
    /// What the FAQ did: `mode` automated (answered, `article`, `confidence`), suggested (up
    /// to three `suggestions` for an agent) or human, with the `reason`.
    #[schema(value_type = Object)]
    pub faq: Option<serde_json::Value>,
    /// The agent working it.
    pub assignee: Option<String>,
    /// Increases with every change; for optimistic concurrency (also the `ETag`).
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SenderView {
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
}

/// Segment, category, priority, window, automation and queue, each with its reason in `trace`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    pub segment: String,
    pub category: String,
    pub priority: String,
    pub time_window: String,
    pub within_window: bool,
    pub automation: String,
    pub queue: String,
    pub tags: Vec<String>,
    pub rules_version: String,
    /// Per field: `by` (rule, customer, category, segment, channel, calendar, detected, cap,
    /// default), `rule`, `at` (file:line) and `why`; plus `matched_rules`.
    #[schema(value_type = Object)]
    pub trace: serde_json::Value,
}

/// A ticket's service level at the moment of the response.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaView {
    /// The SLA policy (first match in the rules), if any applies.
    pub policy: Option<String>,
    /// `file:line` of the policy.
    pub policy_at: Option<String>,
    /// `none`, `running`, `paused`, `met` or `breached` (any clock breached).
    pub state: String,
    /// The earliest due time of a running clock.
    pub due_at: Option<DateTime<Utc>>,
    #[schema(value_type = Vec<Object>)]
    pub clocks: Vec<ClockView>,
}

impl SlaView {
    fn new(r: &TicketRecord, rules: &CompiledRules, now: DateTime<Utc>) -> SlaView {
        match clock_state(r) {
            Some(s) => SlaView {
                policy: s.policy.as_ref().map(|p| p.id.clone()),
                policy_at: s.policy.as_ref().map(|p| p.at.clone()),
                state: s.summary(now).to_owned(),
                due_at: s.next_due(),
                clocks: s.view(now, &rules.calendars),
            },
            None => SlaView {
                policy: None,
                policy_at: None,
                state: "none".into(),
                due_at: None,
                clocks: Vec::new(),
            },
        }
    }
}

pub(super) use crate::store::clock_state;

impl TicketView {
    pub fn new(r: TicketRecord, rules: &CompiledRules, now: DateTime<Utc>) -> TicketView {
        let sla = SlaView::new(&r, rules, now);
        TicketView {
            id: r.id,
            number: store::ticket_number(r.seq),
            status: r.status,
            channel: r.channel,
            subject: r.subject,
            body: r.body,
            language: r.language,
            from: SenderView {
                email: r.from_email,
                name: r.from_name,
                phone: r.from_phone,
            },
            organisation: r.organisation,
            external_id: r.external_id,
            received_at: r.received_at,
            decision: DecisionView {
                segment: r.segment,
                category: r.category,
                priority: r.priority,
                time_window: r.time_window,
                within_window: r.within_window,
                automation: r.automation,
                queue: r.queue,
                tags: serde_json::from_value(r.tags).unwrap_or_default(),
                rules_version: r.rules_version,
                trace: r.trace,
            },
            sla,
            faq: r.faq,
            assignee: r.assignee,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A ticket as a response, with its version as the `ETag`, for `If-Match` on changes.
pub struct TicketResponse(pub TicketView);

impl IntoResponse for TicketResponse {
    fn into_response(self) -> Response {
        let etag = format!("\"{}\"", self.0.version);
        ([(header::ETAG, etag)], Json(self.0)).into_response()
    }
}

/// `If-Match` of a change: the ticket version (`ETag`) the caller saw. A change to a ticket
/// that has moved on since is refused with 412, so two agents cannot both claim or answer
/// on the same view.
#[derive(Debug, Clone, Default)]
pub struct IfMatch(Option<Vec<String>>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let v = v
            .to_str()
            .map_err(|_| ApiError::bad_request("If-Match must be ASCII"))?;
        Ok(IfMatch(Some(
            v.split(',')
                .map(|t| {
                    t.trim()
                        .trim_start_matches("W/")
                        .trim_matches('"')
                        .to_owned()
                })
                .collect(),
        )))
    }
}

impl IfMatch {
    pub fn check(&self, record: &TicketRecord) -> Result<(), ApiError> {
        match &self.0 {
            Some(tags)
                if !tags
                    .iter()
                    .any(|t| t == "*" || *t == record.version.to_string()) =>
            {
                Err(ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "precondition-failed",
                    format!(
                        "ticket {} is at version {} now, not {}: reload it and try again",
                        store::ticket_number(record.seq),
                        record.version,
                        tags.join(", ")
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

const MAX_KEY_LEN: usize = 255;

/// The request body, or 413 (saying `too_large`) over the route's limit, else 400.
pub(super) fn body_bytes(
    body: Result<Bytes, BytesRejection>,
    too_large: &str,
) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "payload-too-large", too_large)
        } else {
            ApiError::new(status, "bad-request", r.body_text())
        }
    })
}

/// Reads the JSON body: 413 when too large, 415 without a JSON content type, 400 when it is
/// not JSON, 422 naming the field when a value is wrong.
fn parse_input(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(TicketInput, Bytes), ApiError> {
    let body = body_bytes(body, "the request body is larger than the configured limit")?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or("").trim();
            mime == "application/json" || mime.ends_with("+json")
        });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the ticket as Content-Type: application/json",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let input: TicketInput = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { String::new() } else { path };
                let detail = if field.is_empty() {
                    inner.to_string()
                } else {
                    format!("{field}: {inner}")
                };
                ApiError::invalid_field(field, detail)
            }
            _ => ApiError::bad_request(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    Ok((input, body))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
        .ok_or_else(|| {
            let mut e = ApiError::bad_request(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
            ));
            e.field = Some("Idempotency-Key".into());
            e
        })?;
    Ok(Some(key.to_owned()))
}

/// Create a ticket; classify it and store it durably. A repeat of the same
/// `Idempotency-Key` or `external_id` returns the first ticket with 200.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets",
    request_body = TicketInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: a repeat returns the first ticket")),
    responses(
        (status = 201, description = "Created", body = TicketView, headers(("Location" = String))),
        (status = 200, description = "A repeat of an earlier request: the ticket it created", body = TicketView),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let (input, raw) = parse_input(&headers, body)?;
    if let Some(ext) = &input.external_id {
        if ext.trim().is_empty() || ext.len() > MAX_KEY_LEN {
            return Err(ApiError::invalid_field(
                "external_id",
                format!("external_id must be 1 to {MAX_KEY_LEN} characters"),
            ));
        }
    }
    let external_id = input.external_id.clone();
    let now = Utc::now();
    let mut ticket = input
        .into_ticket(now)
        .map_err(|e| ApiError::invalid_field("subject", e.to_string()))?;
    let idempotency = key.map(|k| (k, crate::model::hex(&Sha256::digest(&raw))));
    let rules = state.rules();
    // Numbers are kept in E.164, so a call-back from the telephone system finds the ticket
    // an agent logged with the caller's local number.
    if let Some(p) = &ticket.from.phone {
        if let Some(n) = crate::rules::customers::e164(p, &rules.defaults.country_code) {
            ticket.from.phone = Some(n);
        }
    }
    let created = intake(
        &state,
        &rules,
        ticket,
        Intake {
            external_id,
            idempotency,
            ..Intake::default()
        },
        now,
    )
    .await?;
    let (status, record) = match created {
        Created::New(r) => (StatusCode::CREATED, r),
        Created::Existing(r) => (StatusCode::OK, r),
    };
    let location = format!("/api/v1/tickets/{}", record.id);
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(TicketView::new(record, &rules, now)),
    )
        .into_response())
}

/// What intake knows about a ticket besides its content.
#[derive(Debug, Default)]
pub(super) struct Intake {
    pub external_id: Option<String>,
    /// `Idempotency-Key` and the hash of its request.
    pub idempotency: Option<(String, String)>,
    pub mail: Option<MailIntake>,
}

/// A ticket that arrived as an e-mail.
#[derive(Debug)]
pub(super) struct MailIntake {
    pub inbound: store::InboundMail,
    /// Why no automatic answer may go out (loop protection, the per-sender limit).
    pub withhold: Option<String>,
    pub spam: Option<crate::rules::SpamVerdict>,
    /// Where an answer goes.
    pub reply_to: Option<String>,
    /// The conversation's Message-IDs, oldest first, ending with this mail's.
    pub references: Vec<String>,
    /// Events for the new ticket (a link to the ticket it refers to).
    pub events: Vec<NewEvent>,
}

/// Classifies a new ticket, starts its clocks, lets the FAQ answer it where it may, and
/// stores it durably; the path of every channel.
pub(super) async fn intake(
    state: &AppState,
    rules: &CompiledRules,
    ticket: crate::model::Ticket,
    extra: Intake,
    now: DateTime<Utc>,
) -> Result<Created, ApiError> {
    let mut decision = classify(rules, &ticket);
    let mail = extra.mail;
    if let Some(verdict) = mail.as_ref().and_then(|m| m.spam.as_ref()) {
        review(rules, &mut decision, verdict);
    }
    let (mut clocks, start) = sla::start(rules, &ticket, &decision);
    let faq = state.faq();
    let mut faq_result = crate::faq::answer::decide(&faq, &rules.faq, &ticket, &decision);
    let mut withhold = mail.as_ref().and_then(|m| m.withhold.clone());
    if let Some(m) = &mail {
        if m.reply_to.is_none() {
            withhold.get_or_insert_with(|| "the mail has no sender address".into());
        }
        if let Some(v) = &m.spam {
            withhold.get_or_insert_with(|| format!("spam: {}", v.why));
        }
        if let (None, Some(to), true) = (&withhold, &m.reply_to, faq_result.article.is_some()) {
            let sent = state
                .store
                .automatic_mail_since(to, now - chrono::Duration::hours(1))
                .await?;
            if sent >= rules.mail.auto_replies_per_hour {
                withhold = Some(format!(
                    "{sent} automatic answers went to {to} in the last hour (limit {})",
                    rules.mail.auto_replies_per_hour
                ));
            }
        }
    }
    if let Some(why) = &withhold {
        faq_result = faq_result.withhold(why);
    }
    let mut status = "open".to_owned();
    let mut answer = None;
    if let Some(article) = faq_result.article.as_deref().and_then(|id| faq.article(id)) {
        // Answered from the FAQ: the answer is the first response.
        status = "answered-automatically".into();
        let reply = ClockEvent::AgentReply;
        clocks.apply(&reply, now, &rules.calendars);
        let text = crate::faq::answer::compose(
            &decision.language,
            &article.title,
            &article.body,
            store::TICKET_NUMBER,
            decision.trace.steer.as_ref(),
        );
        let outbound = mail.as_ref().and_then(|m| {
            Some(super::mail::outbound(
                rules,
                &decision.language,
                &ticket.subject,
                m.reply_to.clone()?,
                &m.references,
                true,
            ))
        });
        answer = Some((
            store::NewMessage {
                direction: "outbound".into(),
                author: Some("faq".into()),
                body: text,
                outbound,
                ..Default::default()
            },
            NewEvent {
                kind: "faq.answered".into(),
                actor: "faq".into(),
                data: serde_json::json!({
                    "article": article.id,
                    "confidence": faq_result.confidence,
                    "reason": faq_result.reason,
                    "clock": reply,
                    "clock_at": now,
                }),
            },
        ));
    }
    let (inbound, events) = match mail {
        Some(m) => (Some(m.inbound), m.events),
        None => (None, Vec::new()),
    };
    let created = state
        .store
        .create_ticket(
            NewTicket {
                ticket,
                decision,
                external_id: extra.external_id,
                idempotency: extra.idempotency,
                sla: SlaColumns::new(&clocks, &rules.calendars, now),
                clock_event: serde_json::to_value(&start).ok(),
                status,
                faq: serde_json::to_value(&faq_result).ok(),
                answer,
                mail: inbound,
                events,
            },
            now,
        )
        .await?;
    if let Created::New(r) = &created {
        if let Some(article) = &faq_result.article {
            metrics::counter!("triage_faq_answers_total", "article" => article.clone())
                .increment(1);
        }
        metrics::counter!("triage_tickets_created_total",
            "segment" => r.segment.clone(), "channel" => r.channel.clone(), "automation" => r.automation.clone())
        .increment(1);
        state.wake_assigner();
    }
    Ok(created)
}

/// Spam goes to the review queue, for people only.
fn review(
    rules: &CompiledRules,
    d: &mut crate::model::Decision,
    verdict: &crate::rules::SpamVerdict,
) {
    let Some(queue) = &rules.mail.review_queue else {
        return;
    };
    let reason = Arc::new(crate::model::Reason {
        by: crate::model::ReasonKind::Mail,
        rule: Some("mail.review-queue".into()),
        at: rules.mail.at.clone(),
        why: format!("spam: {}", verdict.why).into(),
    });
    d.queue = queue.clone();
    d.trace.queue = reason.clone();
    d.automation = crate::model::Automation::Human;
    d.trace.automation = reason;
}

/// One ticket by UUID or number (`T-000123`).
#[utoipa::path(get, path = "/api/v1/tickets/{key}", tag = "tickets",
    params(("key" = String, Path, description = "UUID or number such as T-000123")),
    responses(
        (status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
) -> Result<TicketResponse, ApiError> {
    let record = state.store.get(&key).await?;
    Ok(TicketResponse(TicketView::new(
        record,
        &state.rules(),
        Utc::now(),
    )))
}

/// Filters and paging of `GET /api/v1/tickets`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub segment: Option<String>,
    pub category: Option<String>,
    pub queue: Option<String>,
    pub status: Option<String>,
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
    pub sla_state: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    pub items: Vec<TicketView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
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
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<TicketPage>, ApiError> {
    let Query(p) = params.map_err(|r| ApiError::bad_request(r.body_text()))?;
    if let Some(s) = &p.segment {
        s.parse::<Segment>()
            .map_err(|e| ApiError::invalid_field("segment", e.to_string()))?;
    }
    if let Some(c) = &p.channel {
        c.parse::<Channel>()
            .map_err(|e| ApiError::invalid_field("channel", e.to_string()))?;
    }
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "limit must be between 1 and 500",
        ));
    }
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
    let cursor = match &p.cursor {
        None => None,
        Some(c) => Some(parse_cursor(c).ok_or_else(|| {
            ApiError::invalid_field("cursor", "cursor is not one this API returned")
        })?),
    };
    let now = Utc::now();
    let filter = TicketFilter {
        segment: p.segment,
        category: p.category,
        queue: p.queue,
        status: p.status,
        channel: p.channel,
        organisation: p.organisation,
        created_from: p.created_from.map(|t| t.with_timezone(&Utc)),
        created_to: p.created_to.map(|t| t.with_timezone(&Utc)),
        due_before: p.due_before.map(|t| t.with_timezone(&Utc)),
        sla_state: p.sla_state,
        now: Some(now),
    };
    let (rows, next) = state.store.list(&filter, cursor, limit).await?;
    let rules = state.rules();
    Ok(Json(TicketPage {
        items: rows
            .into_iter()
            .map(|r| TicketView::new(r, &rules, now))
            .collect(),
        next_cursor: next.map(|c| match c {
            Cursor::Before(seq) => format!("t{seq}"),
            Cursor::DueAfter(at, seq) => format!("d{at}.{seq}"),
        }),
    }))
}

/// `t<seq>` (newest first) or `d<due>.<seq>` (soonest due first).
fn parse_cursor(c: &str) -> Option<Cursor> {
    if let Some(n) = c.strip_prefix('t') {
        return n.parse().ok().map(Cursor::Before);
    }
    let (at, seq) = c.strip_prefix('d')?.split_once('.')?;
    Some(Cursor::DueAfter(at.parse().ok()?, seq.parse().ok()?))
}

/// One entry of a ticket's audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub kind: String,
    /// Who or what made the change: `rules`, `api`, an agent.
    pub actor: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
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
    let ticket = state.store.get(&key).await?;
    let events = state.store.events(ticket.id).await?;
    Ok(Json(
        events
            .into_iter()
            .map(|e| EventView {
                id: e.id,
                kind: e.kind,
                actor: e.actor,
                data: e.data,
                created_at: e.created_at,
            })
            .collect(),
    ))
}

/// Re-runs the current rules on a ticket and records what changed as an event.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/reclassify", tag = "tickets",
    params(("key" = String, Path, description = "UUID or number")),
    responses(
        (status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed concurrently; retry", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reclassify(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    caller: Option<axum::Extension<super::auth::Caller>>,
    if_match: IfMatch,
) -> Result<TicketResponse, ApiError> {
    let record = state.store.get(&key).await?;
    if_match.check(&record)?;
    let ticket = store::ticket_of(&record).ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "corrupt-ticket",
            format!("ticket {key} has an unknown channel"),
        )
    })?;
    let rules = state.rules();
    let decision = classify(&rules, &ticket);
    let mut changes = store::Changes::new();
    let mut change = |field: &str, old: &str, new: &str| {
        if old != new {
            changes.insert(field.into(), serde_json::json!({ "from": old, "to": new }));
        }
    };
    change("segment", &record.segment, decision.segment.as_str());
    change("category", &record.category, &decision.category);
    change("priority", &record.priority, decision.priority.as_str());
    change(
        "time_window",
        &record.time_window,
        decision.time_window.as_str(),
    );
    change(
        "automation",
        &record.automation,
        decision.automation.as_str(),
    );
    change("queue", &record.queue, &decision.queue);
    let now = Utc::now();
    // The clocks follow a changed policy, keeping the time already used.
    let actor = super::auth::actor(None, caller.as_ref(), "api");
    let mut event = store::reclassified_event(&record, &decision, changes, &actor);
    let mut clocks = clock_state(&record).unwrap_or_default();
    let policy = sla::policy_for(&rules, &ticket, &decision);
    let mut update = TicketUpdate {
        decision: Some(&decision),
        ..Default::default()
    };
    if clocks.policy != policy {
        let e = ClockEvent::Policy { policy };
        clocks.apply(&e, now, &rules.calendars);
        event.data["clock"] = serde_json::to_value(&e).unwrap_or_default();
        event.data["clock_at"] = serde_json::json!(now);
        update.sla = Some(SlaColumns::new(&clocks, &rules.calendars, now));
    }
    update.events.push(event);
    let updated = state.store.update_ticket(&record, update, now).await?;
    state.wake_assigner();
    Ok(TicketResponse(TicketView::new(updated, &rules, now)))
}

/// A change an agent or customer makes to a ticket that moves its clocks.
pub(super) struct ClockChange {
    pub event: ClockEvent,
    pub kind: &'static str,
    pub actor: String,
    pub data: serde_json::Value,
    pub status: Option<String>,
    pub message: Option<store::NewMessage>,
}

/// Applies clock changes to a ticket and stores them with their events, in one write.
pub(super) async fn apply_clock_changes(
    state: &AppState,
    record: &TicketRecord,
    changes: Vec<ClockChange>,
) -> Result<TicketView, ApiError> {
    let rules = state.rules();
    let now = Utc::now();
    let mut clocks = clock_state(record).unwrap_or_else(|| SlaState {
        status: record.status.clone(),
        ..SlaState::default()
    });
    let mut update = TicketUpdate::default();
    for c in changes {
        clocks.apply(&c.event, now, &rules.calendars);
        let mut data = c.data;
        data["clock"] = serde_json::to_value(&c.event).unwrap_or_default();
        data["clock_at"] = serde_json::json!(now);
        update.events.push(NewEvent {
            kind: c.kind.into(),
            actor: c.actor,
            data,
        });
        if c.status.is_some() {
            update.status = c.status;
        }
        if c.message.is_some() {
            update.message = c.message;
        }
    }
    update.sla = Some(SlaColumns::new(&clocks, &rules.calendars, now));
    let updated = state.store.update_ticket(record, update, now).await?;
    state.wake_assigner();
    Ok(TicketView::new(updated, &rules, now))
}
