//! Phone intake from a telephone system (CTI): a call creates a ticket for its caller, or
//! joins the caller's open phone ticket of the last day — one conversation, not a ticket per
//! call-back.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::tickets::{intake, Intake, TicketView};
use super::AppState;
use crate::model::{Channel, Sender, Ticket};
use crate::rules::customers::e164;
use crate::store::{Created, NewMessage};

/// A call as the telephone system reports it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallInput {
    /// The caller's number, in any common form (`+43 662 8080-12`, `0662 808012`).
    pub caller: String,
    /// The line that was called (the hotline's number or name).
    pub called: String,
    /// When the call started (RFC 3339); default: now.
    pub started_at: Option<DateTime<FixedOffset>>,
    /// The telephone system's id of the call: a repeat of the same id is the same call.
    pub call_id: Option<String>,
    /// What the agent or the voice menu noted.
    pub note: Option<String>,
}

/// What became of a call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallView {
    /// `created` (a new ticket), `appended` (to the caller's open phone ticket), or
    /// `duplicate` (this call id was reported before).
    pub outcome: String,
    pub ticket: TicketView,
}

/// A call from the telephone system (CTI webhook).
#[utoipa::path(post, path = "/api/v1/intake/call", tag = "tickets",
    request_body = CallInput,
    responses(
        (status = 201, description = "A new ticket", body = CallView),
        (status = 200, description = "Appended to the caller's open phone ticket, or a repeat", body = CallView),
        (status = 422, description = "Not a phone number, or another invalid field", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn intake_call(
    State(state): State<Arc<AppState>>,
    body: Result<Json<CallInput>, JsonRejection>,
) -> Result<Response, ApiError> {
    let input = super::clocks::json_body(body)?;
    let rules = state.rules();
    let caller = e164(&input.caller, &rules.defaults.country_code).ok_or_else(|| {
        ApiError::invalid_field(
            "caller",
            format!("\"{}\" is not a phone number", input.caller),
        )
    })?;
    let now = Utc::now();
    let started = input.started_at.map_or(now, |t| t.with_timezone(&Utc));
    let text = format!(
        "Call from {caller} on {} at {}{}",
        input.called.trim(),
        started.to_rfc3339(),
        input
            .note
            .as_deref()
            .map(|n| format!("\n\n{}", n.trim()))
            .unwrap_or_default()
    );
    let external_id = input
        .call_id
        .as_ref()
        .map(|id| format!("call:{}", id.trim()));
    let view = |outcome: &str, status: StatusCode, r| {
        let ticket = TicketView::new(r, &rules, Utc::now());
        (
            status,
            Json(CallView {
                outcome: outcome.into(),
                ticket,
            }),
        )
            .into_response()
    };
    if let Some(ext) = &external_id {
        if let Ok(r) = state.store.get_by_external_id(ext).await {
            return Ok(view("duplicate", StatusCode::OK, r));
        }
    }
    // The caller's open phone ticket of the last 24 hours takes a call-back.
    let since = now - chrono::Duration::hours(24);
    if let Some(open) = state.store.open_phone_ticket(&caller, since).await? {
        let message = NewMessage {
            direction: "inbound".into(),
            author: Some(caller.clone()),
            body: text,
            ..Default::default()
        };
        let changes = super::clocks::customer_changes(&state, &open, &caller, message).await?;
        super::tickets::apply_clock_changes(&state, &open, changes).await?;
        let r = state.store.by_id(open.id).await?;
        return Ok(view("appended", StatusCode::OK, r));
    }
    let ticket = Ticket {
        channel: Channel::Phone,
        subject: format!("Call from {caller}"),
        body: text,
        from: Sender {
            email: None,
            name: None,
            phone: Some(caller),
        },
        received_at: started,
    };
    let created = intake(
        &state,
        &rules,
        ticket,
        Intake {
            external_id,
            ..Intake::default()
        },
        now,
    )
    .await?;
    Ok(match created {
        Created::New(r) => view("created", StatusCode::CREATED, r),
        Created::Existing(r) => view("duplicate", StatusCode::OK, r),
    })
}
