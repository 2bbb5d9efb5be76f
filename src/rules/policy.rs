//! The SLA policy of one ticket under the compiled rules: the facts a policy is chosen by,
//! gathered from the decision, the customer list and the queue the ticket is in.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use serde::Serialize;

use super::CompiledRules;
use crate::model::{Channel, Decision, Priority, Segment, Ticket, TimeWindow};
use crate::sla::{CalendarChoice, Metric, PolicyFacts, PolicySnapshot};

/// The service level a new ticket gets: its policy, where it is written, the calendar it
/// counts in and the due times counted from arrival (before any pause).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlaPlan {
    pub policy: String,
    pub policy_at: String,
    pub calendar: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_at: Option<String>,
    pub first_response_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    /// Target minutes, indexed by [`Metric::index`] (what the due times count).
    #[serde(skip)]
    pub targets: [Option<u32>; 3],
}

/// What a ticket's service level depends on, whether it comes from a fresh decision or
/// from a stored ticket that moved to another queue.
pub struct SlaSubject<'a> {
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub segment: Segment,
    pub priority: Priority,
    pub category: &'a str,
    pub tags: &'a [Arc<str>],
    pub time_window: TimeWindow,
    pub organisation: Option<&'a str>,
    pub queue: &'a str,
}

impl<'a> SlaSubject<'a> {
    /// A classified ticket, in the queue its decision names.
    pub fn of(ticket: &Ticket, d: &'a Decision) -> SlaSubject<'a> {
        SlaSubject {
            channel: ticket.channel,
            received_at: ticket.received_at,
            segment: d.segment,
            priority: d.priority,
            category: &d.category,
            tags: &d.tags,
            time_window: d.time_window,
            organisation: d.organisation.as_deref(),
            queue: &d.queue,
        }
    }
}

impl CompiledRules {
    /// The first policy that matches, as the clocks keep it, counting in the calendar it
    /// names: its own, the organisation's (`calendar = "customer"`) or the time window's.
    pub fn policy_for(&self, s: &SlaSubject) -> Option<PolicySnapshot> {
        let customer = s.organisation.and_then(|o| self.customers.get(o));
        let facts = PolicyFacts {
            segment: s.segment,
            priority: s.priority,
            channel: s.channel,
            category: s.category,
            tags: s.tags,
            received_at: s.received_at,
            organisation: s.organisation,
            customer_tags: customer.map_or(&[], |c| &c.tags[..]),
            potential: customer.and_then(|c| c.potential),
            queue: s.queue,
        };
        let policy = self.sla.select(&facts)?;
        let own = customer.and_then(|c| {
            let cal = self.calendars.get(c.calendar.as_deref()?)?;
            Some((&**cal, &*c.at))
        });
        Some(policy.snapshot(&CalendarChoice {
            window: &self.windows[s.time_window.index()].calendar,
            customer: own,
        }))
    }
}

impl CompiledRules {
    /// The policy a subject gets and its due times from `received_at`; `None` when no
    /// policy applies. Pure: `triage classify --sla` and the rules diff use it.
    pub fn sla_plan(&self, s: &SlaSubject) -> Option<SlaPlan> {
        let p = self.policy_for(s)?;
        let due = |m: Metric| {
            let minutes = p.targets[m.index()]?;
            crate::sla::due_after(
                &self.calendars,
                &p.calendar,
                s.received_at,
                i64::from(minutes) * 60,
            )
        };
        Some(SlaPlan {
            first_response_due: due(Metric::FirstResponse),
            resolution_due: due(Metric::Resolution),
            targets: p.targets,
            policy: p.id,
            policy_at: p.at,
            calendar: p.calendar,
            calendar_at: p.calendar_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile::tests::{has, located};
    use crate::rules::compile_sources;
    use crate::rules::fixture::SERVICE;

    const CUSTOMERS: &str = "organisation,segment,domains,phones,tags,calendar
LKH,business-critical,lkh.example,,hospital,
Hudson Inc,commercial,hudson.example,,english,new-york
Shop GmbH,commercial,shop.example,,,
";

    const NEW_YORK: &str = r#"
[calendar.new-york]
timezone = "America/New_York"
hours = { mon-fri = ["09:00-17:00"] }
"#;

    fn compile(sla: &str, customers: &str) -> Result<crate::rules::Loaded, Vec<String>> {
        compile_with(NEW_YORK, sla, customers)
    }

    /// The fixture's service model with `calendars` added.
    fn compile_with(
        calendars: &str,
        sla: &str,
        customers: &str,
    ) -> Result<crate::rules::Loaded, Vec<String>> {
        let service = format!("{SERVICE}{calendars}");
        compile_sources(&[
            ("service.toml", &service),
            ("sla.toml", sla),
            ("customers.csv", customers),
        ])
        .map_err(|e| e.errors().map(located).collect())
    }

    const POLICIES: &str = r#"
[[policy]]
id = "hudson"
when = { organisation = "Hudson Inc", priority = "P1" }
first-response = "1h"
calendar = "customer"

[[policy]]
id = "hospitals"
when = { customer-tag = "hospital" }
first-response = "30m"

[[policy]]
id = "billing-team"
when = { queue = "billing" }
first-response = "2h"

[[policy]]
id = "everyone"
first-response = "8h"
calendar = "customer"
"#;

    fn pick(
        rules: &CompiledRules,
        org: Option<&str>,
        priority: Priority,
        queue: &str,
    ) -> (String, String, Option<String>) {
        let s = SlaSubject {
            channel: Channel::Email,
            received_at: "2026-12-01T15:00:00Z".parse().unwrap(),
            segment: Segment::Commercial,
            priority,
            category: "general",
            tags: &[],
            time_window: TimeWindow::BusinessHours,
            organisation: org,
            queue,
        };
        let p = rules.policy_for(&s).expect("a policy applies");
        (p.id, p.calendar, p.calendar_at)
    }

    #[test]
    fn organisation_customer_tag_queue_and_the_customer_calendar() {
        let rules = compile(POLICIES, CUSTOMERS).unwrap().rules;
        let at = |id: &str, cal: &str, row: Option<&str>| {
            (id.to_owned(), cal.to_owned(), row.map(str::to_owned))
        };
        assert_eq!(
            pick(&rules, Some("Hudson Inc"), Priority::P1, "desk"),
            at("hudson", "new-york", Some("customers.csv:3"))
        );
        // Not P1: the catch-all, still in Hudson's own calendar.
        assert_eq!(
            pick(&rules, Some("Hudson Inc"), Priority::P3, "desk"),
            at("everyone", "new-york", Some("customers.csv:3"))
        );
        assert_eq!(
            pick(&rules, Some("LKH"), Priority::P3, "desk"),
            at("hospitals", "office", None)
        );
        assert_eq!(
            pick(&rules, Some("Shop GmbH"), Priority::P3, "billing"),
            at("billing-team", "office", None)
        );
        // No calendar of its own: the time window's.
        assert_eq!(
            pick(&rules, Some("Shop GmbH"), Priority::P3, "desk"),
            at("everyone", "office", None)
        );
        assert_eq!(
            pick(&rules, None, Priority::P1, "desk"),
            at("everyone", "office", None)
        );
    }

    #[test]
    fn unknown_names_are_errors_at_their_line() {
        let bad = r#"
[[policy]]
id = "a"
when = { organisation = "Nobody AG" }
first-response = "1h"

[[policy]]
id = "b"
when = { customer-tag = "vip" }
first-response = "1h"

[[policy]]
id = "c"
when = { queue = "nowhere" }
first-response = "1h"
"#;
        let errs = compile(bad, CUSTOMERS).unwrap_err();
        for needle in [
            "sla.toml:4: unknown organisation \"Nobody AG\"",
            "sla.toml:9: unknown customer tag \"vip\" (defined in the customer list: english, hospital)",
            "sla.toml:14: unknown queue \"nowhere\" (defined: billing, desk, major)",
        ] {
            assert!(has(&errs, needle), "{needle}: {errs:?}");
        }
        let customers = CUSTOMERS.replace("new-york", "tokyo");
        let errs = compile(POLICIES, &customers).unwrap_err();
        assert!(
            has(
                &errs,
                "customers.csv:3: unknown calendar \"tokyo\" for \"Hudson Inc\" (defined calendars: always, new-york, office)"
            ),
            "{errs:?}"
        );
    }

    fn policy_warnings(sla: &str) -> Vec<String> {
        compile(sla, CUSTOMERS)
            .unwrap()
            .warnings
            .iter()
            .map(located)
            .filter(|w| w.contains("can never apply"))
            .collect()
    }

    #[test]
    fn a_policy_earlier_ones_take_together_is_a_warning() {
        let segments = |segs: &[&str]| {
            segs.iter()
                .map(|s| format!("[[policy]]\nid = \"{s}\"\nwhen = {{ segment = \"{s}\" }}\nfirst-response = \"1h\"\n\n"))
                .collect::<String>()
        };
        let billing = "[[policy]]\nid = \"billing\"\nwhen = { category = \"billing\", tag = \"x\" }\nfirst-response = \"2h\"\n";
        // Administrative billing tickets still reach it.
        let two = segments(&["business-critical", "commercial"]);
        assert!(policy_warnings(&format!("{two}{billing}")).is_empty());
        let all = segments(&["business-critical", "commercial", "administrative"]);
        let warns = policy_warnings(&format!("{all}{billing}"));
        assert_eq!(warns.len(), 1, "{warns:?}");
        assert!(
            has(&warns, "sla.toml:16: policy \"billing\" can never apply: earlier policies \"business-critical\" (sla.toml:1), \"commercial\" (sla.toml:6), \"administrative\" (sla.toml:11)"),
            "{warns:?}"
        );
        // An earlier policy that needs a tag takes none of the tickets without it.
        let tagged = "[[policy]]\nid = \"tagged\"\nwhen = { tag = \"y\" }\nfirst-response = \"1h\"\n\n[[policy]]\nid = \"rest\"\nfirst-response = \"8h\"\n";
        assert!(policy_warnings(tagged).is_empty());
        let phone_then_rest = "[[policy]]\nid = \"phone\"\nwhen = { channel = \"phone\" }\nfirst-response = \"1h\"\n\n[[policy]]\nid = \"phone-p1\"\nwhen = { channel = \"phone\", priority = \"P1\" }\nfirst-response = \"8h\"\n";
        assert!(has(
            &policy_warnings(phone_then_rest),
            "policy \"phone-p1\" can never apply: earlier policy \"phone\""
        ));
    }

    #[test]
    fn a_calendar_cannot_take_the_reserved_name() {
        let reserved =
            "\n[calendar.customer]\ntimezone = \"UTC\"\nhours = { mon-fri = [\"09:00-17:00\"] }\n";
        let customers = CUSTOMERS.replace(",new-york", ",");
        let errs = compile_with(reserved, "", &customers).unwrap_err();
        assert!(
            has(&errs, "a calendar cannot be named \"customer\""),
            "{errs:?}"
        );
    }
}
