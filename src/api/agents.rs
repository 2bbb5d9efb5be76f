//! Agents and their work: registering agents and their presence, a queue's work list, "my
//! tickets", and claiming, assigning and transferring tickets — each recorded with who did
//! it, and refused with 412 on a stale `If-Match`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Problem};
use super::extract::{page_size, ApiJson, ApiQuery, IfMatch, Who};
use super::views::{AgentView, TicketResponse, TicketView};
use super::AppState;
use crate::desk::{self, work};

/// An agent as managers register them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    #[schema(min_length = 1)]
    pub name: String,
    pub email: Option<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    /// Languages the agent answers in (`de`, `en`).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Most open tickets at once.
    #[schema(minimum = 0)]
    pub capacity: i32,
    /// `available`, `away` or `offline` (default `offline`).
    #[schema(value_type = Option<Presence>)]
    pub presence: Option<String>,
    /// The rules calendar of the agent's shifts (default: the hours of the queues they
    /// work in).
    pub calendar: Option<String>,
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
    ApiJson(input): ApiJson<AgentInput>,
) -> Result<Json<AgentView>, ApiError> {
    let input = work::AgentInput {
        name: input.name,
        email: input.email,
        skills: input.skills,
        languages: input.languages,
        capacity: input.capacity,
        presence: input.presence,
        calendar: input.calendar,
    };
    let agent = work::put_agent(&state.ctx(), id, input).await?;
    Ok(Json(AgentView::new(agent)?))
}

/// All agents with their load.
#[utoipa::path(get, path = "/api/v1/agents", tag = "agents",
    responses((status = 200, body = Vec<AgentView>)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Vec<AgentView>>, ApiError> {
    let agents = work::agents(&state.ctx()).await?;
    Ok(Json(
        agents
            .into_iter()
            .map(AgentView::new)
            .collect::<Result<_, _>>()?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceInput {
    /// `available`, `away` or `offline`.
    #[schema(value_type = Presence)]
    pub presence: String,
}

/// An agent's presence.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum Presence {
    Available,
    Away,
    Offline,
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
    who: Who,
    ApiJson(input): ApiJson<PresenceInput>,
) -> Result<Json<AgentView>, ApiError> {
    let agent = work::set_presence(&state.ctx(), who.identity(), &id, &input.presence).await?;
    Ok(Json(AgentView::new(agent)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkParams {
    /// At most this many, 1 to 500 (default 50; more is 422).
    #[param(minimum = 1, maximum = 500)]
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
    ApiQuery(p): ApiQuery<WorkParams>,
) -> Result<Json<Vec<TicketView>>, ApiError> {
    let cx = state.ctx();
    if !cx.rules.queues.contains_key(id.as_str()) {
        return Err(ApiError::not_found(format!("no queue {id}")));
    }
    let rows = cx
        .store
        .queue_tickets(&id, page_size(p.limit, 50, 500)?)
        .await?;
    Ok(Json(TicketView::all(rows, &cx)?))
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
    let queues = desk::report::queues(&state.ctx());
    Json(
        queues
            .into_iter()
            .map(|q| QueueView {
                id: q.id,
                name: q.name,
                assignment: q.assignment.into(),
                skills: q.skills,
                languages: q.languages,
                calendar: q.calendar,
                critical_skill: q.critical_skill,
                fed_by: q.fed_by,
            })
            .collect(),
    )
}

/// The caller's own tickets that still need work, soonest due first.
#[utoipa::path(get, path = "/api/v1/agents/me/tickets", tag = "agents",
    params(WorkParams),
    responses((status = 200, body = Vec<TicketView>)))]
pub async fn my_tickets(
    State(state): State<Arc<AppState>>,
    who: Who,
    ApiQuery(p): ApiQuery<WorkParams>,
) -> Result<Json<Vec<TicketView>>, ApiError> {
    let Some((me, _)) = who.identity() else {
        return Err(ApiError::bad_request("no caller: demo mode has no \"me\""));
    };
    let cx = state.ctx();
    let rows = cx
        .store
        .assigned_tickets(me, page_size(p.limit, 50, 500)?)
        .await?;
    Ok(Json(TicketView::all(rows, &cx)?))
}

/// Take a ticket: it becomes the caller's. Refused when another agent has it (409), on a
/// stale `If-Match` (412), when the caller is offline or at capacity (409), or when no
/// registered agent stands behind the token (422, saying how to assign instead).
#[utoipa::path(post, path = "/api/v1/tickets/{key}/claim", tag = "agents",
    params(("key" = String, Path)),
    responses((status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The token is no registered agent's", body = Problem, content_type = "application/problem+json")))]
pub async fn claim(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    who: Who,
    IfMatch(expected): IfMatch,
) -> Result<TicketResponse, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), None, "agent", "agent").await?;
    let record = work::claim(&cx, &key, &expected, &actor).await?;
    TicketResponse::new(record, &cx)
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
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn assign(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    who: Who,
    IfMatch(expected): IfMatch,
    ApiJson(input): ApiJson<AssignInput>,
) -> Result<TicketResponse, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), None, "actor", "agent").await?;
    let record = work::assign(&cx, &key, &expected, &actor, &input.agent).await?;
    TicketResponse::new(record, &cx)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    pub queue: String,
    pub reason: String,
}

/// Move a ticket to another queue, with the reason; it leaves its agent, and the queue
/// stays when the ticket is reclassified.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/transfer", tag = "agents",
    params(("key" = String, Path)),
    request_body = TransferInput,
    responses((status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn transfer(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    who: Who,
    IfMatch(expected): IfMatch,
    ApiJson(input): ApiJson<TransferInput>,
) -> Result<TicketResponse, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), None, "actor", "agent").await?;
    let record = work::transfer(&cx, &key, &expected, &actor, &input.queue, &input.reason).await?;
    TicketResponse::new(record, &cx)
}

