//! Leads handed to sales: which events make a lead, the information the handover needs,
//! the outcomes sales records, and the figures that tell marketing which activities make
//! good leads. Pure: the rules and the stored leads come in as plain data.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// `[lead]` of the rules.
#[derive(Clone, Debug, PartialEq)]
pub struct LeadRules {
    /// `file:line` of the table.
    pub at: Arc<str>,
    /// The event kinds whose tasks are leads.
    pub triggers: Vec<Arc<str>>,
    /// The fields a lead needs before sales takes it (need, time frame, budget, …).
    pub requires: Vec<Arc<str>>,
    /// Where a lead with every required field goes.
    pub queue: Arc<str>,
    /// Where a lead missing some goes back to.
    pub back_to: Arc<str>,
    /// The reasons sales may give for disqualifying a lead.
    pub disqualify_reasons: Vec<Arc<str>>,
}

impl LeadRules {
    pub fn is_lead(&self, trigger: &str) -> bool {
        self.triggers.iter().any(|t| &**t == trigger)
    }

    /// The required fields `fields` lacks (absent or blank), in the rules' order.
    pub fn missing(&self, fields: &BTreeMap<String, String>) -> Vec<Arc<str>> {
        self.requires
            .iter()
            .filter(|r| fields.get(&***r).is_none_or(|v| v.trim().is_empty()))
            .cloned()
            .collect()
    }
}

/// What sales decided about a lead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Taken on, as the opportunity of the CRM.
    Accept { opportunity: String },
    /// Not ready: back to marketing's nurturing, with why.
    Requalify { reason: String },
    /// Not a lead: one of the rules' reasons.
    Disqualify { reason: String },
}

/// A refused outcome: the field and what is wrong with it.
#[derive(Debug, PartialEq, Eq)]
pub struct OutcomeError {
    pub field: &'static str,
    pub detail: String,
}

impl Outcome {
    /// Reads an outcome as an agent gives it, checked against the rules.
    pub fn parse(
        rules: &LeadRules,
        outcome: &str,
        opportunity: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Outcome, OutcomeError> {
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let err = |field, detail: String| Err(OutcomeError { field, detail });
        // What belongs to another outcome is refused, not dropped.
        if outcome != "accept" && given(opportunity).is_some() {
            return err(
                "opportunity",
                format!("an opportunity belongs to an accepted lead, not to \"{outcome}\""),
            );
        }
        if outcome == "accept" && given(reason).is_some() {
            return err(
                "reason",
                "an accepted lead needs no reason; requalify and disqualify give one".into(),
            );
        }
        match outcome {
            "accept" => match given(opportunity) {
                Some(opportunity) => Ok(Outcome::Accept { opportunity }),
                None => err(
                    "opportunity",
                    "an accepted lead names its opportunity (the CRM's reference)".into(),
                ),
            },
            "requalify" => match given(reason) {
                Some(reason) => Ok(Outcome::Requalify { reason }),
                None => err("reason", "say why the lead goes back to marketing".into()),
            },
            "disqualify" => {
                let list = || {
                    rules
                        .disqualify_reasons
                        .iter()
                        .map(|r| &**r)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                match given(reason) {
                    Some(r) if rules.disqualify_reasons.iter().any(|x| **x == *r) => {
                        Ok(Outcome::Disqualify { reason: r })
                    }
                    Some(r) => err(
                        "reason",
                        format!(
                            "\"{r}\" is no reason of the rules' [lead] disqualify-reasons ({}) at {}",
                            list(),
                            rules.at
                        ),
                    ),
                    None => err(
                        "reason",
                        format!("a disqualified lead needs a reason: {}", list()),
                    ),
                }
            }
            other => err(
                "outcome",
                format!("unknown outcome \"{other}\" (accept, requalify or disqualify)"),
            ),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Accept { .. } => "accept",
            Outcome::Requalify { .. } => "requalify",
            Outcome::Disqualify { .. } => "disqualify",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Accept { .. } => None,
            Outcome::Requalify { reason } | Outcome::Disqualify { reason } => Some(reason),
        }
    }

    pub fn opportunity(&self) -> Option<&str> {
        match self {
            Outcome::Accept { opportunity } => Some(opportunity),
            _ => None,
        }
    }
}

/// A stored lead as the report reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct LeadFacts {
    pub trigger: String,
    pub source: String,
    /// Every required field given.
    pub complete: bool,
    pub handed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub outcome_at: Option<DateTime<Utc>>,
    pub within_sla: Option<bool>,
}

impl LeadFacts {
    /// Minutes from the handover to sales until the outcome.
    pub fn minutes_to_outcome(&self) -> Option<i64> {
        Some((self.outcome_at? - self.handed_at?).num_minutes())
    }
}

/// What the lead report groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeadGroup {
    Trigger,
    Source,
}

