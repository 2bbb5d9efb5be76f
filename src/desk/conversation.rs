//! The conversation on a ticket and what it does to the clocks: agents' replies and
//! internal notes, customers' messages, status changes, feedback on an automatic answer,
//! and reclassification under the rules in force.

use super::{ensure_not_closed, Actor, Ctx, DeskError, Expected};
use crate::classify::classify;
use crate::model::{Reason, ReasonKind};
use crate::sla::{ClockEvent, SlaState};
use crate::store::{self, FaqOutcome, NewMessage, SlaColumns, TicketRecord, TicketUpdate};

/// A change an agent or customer makes to a ticket that moves its clocks.
pub struct ClockChange {
    pub event: ClockEvent,
    pub kind: &'static str,
    pub actor: Actor,
    pub data: serde_json::Value,
    pub status: Option<String>,
    pub message: Option<NewMessage>,
}

/// Applies clock changes to a ticket and stores them with their events, in one write.
pub async fn apply(
    cx: &Ctx<'_>,
    record: &TicketRecord,
    changes: Vec<ClockChange>,
) -> Result<TicketRecord, DeskError> {
    let updated = apply_at(cx.store, &cx.rules, cx.now, record, changes).await?;
    cx.wake_assigner();
    Ok(updated)
}

/// [`apply`] without a request's context (the worker's rounds).
async fn apply_at(
    store: &store::Store,
    rules: &crate::rules::CompiledRules,
    now: chrono::DateTime<chrono::Utc>,
    record: &TicketRecord,
    changes: Vec<ClockChange>,
) -> Result<TicketRecord, store::StoreError> {
    let (_, update) = clock_update(rules, now, record, changes)?;
    store.update_ticket(record, update, now).await
}

/// A ticket's clocks after `changes`, and the update that stores them with their events:
/// for a caller that writes more of the ticket in the same write (a lead's outcome).
pub(super) fn clock_update<'a>(
    rules: &crate::rules::CompiledRules,
    now: chrono::DateTime<chrono::Utc>,
    record: &TicketRecord,
    changes: Vec<ClockChange>,
) -> Result<(SlaState, TicketUpdate<'a>), store::StoreError> {
    let mut clocks = store::clock_state(record)?.unwrap_or_else(|| SlaState {
        status: record.status.clone(),
        ..SlaState::default()
    });
    let mut update = TicketUpdate::default();
    for c in changes {
        clocks.apply(&c.event, now, &rules.calendars);
        let mut data = c.data;
        data["clock"] = serde_json::to_value(&c.event).map_err(store::StoreError::from)?;
        data["clock_at"] = serde_json::json!(now);
        update.events.push(c.actor.event(c.kind, data));
        if c.status.is_some() {
            update.status = c.status;
        }
        if c.message.is_some() {
            update.message = c.message;
        }
    }
    update.sla = Some(SlaColumns::new(&clocks, &rules.calendars, now));
    Ok((clocks, update))
}

