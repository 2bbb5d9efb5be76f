//! Leads handed to sales: a task of a lead trigger goes to sales only with every field the
//! rules' `[lead]` requires, else back to marketing with the missing ones named; marketing
//! completes it and hands it over; sales records an outcome (accept, requalify, disqualify)
//! within the lead's resolution target; the report and export count outcomes per trigger
//! and source.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::conversation::{self, ClockChange};
use super::{ensure_not_closed, Actor, Ctx, DeskError, Expected};
use crate::model::{Decision, Reason, ReasonKind};
use crate::sla::lead::{self, LeadFacts, LeadGroup, LeadRow, LeadRules, Outcome};
use crate::sla::{ClockEvent, Metric};
use crate::store::{self, LeadRecord, NewLead, TicketRecord, TicketUpdate};

/// The tag of every lead ticket, for policies' `when.tag`.
pub const TAG: &str = "lead";

/// A lead's queue: sales with every required field, else back to marketing; the trace
/// names what is missing.
pub(super) fn route(rules: &LeadRules, d: &mut Decision, missing: &[String]) {
    let (queue, why) = if missing.is_empty() {
        (
            rules.queue.clone(),
            format!(
                "a lead with {}: handed to {}",
                rules.requires.join(", "),
                rules.queue
            ),
        )
    } else {
        (
            rules.back_to.clone(),
            format!(
                "a lead without {}: back to {} until it is given",
                missing.join(", "),
                rules.back_to
            ),
        )
    };
    let reason = Arc::new(reason(rules, why));
    let tag: Arc<str> = TAG.into();
    if !d.tags.contains(&tag) {
        d.tags.push(tag);
    }
    d.to_people(Some(queue), reason);
}

/// A decision `[lead]` made, and why.
fn reason(rules: &LeadRules, why: String) -> Reason {
    Reason {
        by: ReasonKind::Lead,
        rule: Some("lead".into()),
        at: Some(rules.at.clone()),
        why: why.into(),
    }
}

/// Why a requalified lead is in marketing's queue.
fn requalified(rules: &LeadRules, by: &str, why: &str) -> Reason {
    reason(rules, format!("requalified by {by}: {why}"))
}

/// A decided lead stays where its outcome put it when the ticket is decided again: a
/// requalified one with marketing.
pub(super) fn keep_outcome(rules: &LeadRules, d: &mut Decision, lead: &LeadRecord) {
    if lead.outcome.as_deref() == Some("requalify") {
        let reason = requalified(
            rules,
            lead.outcome_by.as_deref().unwrap_or_default(),
            lead.reason.as_deref().unwrap_or_default(),
        );
        d.queue = rules.back_to.clone();
        d.trace.queue = Arc::new(reason);
    }
}

/// The lead an event of `trigger` carries, if its trigger makes leads: the fields given,
/// those missing, and its source (the event's reference when none is given).
pub fn new_lead(
    cx: &Ctx<'_>,
    trigger: &str,
    fields: BTreeMap<String, String>,
    source: Option<String>,
    reference: Option<&str>,
) -> Option<NewLead> {
    let rules = cx.rules.sla.lead.as_ref().filter(|l| l.is_lead(trigger))?;
    // A blank value is no value, as in a handover.
    let fields: BTreeMap<String, String> = fields
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    let source = source
        .or_else(|| reference.map(str::to_owned))
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| NO_SOURCE.to_owned());
    Some(NewLead {
        trigger: trigger.to_owned(),
        source,
        missing: names(rules.missing(&fields)),
        fields,
        handed: false,
    })
}

/// Whether a lead decided into `queue` has reached sales: every required field given and
/// no screen keeping it out.
pub fn reaches_sales(rules: &LeadRules, missing: &[String], queue: &str) -> bool {
    missing.is_empty() && *rules.queue == *queue
}

/// The source of a lead no system named.
pub const NO_SOURCE: &str = "(none)";

