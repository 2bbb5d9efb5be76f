//! Agents and their work: registering agents and their presence, a queue's work list, "my
//! tickets", and claiming, assigning and transferring tickets — each recorded with who did
//! it, and refused with 412 on a stale `If-Match`.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::clocks::json_body;
use super::error::{ApiError, Problem};
use super::tickets::{IfMatch, TicketResponse, TicketView};
use super::AppState;
use crate::model::Role;
use crate::store::{self, AgentRecord, NewEvent, TicketRecord, TicketUpdate};

const PRESENCE: [&str; 3] = ["available", "away", "offline"];

/// An agent as managers register them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    pub name: String,
    pub email: Option<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    /// Languages the agent answers in (`de`, `en`).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Most open tickets at once.
    pub capacity: i32,
    /// `available`, `away` or `offline` (default `offline`).
    pub presence: Option<String>,
    /// The rules calendar of the agent's shifts (default: the hours of the queues they
    /// work in).
    pub calendar: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    /// Also the name of the agent's API token.
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub capacity: i32,
    pub presence: String,
    pub calendar: Option<String>,
    /// Open tickets assigned now.
    pub load: u64,
    /// When the agent was last given a ticket.
    pub last_assigned_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

async fn view(state: &AppState, a: AgentRecord) -> Result<AgentView, ApiError> {
    let load = state.store.open_load(&a.id).await?;
    Ok(AgentView {
        load,
        skills: serde_json::from_value(a.skills).unwrap_or_default(),
        languages: serde_json::from_value(a.languages).unwrap_or_default(),
        id: a.id,
        name: a.name,
        email: a.email,
        capacity: a.capacity,
        presence: a.presence,
        calendar: a.calendar,
        last_assigned_at: a.last_assigned_at,
        updated_at: a.updated_at,
    })
}

fn presence(p: &str) -> Result<String, ApiError> {
    if PRESENCE.contains(&p) {
        Ok(p.to_owned())
    } else {
        Err(ApiError::invalid_field(
            "presence",
            format!(
                "unknown presence \"{p}\" (expected one of: {})",
                PRESENCE.join(", ")
            ),
        ))
    }
}

/// Register or replace an agent (managers).
#[utoipa::path(put, path = "/api/v1/agents/{id}", tag = "agents",
    params(("id" = String, Path, description = "The agent's id, also the name of their token")),
    request_body = AgentInput,
    responses((status = 200, body = AgentView),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    input: Result<Json<AgentInput>, JsonRejection>,
) -> Result<Json<AgentView>, ApiError> {
    let input = json_body(input)?;
    if input.name.trim().is_empty() {
        return Err(ApiError::invalid_field("name", "name must not be empty"));
    }
    if input.capacity < 0 {
        return Err(ApiError::invalid_field(
            "capacity",
            "capacity must not be negative",
        ));
    }
    if let Some(c) = input
        .calendar
        .as_deref()
        .filter(|c| !state.rules().calendars.contains_key(*c))
    {
        return Err(ApiError::invalid_field(
            "calendar",
            format!(
                "unknown calendar \"{c}\" (defined calendars: {})",
                crate::rules::list(state.rules().calendars.keys())
            ),
        ));
    }
    let record = AgentRecord {
        id,
        name: input.name,
        email: input.email,
        skills: serde_json::json!(input.skills),
        languages: serde_json::json!(input.languages),
        capacity: input.capacity,
        presence: presence(input.presence.as_deref().unwrap_or("offline"))?,
        updated_at: Utc::now(),
        calendar: input.calendar,
        last_assigned_at: None,
    };
    let a = state.store.put_agent(record).await?;
    let a = picked_up(&state, a).await?;
    Ok(Json(view(&state, a).await?))
}

