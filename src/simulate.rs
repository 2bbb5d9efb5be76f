//! A rules change tried on past tickets: each ticket is decided again as it arrived, under
//! the current and under the candidate rules, and the differences are counted per field, as
//! from → to transitions with a few examples (both traces), and as the attainment the
//! recorded first responses and resolutions would have had under each side's due times.
//!
//! Pure: the caller streams tickets in ([`Diff::add`]) and merges partial diffs of parallel
//! workers ([`Diff::merge`]); memory is bounded by the number of distinct transitions, not
//! by the history.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::classify::classify;
use crate::faq::{FaqIndex, Hit};
use crate::model::{Automation, Decision, Reason, Ticket};
use crate::rules::{CompiledRules, SlaPlan, SlaSubject};

/// Examples kept per transition.
pub const EXAMPLES: usize = 3;
/// Distinct transitions kept per field; the rest are counted under `other`.
pub const TRANSITIONS: usize = 200;

/// The fields compared, in report order.
pub const FIELDS: [&str; 12] = [
    "segment",
    "category",
    "priority",
    "time_window",
    "automation",
    "queue",
    "tags",
    "sla_policy",
    "first_response_due",
    "resolution_due",
    "faq",
    "language",
];

/// A past ticket as the diff needs it.
pub struct Past {
    pub number: String,
    pub ticket: Ticket,
    /// The queue a person chose (a transfer): kept on both sides, reported apart.
    pub queue_by_person: Option<Arc<str>>,
    /// The queue and automation the mail rules gave (noise, spam): kept on both sides.
    pub mail_verdict: Option<(Arc<str>, Automation)>,
    pub assigned: bool,
    /// When the first response and the resolution were recorded, with the business seconds
    /// their clocks were paused.
    pub first_response: Option<Stop>,
    pub resolution: Option<Stop>,
}

/// A recorded moment that stopped a clock.
#[derive(Clone, Copy, Debug)]
pub struct Stop {
    pub at: DateTime<Utc>,
    pub paused_secs: i64,
}

/// What to decide again besides the classification.
#[derive(Clone, Copy, Debug)]
pub struct Scope {
    pub sla: bool,
    pub faq: bool,
}

/// One side's decision of one ticket.
pub struct Replayed {
    pub decision: Decision,
    pub sla: Option<SlaPlan>,
    pub faq: Option<(String, String)>,
}

/// One ticket's FAQ search, shared by both sides of a replay: what is found depends only
/// on the text and the language, so the second side searches again only when its language
/// differs (and not at all when people answer the ticket anyway).
pub struct FaqLookup<'a> {
    index: &'a FaqIndex,
    found: Option<(Arc<str>, Vec<Hit>)>,
}

impl<'a> FaqLookup<'a> {
    pub fn new(index: &'a FaqIndex) -> FaqLookup<'a> {
        FaqLookup { index, found: None }
    }

    fn hits(&mut self, ticket: &Ticket, d: &Decision) -> &[Hit] {
        if d.automation == Automation::Human {
            return &[];
        }
        if self
            .found
            .as_ref()
            .is_none_or(|(lang, _)| *lang != d.language)
        {
            let hits = crate::faq::answer::search(self.index, ticket, d);
            self.found = Some((d.language.clone(), hits));
        }
        self.found.as_ref().map_or(&[], |(_, h)| h.as_slice())
    }
}

/// Decides a past ticket again under `rules`, keeping what people and the mail rules decided.
pub fn replay(
    rules: &CompiledRules,
    past: &Past,
    scope: Scope,
    faq: Option<&mut FaqLookup>,
) -> Replayed {
    let mut d = classify(rules, &past.ticket);
    if let Some(q) = &past.queue_by_person {
        d.queue = q.clone();
    }
    if let Some((q, a)) = &past.mail_verdict {
        d.queue = q.clone();
        d.automation = *a;
    }
    let sla = if scope.sla {
        rules.sla_plan(&SlaSubject::of(&past.ticket, &d))
    } else {
        None
    };
    let faq = match (scope.faq, faq) {
        (true, Some(lookup)) => {
            let r = crate::faq::answer::decide_on(lookup.hits(&past.ticket, &d), &rules.faq, &d);
            let what = match &r.article {
                Some(a) => format!("{} {a}", r.mode),
                None => r.mode.clone(),
            };
            Some((what, r.reason))
        }
        _ => None,
    };
    Replayed {
        decision: d,
        sla,
        faq,
    }
}

/// One side of an example: the value and why.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Side {
    pub value: String,
    pub why: String,
    /// The rule or policy and its `file:line`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

/// A ticket that moved, with both traces of the field.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Example {
    pub ticket: String,
    pub subject: String,
    pub current: Side,
    pub candidate: Side,
}

