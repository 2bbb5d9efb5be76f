//! SLA policies as compiled from the rules files, and the choice of one for a ticket.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};

use super::PolicySnapshot;
use crate::calendar::Calendar;
use crate::model::{Channel, Priority, Reason, Segment, TimeWindow};

/// Whom a notification goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notify {
    /// The queue the ticket is in.
    TicketQueue,
    /// The agent the ticket is assigned to (`agent:NAME`), else its queue: who owes the
    /// follow-up.
    Owner,
    Queue(Arc<str>),
    Role(Arc<str>),
    Webhook(Arc<str>),
}

impl Notify {
    /// Parses `queue`, `owner`, `queue:NAME`, `role:NAME` or `webhook:NAME`.
    pub fn parse(text: &str) -> Option<Notify> {
        match text.split_once(':') {
            None if text == "queue" => Some(Notify::TicketQueue),
            None if text == "owner" => Some(Notify::Owner),
            Some(("queue", n)) if !n.is_empty() => Some(Notify::Queue(n.into())),
            Some(("role", n)) if !n.is_empty() => Some(Notify::Role(n.into())),
            Some(("webhook", n)) if !n.is_empty() => Some(Notify::Webhook(n.into())),
            _ => None,
        }
    }

    /// The concrete target for a ticket in `queue`, assigned to `assignee`.
    pub fn target(&self, queue: &str, assignee: Option<&str>) -> String {
        match self {
            Notify::TicketQueue => format!("queue:{queue}"),
            Notify::Owner => match assignee {
                Some(agent) => format!("agent:{agent}"),
                None => format!("queue:{queue}"),
            },
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notify::TicketQueue => f.write_str("queue"),
            Notify::Owner => f.write_str("owner"),
            Notify::Queue(n) => write!(f, "queue:{n}"),
            Notify::Role(n) => write!(f, "role:{n}"),
            Notify::Webhook(n) => write!(f, "webhook:{n}"),
        }
    }
}

/// An escalation level: how long after the breach, whom to tell, and whether it may go out
/// outside business hours (otherwise it waits for the next opening).
#[derive(Clone, Debug, PartialEq)]
pub struct Escalation {
    pub after_minutes: u32,
    pub notify: Vec<Notify>,
    pub outside_hours: bool,
}

/// Conditions of a policy; an empty list matches anything.
#[derive(Clone, Debug, Default)]
pub struct PolicyWhen {
    pub segment: Vec<Segment>,
    pub priority: Vec<Priority>,
    pub channel: Vec<Channel>,
    pub category: Vec<Arc<str>>,
    /// Any of these tags (triggers such as `referral`, set by classification rules).
    pub tag: Vec<Arc<str>>,
    /// Arrived while this window's calendar was open.
    pub arrived_in: Option<(TimeWindow, Arc<Calendar>)>,
    /// Arrived on one of these local weekdays (Monday = 0), in `arrived_on_tz`.
    pub arrived_on: Option<([bool; 7], chrono_tz::Tz)>,
    /// The ticket's organisation is one of these (names of the customer list).
    pub organisation: Vec<Arc<str>>,
    /// The organisation carries any of these tags in the customer list.
    pub customer_tag: Vec<Arc<str>>,
    /// The ticket is in one of these queues: a team's own targets (an operational level
    /// agreement), chosen again when the ticket moves to another queue.
    pub queue: Vec<Arc<str>>,
    /// The ticket was started by one of these triggers (`[trigger.KIND]`), whose tickets
    /// carry the tag `trigger:KIND`.
    pub trigger: Vec<Arc<str>>,
    /// The organisation has one of these potential classes in the customer list.
    pub potential: Vec<crate::model::Potential>,
}

/// What an event of one kind starts (`[trigger.KIND]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    pub kind: Arc<str>,
    /// `file:line` of its table.
    pub at: Arc<str>,
    pub starts: TriggerStart,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TriggerStart {
    /// A ticket for someone to act on (call the webinar participant), in `queue` and
    /// `category` where given, its subject `subject` and the event's reference.
    Task {
        subject: Arc<str>,
        queue: Option<Arc<str>>,
        category: Option<Arc<str>>,
    },
    /// Something we did on an existing ticket (a quote sent): follow up within `minutes`
    /// unless the customer answers.
    FollowUp {
        minutes: u32,
        /// The calendar the wait counts in (the ticket's policy's when none).
        calendar: Option<Arc<str>>,
    },
}

/// How a trigger's tag begins.
const TAG_PREFIX: &str = "trigger:";

impl Trigger {
    /// The tag a task ticket of this trigger carries, which `when.trigger` matches.
    pub fn tag(kind: &str) -> String {
        format!("{TAG_PREFIX}{kind}")
    }

