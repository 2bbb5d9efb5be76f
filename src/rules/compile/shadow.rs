//! Warnings about rules that can never matter: those whose conditions contradict each other,
//! and those whose every effect earlier rules always take.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;

use super::Ctx;
use crate::model::{Channel, Priority, Segment, TimeWindow};
use crate::sla::{Policy, PolicyWhen};

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
    Potential(BTreeSet<String>),
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
            Key::Potential(_) => "potential",
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
            | (Potential(a), Potential(b))
            | (Language(a), Language(b)) => a.is_subset(b),
            (Potential(_), Known(true)) => true,
            (Keywords(a), Keywords(b))
            | (SubjectKeywords(a), SubjectKeywords(b))
            | (SubjectKeywords(a), Keywords(b)) => a
                .iter()
                .all(|k| b.iter().any(|wide| keyword_covers(wide, k))),
            (Organisation(_), Known(true)) => true,
            (Known(a), Known(b)) => a == b,
            (Subject(a), Subject(b)) | (Body(a), Body(b)) | (Text(a), Text(b)) => a == b,
            (Subject(a), Text(b)) | (Body(a), Text(b)) => a == b,
            (In(a), In(b)) | (Out(a), Out(b)) => a == b,
            _ => false,
        }
    }
}

/// Whether every text that keyword `narrow` matches is also matched by keyword `wide`, both
/// as written in the rules (lower case, `*` for an open start or end): `drucker*` takes
/// `drucker` and `druckerpatrone`, not `laserdrucker`.
pub(super) fn keyword_covers(wide: &str, narrow: &str) -> bool {
    fn parts(k: &str) -> (bool, bool, String) {
        let open_start = k.starts_with('*');
        let open_end = k.ends_with('*') && k.len() > 1;
        let core = k.trim_matches('*').split_whitespace().collect::<Vec<_>>();
        (open_start, open_end, core.join(" "))
    }
    let (ws, we, w) = parts(wide);
    let (ns, ne, n) = parts(narrow);
    match (ws, we) {
        (false, false) => !ns && !ne && w == n,
        (false, true) => !ns && n.starts_with(&w),
        (true, false) => !ne && n.ends_with(&w),
        (true, true) => n.contains(&w),
    }
}

impl CondKey {
    /// The keywords of this rule's `keywords` or `subject-keywords` condition.
    fn keywords(&self) -> Option<&BTreeSet<String>> {
        self.0.iter().find_map(|k| match k {
            Key::Keywords(w) | Key::SubjectKeywords(w) => Some(w),
            _ => None,
        })
    }

    /// The conditions other than `keywords` (over subject and body).
    fn without_keywords(&self) -> CondKey {
        CondKey(
            self.0
                .iter()
                .filter(|k| !matches!(k, Key::Keywords(_)))
                .cloned()
                .collect(),
        )
    }

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

/// Names of the single-valued fields in a [`ShadowKey::fields`] bit set.
fn field_names(fields: u8) -> String {
    let names = ["segment", "category", "priority", "automation", "queue"];
    let set: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| fields & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect();
    set.join(", ")
}

/// Warns about rules whose every effect is always taken by earlier rules (whenever such a
/// rule matches, earlier rules that also match have already set all its fields and tags),
/// and about keywords an earlier rule always takes for a field the later rule sets. Returns
/// which rules can never change a decision.
pub(super) fn report_shadowed(ctx: &mut Ctx, keys: &[ShadowKey]) -> Vec<bool> {
    let mut shadowed = vec![false; keys.len()];
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
            shadowed[j] = true;
            ctx.warn(
                b.file,
                &b.span,
                format!(
                    "rule \"{}\" can never change a decision: earlier rule {} matches whenever it does and already sets what it sets",
                    b.id,
                    by.join(" and ")
                ),
            );
            continue;
        }
        report_taken_keywords(ctx, &keys[..j], b);
    }
    shadowed
}

