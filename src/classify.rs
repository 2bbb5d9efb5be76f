//! Ticket + compiled rules → decision with a reason for every field.
//!
//! Semantics, as documented for service managers in the README:
//! 1. The sender's organisation is looked up in the customer list (e-mail domain, then phone).
//!    If it has a segment, that segment is final: a hospital is business-critical whatever
//!    it writes.
//! 2. Rules are tried in order (files by name, rules top to bottom). A rule matches when all
//!    its conditions hold. Each field takes its value from the first matching rule that sets
//!    it; later rules only fill fields still unset. Tags of all matching rules are collected.
//! 3. Unset fields fall back: segment → category's → `[defaults]`; priority and queue →
//!    category's → segment's → `[defaults]`; automation → category's.
//! 4. Guarantees: a business-critical ticket and a ticket of a category not marked
//!    automatable are never answered by a machine alone (automation at most semi-automated).
//! 5. The time window is the segment's per-channel window, else the channel's, else the
//!    segment's; `within_window` is judged in that window's calendar.

use std::sync::Arc;

use crate::model::{Automation, Decision, Reason, ReasonKind, Segment, Ticket, Trace};
use crate::rules::customers::e164;
use crate::rules::{CompiledRules, Cond, Customer};

/// One decision field while rules are applied: unset until a source decides it.
struct Slot<T>(Option<(T, Reason)>);

impl<T> Slot<T> {
    fn offer(&mut self, value: Option<T>, reason: &Reason) {
        if self.0.is_none() {
            if let Some(v) = value {
                self.0 = Some((v, reason.clone()));
            }
        }
    }

    fn or_else(self, fallback: impl FnOnce() -> (T, Reason)) -> (T, Reason) {
        self.0.unwrap_or_else(fallback)
    }
}

