//! Intake, the path of every channel: classify a new ticket, start its clocks, let the FAQ
//! answer it where it may, and store it durably — with the automatic answer in the outbox
//! whenever the ticket came by e-mail, whichever intake created it.

use std::sync::Arc;

use super::{Ctx, DeskError};
use crate::classify::classify;
use crate::intake::jsonl::TicketInput;
use crate::model::{Channel, Decision, Ticket};
use crate::rules::{CompiledRules, SlaSubject};
use crate::sla::{self, ClockEvent};
use crate::store::{self, Created, NewEvent, NewMessage, NewTicket, OutboundMail, SlaColumns};

/// Longest accepted `external_id` and `Idempotency-Key`.
pub const MAX_KEY_LEN: usize = 255;

/// What intake knows about a ticket besides its content.
#[derive(Debug, Default)]
pub struct Intake {
    pub external_id: Option<String>,
    /// `Idempotency-Key` and the hash of its request.
    pub idempotency: Option<(String, String)>,
    pub mail: Option<MailIntake>,
    /// What the rules, language detection and the FAQ read instead of the stored subject and
    /// body: a call's note without the line triage writes about the call.
    pub said: Option<String>,
    /// The trigger whose event this task is (`[trigger.KIND]`).
    pub trigger: Option<crate::sla::Trigger>,
    /// The lead the task carries, when its trigger makes leads.
    pub lead: Option<store::NewLead>,
}

/// A ticket that arrived as an e-mail.
#[derive(Debug)]
pub struct MailIntake {
    pub inbound: store::InboundMail,
    /// Why no automatic answer may go out (loop protection).
    pub withhold: Option<String>,
    /// No person wrote it (auto-reply, delivery report, bulk or list mail; `withhold` says
    /// which): a new ticket of it is noise, kept out of the agents' queues.
    pub machine: bool,
    pub spam: Option<crate::rules::SpamVerdict>,
    /// Where an answer goes.
    pub reply_to: Option<String>,
    /// The conversation's Message-IDs, oldest first, ending with this mail's.
    pub references: Vec<String>,
    /// Events for the new ticket (a link to the ticket it refers to).
    pub events: Vec<NewEvent>,
}

/// A ticket sent as JSON (web form, portal, an agent logging a request).
pub async fn create(
    cx: &Ctx<'_>,
    input: TicketInput,
    idempotency: Option<(String, String)>,
) -> Result<Created, DeskError> {
    create_as(cx, input, idempotency, None, None).await
}

/// [`create`], for the task an event of `trigger` starts (with the lead it carries).
pub async fn create_as(
    cx: &Ctx<'_>,
    input: TicketInput,
    idempotency: Option<(String, String)>,
    trigger: Option<crate::sla::Trigger>,
    lead: Option<store::NewLead>,
) -> Result<Created, DeskError> {
    if let Some(ext) = &input.external_id {
        if ext.trim().is_empty() || ext.len() > MAX_KEY_LEN {
            return Err(DeskError::invalid(
                "external_id",
                format!("external_id must be 1 to {MAX_KEY_LEN} characters"),
            ));
        }
    }
    let external_id = input.external_id.clone();
    let mut ticket = input
        .into_ticket(cx.now)
        .map_err(|e| DeskError::invalid(e.field(), e.to_string()))?;
    countable("received_at", ticket.received_at)?;
    // Numbers are kept in E.164, so a call-back from the telephone system finds the ticket
    // an agent logged with the caller's local number.
    if let Some(p) = &ticket.from.phone {
        if let Some(n) = crate::rules::customers::e164(p, &cx.rules.defaults.country_code) {
            ticket.from.phone = Some(n);
        }
    }
    intake(
        cx,
        ticket,
        Intake {
            external_id,
            idempotency,
            trigger,
            lead,
            ..Intake::default()
        },
    )
    .await
}

/// A moment the calendars can count business time from; SLA clocks of any other would
/// never run.
pub fn countable(field: &str, at: chrono::DateTime<chrono::Utc>) -> Result<(), DeskError> {
    use chrono::Datelike;
    let (first, last) = (crate::calendar::FIRST_YEAR, crate::calendar::LAST_YEAR);
    if (first..=last).contains(&at.year()) {
        return Ok(());
    }
    Err(DeskError::invalid(
        field,
        format!(
            "{field} {} lies outside the years {first} to {last} that the service calendars count in",
            at.to_rfc3339()
        ),
    ))
}

/// The ticket classified, its clocks started and the FAQ's verdict, before anything is
/// stored; `triage bench` writes these rows directly for its baseline.
pub fn decide(
    rules: &CompiledRules,
    ticket: Ticket,
    now: chrono::DateTime<chrono::Utc>,
) -> NewTicket {
    let decision = classify(rules, decision_text(&ticket).as_ref().unwrap_or(&ticket));
    let (clocks, start) = start_clocks(rules, &ticket, &decision);
    NewTicket {
        sla: SlaColumns::new(&clocks, &rules.calendars, now),
        clock_event: serde_json::to_value(&start).ok(),
        decision,
        ticket,
        external_id: None,
        idempotency: None,
        status: "open".into(),
        faq: None,
        answer: None,
        mail: None,
        events: Vec::new(),
        lead: None,
    }
}

