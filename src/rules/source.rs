//! The on-disk shape of the rules files, as serde reads it.
//!
//! Every value that validation may complain about is `Spanned`, so a message can name the
//! file, line and column. Unknown keys are rejected (`deny_unknown_fields`), which catches
//! typos such as `keyword =` for `keywords =`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

pub type Name = Spanned<String>;

/// One rules file; every section is optional so a service manager can split the rules over
/// several files however suits them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDoc {
    pub defaults: Option<Spanned<DefaultsDoc>>,
    pub window: Option<Spanned<BTreeMap<Name, Name>>>,
    pub calendar: Option<BTreeMap<Name, Spanned<CalendarDoc>>>,
    pub segment: Option<BTreeMap<Name, Spanned<SegmentDoc>>>,
    pub channel: Option<BTreeMap<Name, Spanned<ChannelDoc>>>,
    pub category: Option<BTreeMap<Name, Spanned<CategoryDoc>>>,
    pub queue: Option<BTreeMap<Name, Spanned<QueueDoc>>>,
    pub rule: Option<Vec<Spanned<RuleDoc>>>,
    pub sla: Option<Spanned<SlaDoc>>,
    pub policy: Option<Vec<Spanned<PolicyDoc>>>,
    pub webhook: Option<BTreeMap<Name, Spanned<WebhookDoc>>>,
    pub trigger: Option<BTreeMap<Name, Spanned<TriggerDoc>>>,
    pub lead: Option<Spanned<LeadDoc>>,
    pub potential: Option<BTreeMap<Name, Spanned<PotentialDoc>>>,
    pub faq: Option<Spanned<FaqDoc>>,
    pub mail: Option<Spanned<MailDoc>>,
    pub privacy: Option<Spanned<PrivacyDoc>>,
}

/// `[privacy]`: retention of personal content.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PrivacyDoc {
    /// Days after closing that a ticket's personal content is removed.
    pub erase_closed_after_days: Option<Spanned<i64>>,
}

/// `[mail]`: the e-mail gateway's address, limits, spam rules and answer templates.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MailDoc {
    /// Our address: From of every mail we send.
    pub address: Option<Name>,
    /// The display name beside it.
    pub name: Option<Name>,
    /// Where mail judged spam goes (a defined queue); never an agent's queue.
    pub review_queue: Option<Name>,
    /// Where machine mail goes that threads to no ticket (auto-replies, delivery reports
    /// about mail we never sent, bulk and list mail), with status `noise`; default the
    /// review queue.
    pub noise_queue: Option<Name>,
    /// Days after which a `noise` ticket's content is erased (none: kept like any other).
    pub noise_kept_days: Option<Spanned<i64>>,
    /// `X-Spam-Score` at or above this is spam.
    pub spam_score: Option<Spanned<f64>>,
    /// Sender patterns (`*@domain`, `name@*`) whose mail is spam.
    pub blocked_senders: Option<Spanned<Strings>>,
    /// Sender patterns never judged spam, whatever the headers say.
    pub allowed_senders: Option<Spanned<Strings>>,
    /// Regular expressions over subject and body that make a mail spam.
    pub spam_patterns: Option<Spanned<Strings>>,
    /// Most automatic answers to one address per hour.
    pub auto_replies_per_hour: Option<Spanned<i64>>,
    /// Largest attachment stored, in KiB.
    pub max_attachment_kib: Option<Spanned<i64>>,
    /// Most attachment bytes stored per message, in KiB.
    pub max_attachments_kib: Option<Spanned<i64>>,
    /// Per language (`de`, `en`): the texts of our mail.
    pub template: Option<BTreeMap<Name, Spanned<MailTemplateDoc>>>,
    /// When a `[T-000123]` tag from an address on that ticket threads the mail onto it:
    /// `if-checked` (Authentication-Results, where present, must pass), `required` (they
    /// must be present and pass), `off` (the address alone suffices).
    pub tag_threading: Option<Name>,
    /// The `authserv-id` of our own mail server's Authentication-Results; others are
    /// ignored (a sender can write any header). Unset: the topmost one counts.
    pub authserv_id: Option<Name>,
}