fn names(list: Vec<Arc<str>>) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A ticket's lead and the rules it is judged by.
async fn lead_of<'r>(
    cx: &'r Ctx<'_>,
    record: &TicketRecord,
) -> Result<(LeadRecord, &'r LeadRules), DeskError> {
    let number = store::ticket_number(record.seq);
    let lead = cx
        .store
        .lead(record.id)
        .await?
        .ok_or_else(|| DeskError::Conflict(format!("ticket {number} is not a lead")))?;
    let rules = cx.rules.sla.lead.as_ref().ok_or_else(|| {
        DeskError::Conflict(format!(
            "ticket {number} is a lead, but the rules in force have no [lead]"
        ))
    })?;
    Ok((lead, rules))
}

/// A lead whose ticket is open and whose outcome is not recorded yet, at the version the
/// caller saw.
async fn undecided<'r>(
    cx: &'r Ctx<'_>,
    key: &str,
    expected: &Expected,
) -> Result<(TicketRecord, LeadRecord, &'r LeadRules), DeskError> {
    let record = super::ticket(cx, key, expected).await?;
    ensure_not_closed(&record)?;
    let (lead, rules) = lead_of(cx, &record).await?;
    if let Some(o) = &lead.outcome {
        return Err(DeskError::Conflict(format!(
            "sales recorded the outcome \"{o}\" for lead {} already; a lead that is ready again comes as a new event",
            store::ticket_number(record.seq)
        )));
    }
    Ok((record, lead, rules))
}

/// A ticket's lead.
pub async fn get(cx: &Ctx<'_>, key: &str) -> Result<(TicketRecord, LeadRecord), DeskError> {
    let record = super::ticket(cx, key, &Expected(None)).await?;
    let lead = cx.store.lead(record.id).await?.ok_or_else(|| {
        DeskError::NotFound(format!(
            "ticket {} is not a lead",
            store::ticket_number(record.seq)
        ))
    })?;
    Ok((record, lead))
}

/// What marketing adds to a lead before handing it over again.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverInput {
    /// Fields to set (a blank value removes one), e.g. `{"budget": "20,000 EUR"}`.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Where the lead came from, when it is to change.
    pub source: Option<String>,
}

/// Adds fields to a lead; once every required field is given, it goes to sales (screened
/// like any task: a competitor's complete lead goes to review, and has not reached sales).
/// A required field cannot be taken away once the lead is with sales.
pub async fn handover(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
    actor: &Actor,
    input: HandoverInput,
) -> Result<(TicketRecord, LeadRecord), DeskError> {
    let (record, mut lead, rules) = undecided(cx, key, expected).await?;
    let number = store::ticket_number(record.seq);
    if input.fields.is_empty() && input.source.is_none() {
        return Err(DeskError::invalid(
            "fields",
            "name the fields to add (or a source)",
        ));
    }
    let mut fields = store::fields_of(&lead);
    for (k, v) in input.fields {
        if !v.trim().is_empty() {
            fields.insert(k, v);
            continue;
        }
        if lead.handed_at.is_some() && rules.requires.iter().any(|r| **r == *k) {
            return Err(DeskError::invalid(
                format!("fields.{k}"),
                format!(
                    "lead {number} is with {} already: {k} is required there and cannot be removed",
                    rules.queue
                ),
            ));
        }
        fields.remove(&k);
    }
    if let Some(s) = input.source.filter(|s| !s.trim().is_empty()) {
        lead.source = s;
    }
    let missing = names(rules.missing(&fields));
    lead.fields = serde_json::json!(fields);
    lead.missing = serde_json::json!(missing);
    let data = serde_json::json!({ "fields": fields, "missing": missing, "source": lead.source });
    if !missing.is_empty() || lead.handed_at.is_some() {
        let update = TicketUpdate {
            lead: Some(lead.clone()),
            events: vec![actor.event("lead.fields", data)],
            ..Default::default()
        };
        let updated = cx.store.update_ticket(&record, update, cx.now).await?;
        return Ok((updated, lead));
    }
    // Complete: its queue is decided again — sales, unless a screen keeps it out.
    let decided = conversation::redecide(cx, &record, Some(&lead))?;
    let kind = if reaches_sales(rules, &missing, &decided.decision.queue) {
        lead.handed_at = Some(cx.now);
        "lead.handed-over"
    } else {
        "lead.kept-out"
    };
    let event = actor.event(kind, data);
    let updated =
        conversation::store_redecided(cx, &record, actor, decided, Some(lead.clone()), vec![event])
            .await?;
    Ok((updated, lead))
}

