//! E-mail endpoints: raw messages from an MTA in, attachments and raw mail out, and the
//! outbound mail queue.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, Problem};
use super::extract::{body_bytes, content_type_is, page_size, ApiQuery, Who};
use super::views::{AttachmentView, MailIntakeView, OrReceipt, OutboxView, Receipt, TicketView};
use super::AppState;
use crate::desk::mail::{deliver, Outcome};

/// Take one raw e-mail (RFC 5322) from a mail server: a new ticket, a reply on its ticket
/// (by In-Reply-To/References, or by the `[T-000123]` tag when the sender is on that
/// ticket), a bounce of our mail, or a repeat of a message already stored.
#[utoipa::path(post, path = "/api/v1/intake/mail", tag = "mail",
    request_body(content = String, content_type = "message/rfc822", description = "The raw message"),
    responses(
        (status = 201, description = "A new ticket (a receipt for a gateway)", body = OrReceipt<MailIntakeView>),
        (status = 200, description = "Appended to a ticket, a bounce, or a repeat (a receipt for a gateway)", body = OrReceipt<MailIntakeView>),
        (status = 413, description = "Larger than the mail body limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not message/rfc822", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an e-mail at all", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn intake_mail(
    State(state): State<Arc<AppState>>,
    who: Who,
    req: Request,
) -> Result<Response, ApiError> {
    let is_mail = content_type_is(req.headers(), "message/rfc822");
    let raw = body_bytes(
        req,
        &(),
        "the message is larger than the configured mail body limit",
    )
    .await?;
    if !is_mail {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the raw message as Content-Type: message/rfc822",
        ));
    }
    let cx = state.ctx();
    let delivered = deliver(&cx, raw.into()).await?;
    let status = match delivered.outcome {
        Outcome::Created => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    if who.is_gateway() {
        let receipt = Receipt::new(
            delivered.outcome.as_str(),
            &delivered.ticket,
            Some(delivered.message_id),
        );
        return Ok((status, Json(receipt)).into_response());
    }
    let view = MailIntakeView {
        outcome: delivered.outcome.as_str().into(),
        message_id: delivered.message_id,
        ticket: TicketView::new(delivered.ticket, &cx.rules, cx.now)?,
    };
    Ok((status, Json(view)).into_response())
}

/// A ticket's attachments and inline images.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/attachments", tag = "mail",
    params(("key" = String, Path, description = "UUID or number")),
    responses(
        (status = 200, body = Vec<AttachmentView>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn attachments(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
) -> Result<Json<Vec<AttachmentView>>, ApiError> {
    let store = &state.desk.store;
    let record = store.get(&key).await?;
    let rows = store.attachments(record.id).await?;
    Ok(Json(rows.into_iter().map(AttachmentView::from).collect()))
}

/// One attachment's content, with its type and name.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/attachments/{id}", tag = "mail",
    params(("key" = String, Path, description = "UUID or number"), ("id" = i64, Path)),
    responses(
        (status = 200, description = "The content"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Over a size limit: not stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn attachment(
    State(state): State<Arc<AppState>>,
    Path((key, id)): Path<(String, i64)>,
) -> Result<Response, ApiError> {
    let store = &state.desk.store;
    let record = store.get(&key).await?;
    let a = store.attachment(record.id, id).await?;
    let Some(content) = a.content else {
        return Err(ApiError::new(
            StatusCode::GONE,
            "not-stored",
            a.note
                .unwrap_or_else(|| "the attachment was not stored".into()),
        ));
    };
    let disposition = format!("attachment; filename*=UTF-8''{}", utf8_percent(&a.name));
    Ok((
        [
            (header::CONTENT_TYPE, a.content_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        content,
    )
        .into_response())
}

fn utf8_percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A received message exactly as it arrived.
#[utoipa::path(get, path = "/api/v1/tickets/{key}/mail/{message_id}", tag = "mail",
    params(("key" = String, Path, description = "UUID or number"),
        ("message_id" = String, Path, description = "The Message-ID, with or without its angle brackets (as the message list shows it)")),
    responses(
        (status = 200, description = "The raw message", content_type = "message/rfc822"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn raw_mail(
    State(state): State<Arc<AppState>>,
    Path((key, message_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let store = &state.desk.store;
    let record = store.get(&key).await?;
    let id = crate::intake::mail::clean_id(&message_id);
    let raw = store.raw_mail(record.id, &id).await?;
    Ok(([(header::CONTENT_TYPE, "message/rfc822")], raw).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    /// Only this ticket's mail (UUID or number).
    pub ticket: Option<String>,
    /// At most this many, 1 to 1000 (default 100; more is 422).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
}

/// Outbound mail, newest first.
#[utoipa::path(get, path = "/api/v1/mail/outbox", tag = "mail",
    params(OutboxParams),
    responses((status = 200, body = Vec<OutboxView>)))]
pub async fn outbox(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<OutboxParams>,
) -> Result<Json<Vec<OutboxView>>, ApiError> {
    let store = &state.desk.store;
    let ticket = match &p.ticket {
        Some(k) => Some(store.get(k).await?.id),
        None => None,
    };
    let rows = store.outbox(ticket, page_size(p.limit, 100, 1000)?).await?;
    Ok(Json(rows.into_iter().map(OutboxView::from).collect()))
}

/// Send a dead mail again (managers): attempts start from zero, due now, recorded on its
/// ticket as `mail.send_again`.
#[utoipa::path(post, path = "/api/v1/mail/outbox/{id}/retry", tag = "mail",
    params(("id" = i64, Path)),
    responses(
        (status = 200, body = OutboxView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not dead", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn retry(
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
    who: Who,
) -> Result<Json<OutboxView>, ApiError> {
    let cx = state.ctx();
    let actor = crate::desk::actor(&cx, who.identity(), None, "actor", "manager").await?;
    let row = crate::desk::mail::send_again(&cx, id, &actor).await?;
    Ok(Json(row.into()))
}
