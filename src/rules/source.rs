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
#[serde(deny_unknown_fields)]
pub struct CalendarDoc {
    #[allow(dead_code)]
    pub description: Option<String>,
    pub timezone: Name,
    pub hours: Spanned<BTreeMap<Name, Spanned<Strings>>>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDoc {
    pub window: Name,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryDoc {
    pub description: Option<String>,
    #[serde(default)]
    pub automatable: bool,
    pub automation: Option<Name>,
    pub segment: Option<Name>,
    pub priority: Option<Name>,
    pub queue: Option<Name>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueDoc {
    pub name: Option<String>,
    #[allow(dead_code)]
    pub description: Option<String>,
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
