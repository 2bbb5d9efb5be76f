//! `POST /api/v1/events`: what other systems report (a webinar attended, a quote sent),
//! turned into a task or a follow-up by the rules' `[trigger.*]`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, Who};
use super::AppState;
use crate::desk::{self, events::EventInput};
use crate::sla::{Metric, TriggerStart};
use crate::store::{self, clock_state};

/// What an event started. Only the ticket's number, status and the clock the event set —
/// never its content, so a gateway learns nothing by repeating an id.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventReceipt {
    /// `created`, or `duplicate` for an event id recorded before.
    pub outcome: String,
    pub event: String,
    pub kind: String,
    /// `task` (a ticket to act on) or `follow-up` (a clock on the named ticket).
    pub started: String,
    /// `file:line` of the `[trigger.KIND]` that decided it.
    pub trigger_at: String,
    pub ticket: String,
    pub status: String,
    /// The SLA policy the ticket counts under.
    pub policy: Option<String>,
    /// When the task must be acted on (its first response) or the follow-up is due.
    pub due_at: Option<DateTime<Utc>>,
    /// For a lead: the fields the rules require that it lacks — empty when it went to
    /// sales, else it went back to marketing until they are given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<String>>,
}

/// Record an event another system saw. A `task` trigger creates a ticket for someone to
/// act on (its reaction time a policy with `when.trigger`); a `follow-up` trigger starts a
/// follow-up clock on the named ticket that the customer's answer ends. A repeat of the
/// same `id` changes nothing and answers 200 with what the first started.
#[utoipa::path(post, path = "/api/v1/events", tag = "sla",
    request_body = EventInput,
    responses(
        (status = 201, body = EventReceipt, headers(("Location" = String))),
        (status = 200, description = "A repeat of an event already recorded", body = EventReceipt, headers(("Location" = String))),
        (status = 404, description = "The named ticket does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The ticket is closed or has no service level", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, or the kind is no trigger of the rules", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn record(
    State(state): State<Arc<AppState>>,
    who: Who,
    ApiJson(input): ApiJson<EventInput>,
) -> Result<Response, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), None, "actor", "events").await?;
    let (event, kind) = (input.id.clone(), input.kind.clone());
    let r = desk::events::record(&cx, &actor, input).await?;
    let (started, metric) = match r.trigger.starts {
        TriggerStart::Task { .. } => ("task", Metric::FirstResponse),
        TriggerStart::FollowUp { .. } => ("follow-up", Metric::FollowUp),
    };
    let clocks = clock_state(&r.ticket)?;
    // Only a lead trigger's task carries a lead.
    let lead_trigger = cx.rules.sla.lead.as_ref().is_some_and(|l| l.is_lead(&kind));
    let missing = if lead_trigger {
        cx.store
            .lead(r.ticket.id)
            .await?
            .map(|l| store::missing_of(&l))
    } else {
        None
    };
    let due_at = clocks.as_ref().and_then(|s| {
        s.clocks
            .iter()
            .rev()
            .find(|c| c.metric == metric && c.stopped_at.is_none())
            .and_then(|c| c.due_at)
    });
    let receipt = EventReceipt {
        outcome: if r.new { "created" } else { "duplicate" }.into(),
        event,
        kind,
        started: started.into(),
        trigger_at: r.trigger.at.to_string(),
        ticket: store::ticket_number(r.ticket.seq),
        status: r.ticket.status.clone(),
        policy: clocks.and_then(|s| s.policy.map(|p| p.id)),
        due_at,
        missing,
    };
    let status = if r.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = [(header::LOCATION, format!("/api/v1/tickets/{}", r.ticket.id))];
    Ok((status, location, Json(receipt)).into_response())
}
