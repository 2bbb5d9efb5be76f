//! The vocabulary shared by every layer: channels, segments, priorities, automation levels,
//! time windows, the inbound [`Ticket`] and the [`Decision`] the engine makes about it.
//!
//! The string forms are fixed: the rules files, the CLI and the API all use exactly these.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Declares a closed vocabulary enum whose string form is used everywhere (serde, CLI, rules).
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] #[schema(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Position in [`Self::ALL`], for per-value lookup tables.
            pub const fn index(self) -> usize {
                self as usize
            }

            /// The fixed string form.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        kind: stringify!($name),
                        value: s.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
    };
}

/// A string that is not one of a vocabulary's values; the message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {} \"{value}\" (expected one of: {})", kind.to_lowercase(), expected.join(", "))]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static [&'static str],
}

vocabulary! {
    /// How a request reached the helpdesk.
    Channel { Email = "email", Web = "web", Phone = "phone" }
}

vocabulary! {
    /// The target group a request belongs to; it decides the service level.
    Segment {
        BusinessCritical = "business-critical",
        Commercial = "commercial",
        Administrative = "administrative",
    }
}

vocabulary! {
    /// Urgency, `P1` highest.
    Priority { P1 = "P1", P2 = "P2", P3 = "P3", P4 = "P4" }
}

vocabulary! {
    /// How far a machine may go in answering. Ordered from least to most automatic, so a
    /// ceiling is applied with `min`.
    Automation {
        Human = "human",
        SemiAutomated = "semi-automated",
        Automated = "automated",
    }
}

vocabulary! {
    /// The named service windows; each is backed by a calendar in the rules files.
    TimeWindow {
        BusinessHours = "business-hours",
        ExtendedHours = "extended-hours",
        OnCall = "on-call",
        TwentyFourSeven = "24x7",
    }
}

vocabulary! {
    /// What an API token may do: `gateway` hands in tickets and mail, `agent` works tickets,
    /// `manager` also runs FAQ, reports and the mail queue, `admin` everything.
    Role { Gateway = "gateway", Agent = "agent", Manager = "manager", Admin = "admin" }
}

/// Lower-case hex of bytes, as hashes and signatures are shown and stored.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The largest index at most `i` that falls on a character boundary of `s` (`s.len()` when
/// `i` is past the end): where a text may be cut to a byte budget without splitting a
/// character. (`str::floor_char_boundary` needs Rust 1.91, above the crate's MSRV.)
pub fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Text as stored: without NUL characters, which carry no meaning in a request and which
/// PostgreSQL's text columns refuse.
pub fn clean_text(s: &str) -> String {
    s.replace('\0', "")
}

/// Who sent a request, as far as the channel tells.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Sender {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// An inbound request as the engine sees it: plain data, already parsed from its channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub channel: Channel,
    pub subject: String,
    pub body: String,
    pub from: Sender,
    pub received_at: DateTime<Utc>,
}

/// Why one field of a decision has its value: which rule (file:line), customer entry,
/// definition or fallback decided it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub by: ReasonKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Arc<str>>,
    pub why: Arc<str>,
}

/// The kind of source a [`Reason`] points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonKind {
    /// A classification rule matched.
    Rule,
    /// The sender's organisation in the customer list.
    Customer,
    /// The category's own default.
    Category,
    /// The segment's own default or window.
    Segment,
    /// A per-channel window override.
    Channel,
    /// The calendar that decided `within_window`.
    Calendar,
    /// Language detection on the text.
    Detected,
    /// A product guarantee lowered what a rule allowed.
    Cap,
    /// The `[defaults]` of the rules files.
    Default,
    /// An SLA `[[policy]]`.
    Policy,
    /// The `[mail]` rules (spam to the review queue).
    Mail,
    /// A person decided it (an agent's transfer); reclassification keeps it.
    Agent,
    /// A `[trigger.KIND]` of the rules: the ticket is a task an event started.
    Trigger,
    /// A queue's `screen` kept the ticket out (a competitor asking sales for material).
    Screen,
    /// `[lead]`: a lead goes to sales with every required field, else back to marketing.
    Lead,
}