/// The texts of our mail in one language. `{ticket}` is the ticket number, `{subject}` the
/// ticket's subject.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MailTemplateDoc {
    /// Subject of our answers.
    pub subject: Option<Name>,
    /// Appended to agents' replies.
    pub footer: Option<Name>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DefaultsDoc {
    pub segment: Name,
    pub category: Name,
    pub priority: Name,
    pub queue: Name,
    pub language: Name,
    pub languages: Option<Spanned<Strings>>,
    pub country_code: Option<Name>,
    pub customers: Option<Name>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CalendarDoc {
    #[allow(dead_code)]
    pub description: Option<String>,
    pub timezone: Name,
    pub hours: Spanned<BTreeMap<Name, Spanned<Strings>>>,
    /// `"MM-DD Name"`, `"YYYY-MM-DD Name"`, `"easter+1 Name"`: closed all day.
    pub holidays: Option<Spanned<Strings>>,
    /// Date spec → other hours that day, e.g. `"12-24" = ["08:00-12:00"]`.
    pub special: Option<BTreeMap<Name, Spanned<Strings>>>,
    /// iCalendar files (relative to the rules directory) whose all-day events are holidays.
    pub holiday_files: Option<Spanned<Strings>>,
    /// Also observe the holidays and special days of this calendar.
    pub holidays_of: Option<Name>,
}

/// `[sla]`: settings shared by all policies.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SlaDoc {
    pub pause_statuses: Option<Spanned<Strings>>,
    pub warn: Option<Spanned<Vec<Spanned<i64>>>>,
    pub warn_notify: Option<Spanned<Strings>>,
    pub breach_notify: Option<Spanned<Strings>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyDoc {
    pub id: Name,
    #[allow(dead_code)]
    pub description: Option<String>,
    pub when: Option<Spanned<PolicyWhenDoc>>,
    pub first_response: Option<Name>,
    pub next_reply: Option<Name>,
    pub resolution: Option<Name>,
    pub follow_up: Option<Name>,
    pub calendar: Option<Name>,
    pub warn: Option<Spanned<Vec<Spanned<i64>>>>,
    pub warn_notify: Option<Spanned<Strings>>,
    pub warn_outside_hours: Option<bool>,
    pub breach_notify: Option<Spanned<Strings>>,
    pub breach_outside_hours: Option<bool>,
    pub escalate: Option<Vec<Spanned<EscalateDoc>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PolicyWhenDoc {
    pub segment: Option<Spanned<Strings>>,
    pub priority: Option<Spanned<Strings>>,
    pub channel: Option<Spanned<Strings>>,
    pub category: Option<Spanned<Strings>>,
    pub tag: Option<Spanned<Strings>>,
    pub arrived_in: Option<Name>,
    pub arrived_on: Option<Name>,
    pub organisation: Option<Spanned<Strings>>,
    pub customer_tag: Option<Spanned<Strings>>,
    pub queue: Option<Spanned<Strings>>,
    pub trigger: Option<Spanned<Strings>>,
    pub potential: Option<Spanned<Strings>>,
}

/// `[potential.CLASS]`: the norm strategy for an organisation of that potential class.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PotentialDoc {
    #[allow(dead_code)]
    pub description: Option<String>,
    /// `key-account-call`, `personal-mail`, `standard` or `automatic`.
    pub contact: Name,
}

/// `[trigger.KIND]`: what an event another system reports starts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TriggerDoc {
    #[allow(dead_code)]
    pub description: Option<String>,
    /// `task` (a ticket for someone to act on) or `follow-up` (a clock on the event's ticket).
    pub starts: Name,
    pub subject: Option<Name>,
    pub queue: Option<Name>,
    pub category: Option<Name>,
    pub follow_up: Option<Name>,
    pub calendar: Option<Name>,
}