/// What sales decided about a lead.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeInput {
    /// `accept`, `requalify` or `disqualify`.
    pub outcome: String,
    /// The opportunity in the CRM (accept).
    pub opportunity: Option<String>,
    /// Why: free text to requalify, one of the rules' `disqualify-reasons` to disqualify.
    pub reason: Option<String>,
}

/// Records sales' outcome: the lead is resolved (its resolution clock says whether in
/// time); a requalified lead goes back to marketing's queue with the reason.
pub async fn outcome(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
    actor: &Actor,
    input: OutcomeInput,
) -> Result<(TicketRecord, LeadRecord), DeskError> {
    let (record, mut lead, rules) = undecided(cx, key, expected).await?;
    let number = store::ticket_number(record.seq);
    if lead.handed_at.is_none() {
        let missing = store::missing_of(&lead);
        return Err(DeskError::Conflict(if missing.is_empty() {
            format!(
                "lead {number} never reached {}: it was kept out ({}), see its trace",
                rules.queue, record.queue
            )
        } else {
            format!(
                "lead {number} is with {} until it has {}: it never reached {}",
                rules.back_to,
                missing.join(", "),
                rules.queue
            )
        }));
    }
    let outcome = Outcome::parse(
        rules,
        input.outcome.trim(),
        input.opportunity.as_deref(),
        input.reason.as_deref(),
    )
    .map_err(|e| DeskError::invalid(e.field, e.detail))?;
    // Sales has acted on the lead: that is its first response (the call the trigger
    // promised), and the outcome resolves it.
    let acted = ClockChange {
        event: ClockEvent::AgentReply,
        kind: "lead.acted",
        actor: actor.clone(),
        data: serde_json::json!({ "outcome": outcome.name() }),
        status: None,
        message: None,
    };
    let mut change = conversation::status_change(cx, "resolved", actor)?;
    change.kind = "lead.outcome";
    change.data = serde_json::json!({
        "status": "resolved",
        "outcome": outcome.name(),
        "reason": outcome.reason(),
        "opportunity": outcome.opportunity(),
    });
    let (clocks, mut update) =
        conversation::clock_update(&cx.rules, cx.now, &record, vec![acted, change])?;
    // In time: the lead's resolution clock, now stopped, is met.
    lead.within_sla = clocks
        .clocks
        .iter()
        .rev()
        .find(|c| c.metric == Metric::Resolution)
        .and_then(|c| c.met);
    lead.outcome = Some(outcome.name().to_owned());
    lead.reason = outcome.reason().map(str::to_owned);
    lead.opportunity = outcome.opportunity().map(str::to_owned);
    lead.outcome_at = Some(cx.now);
    lead.outcome_by = Some(actor.author().to_owned());
    update.lead = Some(lead.clone());
    if let Outcome::Requalify { reason } = &outcome {
        let mut trace = record.trace.clone();
        trace["queue"] = serde_json::to_value(requalified(rules, actor.author(), reason))
            .map_err(store::StoreError::from)?;
        update.queue = Some(rules.back_to.to_string());
        update.trace = Some(trace);
    }
    let updated = cx.store.update_ticket(&record, update, cx.now).await?;
    cx.wake_assigner();
    Ok((updated, lead))
}

/// The stored lead as the report reads it.
fn facts(l: &LeadRecord) -> LeadFacts {
    LeadFacts {
        trigger: l.trigger.clone(),
        source: l.source.clone(),
        complete: store::missing_of(l).is_empty(),
        handed_at: l.handed_at,
        outcome: l.outcome.clone(),
        reason: l.reason.clone(),
        outcome_at: l.outcome_at,
        within_sla: l.within_sla,
    }
}