    /// The kind of trigger whose task a ticket with `tag` is, if the tag is such a one.
    pub fn kind_of(tag: &str) -> Option<&str> {
        tag.strip_prefix(TAG_PREFIX)
    }
}

/// Which calendar a policy's clocks count in.
#[derive(Clone, Debug, Default)]
pub enum PolicyCalendar {
    /// The calendar of the ticket's time window.
    #[default]
    Window,
    /// The policy's own `calendar`.
    Named(Arc<Calendar>),
    /// `calendar = "customer"`: the calendar the customer list gives the ticket's
    /// organisation (its time zone and hours), else the time window's.
    Customer,
}

/// One `[[policy]]`.
#[derive(Clone, Debug)]
pub struct Policy {
    pub id: Arc<str>,
    pub reason: Arc<Reason>,
    pub when: PolicyWhen,
    /// Target minutes of first response, next reply and resolution
    /// ([`super::Metric::index`]).
    pub targets: [Option<u32>; 3],
    /// Target minutes of the follow-up after our reply (`follow-up`).
    pub follow_up: Option<u32>,
    /// The calendar the clocks count in.
    pub calendar: PolicyCalendar,
    pub warn: Vec<u8>,
    pub warn_notify: Vec<Notify>,
    pub warn_outside_hours: bool,
    pub breach_notify: Vec<Notify>,
    pub breach_outside_hours: bool,
    pub escalations: Vec<Escalation>,
}

/// A webhook target for notifications.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub name: Arc<str>,
    pub url: String,
    /// HMAC-SHA256 key for the signature header.
    pub secret: String,
    pub max_attempts: u32,
    /// Seconds before the first retry; doubled for each further one.
    pub retry_after_secs: u32,
}

/// Everything SLA-related the rules define.
#[derive(Clone, Debug, Default)]
pub struct SlaRules {
    /// Statuses that stop the clocks besides `pending-customer`.
    pub pause_statuses: Vec<Arc<str>>,
    pub policies: Vec<Policy>,
    pub webhooks: BTreeMap<Arc<str>, Webhook>,
    /// Event kinds and what they start.
    pub triggers: BTreeMap<Arc<str>, Trigger>,
    /// Which tasks are leads and what sales needs of them (`[lead]`).
    pub lead: Option<super::lead::LeadRules>,
}

/// What a policy is chosen by.
pub struct PolicyFacts<'a> {
    pub segment: Segment,
    pub priority: Priority,
    pub channel: Channel,
    pub category: &'a str,
    pub tags: &'a [Arc<str>],
    pub received_at: DateTime<Utc>,
    pub organisation: Option<&'a str>,
    /// The organisation's tags in the customer list.
    pub customer_tags: &'a [Arc<str>],
    /// The organisation's potential class in the customer list.
    pub potential: Option<crate::model::Potential>,
    pub queue: &'a str,
}

/// The calendars a policy may count in for one ticket.
pub struct CalendarChoice<'a> {
    /// The calendar of the ticket's time window.
    pub window: &'a Calendar,
    /// The organisation's own calendar and the `file:line` of its customer-list row.
    pub customer: Option<(&'a Calendar, &'a str)>,
}

impl SlaRules {
    /// The statuses a ticket may have: the fixed ones and the configured pausing ones.
    pub fn is_known_status(&self, status: &str) -> bool {
        self.statuses().any(|s| s == status)
    }

    /// Every status a ticket may be set to.
    pub fn statuses(&self) -> impl Iterator<Item = &str> {
        ["open", "pending-customer", "resolved", "closed"]
            .into_iter()
            .chain(self.pause_statuses.iter().map(|s| &**s))
    }

    /// Whether the clocks stop in `status`: waiting for the customer (their answer, or their
    /// verdict on an automatic answer) or for one of the rules' `pause-statuses`.
    pub fn pauses(&self, status: &str) -> bool {
        matches!(status, "pending-customer" | "answered-automatically")
            || self.pause_statuses.iter().any(|s| &**s == status)
    }

    /// The first policy whose conditions hold; the trace names it.
    pub fn select(&self, facts: &PolicyFacts) -> Option<&Policy> {
        self.policies.iter().find(|p| p.when.matches(facts))
    }
}