/// How many tickets went from one value to another, with examples.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Transition {
    pub count: u64,
    pub examples: Vec<Example>,
}

/// The changes of one field.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct FieldDiff {
    pub changed: u64,
    /// `from → to`, most frequent first in the report.
    pub transitions: BTreeMap<String, Transition>,
}

impl FieldDiff {
    /// The transition `key` counts under, or `other` once [`TRANSITIONS`] are kept.
    fn transition(&mut self, key: String) -> &mut Transition {
        let key = if self.transitions.len() >= TRANSITIONS && !self.transitions.contains_key(&key) {
            "other".to_owned()
        } else {
            key
        };
        self.transitions.entry(key).or_default()
    }
}

/// Met and measured recorded moments of one metric, under each side's due times.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Attainment {
    /// Tickets whose clock stopped at a recorded moment and that have a target on that side.
    pub current_measured: u64,
    pub current_met: u64,
    pub candidate_measured: u64,
    pub candidate_met: u64,
}

/// Attainment per metric of one group.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct GroupAttainment {
    pub first_response: Attainment,
    pub resolution: Attainment,
}

/// Per side: tickets counted by a value (automation level, queue).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub current: BTreeMap<String, u64>,
    pub candidate: BTreeMap<String, u64>,
}

/// The whole comparison, streamed.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Diff {
    pub tickets: u64,
    /// Tickets with at least one field changed.
    pub changed: u64,
    pub fields: BTreeMap<&'static str, FieldDiff>,
    /// What people decided and the diff kept on both sides.
    pub kept: Kept,
    /// Per `segment/channel` (the current side's segment).
    pub attainment: BTreeMap<String, GroupAttainment>,
    pub automation: Counts,
    pub queues: Counts,
}

/// Decisions the diff does not overwrite.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Kept {
    /// Tickets whose queue an agent chose by a transfer.
    pub queue_by_person: u64,
    /// Tickets the mail rules put in the noise or review queue.
    pub mail_verdict: u64,
    /// Tickets an agent was assigned to (assignment is not a rules decision).
    pub assigned: u64,
}

fn side(value: String, r: &Reason) -> Side {
    Side {
        value,
        why: r.why.to_string(),
        rule: r.rule.as_deref().map(str::to_owned),
        at: r.at.as_deref().map(str::to_owned),
    }
}

fn plain(value: String, why: &str, rule: Option<&str>, at: Option<&str>) -> Side {
    Side {
        value,
        why: why.to_owned(),
        rule: rule.map(str::to_owned),
        at: at.map(str::to_owned),
    }
}

fn due_side(plan: &Option<SlaPlan>, due: fn(&SlaPlan) -> Option<DateTime<Utc>>) -> Side {
    match plan {
        Some(p) => plain(
            due(p).map_or("none".into(), |t| t.to_rfc3339()),
            &format!("policy {} in calendar {}", p.policy, p.calendar),
            Some(&p.policy),
            Some(&p.policy_at),
        ),
        None => plain("none".into(), "no policy applies", None, None),
    }
}

/// `from → to` of a due time: how it moved rather than the two instants.
fn due_transition(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) if a == b => None,
        (None, None) => None,
        (Some(a), Some(b)) => {
            let minutes = (b - a).num_minutes();
            let size = if minutes.abs() <= 60 {
                "≤ 1 h"
            } else if minutes.abs() <= 8 * 60 {
                "≤ 8 h"
            } else {
                "> 8 h"
            };
            Some(format!(
                "due → {} {size}",
                if minutes < 0 { "earlier" } else { "later" }
            ))
        }
        (Some(_), None) => Some("due → none".into()),
        (None, Some(_)) => Some("none → due".into()),
    }
}

