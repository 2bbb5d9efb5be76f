//! Warnings about rules that can never matter: those whose conditions contradict each other,
//! and those whose every effect earlier rules always take.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;

use super::Ctx;
use crate::model::{Channel, TimeWindow};

/// A rule's conditions in a canonical form, for finding rules that can never change anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct CondKey(pub(super) Vec<Key>);

/// One condition in canonical form: its values as sets, patterns as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Key {
    Channel(BTreeSet<Channel>),
    From(BTreeSet<String>),
    Organisation(BTreeSet<String>),
    CustomerTag(BTreeSet<String>),
    Known(bool),
    Subject(String),
    Body(String),
    Text(String),
    Keywords(BTreeSet<String>),
    SubjectKeywords(BTreeSet<String>),
    Language(BTreeSet<String>),
    In(TimeWindow),
    Out(TimeWindow),
}

impl Key {
    fn name(&self) -> &'static str {
        match self {
            Key::Channel(_) => "channel",
            Key::From(_) => "from",
            Key::Organisation(_) => "organisation",
            Key::CustomerTag(_) => "customer-tag",
            Key::Known(_) => "known-customer",
            Key::Subject(_) => "subject",
            Key::Body(_) => "body",
            Key::Text(_) => "text",
            Key::Keywords(_) => "keywords",
            Key::SubjectKeywords(_) => "subject-keywords",
            Key::Language(_) => "language",
            Key::In(_) => "arrived-in",
            Key::Out(_) => "arrived-outside",
        }
    }

    /// Whether every ticket that satisfies `self` also satisfies `other`.
    fn implies(&self, other: &Key) -> bool {
        use Key::*;
        match (self, other) {
            (Channel(a), Channel(b)) => a.is_subset(b),
            (From(a), From(b))
            | (Organisation(a), Organisation(b))
            | (CustomerTag(a), CustomerTag(b))
            | (Language(a), Language(b))
            | (Keywords(a), Keywords(b))
            | (SubjectKeywords(a), SubjectKeywords(b))
            | (SubjectKeywords(a), Keywords(b)) => a.is_subset(b),
            (Organisation(_), Known(true)) => true,
            (Known(a), Known(b)) => a == b,
            (Subject(a), Subject(b)) | (Body(a), Body(b)) | (Text(a), Text(b)) => a == b,
            (Subject(a), Text(b)) | (Body(a), Text(b)) => a == b,
            (In(a), In(b)) | (Out(a), Out(b)) => a == b,
            _ => false,
        }
    }
}

impl CondKey {
    /// Whether a rule with these conditions matches every ticket `narrower` matches.
    fn covers(&self, narrower: &CondKey) -> bool {
        self.0
            .iter()
            .all(|a| narrower.0.iter().any(|b| b.implies(a)))
    }

    fn contradicts_itself(&self) -> Option<TimeWindow> {
        self.0.iter().find_map(|k| match k {
            Key::In(w) if self.0.contains(&Key::Out(*w)) => Some(*w),
            _ => None,
        })
    }

    /// The reason a rule without a description gives: which conditions held.
    pub(super) fn summary(&self) -> String {
        if self.0.is_empty() {
            return "matches every ticket".into();
        }
        let names: Vec<&str> = self.0.iter().map(Key::name).collect();
        format!("conditions held: {}", names.join(", "))
    }
}

/// Warns at `span` when the conditions require arriving both inside and outside one window.
pub(super) fn report_contradiction(ctx: &mut Ctx, file: usize, span: &Range<usize>, key: &CondKey) {
    if let Some(w) = key.contradicts_itself() {
        ctx.warn(
            file,
            span,
            format!("this rule can never match: it requires arriving both inside and outside {w}"),
        );
    }
}

/// What the shadow check needs of one rule: where it is, its conditions and what it sets.
pub(super) struct ShadowKey {
    pub(super) file: usize,
    pub(super) span: Range<usize>,
    pub(super) id: Arc<str>,
    pub(super) at: Arc<str>,
    pub(super) conds: CondKey,
    pub(super) fields: u8,
    pub(super) tags: Vec<Arc<str>>,
}

/// Warns about rules whose every effect is always taken by earlier rules: whenever such a
/// rule matches, earlier rules that also match have already set all its fields and tags.
pub(super) fn report_shadowed(ctx: &mut Ctx, keys: &[ShadowKey]) {
    for (j, b) in keys.iter().enumerate() {
        if b.fields == 0 && b.tags.is_empty() {
            continue;
        }
        let mut covered = 0u8;
        let mut tags: BTreeSet<&str> = BTreeSet::new();
        let mut by = Vec::new();
        for a in &keys[..j] {
            if a.conds.covers(&b.conds)
                && (a.fields & b.fields != 0 || b.tags.iter().any(|t| a.tags.contains(t)))
            {
                covered |= a.fields;
                tags.extend(a.tags.iter().map(|t| &**t));
                by.push(format!("\"{}\" ({})", a.id, a.at));
            }
        }
        if !by.is_empty() && b.fields & !covered == 0 && b.tags.iter().all(|t| tags.contains(&**t))
        {
            ctx.warn(
                b.file,
                &b.span,
                format!(
                    "rule \"{}\" can never change a decision: earlier rule {} matches whenever it does and already sets what it sets",
                    b.id,
                    by.join(" and ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::compile::tests::{has, warnings};

    #[test]
    fn a_rule_covered_by_an_earlier_one_is_a_shadow_warning() {
        let warns = warnings(
            "[[rule]]\nid = \"broad\"\nwhen.keywords = [\"passwort\", \"kennwort\"]\nset = { category = \"password-reset\" }\n\n[[rule]]\nid = \"narrow\"\nwhen = { keywords = [\"passwort\"], channel = \"web\" }\nset = { category = \"billing\" }\n",
        );
        assert!(
            has(&warns, "rules.toml:6: rule \"narrow\" can never change a decision: earlier rule \"broad\" (rules.toml:1)"),
            "{warns:?}"
        );
    }

    #[test]
    fn a_rule_that_still_sets_something_new_is_not_shadowed() {
        let warns = warnings(
            "[[rule]]\nid = \"broad\"\nwhen.keywords = [\"passwort\"]\nset = { category = \"password-reset\" }\n\n[[rule]]\nid = \"narrow\"\nwhen = { keywords = [\"passwort\"], channel = \"web\" }\nset = { category = \"billing\", priority = \"P2\" }\n",
        );
        assert!(warns.is_empty(), "{warns:?}");
    }

    #[test]
    fn contradictory_window_conditions_warn() {
        let warns = warnings(
            "[[rule]]\nid = \"never\"\nwhen = { arrived-in = \"24x7\", arrived-outside = \"24x7\" }\nset = { priority = \"P1\" }\n",
        );
        assert!(has(&warns, "can never match"), "{warns:?}");
    }
}