/// The trace of a decision: one reason per decided field, plus every rule that matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Trace {
    pub segment: Arc<Reason>,
    pub category: Arc<Reason>,
    pub priority: Arc<Reason>,
    pub time_window: Arc<Reason>,
    pub within_window: Arc<Reason>,
    pub automation: Arc<Reason>,
    pub queue: Arc<Reason>,
    pub language: Arc<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<Arc<Reason>>,
    /// Ids of all rules whose conditions held, in rules order (they may have set nothing new).
    pub matched_rules: Vec<Arc<str>>,
    /// Where to point the customer instead: set when the ticket's channel is closed at
    /// arrival or does not serve its segment, and another channel is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steer: Option<Steer>,
    /// How the answer should reach the customer, by its organisation's potential class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<ContactTrace>,
}

/// The contact medium an organisation's potential class asks for (`[potential.CLASS]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContactTrace {
    pub potential: &'static str,
    /// `key-account-call`, `personal-mail`, `standard` or `automatic`.
    pub medium: &'static str,
    #[serde(flatten)]
    pub reason: Arc<Reason>,
}

/// Channels that serve the ticket's segment and take requests at its arrival, for a
/// customer who came by one that does not (now): a caller is pointed to mail and the web
/// form, a writer to the phone while it is staffed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Steer {
    pub open: Vec<Channel>,
    pub reason: Arc<Reason>,
}

/// What the engine decided about a ticket, with the reason for every field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub segment: Segment,
    pub category: Arc<str>,
    pub priority: Priority,
    pub time_window: TimeWindow,
    pub within_window: bool,
    pub automation: Automation,
    pub queue: Arc<str>,
    pub tags: Vec<Arc<str>>,
    pub language: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<Arc<str>>,
    pub rules_version: Arc<str>,
    pub trace: Trace,
}

impl Decision {
    /// Leaves the ticket to people — in `queue` where one is given — for `reason`, which the
    /// trace names for both (spam, machine mail, an event's task, a screened sender).
    pub fn to_people(&mut self, queue: Option<Arc<str>>, reason: Arc<Reason>) {
        if let Some(q) = queue {
            self.queue = q;
            self.trace.queue = reason.clone();
        }
        self.automation = Automation::Human;
        self.trace.automation = reason;
    }
}

/// Stands for the ticket number in a message written before the ticket is stored.
pub const TICKET_NUMBER: &str = "{ticket_number}";

/// A ticket number as shown to people: `T-` and at least six digits.
/// `part` of `whole` in percent, to one decimal, as every figure of the reports shows it;
/// `None` of nothing.
pub fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

pub fn ticket_number(seq: i64) -> String {
    format!("T-{seq:06}")
}

/// The sequence behind a ticket number, accepting `T-000123`, `t-123` and `123`.
pub fn parse_ticket_number(s: &str) -> Option<i64> {
    let digits = s
        .strip_prefix("T-")
        .or_else(|| s.strip_prefix("t-"))
        .unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// An organisation's potential class in the customer list: I the largest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Potential {
    I,
    II,
    III,
    IV,
}

impl Potential {
    pub const ALL: [Potential; 4] = [Potential::I, Potential::II, Potential::III, Potential::IV];

    pub fn as_str(self) -> &'static str {
        match self {
            Potential::I => "I",
            Potential::II => "II",
            Potential::III => "III",
            Potential::IV => "IV",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// What the rules and the customer list say of a class that is none of these.
    pub fn unknown(text: &str) -> String {
        format!("unknown potential class \"{text}\" (expected I, II, III or IV)")
    }

    /// `I` to `IV`, in any case.
    pub fn parse(s: &str) -> Option<Potential> {
        Potential::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_round_trips_through_its_fixed_strings() {
        for w in TimeWindow::ALL {
            assert_eq!(w.as_str().parse::<TimeWindow>().unwrap(), *w);
        }
        assert_eq!(
            serde_json::to_string(&Segment::BusinessCritical).unwrap(),
            "\"business-critical\""
        );
        assert_eq!(
            serde_json::from_str::<Automation>("\"semi-automated\"").unwrap(),
            Automation::SemiAutomated
        );
    }

    #[test]
    fn unknown_value_names_the_valid_ones() {
        let err = "fax".parse::<Channel>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown channel \"fax\" (expected one of: email, web, phone)"
        );
    }

    #[test]
    fn automation_orders_from_human_to_automated() {
        assert!(Automation::Human < Automation::SemiAutomated);
        assert!(Automation::SemiAutomated < Automation::Automated);
        assert_eq!(
            Automation::Automated.min(Automation::SemiAutomated),
            Automation::SemiAutomated
        );
    }
}
