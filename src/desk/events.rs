//! Events other systems report — a webinar attended, a link clicked, a quote sent: the
//! rules' `[trigger.KIND]` decides whether one starts a task ticket for someone to act on
//! (its reaction time a `[[policy]]` with `when.trigger`) or a follow-up clock on the
//! ticket it names. The reporting system's event id makes a repeat harmless.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use super::conversation::{self, ClockChange};
use super::intake::MAX_KEY_LEN;
use super::{Actor, Ctx, DeskError, Expected};
use crate::intake::jsonl::TicketInput;
use crate::model::{Channel, Sender};
use crate::sla::{ClockEvent, Trigger, TriggerStart};
use crate::store::{self, Created, TicketRecord};

/// An event as another system reports it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The reporting system's id of the event (1 to 255 characters): a repeat changes
    /// nothing and answers with what the first one started.
    pub id: String,
    /// A `[trigger.KIND]` of the rules, e.g. `webinar-attended` or `quote-sent`.
    pub kind: String,
    /// When it happened, RFC 3339 with offset (default: now). A task's clocks count from
    /// then.
    pub occurred_at: Option<DateTime<FixedOffset>>,
    /// Who it is about: the task's contact, found in the customer list by e-mail domain or
    /// phone number as a ticket's sender is.
    #[serde(default)]
    pub contact: Sender,
    /// What it refers to in the reporting system: the webinar, the campaign, the quote.
    pub reference: Option<String>,
    /// Free text for the person who acts on it.
    pub note: Option<String>,
    /// The ticket a follow-up event is about (UUID or number).
    pub ticket: Option<String>,
    /// The channel a task is counted under (default `web`).
    pub channel: Option<Channel>,
    /// What marketing knows of a lead (an event of a `[lead]` trigger): the fields the rules
    /// require, e.g. `need`, `time-frame`, `budget`, `decision-maker`.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
    /// Where a lead came from (a campaign, a list); the reference when not given.
    pub source: Option<String>,
}

/// What an event started.
pub struct Recorded {
    pub ticket: TicketRecord,
    /// Whether this request started it (false: a repeat of an event already recorded).
    pub new: bool,
    pub trigger: Trigger,
}

/// The event kind recorded on a ticket by a follow-up event.
const EVENT_KIND: &str = "event";

/// Records an event: starts what its trigger says, once per event id.
pub async fn record(cx: &Ctx<'_>, actor: &Actor, input: EventInput) -> Result<Recorded, DeskError> {
    if input.id.trim().is_empty() || input.id.len() > MAX_KEY_LEN {
        return Err(DeskError::invalid(
            "id",
            format!("id must be 1 to {MAX_KEY_LEN} characters"),
        ));
    }
    let Some(trigger) = cx.rules.sla.triggers.get(input.kind.as_str()).cloned() else {
        let known: Vec<&str> = cx.rules.sla.triggers.keys().map(|k| &**k).collect();
        return Err(DeskError::invalid(
            "kind",
            format!(
                "unknown event kind \"{}\" (the rules' [trigger.*]: {})",
                input.kind,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        ));
    };
    match trigger.starts.clone() {
        TriggerStart::Task { subject, .. } => task(cx, input, trigger, &subject).await,
        TriggerStart::FollowUp { minutes, calendar } => {
            follow_up(cx, actor, input, trigger, minutes, calendar).await
        }
    }
}

async fn task(
    cx: &Ctx<'_>,
    input: EventInput,
    trigger: Trigger,
    subject: &str,
) -> Result<Recorded, DeskError> {
    if input.ticket.is_some() {
        return Err(DeskError::invalid(
            "ticket",
            format!(
                "a {} event starts a task of its own ({}); ticket is for follow-up events",
                trigger.kind, trigger.at
            ),
        ));
    }
    let mut body = format!("{} event {}", trigger.kind, input.id);
    for (label, value) in [("Reference", &input.reference), ("Note", &input.note)] {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            body.push_str(&format!("\n{label}: {v}"));
        }
    }
    let subject = match input.reference.as_deref().filter(|r| !r.trim().is_empty()) {
        Some(r) => format!("{subject}: {r}"),
        None => subject.to_owned(),
    };
    let id = input.id.clone();
    let lead = super::leads::new_lead(
        cx,
        &trigger.kind,
        input.fields,
        input.source,
        input.reference.as_deref(),
    );
    let ticket = TicketInput {
        channel: input.channel.unwrap_or(Channel::Web),
        subject,
        body,
        from: input.contact,
        received_at: input.occurred_at,
        external_id: Some(format!("event:{}", input.id)),
    };
    // The event's contact is the task's sender: an error names it as the event calls it.
    let created = super::intake::create_as(cx, ticket, None, Some(trigger.clone()), lead)
        .await
        .map_err(|e| match e {
            DeskError::Invalid { field, detail } if field.starts_with("from") => {
                let named = field.replacen("from", "contact", 1);
                DeskError::Invalid {
                    detail: detail.replace(&field, &named),
                    field: named,
                }
            }
            e => e,
        })?;
    let (ticket, new) = match created {
        Created::New(r) => (r, true),
        Created::Existing(r) => (r, false),
    };
    if !new
        && !store::tags_of(&ticket)?
            .iter()
            .any(|t| **t == *Trigger::tag(&trigger.kind))
    {
        return Err(another_kind(&id, &ticket));
    }
    Ok(Recorded {
        ticket,
        new,
        trigger,
    })
}