/// Who can work a queue now.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffingView {
    /// Agents with the queue's skills and one of its languages.
    pub skilled: u32,
    /// Of those, with presence `available`.
    pub available: u32,
    /// Of those, in their shift (their own calendar, else the queue's) now.
    pub in_shift: u32,
    /// Most open tickets the agents available and in shift take at once.
    pub capacity: u32,
    /// Open tickets those agents hold now, in any queue.
    pub held: u32,
}

/// A queue now: what waits for people and who can work it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueLoadView {
    pub id: String,
    /// `null` for a queue the rules in force no longer define that still holds tickets.
    pub name: Option<String>,
    /// Open tickets that need a person (not done, not answered automatically, not noise).
    pub open: u64,
    /// Of those, held by no agent.
    pub unassigned: u64,
    /// Of those, with a clock already past due.
    pub overdue: u64,
    pub staffing: StaffingView,
    /// `staffing.held` against `staffing.capacity`, in percent: how full the agents who can
    /// take this queue's tickets now are; `null` when nobody is in shift.
    pub load_pct: Option<f64>,
}

/// Every queue now: open, unassigned and overdue tickets, and the agents who can work it.
#[utoipa::path(get, path = "/api/v1/queues/load", tag = "agents",
    responses((status = 200, body = Vec<QueueLoadView>)))]
pub async fn queue_load(
    State(state): State<Arc<AppState>>,
) -> Result<Json<Vec<QueueLoadView>>, ApiError> {
    let rows = desk::report::queue_load(&state.ctx()).await?;
    Ok(Json(
        rows.into_iter()
            .map(|q| {
                let s = q.staffing;
                QueueLoadView {
                    load_pct: crate::model::percent(u64::from(s.held), u64::from(s.capacity)),
                    id: q.id,
                    name: q.name,
                    open: q.open,
                    unassigned: q.unassigned,
                    overdue: q.overdue,
                    staffing: StaffingView {
                        skilled: s.skilled,
                        available: s.available,
                        in_shift: s.in_shift,
                        capacity: s.capacity,
                        held: s.held,
                    },
                }
            })
            .collect(),
    ))
}