/// `[lead]`: which event tasks are leads, what the handover to sales requires, and the
/// reasons a lead may be disqualified for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LeadDoc {
    #[allow(dead_code)]
    pub description: Option<String>,
    pub triggers: Spanned<Strings>,
    pub requires: Spanned<Strings>,
    pub queue: Name,
    pub back_to: Name,
    pub disqualify_reasons: Spanned<Strings>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EscalateDoc {
    pub after: Name,
    pub notify: Spanned<Strings>,
    pub outside_hours: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WebhookDoc {
    pub url: Name,
    pub secret: Option<Name>,
    /// Name of the environment variable holding the secret, so it stays out of the files.
    pub secret_env: Option<Name>,
    pub max_attempts: Option<Spanned<i64>>,
    pub retry_after: Option<Name>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDoc {
    #[allow(dead_code)]
    pub description: Option<String>,
    pub window: Name,
    pub channel: Option<BTreeMap<Name, Name>>,
    pub priority: Option<Name>,
    pub queue: Option<Name>,
}

/// `[faq]`: when an article answers a ticket by itself, and when it is only suggested.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FaqDoc {
    pub auto_threshold: Option<Spanned<f64>>,
    pub suggest_threshold: Option<Spanned<f64>>,
    /// Directory of the shipped articles (Markdown), relative to the rules directory.
    pub articles: Option<Name>,
    /// Days after which an automatic answer without the customer's verdict or reply is
    /// resolved.
    pub resolve_after_days: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDoc {
    pub window: Name,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CategoryDoc {
    pub description: Option<String>,
    #[serde(default)]
    pub automatable: bool,
    /// Whether a request that reports something broken is kept from automatic answers in
    /// this category (default true).
    pub outage_cap: Option<bool>,
    pub automation: Option<Name>,
    pub segment: Option<Name>,
    pub priority: Option<Name>,
    pub queue: Option<Name>,
    /// Confidence an FAQ article needs to answer this category automatically.
    pub faq_threshold: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct QueueDoc {
    pub name: Option<String>,
    #[allow(dead_code)]
    pub description: Option<String>,
    /// `skills-least-loaded`, `round-robin` or `manual` (default).
    pub assignment: Option<Name>,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    /// The calendar the queue is staffed in.
    pub calendar: Option<Name>,
    /// The skill a business-critical ticket needs in addition.
    pub critical_skill: Option<String>,
    /// Who must never reach this queue (competitors, consultants collecting material), and
    /// where their tickets go instead.
    pub screen: Option<Spanned<ScreenDoc>>,
}

/// `screen = { customer-tags = [...], domains = [...], tags = [...], to = "review" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScreenDoc {
    /// Organisations carrying one of these tags in the customer list.
    #[serde(default)]
    pub customer_tags: Vec<String>,
    /// Senders of these mail domains (and their subdomains).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Tickets a classification rule gave one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    pub to: Name,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    pub id: Name,
    pub description: Option<String>,
    pub when: Option<Spanned<WhenDoc>>,
    pub set: Spanned<SetDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WhenDoc {
    pub channel: Option<Spanned<Strings>>,
    pub from: Option<Spanned<Strings>>,
    pub organisation: Option<Spanned<Strings>>,
    pub customer_tag: Option<Spanned<Strings>>,
    pub potential: Option<Spanned<Strings>>,
    pub known_customer: Option<Spanned<bool>>,
    pub subject: Option<Name>,
    pub body: Option<Name>,
    pub text: Option<Name>,
    pub keywords: Option<Spanned<Strings>>,
    pub subject_keywords: Option<Spanned<Strings>>,
    pub language: Option<Spanned<Strings>>,
    pub arrived_in: Option<Name>,
    pub arrived_outside: Option<Name>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDoc {
    pub segment: Option<Name>,
    pub category: Option<Name>,
    pub priority: Option<Name>,
    pub automation: Option<Name>,
    pub queue: Option<Name>,
    pub tags: Option<Spanned<Strings>>,
}

/// A list of strings that may also be written as a single string (`channel = "phone"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strings(pub Vec<String>);

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Strings, E> {
                Ok(Strings(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Strings(out))
            }
        }
        d.deserialize_any(V)
    }
}
