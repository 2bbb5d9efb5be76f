//! Phone intake from a telephone system (CTI): a call creates a ticket for its caller, or
//! joins the caller's open phone ticket of the last day — one conversation, not a ticket per
//! call-back.

use chrono::{DateTime, Utc};

use super::intake::{intake, Intake};
use super::{conversation, Actor, Ctx, DeskError};
use crate::model::{Channel, Sender, Ticket};
use crate::rules::customers::e164;
use crate::store::{Created, NewMessage, StoreError, TicketRecord};

/// A call as the telephone system reports it.
#[derive(Debug, Clone)]
pub struct Call {
    pub caller: String,
    pub called: String,
    pub started_at: Option<DateTime<Utc>>,
    pub call_id: Option<String>,
    pub note: Option<String>,
}

/// What became of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    /// Joined the caller's open phone ticket.
    Appended,
    /// This call id was reported before.
    Duplicate,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Appended => "appended",
            Outcome::Duplicate => "duplicate",
        }
    }
}

/// Takes one call.
pub async fn take(cx: &Ctx<'_>, call: Call) -> Result<(Outcome, TicketRecord), DeskError> {
    let caller = e164(&call.caller, &cx.rules.defaults.country_code).ok_or_else(|| {
        DeskError::invalid(
            "caller",
            format!("\"{}\" is not a phone number", call.caller),
        )
    })?;
    let started = call.started_at.unwrap_or(cx.now);
    super::intake::countable("started_at", started)?;
    let note = call
        .note
        .as_deref()
        .map(|n| format!("\n\n{}", n.trim()))
        .unwrap_or_default();
    let text = format!(
        "Call from {caller} on {} at {}{note}",
        call.called.trim(),
        started.to_rfc3339(),
    );
    let external_id = call
        .call_id
        .as_ref()
        .map(|id| format!("call:{}", id.trim()));
    if let Some(ext) = &external_id {
        match cx.store.get_by_external_id(ext).await {
            Ok(r) => return Ok((Outcome::Duplicate, r)),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The caller's open phone ticket of the last 24 hours takes a call-back.
    let since = cx.now - chrono::Duration::hours(24);
    if let Some(open) = cx.store.open_phone_ticket(&caller, since).await? {
        let message = NewMessage {
            direction: "inbound".into(),
            author: Some(caller.clone()),
            body: text,
            channel: Some("phone".into()),
            ..Default::default()
        };
        let actor = Actor::named(caller.clone());
        let changes = conversation::customer_changes(cx, &open, &actor, &caller, message).await?;
        let updated = conversation::apply(cx, &open, changes).await?;
        return Ok((Outcome::Appended, updated));
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
    // The rules and language detection read what the caller said, not the call line.
    let said = call
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            n[..crate::model::floor_char_boundary(n, super::intake::DECISION_TEXT)].to_owned()
        });
    let extra = Intake {
        external_id,
        said,
        ..Intake::default()
    };
    Ok(match intake(cx, ticket, extra).await? {
        Created::New(r) => (Outcome::Created, r),
        Created::Existing(r) => (Outcome::Duplicate, r),
    })
}
