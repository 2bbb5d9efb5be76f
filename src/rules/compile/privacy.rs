//! `[privacy]`: how long a closed ticket keeps its personal content before retention
//! removes it (its decisions, SLA figures and content-free events stay for the reports).

use toml::Spanned;

use super::Ctx;
use crate::rules::source::PrivacyDoc;

/// The compiled `[privacy]` section; without one, content is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivacyRules {
    /// Days after a ticket was closed (its last change) that its content is removed.
    pub erase_closed_after_days: Option<u32>,
}

/// Compiles `[privacy]` (at most one in all files).
pub(super) fn compile(ctx: &mut Ctx, docs: Vec<(usize, Spanned<PrivacyDoc>)>) -> PrivacyRules {
    let mut rules = PrivacyRules::default();
    let mut docs = docs.into_iter();
    let Some((file, doc)) = docs.next() else {
        return rules;
    };
    for (f, d) in docs {
        ctx.error(f, &d.span(), "[privacy] is defined more than once");
    }
    if let Some(days) = &doc.get_ref().erase_closed_after_days {
        match u32::try_from(*days.get_ref()) {
            Ok(d) if d > 0 => rules.erase_closed_after_days = Some(d),
            _ => ctx.error(
                file,
                &days.span(),
                "erase-closed-after-days must be a positive number of days",
            ),
        }
    }
    rules
}
