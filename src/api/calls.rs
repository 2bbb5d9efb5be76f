//! Phone intake from a telephone system (CTI): a call creates a ticket for its caller, or
//! joins the caller's open phone ticket of the last day.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::extract::{utc, ApiJson, Who};
use super::views::{CallView, OrReceipt, Receipt, TicketView};
use super::AppState;
use crate::desk::call::{self, Call, Outcome};

/// A call as the telephone system reports it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallInput {
    /// The caller's number, in any common form (`+43 662 8080-12`, `0662 808012`).
    #[schema(min_length = 1)]
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

/// A call from the telephone system (CTI webhook).
#[utoipa::path(post, path = "/api/v1/intake/call", tag = "tickets",
    request_body = CallInput,
    responses(
        (status = 201, description = "A new ticket (a receipt for a gateway)", body = OrReceipt<CallView>),
        (status = 200, description = "Appended to the caller's open phone ticket, or a repeat (a receipt for a gateway)", body = OrReceipt<CallView>),
        (status = 422, description = "Not a phone number, or another invalid field", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn intake_call(
    State(state): State<Arc<AppState>>,
    who: Who,
    ApiJson(input): ApiJson<CallInput>,
) -> Result<Response, ApiError> {
    let cx = state.ctx();
    let call = Call {
        caller: input.caller,
        called: input.called,
        started_at: utc(input.started_at),
        call_id: input.call_id,
        note: input.note,
    };
    let (outcome, record) = call::take(&cx, call).await?;
    let status = match outcome {
        Outcome::Created => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    if who.is_gateway() {
        let receipt = Receipt::new(outcome.as_str(), &record, None);
        return Ok((status, Json(receipt)).into_response());
    }
    let view = CallView {
        outcome: outcome.as_str().into(),
        ticket: TicketView::new(record, &cx.rules, cx.now)?,
    };
    Ok((status, Json(view)).into_response())
}