impl LeadGroup {
    pub fn parse(s: &str) -> Option<LeadGroup> {
        match s {
            "trigger" => Some(LeadGroup::Trigger),
            "source" => Some(LeadGroup::Source),
            _ => None,
        }
    }
}

/// The leads of one group: how many reached sales, what sales decided and how fast.
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LeadRow {
    pub group: String,
    pub leads: u64,
    /// Still with marketing: some required field missing.
    pub with_marketing: u64,
    /// Complete, but kept out of sales by a screen (a competitor's, a consultant's).
    pub kept_out: u64,
    /// Reached sales with every required field.
    pub handed_to_sales: u64,
    pub accepted: u64,
    pub requalified: u64,
    pub disqualified: u64,
    /// With sales, no outcome yet.
    pub open: u64,
    /// Accepted of the leads with an outcome, in percent.
    pub acceptance_rate: Option<f64>,
    /// Median minutes from the handover to the outcome (nearest rank).
    pub median_minutes_to_outcome: Option<i64>,
    /// Outcomes recorded within the lead's resolution target.
    pub within_sla: u64,
    /// Outcomes recorded after it.
    pub late: u64,
    /// Disqualified leads per reason.
    pub disqualify_reasons: BTreeMap<String, u64>,
}

/// The report rows of `leads` per group, in the groups' order.
pub fn report(leads: &[LeadFacts], group: LeadGroup) -> Vec<LeadRow> {
    let mut rows: BTreeMap<&str, (LeadRow, Vec<i64>)> = BTreeMap::new();
    for l in leads {
        let key = match group {
            LeadGroup::Trigger => &l.trigger,
            LeadGroup::Source => &l.source,
        };
        let (row, minutes) = rows.entry(key).or_default();
        row.leads += 1;
        if l.handed_at.is_none() {
            if l.complete {
                row.kept_out += 1;
            } else {
                row.with_marketing += 1;
            }
            continue;
        }
        row.handed_to_sales += 1;
        match l.outcome.as_deref() {
            Some("accept") => row.accepted += 1,
            Some("requalify") => row.requalified += 1,
            Some("disqualify") => {
                row.disqualified += 1;
                *row.disqualify_reasons
                    .entry(l.reason.clone().unwrap_or_default())
                    .or_default() += 1;
            }
            _ => row.open += 1,
        }
        match l.within_sla {
            Some(true) => row.within_sla += 1,
            Some(false) => row.late += 1,
            None => {}
        }
        minutes.extend(l.minutes_to_outcome());
    }
    rows.into_iter()
        .map(|(group, (mut row, mut minutes))| {
            row.group = group.to_owned();
            let decided = row.accepted + row.requalified + row.disqualified;
            row.acceptance_rate = crate::model::percent(row.accepted, decided);
            minutes.sort_unstable();
            row.median_minutes_to_outcome =
                (!minutes.is_empty()).then(|| minutes[(minutes.len() - 1) / 2]);
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> LeadRules {
        LeadRules {
            at: "sla.toml:9".into(),
            triggers: vec!["webinar-attended".into()],
            requires: vec!["need".into(), "budget".into()],
            queue: "sales".into(),
            back_to: "marketing".into(),
            disqualify_reasons: vec!["no-budget".into(), "competitor".into()],
        }
    }

    #[test]
    fn missing_fields_are_named_in_the_rules_order_and_blank_is_missing() {
        let r = rules();
        let mut f = BTreeMap::new();
        assert_eq!(
            r.missing(&f),
            ["need".into(), "budget".into()] as [Arc<str>; 2]
        );
        f.insert("budget".into(), "20k".into());
        f.insert("need".into(), "  ".into());
        assert_eq!(r.missing(&f), ["need".into()] as [Arc<str>; 1]);
        f.insert("need".into(), "backup".into());
        assert!(r.missing(&f).is_empty());
    }

    #[test]
    fn outcomes_need_their_reference_or_a_reason_from_the_list() {
        let r = rules();
        assert_eq!(
            Outcome::parse(&r, "accept", Some("OPP-1"), None),
            Ok(Outcome::Accept {
                opportunity: "OPP-1".into()
            })
        );
        assert_eq!(
            Outcome::parse(&r, "accept", Some(" "), None)
                .unwrap_err()
                .field,
            "opportunity"
        );
        assert_eq!(
            Outcome::parse(&r, "requalify", None, None)
                .unwrap_err()
                .field,
            "reason"
        );
        let e = Outcome::parse(&r, "disqualify", None, Some("too small")).unwrap_err();
        assert!(
            e.detail.contains("no-budget, competitor") && e.detail.contains("sla.toml:9"),
            "{e:?}"
        );
        assert_eq!(
            Outcome::parse(&r, "disqualify", None, Some("competitor"))
                .unwrap()
                .reason(),
            Some("competitor")
        );
        assert_eq!(
            Outcome::parse(&r, "won", None, None).unwrap_err().field,
            "outcome"
        );
        assert_eq!(
            Outcome::parse(&r, "disqualify", Some("OPP-1"), Some("competitor"))
                .unwrap_err()
                .field,
            "opportunity"
        );
        assert_eq!(
            Outcome::parse(&r, "accept", Some("OPP-1"), Some("great"))
                .unwrap_err()
                .field,
            "reason"
        );
    }

    #[test]
    fn the_report_counts_outcomes_acceptance_and_time_per_group() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let lead =
            |trigger: &str, outcome: Option<&str>, minutes: i64, within: Option<bool>| LeadFacts {
                trigger: trigger.into(),
                source: "newsletter".into(),
                complete: true,
                handed_at: Some(t0),
                outcome: outcome.map(str::to_owned),
                reason: (outcome == Some("disqualify")).then(|| "no-budget".into()),
                outcome_at: outcome.map(|_| t0 + chrono::Duration::minutes(minutes)),
                within_sla: within,
            };
        let mut leads = vec![
            lead("webinar-attended", Some("accept"), 60, Some(true)),
            lead("webinar-attended", Some("disqualify"), 600, Some(false)),
            lead("webinar-attended", Some("requalify"), 120, Some(true)),
            lead("webinar-attended", None, 0, None),
            lead("link-clicked", Some("disqualify"), 30, Some(true)),
        ];
        leads.push(LeadFacts {
            handed_at: None,
            complete: false,
            ..lead("link-clicked", None, 0, None)
        });
        leads.push(LeadFacts {
            handed_at: None,
            ..lead("link-clicked", None, 0, None)
        });
        let rows = report(&leads, LeadGroup::Trigger);
        let web = rows.iter().find(|r| r.group == "webinar-attended").unwrap();
        assert_eq!(
            (
                web.leads,
                web.handed_to_sales,
                web.accepted,
                web.requalified,
                web.disqualified,
                web.open
            ),
            (4, 4, 1, 1, 1, 1)
        );
        assert_eq!(web.acceptance_rate, crate::model::percent(1, 3));
        assert_eq!(web.median_minutes_to_outcome, Some(120));
        assert_eq!((web.within_sla, web.late), (2, 1));
        let link = rows.iter().find(|r| r.group == "link-clicked").unwrap();
        assert_eq!(
            (
                link.leads,
                link.with_marketing,
                link.kept_out,
                link.acceptance_rate
            ),
            (3, 1, 1, Some(0.0))
        );
        assert_eq!(link.disqualify_reasons.get("no-budget"), Some(&1));
        let by_source = report(&leads, LeadGroup::Source);
        assert_eq!(by_source.len(), 1);
        assert_eq!(by_source[0].leads, 7);
    }
}