/// The clocks a classified ticket starts with, under the rules' policies.
pub fn start_clocks(
    rules: &CompiledRules,
    ticket: &Ticket,
    d: &Decision,
) -> (sla::SlaState, ClockEvent) {
    let policy = rules.policy_for(&SlaSubject::of(ticket, d));
    sla::start(policy, &rules.calendars, ticket.received_at)
}

/// How much of a ticket's body its decision reads.
pub const DECISION_TEXT: usize = 64 * 1024;

/// The ticket as its decision reads it, when its body is longer than [`DECISION_TEXT`]:
/// the body cut at a character boundary.
fn decision_text(ticket: &Ticket) -> Option<Ticket> {
    if ticket.body.len() <= DECISION_TEXT {
        return None;
    }
    let end = crate::model::floor_char_boundary(&ticket.body, DECISION_TEXT);
    Some(Ticket {
        channel: ticket.channel,
        subject: ticket.subject.clone(),
        body: ticket.body[..end].to_owned(),
        from: ticket.from.clone(),
        received_at: ticket.received_at,
    })
}

/// Classifies a new ticket, starts its clocks, lets the FAQ answer it where it may, and
/// stores it durably.
pub async fn intake(cx: &Ctx<'_>, ticket: Ticket, extra: Intake) -> Result<Created, DeskError> {
    let rules = &cx.rules;
    let now = cx.now;
    // A request is decided by its beginning: rules, language detection and the FAQ read at
    // most the first DECISION_TEXT bytes, so a huge mail costs no more to decide than a
    // long one (and no query of millions of words). The whole text is stored.
    let said = extra.said.as_ref().map(|said| Ticket {
        subject: String::new(),
        body: said.clone(),
        ..ticket.clone()
    });
    let probe = said.or_else(|| decision_text(&ticket));
    let probe = probe.as_ref().unwrap_or(&ticket);
    let mut decision = classify(rules, probe);
    let mut lead = extra.lead;
    if let Some(t) = &extra.trigger {
        let missing = lead.as_ref().map(|l| &l.missing[..]);
        as_task(
            rules,
            &mut decision,
            t,
            ticket.from.email.as_deref(),
            missing,
        );
    }
    if let (Some(l), Some(r)) = (lead.as_mut(), &rules.sla.lead) {
        l.handed = super::leads::reaches_sales(r, &l.missing, &decision.queue);
    }
    let mail = extra.mail;
    if let Some(verdict) = mail.as_ref().and_then(|m| m.spam.as_ref()) {
        review(rules, &mut decision, verdict);
    }
    let noise = mail
        .as_ref()
        .filter(|m| m.machine)
        .and_then(|m| m.withhold.clone());
    if let Some(why) = &noise {
        route_noise(rules, &mut decision, why);
    }
    // Noise has no service level: nobody owes its sender an answer.
    let (mut clocks, start) = match &noise {
        Some(_) => (
            sla::SlaState::new(None, ticket.received_at, &rules.calendars),
            ClockEvent::Policy { policy: None },
        ),
        None => start_clocks(rules, &ticket, &decision),
    };
    let mut faq_result = crate::faq::answer::decide(&cx.faq, &rules.faq, probe, &decision);
    // Where an automatic answer would go by mail: the mail's reply address, or the sender
    // of an e-mail ticket or a call that reached us another way (a web form shows it).
    let reply_to = match &mail {
        Some(m) => m.reply_to.clone(),
        None if matches!(ticket.channel, Channel::Email | Channel::Phone) => {
            ticket.from.email.clone()
        }
        None => None,
    };
    let mut withhold = mail.as_ref().and_then(|m| m.withhold.clone());
    if ticket.channel == Channel::Phone && reply_to.is_none() {
        withhold.get_or_insert_with(|| {
            "a call without an e-mail address: an automatic answer would reach nobody".into()
        });
    }
    if let Some(m) = &mail {
        if m.reply_to.is_none() {
            withhold.get_or_insert_with(|| "the mail has no sender address".into());
        }
        if let Some(v) = &m.spam {
            withhold.get_or_insert_with(|| format!("spam: {}", v.why));
        }
    }
    if let (None, Some(to), true) = (&withhold, &reply_to, faq_result.article.is_some()) {
        let sent = cx
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
    if let Some(why) = &withhold {
        faq_result = faq_result.withhold(why);
    }
    let mut status = if noise.is_some() { "noise" } else { "open" }.to_owned();
    let mut answer = None;
    if let Some(article) = faq_result
        .article
        .as_deref()
        .and_then(|id| cx.faq.article(id))
    {
        // Answered from the FAQ: the answer is the first response.
        status = "answered-automatically".into();
        let reply = ClockEvent::AgentReply;
        clocks.apply(&reply, now, &rules.calendars);
        // The resolution waits for the customer's verdict (or their silence, see
        // `conversation::resolve_silent_answers`).
        let wait = ClockEvent::Status {
            pauses: rules.sla.pauses(&status),
            status: status.clone(),
        };
        clocks.apply(&wait, now, &rules.calendars);
        let composed = crate::faq::answer::compose(
            &decision.language,
            &article.title,
            &article.body,
            store::TICKET_NUMBER,
            decision.trace.steer.as_ref(),
        );
        let references = mail.as_ref().map_or(&[][..], |m| &m.references[..]);
        let outbound = reply_to.clone().map(|to| {
            let mut o = outbound(
                rules,
                &decision.language,
                &ticket.subject,
                to,
                references,
                true,
            );
            o.html = Some(composed.html.clone());
            o
        });
        answer = Some((
            NewMessage {
                direction: "outbound".into(),
                author: Some("faq".into()),
                body: composed.text,
                channel: Some(ticket.channel.to_string()),
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
    let created = cx
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
                lead,
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
        cx.wake_assigner();
    }
    Ok(created)
}

/// Machine mail that threads to no ticket goes to the noise queue, for people only, with
/// the header that showed it as the reason.
fn route_noise(rules: &CompiledRules, d: &mut Decision, why: &str) {
    let reason = Arc::new(crate::model::Reason {
        by: crate::model::ReasonKind::Mail,
        rule: Some("mail.noise-queue".into()),
        at: rules.mail.at.clone(),
        why: format!("no person wrote it ({why}) and it belongs to no ticket").into(),
    });
    d.to_people(rules.mail.noise_queue.clone(), reason);
}

/// The decision of a task an event of `t` started (at intake, and again when it is
/// reclassified): a lead (with the required fields it is `missing`) goes where `[lead]`
/// says; screened like any other.
pub fn as_task(
    rules: &CompiledRules,
    d: &mut Decision,
    t: &crate::sla::Trigger,
    email: Option<&str>,
    missing: Option<&[String]>,
) {
    task_of(d, t);
    if let (Some(lead), Some(missing)) = (&rules.sla.lead, missing) {
        super::leads::route(lead, d, missing);
    }
    crate::classify::screen(rules, d, email);
}

/// A task an event started: the trigger's queue and category where it names them, its tag
/// for the policies' `when.trigger`, and people only — nobody asked a question the FAQ
/// could answer.
fn task_of(d: &mut Decision, t: &crate::sla::Trigger) {
    let reason = Arc::new(crate::model::Reason {
        by: crate::model::ReasonKind::Trigger,
        rule: Some(format!("trigger.{}", t.kind).into()),
        at: Some(t.at.clone()),
        why: format!("a task started by a {} event", t.kind).into(),
    });
    let mut queue = None;
    if let crate::sla::TriggerStart::Task {
        queue: q, category, ..
    } = &t.starts
    {
        queue = q.clone();
        if let Some(c) = category {
            d.category = c.clone();
            d.trace.category = reason.clone();
        }
    }
    let tag: Arc<str> = crate::sla::Trigger::tag(&t.kind).into();
    if !d.tags.contains(&tag) {
        d.tags.push(tag);
    }
    d.to_people(queue, reason);
}

/// Spam goes to the review queue, for people only.
fn review(rules: &CompiledRules, d: &mut Decision, verdict: &crate::rules::SpamVerdict) {
    let Some(queue) = &rules.mail.review_queue else {
        return;
    };
    let reason = Arc::new(crate::model::Reason {
        by: crate::model::ReasonKind::Mail,
        rule: Some("mail.review-queue".into()),
        at: rules.mail.at.clone(),
        why: format!("spam: {}", verdict.why).into(),
    });
    d.to_people(Some(queue.clone()), reason);
}

/// A Message-ID of ours, in the domain of the gateway's address.
pub fn new_message_id(rules: &CompiledRules) -> String {
    let domain = rules
        .mail
        .address
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    format!("{}@{domain}", uuid::Uuid::new_v4())
}

/// The mail an answer goes out as: the template's subject with the ticket tag, threading
/// headers pointing at the conversation so far.
pub fn outbound(
    rules: &CompiledRules,
    language: &str,
    subject: &str,
    recipient: String,
    references: &[String],
    automatic: bool,
) -> OutboundMail {
    let t = rules.mail.template(language);
    let lower = subject.to_lowercase();
    let subject = if lower.starts_with("re:") || lower.starts_with("aw:") {
        subject.to_owned()
    } else {
        format!("Re: {subject}")
    };
    OutboundMail {
        message_id: new_message_id(rules),
        recipient,
        subject: t
            .subject
            .replace("{ticket}", store::TICKET_NUMBER)
            .replace("{subject}", &subject),
        in_reply_to: references.last().cloned(),
        references: references.to_vec(),
        automatic,
        html: None,
    }
}