/// Decides segment, category, priority, window, automation, queue and tags for a ticket.
pub fn classify(rules: &CompiledRules, ticket: &Ticket) -> Decision {
    let email = ticket
        .from
        .email
        .as_deref()
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    let customer: Option<(&Customer, &'static str)> = email
        .as_deref()
        .and_then(|e| rules.customers.by_email(e).map(|c| (c, "e-mail domain")))
        .or_else(|| {
            let phone = e164(ticket.from.phone.as_deref()?, &rules.defaults.country_code)?;
            rules
                .customers
                .by_phone(&phone)
                .map(|c| (c, "phone number"))
        });

    let detected = rules.language.detect(&ticket.subject, &ticket.body);
    let (language, language_reason) = match detected {
        Some(code) => (
            code.clone(),
            Reason {
                by: ReasonKind::Detected,
                rule: None,
                at: None,
                why: "detected from subject and body".into(),
            },
        ),
        None => rules.defaults.language.clone(),
    };

    // One scan per text field for all rules' patterns.
    let subject_hits = rules.subject_set.matches(&ticket.subject);
    let body_hits = rules.body_set.matches(&ticket.body);
    let sender_hits = match &email {
        Some(e) if !rules.sender_globs.is_empty() => rules.sender_globs.matches(e.as_str()),
        _ => Vec::new(),
    };
    let mut arrived: [Option<bool>; 4] = [None; 4];
    let mut arrived_in = |w: crate::model::TimeWindow| -> bool {
        *arrived[w.index()].get_or_insert_with(|| {
            rules.windows[w.index()]
                .calendar
                .is_open(ticket.received_at)
        })
    };

    let mut segment = Slot(None);
    if let Some((c, how)) = customer {
        if let Some(s) = c.segment {
            segment.0 = Some((
                s,
                Reason {
                    by: ReasonKind::Customer,
                    rule: None,
                    at: Some(c.at.clone()),
                    why: format!("{} is a {s} customer (found by {how})", c.name).into(),
                },
            ));
        }
    }
    let mut category = Slot(None);
    let mut priority = Slot(None);
    let mut automation = Slot(None);
    let mut queue = Slot(None);
    let mut tags: Vec<Arc<str>> = Vec::new();
    let mut matched = Vec::new();

    for rule in &rules.rules {
        let holds = rule.conds.iter().all(|cond| match cond {
            Cond::Channel(mask) => mask & (1 << ticket.channel.index()) != 0,
            Cond::Sender(globs) => globs.iter().any(|g| sender_hits.contains(g)),
            Cond::Pattern { subject, body } => {
                subject.is_some_and(|i| subject_hits.matched(i))
                    || body.is_some_and(|i| body_hits.matched(i))
            }
            Cond::Organisation(names) => customer.is_some_and(|(c, _)| names.contains(&c.name)),
            Cond::CustomerTag(wanted) => {
                customer.is_some_and(|(c, _)| c.tags.iter().any(|t| wanted.contains(t)))
            }
            Cond::KnownCustomer(known) => customer.is_some() == *known,
            Cond::Language(langs) => langs.contains(&language),
            Cond::ArrivedIn(w) => arrived_in(*w),
            Cond::ArrivedOutside(w) => !arrived_in(*w),
        });
        if !holds {
            continue;
        }
        matched.push(rule.id.clone());
        let r = &rule.reason;
        segment.offer(rule.set.segment, r);
        category.offer(rule.set.category.clone(), r);
        priority.offer(rule.set.priority, r);
        automation.offer(rule.set.automation, r);
        queue.offer(rule.set.queue.clone(), r);
        for t in &rule.set.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
    }

    let (category, category_reason) = category.or_else(|| rules.defaults.category.clone());
    let cat = rules.categories.get(&category);
    let (segment, segment_reason) = segment.or_else(|| {
        cat.and_then(|c| c.segment.clone())
            .unwrap_or_else(|| rules.defaults.segment.clone())
    });
    let seg = &rules.segments[segment.index()];
    let (priority, priority_reason) = priority.or_else(|| {
        cat.and_then(|c| c.priority.clone())
            .or_else(|| seg.priority.clone())
            .unwrap_or_else(|| rules.defaults.priority.clone())
    });
    let (queue, queue_reason) = queue.or_else(|| {
        cat.and_then(|c| c.queue.clone())
            .or_else(|| seg.queue.clone())
            .unwrap_or_else(|| rules.defaults.queue.clone())
    });
    let (wanted, wanted_reason) = automation.or_else(|| match cat {
        Some(c) => c.automation.clone(),
        None => (Automation::Human, rules.defaults.category.1.clone()),
    });
    let (automation, automation_reason) = cap_automation(
        wanted,
        wanted_reason,
        segment,
        cat.is_some_and(|c| c.automatable),
        &category,
    );

    let (time_window, window_reason) = seg.channel_windows[ticket.channel.index()]
        .clone()
        .or_else(|| rules.channel_windows[ticket.channel.index()].clone())
        .unwrap_or_else(|| seg.window.clone());
    let within_window = arrived_in(time_window);
    let window = &rules.windows[time_window.index()];
    let within_reason = if within_window {
        window.inside.clone()
    } else {
        window.outside.clone()
    };

    let organisation = customer.map(|(c, how)| {
        (
            c.name.clone(),
            Reason {
                by: ReasonKind::Customer,
                rule: None,
                at: Some(c.at.clone()),
                why: format!("found in the customer list by {how}").into(),
            },
        )
    });

    Decision {
        segment,
        category,
        priority,
        time_window,
        within_window,
        automation,
        queue,
        tags,
        language,
        organisation: organisation.as_ref().map(|(n, _)| n.clone()),
        rules_version: rules.version.clone(),
        trace: Trace {
            segment: segment_reason,
            category: category_reason,
            priority: priority_reason,
            time_window: window_reason,
            within_window: within_reason,
            automation: automation_reason,
            queue: queue_reason,
            language: language_reason,
            organisation: organisation.map(|(_, r)| r),
            matched_rules: matched,
        },
    }
}

/// Applies the product's guarantees to the automation level the rules allowed.
fn cap_automation(
    wanted: Automation,
    reason: Reason,
    segment: Segment,
    automatable: bool,
    category: &str,
) -> (Automation, Reason) {
    let why = if segment == Segment::BusinessCritical {
        "business-critical tickets are never answered by a machine alone"
    } else if !automatable {
        "its category is not marked automatable"
    } else {
        return (wanted, reason);
    };
    let capped = wanted.min(Automation::SemiAutomated);
    if capped == wanted {
        return (wanted, reason);
    }
    (
        capped,
        Reason {
            by: ReasonKind::Cap,
            rule: reason.rule,
            at: reason.at,
            why: format!(
                "lowered from {wanted} to {capped}: {why} (category {category}); allowed by: {}",
                reason.why
            )
            .into(),
        },
    )
}
