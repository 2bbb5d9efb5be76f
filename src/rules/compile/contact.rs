//! `[potential.CLASS]`: the contact medium an answer to an organisation of that potential
//! class takes — a key-account call for the largest, a personal mail, the standard way, or
//! an automatic answer where the rules allow one.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::sections::At;
use super::Ctx;
use crate::model::{Automation, Reason, ReasonKind};
use crate::rules::customers::Potential;
use crate::rules::source::PotentialDoc;

/// How an answer reaches an organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Contact {
    /// Its key-account manager calls: no machine answers.
    KeyAccountCall,
    /// An agent writes: a suggested answer at most.
    PersonalMail,
    /// As the rules decide for everyone.
    Standard,
    /// An automatic answer wherever the rules allow one.
    Automatic,
}

impl Contact {
    /// In the order of the variants, which [`Contact::as_str`] relies on.
    const NAMES: [(&'static str, Contact); 4] = [
        ("key-account-call", Contact::KeyAccountCall),
        ("personal-mail", Contact::PersonalMail),
        ("standard", Contact::Standard),
        ("automatic", Contact::Automatic),
    ];

    pub fn as_str(self) -> &'static str {
        Contact::NAMES[self as usize].0
    }

    /// The most a machine may do under this medium.
    pub fn automation_cap(self) -> Automation {
        match self {
            Contact::KeyAccountCall => Automation::Human,
            Contact::PersonalMail => Automation::SemiAutomated,
            Contact::Standard | Contact::Automatic => Automation::Automated,
        }
    }
}

/// The strategy for one potential class, with the reason naming its table.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactStrategy {
    pub contact: Contact,
    pub reason: Arc<Reason>,
}

/// The strategies by class ([`Potential::index`]); an unknown class or medium is an error at
/// its line.
pub(super) fn compile(
    ctx: &mut Ctx,
    docs: &BTreeMap<String, At<PotentialDoc>>,
) -> [Option<ContactStrategy>; 4] {
    let mut out: [Option<ContactStrategy>; 4] = Default::default();
    for (class, d) in docs {
        let Some(p) = Potential::parse(class) else {
            ctx.error(d.file, &d.span, Potential::unknown(class));
            continue;
        };
        let name = d.item.contact.get_ref();
        let Some(&(_, contact)) = Contact::NAMES.iter().find(|(n, _)| n == name) else {
            ctx.error(
                d.file,
                &d.item.contact.span(),
                format!(
                    "unknown contact \"{name}\" for potential class {class} (expected key-account-call, personal-mail, standard or automatic)"
                ),
            );
            continue;
        };
        out[p.index()] = Some(ContactStrategy {
            contact,
            reason: Arc::new(Reason {
                by: ReasonKind::Customer,
                rule: Some(format!("potential.{}", p.as_str()).into()),
                at: Some(ctx.at(d.file, &d.span)),
                why: format!("potential class {}: {}", p.as_str(), contact.as_str()).into(),
            }),
        });
    }
    out
}