/// All agents with their load.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents",
    responses((status = 200, body = Vec<AgentView>)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Vec<AgentView>>, ApiError> {
    let mut out = Vec::new();
    for a in state.store.agents().await? {
        out.push(view(&state, a).await?);
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceInput {
    /// `available`, `away` or `offline`.
    pub presence: String,
}

/// Set presence: agents their own, managers anyone's.
#[utoipa::path(post, path = "/api/v1/agents/{id}/presence", tag = "agents",
    params(("id" = String, Path)),
    request_body = PresenceInput,
    responses((status = 200, body = AgentView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn set_presence(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    caller: Option<Extension<Caller>>,
    input: Result<Json<PresenceInput>, JsonRejection>,
) -> Result<Json<AgentView>, ApiError> {
    let input = json_body(input)?;
    if let Some(Extension(c)) = &caller {
        if c.role == Role::Agent && c.name != id {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "agents set only their own presence",
            ));
        }
    }
    let p = presence(&input.presence)?;
    let a = state.store.set_presence(&id, &p, Utc::now()).await?;
    let a = picked_up(&state, a).await?;
    Ok(Json(view(&state, a).await?))
}

/// An agent who is available takes waiting tickets at once, before the answer is sent: the
/// caller sees their new load, and nobody waits for the next worker round.
async fn picked_up(state: &AppState, a: AgentRecord) -> Result<AgentRecord, ApiError> {
    if a.presence != "available" {
        return Ok(a);
    }
    crate::worker::assign::round(&state.store, &state.rules(), Utc::now()).await?;
    Ok(state.store.agent(&a.id).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkParams {
    /// At most this many (default 50, at most 500).
    pub limit: Option<u64>,
}

/// A queue's tickets that still need work: soonest SLA due first, then priority.
#[utoipa::path(get, path = "/api/v1/queues/{id}/tickets", tag = "agents",
    params(("id" = String, Path), WorkParams),
    responses((status = 200, body = Vec<TicketView>),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn queue_tickets(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(p): Query<WorkParams>,
) -> Result<Json<Vec<TicketView>>, ApiError> {
    let rules = state.rules();
    if !rules.queues.contains_key(id.as_str()) {
        return Err(ApiError::not_found(format!("no queue {id}")));
    }
    let rows = state
        .store
        .queue_tickets(&id, p.limit.unwrap_or(50).min(500))
        .await?;
    let now = Utc::now();
    Ok(Json(
        rows.into_iter()
            .map(|r| TicketView::new(r, &rules, now))
            .collect(),
    ))
}

/// A queue as the rules define it: who works it, how tickets find them, and what feeds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    pub id: String,
    pub name: String,
    /// `skills-least-loaded`, `round-robin` or `manual`.
    pub assignment: String,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    /// The calendar the queue is staffed in.
    pub calendar: Option<String>,
    /// The skill business-critical tickets need in addition.
    pub critical_skill: Option<String>,
    /// What sends tickets here: `category X`, `segment X`, `rule X`, `defaults`.
    pub fed_by: Vec<String>,
}

/// The queues of the rules in force, with their staffing and what feeds them.
#[utoipa::path(get, path = "/api/v1/queues", tag = "agents",
    responses((status = 200, body = Vec<QueueView>)))]
pub async fn queues(State(state): State<Arc<AppState>>) -> Json<Vec<QueueView>> {
    let rules = state.rules();
    let mut out = Vec::new();
    for (id, q) in &rules.queues {
        let mut fed_by: Vec<String> = Vec::new();
        if rules.defaults.queue.0 == *id {
            fed_by.push("defaults".into());
        }
        let mut categories: Vec<&str> = rules
            .categories
            .values()
            .filter(|c| c.queue.as_ref().is_some_and(|(cq, _)| cq == id))
            .map(|c| &*c.name)
            .collect();
        categories.sort_unstable();
        fed_by.extend(categories.iter().map(|c| format!("category {c}")));
        for seg in crate::model::Segment::ALL {
            if rules.segments[seg.index()]
                .queue
                .as_ref()
                .is_some_and(|(sq, _)| sq == id)
            {
                fed_by.push(format!("segment {seg}"));
            }
        }
        fed_by.extend(
            rules
                .rules
                .iter()
                .filter(|r| r.set.queue.as_ref() == Some(id))
                .map(|r| format!("rule {}", r.id)),
        );
        out.push(QueueView {
            id: id.to_string(),
            name: q.name.clone(),
            assignment: q.policy.strategy.as_str().into(),
            skills: q.policy.skills.clone(),
            languages: q.policy.languages.clone(),
            calendar: q.policy.calendar.as_ref().map(|c| c.name().to_owned()),
            critical_skill: q.policy.critical_skill.clone(),
            fed_by,
        });
    }
    Json(out)
}

/// The caller's own tickets that still need work, soonest due first.
#[utoipa::path(get, path = "/api/v1/agents/me/tickets", tag = "agents",
    params(WorkParams),
    responses((status = 200, body = Vec<TicketView>)))]
pub async fn my_tickets(
    State(state): State<Arc<AppState>>,
    caller: Option<Extension<Caller>>,
    Query(p): Query<WorkParams>,
) -> Result<Json<Vec<TicketView>>, ApiError> {
    let Some(Extension(c)) = caller else {
        return Err(ApiError::bad_request("no caller: demo mode has no \"me\""));
    };
    let rows = state
        .store
        .assigned_tickets(&c.name, p.limit.unwrap_or(50).min(500))
        .await?;
    let rules = state.rules();
    let now = Utc::now();
    Ok(Json(
        rows.into_iter()
            .map(|r| TicketView::new(r, &rules, now))
            .collect(),
    ))
}

fn actor(caller: &Option<Extension<Caller>>) -> String {
    super::auth::actor(None, caller.as_ref(), "agent")
}

async fn assign_to(
    state: &AppState,
    record: &TicketRecord,
    agent: &str,
    kind: &str,
    actor: String,
) -> Result<TicketResponse, ApiError> {
    let event = NewEvent {
        kind: kind.into(),
        actor,
        data: serde_json::json!({ "agent": agent, "previous": record.assignee }),
    };
    let now = Utc::now();
    let updated = match state.store.assign_ticket(record, agent, event, now).await {
        Err(store::StoreError::NotFound(_)) => {
            return Err(ApiError::invalid_field(
                "agent",
                format!("no agent {agent}"),
            ))
        }
        r => r?,
    };
    Ok(TicketResponse(TicketView::new(
        updated,
        &state.rules(),
        now,
    )))
}

/// Take a ticket: it becomes the caller's. Refused when another agent has it (409), on a
/// stale `If-Match` (412), or when the caller is offline or at capacity (409).
#[utoipa::path(post, path = "/api/v1/tickets/{key}/claim", tag = "agents",
    params(("key" = String, Path)),
    responses((status = 200, body = TicketView),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json")))]
pub async fn claim(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    caller: Option<Extension<Caller>>,
    if_match: IfMatch,
) -> Result<TicketResponse, ApiError> {
    let record = state.store.get(&key).await?;
    if_match.check(&record)?;
    let me = actor(&caller);
    if let Some(other) = record.assignee.as_deref().filter(|a| *a != me) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already-assigned",
            format!(
                "ticket {} is assigned to {other}",
                store::ticket_number(record.seq)
            ),
        ));
    }
    assign_to(&state, &record, &me.clone(), "claimed", me).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    pub agent: String,
}