/// Warns when keywords of `b` can never decide a field because an earlier rule, with no
/// condition `b` does not also have, matches every ticket with them and sets that field.
fn report_taken_keywords(ctx: &mut Ctx, earlier: &[ShadowKey], b: &ShadowKey) {
    let Some(words) = b.conds.keywords() else {
        return;
    };
    for a in earlier {
        let common = a.fields & b.fields;
        let Some(wide) = a.conds.0.iter().find_map(|k| match k {
            Key::Keywords(w) => Some(w),
            _ => None,
        }) else {
            continue;
        };
        if common == 0 || !a.conds.without_keywords().covers(&b.conds) {
            continue;
        }
        let mut taken = Vec::new();
        let mut by = BTreeSet::new();
        for k in words {
            if let Some(w) = wide.iter().find(|w| keyword_covers(w, k)) {
                taken.push(format!("\"{k}\""));
                by.insert(format!("\"{w}\""));
            }
        }
        if taken.is_empty() {
            continue;
        }
        ctx.warn(
            b.file,
            &b.span,
            format!(
                "keyword{} {} of rule \"{}\" never decide{} its {}: earlier rule \"{}\" ({}) takes every ticket with {} (by {}) and sets {}",
                if taken.len() == 1 { "" } else { "s" },
                taken.join(", "),
                b.id,
                if taken.len() == 1 { "s" } else { "" },
                field_names(common),
                a.id,
                a.at,
                if taken.len() == 1 { "it" } else { "them" },
                by.into_iter().collect::<Vec<_>>().join(", "),
                field_names(common),
            ),
        );
    }
}

/// The values a ticket may have on one finite condition of policy `b`: only `b`'s own when
/// it names some, else all; one wildcard when no earlier policy asks about it at all.
fn axis<T: Clone>(b: &[T], all: &[T], asked: bool) -> Vec<Option<T>> {
    if !asked {
        return vec![None];
    }
    let values = if b.is_empty() { all } else { b };
    values.iter().cloned().map(Some).collect()
}

fn accepts<T: PartialEq>(list: &[T], v: &Option<T>) -> bool {
    list.is_empty() || v.as_ref().is_some_and(|v| list.contains(v))
}

/// Whether every ticket `b` matches satisfies `a`'s conditions beyond the finite ones
/// (segment, priority, channel, category, queue), which [`unreachable`] enumerates.
fn open_conditions_hold(a: &PolicyWhen, b: &PolicyWhen) -> bool {
    fn within<T: PartialEq>(a: &[T], b: &[T]) -> bool {
        a.is_empty() || (!b.is_empty() && b.iter().all(|v| a.contains(v)))
    }
    within(&a.tag, &b.tag)
        && within(&a.customer_tag, &b.customer_tag)
        && within(&a.trigger, &b.trigger)
        && within(&a.potential, &b.potential)
        && within(&a.organisation, &b.organisation)
        && match (&a.arrived_in, &b.arrived_in) {
            (None, _) => true,
            (Some((wa, _)), Some((wb, _))) => wa == wb,
            _ => false,
        }
        && match (&a.arrived_on, &b.arrived_on) {
            (None, _) => true,
            (Some((da, tza)), Some((db, tzb))) => tza == tzb && (0..7).all(|i| !db[i] || da[i]),
            _ => false,
        }
}

/// Past this many checks a policy is not examined (thousands of generated policies).
const REACH_BUDGET: usize = 5_000_000;

/// The earlier policies that together take every ticket `b` matches, or `None` when some
/// ticket can reach `b`. Segment, priority, channel, category and queue are finite, so their
/// combinations are enumerated; the other conditions of an earlier policy must follow from
/// `b`'s.
fn unreachable<'p>(
    b: &PolicyWhen,
    earlier: &[&'p Policy],
    categories: &[Arc<str>],
    queues: &[Arc<str>],
) -> Option<Vec<&'p Policy>> {
    let cands: Vec<&Policy> = earlier
        .iter()
        .copied()
        .filter(|a| open_conditions_hold(&a.when, b))
        .collect();
    if cands.is_empty() {
        return None;
    }
    let asked = |f: fn(&PolicyWhen) -> bool| cands.iter().any(|a| f(&a.when));
    let segs = axis(&b.segment, Segment::ALL, asked(|w| !w.segment.is_empty()));
    let prios = axis(
        &b.priority,
        Priority::ALL,
        asked(|w| !w.priority.is_empty()),
    );
    let chans = axis(&b.channel, Channel::ALL, asked(|w| !w.channel.is_empty()));
    let cats = axis(&b.category, categories, asked(|w| !w.category.is_empty()));
    let qs = axis(&b.queue, queues, asked(|w| !w.queue.is_empty()));
    let combos = segs.len() * prios.len() * chans.len() * cats.len() * qs.len();
    if combos.saturating_mul(cands.len()) > REACH_BUDGET {
        return None;
    }
    let mut used = vec![false; cands.len()];
    for s in &segs {
        for p in &prios {
            for c in &chans {
                for cat in &cats {
                    for q in &qs {
                        let hit = cands.iter().position(|a| {
                            let w = &a.when;
                            accepts(&w.segment, s)
                                && accepts(&w.priority, p)
                                && accepts(&w.channel, c)
                                && accepts(&w.category, cat)
                                && accepts(&w.queue, q)
                        })?;
                        used[hit] = true;
                    }
                }
            }
        }
    }
    Some(
        cands
            .into_iter()
            .zip(used)
            .filter(|(_, u)| *u)
            .map(|(a, _)| a)
            .collect(),
    )
}