async fn follow_up(
    cx: &Ctx<'_>,
    actor: &Actor,
    input: EventInput,
    trigger: Trigger,
    minutes: u32,
    calendar: Option<std::sync::Arc<str>>,
) -> Result<Recorded, DeskError> {
    let Some(key) = input.ticket.as_deref() else {
        return Err(DeskError::invalid(
            "ticket",
            format!(
                "a {} event starts a follow-up on a ticket ({}): name the ticket",
                trigger.kind, trigger.at
            ),
        ));
    };
    // A concurrent repeat of the same event loses the write race, reads the ticket again
    // and finds the event recorded.
    for _ in 0..3 {
        let record = super::ticket(cx, key, &Expected(None)).await?;
        match recorded(cx, &record, &input.id).await? {
            Some(kind) if kind == *trigger.kind => {
                return Ok(Recorded {
                    ticket: record,
                    new: false,
                    trigger,
                })
            }
            Some(_) => return Err(another_kind(&input.id, &record)),
            None => {}
        }
        super::ensure_not_closed(&record)?;
        if record.status == "resolved" {
            return Err(DeskError::Conflict(format!(
                "ticket {} is resolved: nothing waits for the customer's answer",
                store::ticket_number(record.seq)
            )));
        }
        if !matches!(store::clock_state(&record)?, Some(s) if s.policy.is_some()) {
            return Err(DeskError::Conflict(format!(
                "ticket {} has no service level, so a follow-up would count in no calendar",
                store::ticket_number(record.seq)
            )));
        }
        let change = ClockChange {
            event: ClockEvent::Sent {
                what: trigger.kind.to_string(),
                follow_up_minutes: minutes,
                calendar: calendar.as_deref().map(str::to_owned),
                occurred_at: input.occurred_at.map(|t| t.with_timezone(&chrono::Utc)),
            },
            kind: EVENT_KIND,
            actor: actor.clone(),
            data: serde_json::json!({
                "event_id": input.id,
                "kind": trigger.kind,
                "occurred_at": input.occurred_at,
                "reference": input.reference,
                "note": input.note,
                "trigger_at": trigger.at,
            }),
            status: None,
            message: None,
        };
        match conversation::apply(cx, &record, vec![change]).await {
            Ok(ticket) => {
                return Ok(Recorded {
                    ticket,
                    new: true,
                    trigger,
                })
            }
            Err(DeskError::Store(store::StoreError::Conflict { .. })) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(DeskError::Busy(format!(
        "ticket {key} kept changing while the event was recorded; try again"
    )))
}

/// The kind the event `id` is recorded on the ticket with, if it is.
async fn recorded(
    cx: &Ctx<'_>,
    record: &TicketRecord,
    id: &str,
) -> Result<Option<String>, DeskError> {
    Ok(cx
        .store
        .events(record.id)
        .await?
        .iter()
        .find(|e| e.kind == EVENT_KIND && e.data["event_id"] == id)
        .map(|e| e.data["kind"].as_str().unwrap_or_default().to_owned()))
}

/// An event id used again for an event of another kind: the first stands.
fn another_kind(id: &str, record: &TicketRecord) -> DeskError {
    DeskError::Conflict(format!(
        "event id {id} is already recorded as another kind of event (ticket {}); an event id names one event",
        store::ticket_number(record.seq)
    ))
}
