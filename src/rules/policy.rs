//! The SLA policy of one ticket under the compiled rules: the facts a policy is chosen by,
//! gathered from the decision, the customer list and the queue the ticket is in.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::CompiledRules;
use crate::model::{Channel, Decision, Priority, Segment, Ticket, TimeWindow};
use crate::sla::{CalendarChoice, PolicyFacts, PolicySnapshot};

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