/// Resolves up to `limit` automatic answers that the customer has left without a verdict
/// or a reply for the rules' `[faq] resolve-after-days` (nothing without it): silence after
/// an answer is taken as the answer having done. The resolution clock, paused while the
/// answer waited, is decided by the time until the answer. Another worker resolving the
/// same ticket first is no error: its version moved on, and this one leaves it.
pub async fn resolve_silent_answers(
    store: &store::Store,
    rules: &crate::rules::CompiledRules,
    now: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<usize, store::StoreError> {
    let Some(days) = rules.faq.resolve_after_days else {
        return Ok(0);
    };
    let before = now - chrono::Duration::days(i64::from(days));
    let mut resolved = 0;
    for record in store
        .unchanged_in_status("answered-automatically", before, limit)
        .await?
    {
        let Ok(mut change) = status_change_in(rules, "resolved", &Actor::named("triage")) else {
            break;
        };
        change.data["reason"] = serde_json::json!(format!(
            "no verdict or reply on the automatic answer within {days} days ([faq] resolve-after-days)"
        ));
        match apply_at(store, rules, now, &record, vec![change]).await {
            Ok(_) => resolved += 1,
            Err(store::StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(resolved)
}

/// The status change to the clocks, validated against the rules' statuses.
pub fn status_change(cx: &Ctx<'_>, status: &str, actor: &Actor) -> Result<ClockChange, DeskError> {
    status_change_in(&cx.rules, status, actor)
}

fn status_change_in(
    rules: &crate::rules::CompiledRules,
    status: &str,
    actor: &Actor,
) -> Result<ClockChange, DeskError> {
    let status = if status == "reopen" { "open" } else { status };
    if !rules.sla.is_known_status(status) {
        let known: Vec<&str> = rules.sla.statuses().chain(["reopen"]).collect();
        return Err(DeskError::invalid(
            "status",
            format!("unknown status \"{status}\" (known: {})", known.join(", ")),
        ));
    }
    Ok(ClockChange {
        event: ClockEvent::Status {
            status: status.to_owned(),
            pauses: rules.sla.pauses(status),
        },
        kind: "status",
        actor: actor.clone(),
        data: serde_json::json!({ "status": status }),
        status: Some(status.to_owned()),
        message: None,
    })
}

/// The ticket a message is added to: a non-empty text, a ticket that exists, is not closed
/// and is at the version the caller saw.
async fn open_ticket_for(
    cx: &Ctx<'_>,
    key: &str,
    text: &str,
    expected: &Expected,
) -> Result<TicketRecord, DeskError> {
    if text.trim().is_empty() {
        return Err(DeskError::invalid("body", "body must not be empty"));
    }
    let record = super::ticket(cx, key, expected).await?;
    ensure_not_closed(&record)?;
    Ok(record)
}

/// An agent's reply or internal note.
#[derive(Debug, Clone)]
pub struct Reply {
    pub body: String,
    pub internal: bool,
    /// A status to set with it, e.g. `pending-customer` after asking a question.
    pub status: Option<String>,
}

/// An agent's public reply (meets first response and next reply; an e-mail ticket's goes
/// out by mail, threaded into the customer's conversation) or internal note (moves no
/// clock).
pub async fn reply(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
    actor: &Actor,
    input: Reply,
) -> Result<TicketRecord, DeskError> {
    let record = open_ticket_for(cx, key, &input.body, expected).await?;
    let mut message = NewMessage {
        direction: if input.internal { "note" } else { "outbound" }.into(),
        author: Some(actor.author().to_owned()),
        body: input.body,
        channel: Some(record.channel.clone()),
        ..Default::default()
    };
    if !input.internal && record.channel == "email" {
        if let Some(to) = cx.store.reply_address(&record).await? {
            let references = cx.store.message_ids(record.id).await?;
            let footer = cx
                .rules
                .mail
                .template(&record.language)
                .footer
                .replace("{ticket}", store::TICKET_NUMBER);
            message.body = format!("{}\n\n-- \n{footer}", message.body);
            message.outbound = Some(super::intake::outbound(
                &cx.rules,
                &record.language,
                &record.subject,
                to,
                &references,
                false,
            ));
        }
    }
    if input.internal {
        if let Some(s) = &input.status {
            let mut c = status_change(cx, s, actor)?;
            c.message = Some(message);
            return apply(cx, &record, vec![c]).await;
        }
        let update = TicketUpdate {
            message: Some(message),
            events: vec![actor.event("note", serde_json::json!({}))],
            ..Default::default()
        };
        let updated = cx.store.update_ticket(&record, update, cx.now).await?;
        cx.wake_assigner();
        return Ok(updated);
    }
    let mut changes = vec![ClockChange {
        event: ClockEvent::AgentReply,
        kind: "reply",
        actor: actor.clone(),
        data: serde_json::json!({}),
        status: None,
        message: Some(message),
    }];
    if let Some(s) = &input.status {
        changes.push(status_change(cx, s, actor)?);
    }
    apply(cx, &record, changes).await
}

/// A message from the customer, relayed by `actor`: starts a next-reply clock, and brings
/// a ticket that waited for the customer (or was resolved) back to `open`.
pub async fn customer_message(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
    actor: &Actor,
    from: Option<String>,
    body: String,
) -> Result<TicketRecord, DeskError> {
    let record = open_ticket_for(cx, key, &body, expected).await?;
    let author = from
        .or_else(|| record.from_email.clone())
        .unwrap_or_else(|| "customer".into());
    let message = NewMessage {
        direction: "inbound".into(),
        author: Some(author.clone()),
        body,
        ..Default::default()
    };
    let changes = customer_changes(cx, &record, actor, &author, message).await?;
    apply(cx, &record, changes).await
}

/// What a customer's message changes: a reply to an automatic answer means it did not
/// help; a ticket that waited for the customer (or was resolved) opens again; a next-reply
/// clock starts.
pub async fn customer_changes(
    cx: &Ctx<'_>,
    record: &TicketRecord,
    actor: &Actor,
    author: &str,
    message: NewMessage,
) -> Result<Vec<ClockChange>, DeskError> {
    let mut changes = not_helped(cx, record, actor).await?;
    if changes.is_empty() && record.status != "open" {
        changes.push(status_change(cx, "open", actor)?);
    }
    changes.push(ClockChange {
        event: ClockEvent::CustomerMessage,
        kind: "customer_message",
        actor: actor.clone(),
        data: serde_json::json!({ "from": author }),
        status: None,
        message: Some(message),
    });
    Ok(changes)
}

/// Changes the status: a pausing status stops the clocks, `resolved` stops every clock,
/// `open`/`reopen` continues them with the time already used.
pub async fn set_status(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
    actor: &Actor,
    status: &str,
) -> Result<TicketRecord, DeskError> {
    let record = super::ticket(cx, key, expected).await?;
    ensure_not_closed(&record)?;
    let change = status_change(cx, status, actor)?;
    if change.status.as_deref() == Some(record.status.as_str()) {
        return Ok(record);
    }
    apply(cx, &record, vec![change]).await
}

/// The article an automatically answered ticket was answered with.
fn answered_with(record: &TicketRecord) -> Option<String> {
    if record.status != "answered-automatically" {
        return None;
    }
    record.faq.as_ref()?["article"].as_str().map(str::to_owned)
}

/// The changes of "did not help": the automatic answer no longer counts as the first
/// response (its clock runs from the original arrival) and the ticket goes to its queue.
async fn not_helped(
    cx: &Ctx<'_>,
    record: &TicketRecord,
    actor: &Actor,
) -> Result<Vec<ClockChange>, DeskError> {
    let Some(article) = answered_with(record) else {
        return Ok(Vec::new());
    };
    cx.store
        .count_faq_outcome(&article, FaqOutcome::NotHelped)
        .await?;
    metrics::counter!("triage_faq_feedback_total", "article" => article.clone(), "helped" => "false")
        .increment(1);
    Ok(vec![
        ClockChange {
            event: ClockEvent::AnswerRejected,
            kind: "faq.not_helped",
            actor: actor.clone(),
            data: serde_json::json!({ "article": article }),
            status: None,
            message: None,
        },
        status_change(cx, "open", actor)?,
    ])
}

/// Feedback on an automatic answer: helped → resolved; not helped → back to the ticket's
/// queue at once, its first-response clock counted from the original arrival. Feedback
/// given before is refused with what it was.
pub async fn feedback(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
    actor: &Actor,
    helped: bool,
) -> Result<TicketRecord, DeskError> {
    let record = super::ticket(cx, key, expected).await?;
    let number = store::ticket_number(record.seq);
    let Some(article) = answered_with(&record) else {
        let earlier = cx
            .store
            .events(record.id)
            .await?
            .into_iter()
            .rev()
            .find(|e| e.kind == "faq.helped" || e.kind == "faq.not_helped");
        return Err(DeskError::Conflict(match earlier {
            Some(e) => format!(
                "feedback on the automatic answer of {number} was already given at {}: {}",
                e.created_at.to_rfc3339(),
                if e.kind == "faq.helped" { "it helped" } else { "it did not help" }
            ),
            None => format!(
                "ticket {number} was not answered automatically (status {}); feedback is for automatic answers",
                record.status
            ),
        }));
    };
    let changes = if helped {
        cx.store
            .count_faq_outcome(&article, FaqOutcome::Helped)
            .await?;
        metrics::counter!("triage_faq_feedback_total", "article" => article.clone(), "helped" => "true")
            .increment(1);
        let mut resolved = status_change(cx, "resolved", actor)?;
        resolved.kind = "faq.helped";
        vec![resolved]
    } else {
        not_helped(cx, &record, actor).await?
    };
    apply(cx, &record, changes).await
}

/// Re-runs the rules in force on a ticket. Fields a person decided (a transfer's queue)
/// stay as they are; the event reports what the rules would have said. The clocks follow a
/// changed policy, keeping the time already used.
pub async fn reclassify(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
    actor: &Actor,
) -> Result<TicketRecord, DeskError> {
    let record = super::ticket(cx, key, expected).await?;
    let lead = cx.store.lead(record.id).await?;
    reclassify_record(cx, &record, actor, lead, Vec::new()).await
}

/// [`reclassify`] of a read ticket; its `lead` as it is now decides a lead task's queue and
/// is stored with the ticket, `events` go on its trail.
pub(super) async fn reclassify_record(
    cx: &Ctx<'_>,
    record: &TicketRecord,
    actor: &Actor,
    lead: Option<store::LeadRecord>,
    events: Vec<store::NewEvent>,
) -> Result<TicketRecord, DeskError> {
    let decided = redecide(cx, record, lead.as_ref())?;
    store_redecided(cx, record, actor, decided, lead, events).await
}

/// A stored ticket decided again under the rules in force.
pub(super) struct Redecided {
    ticket: crate::model::Ticket,
    pub decision: crate::model::Decision,
    /// What a person decided and the rules would not have.
    kept: serde_json::Map<String, serde_json::Value>,
}

/// Decides a stored ticket again: a trigger's task stays its task (a lead goes where its
/// fields send it), a queue a person chose stays.
pub(super) fn redecide(
    cx: &Ctx<'_>,
    record: &TicketRecord,
    lead: Option<&store::LeadRecord>,
) -> Result<Redecided, DeskError> {
    let ticket = store::ticket_of(record).ok_or_else(|| {
        store::StoreError::Corrupt(format!(
            "ticket {} has an unknown channel \"{}\"",
            store::ticket_number(record.seq),
            record.channel
        ))
    })?;
    let rules = &cx.rules;
    let mut decision = classify(rules, &ticket);
    let task = store::tags_of(record)?
        .iter()
        .find_map(|t| rules.sla.triggers.get(crate::sla::Trigger::kind_of(t)?));
    if let Some(t) = task {
        let missing = lead.map(store::missing_of);
        super::intake::as_task(
            rules,
            &mut decision,
            t,
            ticket.from.email.as_deref(),
            missing.as_deref(),
        );
    }
    if let (Some(l), Some(r)) = (lead, &rules.sla.lead) {
        super::leads::keep_outcome(r, &mut decision, l);
    }
    let mut kept = serde_json::Map::new();
    if let Some(by_person) = person_decided_queue(record) {
        if *decision.queue != *record.queue {
            kept.insert(
                "queue".into(),
                serde_json::json!({ "kept": record.queue, "rules": decision.queue }),
            );
        }
        decision.queue = record.queue.as_str().into();
        decision.trace.queue = std::sync::Arc::new(by_person);
    }
    Ok(Redecided {
        ticket,
        decision,
        kept,
    })
}

/// Stores a ticket decided again, with a `reclassified` event saying what changed; the
/// clocks follow a changed policy.
pub(super) async fn store_redecided(
    cx: &Ctx<'_>,
    record: &TicketRecord,
    actor: &Actor,
    decided: Redecided,
    lead: Option<store::LeadRecord>,
    events: Vec<store::NewEvent>,
) -> Result<TicketRecord, DeskError> {
    let Redecided {
        ticket,
        decision,
        kept,
    } = decided;
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
    let mut data = store::reclassified_data(record, &decision, changes);
    if !kept.is_empty() {
        data["kept"] = kept.into();
    }
    let mut event = actor.event("reclassified", data);
    let policy = cx
        .rules
        .policy_for(&crate::rules::SlaSubject::of(&ticket, &decision));
    let mut update = TicketUpdate {
        decision: Some(&decision),
        lead,
        ..Default::default()
    };
    super::follow_policy(cx, record, policy, &mut event, &mut update)?;
    update.events.push(event);
    update.events.extend(events);
    let updated = cx.store.update_ticket(record, update, cx.now).await?;
    cx.wake_assigner();
    Ok(updated)
}

/// The reason of a queue a person chose (a transfer), as stored in the ticket's trace.
fn person_decided_queue(record: &TicketRecord) -> Option<Reason> {
    let reason: Reason = serde_json::from_value(record.trace.get("queue")?.clone()).ok()?;
    (reason.by == ReasonKind::Agent).then_some(reason)
}

/// The trace entry of a queue a person chose.
pub fn transfer_reason(actor: &Actor, reason: &str) -> Reason {
    Reason {
        by: ReasonKind::Agent,
        rule: None,
        at: None,
        why: format!("transferred by {}: {reason}", actor.author()).into(),
    }
}