/// Warns at each policy that can never apply because earlier policies, first match wins,
/// take every ticket it matches; `at` holds each policy's file and span.
pub(in crate::rules) fn report_unreachable_policies(
    ctx: &mut Ctx,
    policies: &[Policy],
    at: &[(usize, Range<usize>)],
    categories: &[Arc<str>],
    queues: &[Arc<str>],
) {
    for (j, b) in policies.iter().enumerate() {
        let earlier: Vec<&Policy> = policies[..j].iter().collect();
        let Some(by) = unreachable(&b.when, &earlier, categories, queues) else {
            continue;
        };
        let names: Vec<String> = by
            .iter()
            .map(|a| format!("\"{}\" ({})", a.id, a.reason.at.as_deref().unwrap_or("?")))
            .collect();
        let (file, span) = &at[j];
        ctx.warn(
            *file,
            span,
            format!(
                "policy \"{}\" can never apply: earlier polic{} {} take{} every ticket it matches (the first matching policy applies)",
                b.id,
                if names.len() == 1 { "y" } else { "ies" },
                names.join(", "),
                if names.len() == 1 { "s" } else { "" },
            ),
        );
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
        assert!(!has(&warns, "can never change a decision"), "{warns:?}");
        // Its priority still applies; its category never does.
        assert!(
            has(
                &warns,
                "keyword \"passwort\" of rule \"narrow\" never decides its category"
            ),
            "{warns:?}"
        );
    }

    #[test]
    fn keywords_an_earlier_glob_takes_are_named() {
        let warns = warnings(
            "[[rule]]\nid = \"incident\"\nwhen.keywords = [\"drucker*\", \"printer*\", \"error\"]\nset = { category = \"outage\" }\n\n[[rule]]\nid = \"printer\"\nwhen.keywords = [\"druckerpatrone\", \"printer\", \"toner\", \"laserdrucker\"]\nset = { category = \"billing\" }\n",
        );
        assert!(
            has(&warns, "rules.toml:6: keywords \"druckerpatrone\", \"printer\" of rule \"printer\" never decide its category: earlier rule \"incident\" (rules.toml:1) takes every ticket with them (by \"drucker*\", \"printer*\")"),
            "{warns:?}"
        );
        assert_eq!(warns.len(), 1, "{warns:?}");
    }

    #[test]
    fn a_rule_whose_every_keyword_an_earlier_glob_takes_is_shadowed() {
        let warns = warnings(
            "[[rule]]\nid = \"incident\"\nwhen.keywords = [\"drucker*\", \"printer*\"]\nset = { category = \"outage\" }\n\n[[rule]]\nid = \"printer\"\nwhen = { keywords = [\"drucker\", \"printer\"], channel = \"email\" }\nset = { category = \"billing\" }\n",
        );
        assert!(
            has(&warns, "rules.toml:6: rule \"printer\" can never change a decision: earlier rule \"incident\" (rules.toml:1)"),
            "{warns:?}"
        );
    }

    #[test]
    fn an_earlier_rule_with_another_condition_takes_no_keyword() {
        let warns = warnings(
            "[[rule]]\nid = \"web-printer\"\nwhen = { keywords = [\"printer*\"], channel = \"web\" }\nset = { category = \"outage\" }\n\n[[rule]]\nid = \"printer\"\nwhen.keywords = [\"printer\", \"toner\"]\nset = { category = \"billing\" }\n",
        );
        assert!(warns.is_empty(), "{warns:?}");
    }

    #[test]
    fn keyword_globs_cover_what_they_match() {
        use super::keyword_covers as c;
        assert!(c("drucker*", "drucker"));
        assert!(c("drucker*", "druckerpatrone*"));
        assert!(!c("drucker*", "laserdrucker"));
        assert!(c("*drucker", "laserdrucker"));
        assert!(!c("*drucker", "drucker*"));
        assert!(c("*druck*", "*laserdrucker*"));
        assert!(!c("drucker", "drucker*"));
        assert!(c("known  issue", "known issue"));
    }

    #[test]
    fn contradictory_window_conditions_warn() {
        let warns = warnings(
            "[[rule]]\nid = \"never\"\nwhen = { arrived-in = \"24x7\", arrived-outside = \"24x7\" }\nset = { priority = \"P1\" }\n",
        );
        assert!(has(&warns, "can never match"), "{warns:?}");
    }
}