/// The period a lead report or export covers: `[from, to)`, the last 30 days by default.
pub fn period(
    cx: &Ctx<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DeskError> {
    let to = to.unwrap_or(cx.now);
    let from = from.unwrap_or(to - chrono::Duration::days(30));
    if from >= to {
        return Err(DeskError::invalid("from", "from must be before to"));
    }
    Ok((from, to))
}

/// The leads created in the period, per trigger or source.
pub async fn report(
    cx: &Ctx<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: Option<&str>,
) -> Result<Vec<LeadRow>, DeskError> {
    let name = group_by.unwrap_or("trigger");
    let group = LeadGroup::parse(name).ok_or_else(|| {
        DeskError::invalid(
            "group_by",
            format!("cannot group leads by \"{name}\" (use trigger or source)"),
        )
    })?;
    let leads = cx.store.leads_created(from, to).await?;
    let facts: Vec<LeadFacts> = leads.iter().map(facts).collect();
    Ok(lead::report(&facts, group))
}

/// One lead of the export: what upstream lead scoring learns from.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ExportRow {
    pub ticket: String,
    /// The reporting system's id of the event that made the lead.
    pub event: Option<String>,
    pub organisation: Option<String>,
    /// The contact's e-mail address.
    pub contact: Option<String>,
    pub created_at: DateTime<Utc>,
    pub trigger: String,
    pub source: String,
    /// Required fields missing (while marketing holds it).
    pub missing: Vec<String>,
    pub handed_at: Option<DateTime<Utc>>,
    /// `accept`, `requalify`, `disqualify`; none while open.
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub opportunity: Option<String>,
    pub outcome_at: Option<DateTime<Utc>>,
    pub outcome_by: Option<String>,
    pub minutes_to_outcome: Option<i64>,
    pub within_sla: Option<bool>,
}

/// Every lead created in the period, oldest first.
pub async fn export(
    cx: &Ctx<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ExportRow>, DeskError> {
    let leads = cx.store.leads_created(from, to).await?;
    let tickets = cx
        .store
        .lead_tickets(leads.iter().map(|l| l.ticket_id).collect())
        .await?;
    Ok(leads
        .iter()
        .map(|l| ExportRow::of(l, tickets.get(&l.ticket_id).cloned().unwrap_or_default()))
        .collect())
}

impl ExportRow {
    /// A stored lead of ticket `t`.
    pub fn of(l: &LeadRecord, t: store::LeadTicket) -> ExportRow {
        ExportRow {
            ticket: store::ticket_number(t.seq),
            event: t.event,
            organisation: t.organisation,
            contact: t.email,
            created_at: l.created_at,
            trigger: l.trigger.clone(),
            source: l.source.clone(),
            missing: store::missing_of(l),
            handed_at: l.handed_at,
            outcome: l.outcome.clone(),
            reason: l.reason.clone(),
            opportunity: l.opportunity.clone(),
            outcome_at: l.outcome_at,
            outcome_by: l.outcome_by.clone(),
            minutes_to_outcome: facts(l).minutes_to_outcome(),
            within_sla: l.within_sla,
        }
    }
}

/// The export as CSV, a line per lead.
pub fn export_csv(rows: &[ExportRow]) -> String {
    use crate::sla::report::csv_field;
    let opt = |v: Option<&str>| v.map_or(String::new(), csv_field);
    let time = |t: Option<DateTime<Utc>>| t.map_or(String::new(), |t| t.to_rfc3339());
    let mut out = String::from(
        "ticket,event,organisation,contact,created_at,trigger,source,missing,handed_at,outcome,reason,opportunity,outcome_at,outcome_by,minutes_to_outcome,within_sla\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.ticket,
            opt(r.event.as_deref()),
            opt(r.organisation.as_deref()),
            opt(r.contact.as_deref()),
            r.created_at.to_rfc3339(),
            csv_field(&r.trigger),
            csv_field(&r.source),
            csv_field(&r.missing.join(" ")),
            time(r.handed_at),
            opt(r.outcome.as_deref()),
            opt(r.reason.as_deref()),
            opt(r.opportunity.as_deref()),
            time(r.outcome_at),
            opt(r.outcome_by.as_deref()),
            r.minutes_to_outcome
                .map_or(String::new(), |m| m.to_string()),
            r.within_sla.map_or(String::new(), |w| w.to_string()),
        ));
    }
    out
}