impl PolicyWhen {
    fn matches(&self, f: &PolicyFacts) -> bool {
        fn any<T: PartialEq>(list: &[T], v: &T) -> bool {
            list.is_empty() || list.contains(v)
        }
        fn named(list: &[Arc<str>], v: Option<&str>) -> bool {
            list.is_empty() || v.is_some_and(|v| list.iter().any(|n| &**n == v))
        }
        fn any_tag(list: &[Arc<str>], tags: &[Arc<str>]) -> bool {
            list.is_empty() || list.iter().any(|t| tags.contains(t))
        }
        any(&self.segment, &f.segment)
            && any(&self.priority, &f.priority)
            && any(&self.channel, &f.channel)
            && named(&self.category, Some(f.category))
            && any_tag(&self.tag, f.tags)
            && named(&self.organisation, f.organisation)
            && any_tag(&self.customer_tag, f.customer_tags)
            && named(&self.queue, Some(f.queue))
            && (self.potential.is_empty()
                || f.potential.is_some_and(|p| self.potential.contains(&p)))
            && (self.trigger.is_empty()
                || self
                    .trigger
                    .iter()
                    .any(|k| f.tags.iter().any(|t| **t == *Trigger::tag(k))))
            && self
                .arrived_in
                .as_ref()
                .is_none_or(|(_, cal)| cal.is_open(f.received_at))
            && self.arrived_on.as_ref().is_none_or(|(days, tz)| {
                days[f
                    .received_at
                    .with_timezone(tz)
                    .weekday()
                    .num_days_from_monday() as usize]
            })
    }
}

impl Policy {
    /// What the clocks keep of this policy, counting in the calendar it says.
    pub fn snapshot(&self, calendars: &CalendarChoice) -> PolicySnapshot {
        let (calendar, calendar_at) = match (&self.calendar, calendars.customer) {
            (PolicyCalendar::Named(c), _) => (&**c, None),
            (PolicyCalendar::Customer, Some((c, at))) => (c, Some(at.to_owned())),
            (PolicyCalendar::Customer | PolicyCalendar::Window, _) => (calendars.window, None),
        };
        PolicySnapshot {
            id: self.id.to_string(),
            at: self.reason.at.as_deref().unwrap_or("").to_owned(),
            calendar: calendar.name().to_owned(),
            calendar_at,
            targets: self.targets,
            follow_up: self.follow_up,
            warn: self.warn.clone(),
            escalations: self.escalations.iter().map(|e| e.after_minutes).collect(),
        }
    }

    /// Whom an alarm level notifies, and whether it may go out outside business hours.
    pub fn recipients(&self, level: &str) -> (&[Notify], bool) {
        if level.starts_with("warn-") {
            (&self.warn_notify, self.warn_outside_hours)
        } else if level == "breach" {
            (&self.breach_notify, self.breach_outside_hours)
        } else {
            let k: usize = level
                .strip_prefix("escalate-")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            match k.checked_sub(1).and_then(|i| self.escalations.get(i)) {
                Some(e) => (&e.notify, e.outside_hours),
                None => (&[], true),
            }
        }
    }
}

/// Parses a duration such as `30m`, `2h`, `1h30m` or `7d` (a day is 24 hours of the
/// calendar's open time) into minutes.
pub fn parse_minutes(text: &str) -> Option<u32> {
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut seen = false;
    for ch in text.trim().chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += n * match ch {
            'm' => 1,
            'h' => 60,
            'd' => 1440,
            'w' => 7 * 1440,
            _ => return None,
        };
        seen = true;
    }
    (num.is_empty() && seen).then_some(u32::try_from(total).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_into_minutes() {
        assert_eq!(parse_minutes("30m"), Some(30));
        assert_eq!(parse_minutes("2h"), Some(120));
        assert_eq!(parse_minutes("1h30m"), Some(90));
        assert_eq!(parse_minutes("7d"), Some(7 * 1440));
        assert_eq!(parse_minutes("0m"), Some(0));
        for bad in ["", "30", "2 h", "1x", "h"] {
            assert_eq!(parse_minutes(bad), None, "{bad}");
        }
    }

    #[test]
    fn notification_targets_parse() {
        assert_eq!(Notify::parse("queue"), Some(Notify::TicketQueue));
        assert_eq!(
            Notify::parse("role:service-manager").map(|n| n.to_string()),
            Some("role:service-manager".into())
        );
        assert_eq!(
            Notify::TicketQueue.target("sales", Some("anna")),
            "queue:sales"
        );
        // The owner of a follow-up: the assignee, else whoever works the queue.
        assert_eq!(Notify::parse("owner"), Some(Notify::Owner));
        assert_eq!(Notify::Owner.target("sales", Some("anna")), "agent:anna");
        assert_eq!(Notify::Owner.target("sales", None), "queue:sales");
        assert_eq!(Notify::parse("mail:x"), None);
        assert_eq!(Notify::parse("webhook:"), None);
    }
}