/// Give a ticket to an agent (registered, not offline, under capacity).
#[utoipa::path(post, path = "/api/v1/tickets/{key}/assign", tag = "agents",
    params(("key" = String, Path)),
    request_body = AssignInput,
    responses((status = 200, body = TicketView),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json")))]
pub async fn assign(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    caller: Option<Extension<Caller>>,
    if_match: IfMatch,
    input: Result<Json<AssignInput>, JsonRejection>,
) -> Result<TicketResponse, ApiError> {
    let input = json_body(input)?;
    let record = state.store.get(&key).await?;
    if_match.check(&record)?;
    assign_to(&state, &record, &input.agent, "assigned", actor(&caller)).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    pub queue: String,
    pub reason: String,
}

/// Move a ticket to another queue, with the reason; it leaves its agent.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/transfer", tag = "agents",
    params(("key" = String, Path)),
    request_body = TransferInput,
    responses((status = 200, body = TicketView),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn transfer(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    caller: Option<Extension<Caller>>,
    if_match: IfMatch,
    input: Result<Json<TransferInput>, JsonRejection>,
) -> Result<TicketResponse, ApiError> {
    let input = json_body(input)?;
    let record = state.store.get(&key).await?;
    if_match.check(&record)?;
    let rules = state.rules();
    if !rules.queues.contains_key(input.queue.as_str()) {
        return Err(ApiError::invalid_field(
            "queue",
            format!("unknown queue \"{}\"", input.queue),
        ));
    }
    if input.reason.trim().is_empty() {
        return Err(ApiError::invalid_field(
            "reason",
            "say why the ticket moves",
        ));
    }
    let update = TicketUpdate {
        queue: Some(input.queue.clone()),
        assignee: Some(None),
        events: vec![NewEvent {
            kind: "transferred".into(),
            actor: actor(&caller),
            data: serde_json::json!({
                "from": record.queue, "to": input.queue, "reason": input.reason,
                "previous_agent": record.assignee,
            }),
        }],
        ..Default::default()
    };
    let now = Utc::now();
    let updated = state.store.update_ticket(&record, update, now).await?;
    state.wake_assigner();
    Ok(TicketResponse(TicketView::new(updated, &rules, now)))
}