/// Whether a recorded stop is within `plan`'s due time for `metric`, its pauses added.
fn met(
    rules: &CompiledRules,
    plan: &SlaPlan,
    stop: &Stop,
    received_at: DateTime<Utc>,
    metric: crate::sla::Metric,
) -> Option<bool> {
    let target = plan.targets[metric.index()]?;
    let due = crate::sla::due_after(
        &rules.calendars,
        &plan.calendar,
        received_at,
        i64::from(target) * 60 + stop.paused_secs.max(0),
    )?;
    Some(stop.at <= due)
}

impl Diff {
    /// Adds one ticket decided on both sides.
    pub fn add(
        &mut self,
        past: &Past,
        rules: (&CompiledRules, &CompiledRules),
        current: &Replayed,
        candidate: &Replayed,
    ) {
        self.tickets += 1;
        self.kept.queue_by_person += past.queue_by_person.is_some() as u64;
        self.kept.mail_verdict += past.mail_verdict.is_some() as u64;
        self.kept.assigned += past.assigned as u64;
        let (a, b) = (&current.decision, &candidate.decision);
        let mut changed = false;
        let mut note =
            |field: &'static str, from: String, to: String, sides: &dyn Fn() -> (Side, Side)| {
                if from == to {
                    return;
                }
                changed = true;
                let f = self.fields.entry(field).or_default();
                f.changed += 1;
                let t = f.transition(format!("{from} → {to}"));
                t.count += 1;
                if t.examples.len() < EXAMPLES {
                    let (current, candidate) = sides();
                    t.examples.push(Example {
                        ticket: past.number.clone(),
                        subject: past.ticket.subject.chars().take(80).collect(),
                        current,
                        candidate,
                    });
                }
            };
        macro_rules! field {
            ($name:literal, $value:expr, $reason:ident) => {{
                let (va, vb) = ($value(a), $value(b));
                note($name, va.clone(), vb.clone(), &|| {
                    (
                        side(va.clone(), &a.trace.$reason),
                        side(vb.clone(), &b.trace.$reason),
                    )
                });
            }};
        }
        field!("segment", |d: &Decision| d.segment.to_string(), segment);
        field!("category", |d: &Decision| d.category.to_string(), category);
        field!("priority", |d: &Decision| d.priority.to_string(), priority);
        field!(
            "time_window",
            |d: &Decision| d.time_window.to_string(),
            time_window
        );
        field!(
            "automation",
            |d: &Decision| d.automation.to_string(),
            automation
        );
        field!("queue", |d: &Decision| d.queue.to_string(), queue);
        field!("language", |d: &Decision| d.language.to_string(), language);
        let tags = |d: &Decision| {
            let mut t: Vec<&str> = d.tags.iter().map(|t| &**t).collect();
            t.sort_unstable();
            format!("[{}]", t.join(", "))
        };
        let (ta, tb) = (tags(a), tags(b));
        let rules_of = |d: &Decision| d.trace.matched_rules.join(", ");
        note("tags", ta.clone(), tb.clone(), &|| {
            (
                plain(
                    ta.clone(),
                    &format!("matched rules: {}", rules_of(a)),
                    None,
                    None,
                ),
                plain(
                    tb.clone(),
                    &format!("matched rules: {}", rules_of(b)),
                    None,
                    None,
                ),
            )
        });
        let policy =
            |p: &Option<SlaPlan>| p.as_ref().map_or("none".to_owned(), |p| p.policy.clone());
        let policy_side = |p: &Option<SlaPlan>| match p {
            Some(p) => plain(
                p.policy.clone(),
                &format!("first matching policy, calendar {}", p.calendar),
                Some(&p.policy),
                Some(&p.policy_at),
            ),
            None => plain("none".into(), "no policy applies", None, None),
        };
        note(
            "sla_policy",
            policy(&current.sla),
            policy(&candidate.sla),
            &|| (policy_side(&current.sla), policy_side(&candidate.sla)),
        );
        for (name, due) in [
            (
                "first_response_due",
                (|p: &SlaPlan| p.first_response_due) as fn(&SlaPlan) -> Option<DateTime<Utc>>,
            ),
            ("resolution_due", |p: &SlaPlan| p.resolution_due),
        ] {
            let (da, db) = (
                current.sla.as_ref().and_then(due),
                candidate.sla.as_ref().and_then(due),
            );
            if let Some(key) = due_transition(da, db) {
                let (from, to) = key
                    .split_once(" → ")
                    .map(|(f, t)| (f.to_owned(), t.to_owned()))
                    .unwrap_or_default();
                note(name, from, to, &|| {
                    (due_side(&current.sla, due), due_side(&candidate.sla, due))
                });
            }
        }
        if let (Some(fa), Some(fb)) = (&current.faq, &candidate.faq) {
            note("faq", fa.0.clone(), fb.0.clone(), &|| {
                (
                    plain(fa.0.clone(), &fa.1, None, None),
                    plain(fb.0.clone(), &fb.1, None, None),
                )
            });
        }
        self.changed += changed as u64;
        *self
            .automation
            .current
            .entry(a.automation.to_string())
            .or_default() += 1;
        *self
            .automation
            .candidate
            .entry(b.automation.to_string())
            .or_default() += 1;
        *self.queues.current.entry(a.queue.to_string()).or_default() += 1;
        *self
            .queues
            .candidate
            .entry(b.queue.to_string())
            .or_default() += 1;
        let group = format!("{}/{}", a.segment, past.ticket.channel);
        let g = self.attainment.entry(group).or_default();
        let received = past.ticket.received_at;
        for (metric, stop, slot) in [
            (
                crate::sla::Metric::FirstResponse,
                &past.first_response,
                &mut g.first_response,
            ),
            (
                crate::sla::Metric::Resolution,
                &past.resolution,
                &mut g.resolution,
            ),
        ] {
            let Some(stop) = stop else { continue };
            let met_on = |side: &Replayed, rules: &CompiledRules| {
                side.sla
                    .as_ref()
                    .and_then(|p| met(rules, p, stop, received, metric))
            };
            if let Some(ok) = met_on(current, rules.0) {
                slot.current_measured += 1;
                slot.current_met += ok as u64;
            }
            if let Some(ok) = met_on(candidate, rules.1) {
                slot.candidate_measured += 1;
                slot.candidate_met += ok as u64;
            }
        }
    }

    /// Adds another worker's diff (of other tickets).
    pub fn merge(&mut self, other: Diff) {
        self.tickets += other.tickets;
        self.changed += other.changed;
        self.kept.queue_by_person += other.kept.queue_by_person;
        self.kept.mail_verdict += other.kept.mail_verdict;
        self.kept.assigned += other.kept.assigned;
        for (name, f) in other.fields {
            let mine = self.fields.entry(name).or_default();
            mine.changed += f.changed;
            for (key, t) in f.transitions {
                let m = mine.transition(key);
                m.count += t.count;
                for e in t.examples {
                    if m.examples.len() < EXAMPLES {
                        m.examples.push(e);
                    }
                }
            }
        }
        for (g, a) in other.attainment {
            let m = self.attainment.entry(g).or_default();
            for (x, y) in [
                (&mut m.first_response, a.first_response),
                (&mut m.resolution, a.resolution),
            ] {
                x.current_measured += y.current_measured;
                x.current_met += y.current_met;
                x.candidate_measured += y.candidate_measured;
                x.candidate_met += y.candidate_met;
            }
        }
        for (mine, theirs) in [
            (&mut self.automation, other.automation),
            (&mut self.queues, other.queues),
        ] {
            for (k, v) in theirs.current {
                *mine.current.entry(k).or_default() += v;
            }
            for (k, v) in theirs.candidate {
                *mine.candidate.entry(k).or_default() += v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Channel, Sender};
    use crate::rules::fixture::with_rules;

    fn rules(first_response: &str) -> CompiledRules {
        with_rules(&format!(
            "[[policy]]\nid = \"office\"\nfirst-response = \"{first_response}\"\nresolution = \"8h\"\n"
        ))
        .unwrap()
        .rules
    }

    fn past(
        n: u32,
        received: &str,
        responded: Option<&str>,
        resolved: Option<(&str, i64)>,
    ) -> Past {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        Past {
            number: format!("T-{n:06}"),
            ticket: Ticket {
                channel: Channel::Email,
                subject: format!("Frage {n}"),
                body: "Eine Frage.".into(),
                from: Sender::default(),
                received_at: t(received),
            },
            queue_by_person: None,
            mail_verdict: None,
            assigned: false,
            first_response: responded.map(|at| Stop {
                at: t(at),
                paused_secs: 0,
            }),
            resolution: resolved.map(|(at, paused_secs)| Stop {
                at: t(at),
                paused_secs,
            }),
        }
    }

    #[test]
    fn projected_attainment_counts_recorded_moments_against_each_sides_due_times() {
        // Office hours 08:00-17:00 Vienna (UTC+1), Monday 2026-11-23.
        let history = [
            // 08:00 → 09:30: 90 minutes, within 2 h, not within 1 h.
            past(
                1,
                "2026-11-23T07:00:00Z",
                Some("2026-11-23T08:30:00Z"),
                None,
            ),
            // 10:00 → 10:30: within both.
            past(
                2,
                "2026-11-23T09:00:00Z",
                Some("2026-11-23T09:30:00Z"),
                None,
            ),
            // 16:30 → Tuesday 08:45: 30 + 45 business minutes, within 2 h, not within 1 h.
            past(
                3,
                "2026-11-23T15:30:00Z",
                Some("2026-11-24T07:45:00Z"),
                None,
            ),
            // Resolved after 9 business hours of which 2 waited for the customer: the 8 h
            // target plus the 2 h pause is due Tuesday 09:00, so it is met.
            past(
                4,
                "2026-11-23T07:00:00Z",
                None,
                Some(("2026-11-23T16:00:00Z", 7200)),
            ),
            // The same without the pause: due Monday 16:00, breached.
            past(
                5,
                "2026-11-23T07:00:00Z",
                None,
                Some(("2026-11-23T16:00:00Z", 0)),
            ),
        ];
        let (now, cand) = (rules("2h"), rules("1h"));
        let scope = Scope {
            sla: true,
            faq: false,
        };
        let mut diff = Diff::default();
        for p in &history {
            let a = replay(&now, p, scope, None);
            let b = replay(&cand, p, scope, None);
            diff.add(p, (&now, &cand), &a, &b);
        }
        let g = diff.attainment["administrative/email"];
        assert_eq!(
            g.first_response,
            Attainment {
                current_measured: 3,
                current_met: 3,
                candidate_measured: 3,
                candidate_met: 1
            }
        );
        assert_eq!(
            g.resolution,
            Attainment {
                current_measured: 2,
                current_met: 1,
                candidate_measured: 2,
                candidate_met: 1
            }
        );
        // Every ticket's first-response due moves earlier; the policy and the rest stay.
        assert_eq!(diff.changed, 5);
        assert_eq!(diff.fields["first_response_due"].changed, 5);
        assert!(!diff.fields.contains_key("sla_policy"));
        assert!(!diff.fields.contains_key("resolution_due"));

        // Split over two workers and merged: the same report.
        let (mut left, mut right) = (Diff::default(), Diff::default());
        for (i, p) in history.iter().enumerate() {
            let part = if i % 2 == 0 { &mut left } else { &mut right };
            part.add(
                p,
                (&now, &cand),
                &replay(&now, p, scope, None),
                &replay(&cand, p, scope, None),
            );
        }
        left.merge(right);
        assert_eq!(left.attainment, diff.attainment);
        assert_eq!(left.changed, diff.changed);
        assert_eq!(left.fields["first_response_due"].changed, 5);
    }
}
