//! `[[rule]]`: the classification rules in file order, each with its id, conditions and
//! actions, and the indexes that let a ticket be checked only against the rules whose
//! pattern matched.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Arc;

use globset::GlobSet;
use regex::RegexSet;
use toml::Spanned;

use super::categories::{category_ref, Category};
use super::conditions::{Cond, RuleCompiler, RuleCx};
use super::queues::{queue_ref, Queue};
use super::shadow::{report_shadowed, ShadowKey};
use super::Ctx;
use crate::model::{Automation, Priority, Reason, ReasonKind, Segment};
use crate::rules::customers::CustomerIndex;
use crate::rules::source::{Name, RuleDoc, SetDoc};

/// What a matching rule decides, for the fields still undecided.
#[derive(Debug, Clone, Default)]
pub struct Actions {
    pub segment: Option<Segment>,
    pub category: Option<Arc<str>>,
    pub priority: Option<Priority>,
    pub automation: Option<Automation>,
    pub queue: Option<Arc<str>>,
    pub tags: Vec<Arc<str>>,
}

impl Actions {
    /// Bit set of the single-valued fields this rule decides.
    fn fields(&self) -> u8 {
        (self.segment.is_some() as u8)
            | (self.category.is_some() as u8) << 1
            | (self.priority.is_some() as u8) << 2
            | (self.automation.is_some() as u8) << 3
            | (self.queue.is_some() as u8) << 4
    }
}

/// A compiled classification rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: Arc<str>,
    pub conds: Vec<Cond>,
    pub set: Actions,
    /// The reason recorded for every field this rule decides.
    pub reason: Arc<Reason>,
}

/// What rules may refer to, from the sections compiled before them.
pub(super) struct Known<'a> {
    pub(super) customers: &'a CustomerIndex,
    pub(super) languages: &'a [String],
    pub(super) categories: &'a HashMap<Arc<str>, Category>,
    pub(super) queues: &'a BTreeMap<Arc<str>, Queue>,
}

/// Wording of German and English reports that something is down, failing or broken —
/// whatever product or routine topic the request also names, no machine answers it. The
/// word edges are a non-word character or the text's edge (as the rules' keywords have
/// them): Unicode `\b` would keep the search off the lazy DFA on German text. Compiled
/// into the rules' pattern set, so finding it costs no scan of its own.
pub const FAILURE_WORDING: &str = r"(?i)(?:^|\W)(ausgefallen|ausfall|ausfälle|totalausfall|geht nicht mehr|gehen nicht mehr|funktioniert nicht mehr|funktionieren nicht mehr|geht gar nichts|nicht (mehr )?erreichbar|keine verbindung|stillstand|störung|fehler ?5\d\d|error ?5\d\d|http ?5\d\d|internal server error|service unavailable|is down|are down|went down|goes down|is not working|are not working|not working|stopped working|doesn'?t work any ?more|does not work any ?more|unreachable|not reachable|outage|downtime|crash(es|ed)?|abgestürzt|stürzt ab|losing orders|lose orders|verlieren bestellungen|overload(ed)?|server overload|überlastet|überlastung|nobody can|no one can|niemand kann|keiner kann)(?:\W|$)";

/// The compiled rules and the sets their patterns are scanned with.
pub(super) struct Classification {
    pub(super) rules: Vec<Rule>,
    pub(super) text_set: RegexSet,
    pub(super) failure_pattern: usize,
    pub(super) rules_by_pattern: Vec<Vec<u32>>,
    pub(super) rules_without_pattern: Vec<u64>,
    pub(super) sender_globs: GlobSet,
    /// The categories some rule that can change a decision sets.
    pub(super) decided_categories: BTreeSet<Arc<str>>,
}

/// Compiles every rule in file order, warns about rules that can never change a decision and
/// builds the pattern and sender sets; `None` when a set cannot be built.
pub(super) fn compile(
    ctx: &mut Ctx,
    docs: Vec<(usize, Spanned<RuleDoc>)>,
    known: &Known,
) -> Option<Classification> {
    let tags: BTreeSet<&str> = known
        .customers
        .iter()
        .flat_map(|c| c.tags.iter().map(|t| &**t))
        .collect();
    let mut compiler = RuleCompiler::default();
    let mut rules = Vec::new();
    let mut keys = Vec::new();
    let mut ids: HashMap<String, Arc<str>> = HashMap::new();
    for (file, doc) in docs {
        let span = doc.span();
        let doc = doc.into_inner();
        let Some(at) = register_id(ctx, &mut ids, file, &span, &doc.id) else {
            continue;
        };
        let mut cx = RuleCx {
            ctx,
            file,
            compiler: &mut compiler,
            customers: known.customers,
            tags: &tags,
            languages: known.languages,
        };
        let (rule, key) = rule(&mut cx, span, doc, at, known);
        rules.push(rule);
        keys.push(key);
    }
    let shadowed = report_shadowed(ctx, &keys);
    let decided_categories = rules
        .iter()
        .zip(&shadowed)
        .filter(|(_, s)| !**s)
        .filter_map(|(r, _)| r.set.category.clone())
        .collect();
    let failure_pattern = compiler.builtin_pattern(FAILURE_WORDING);
    let text_set = compiler.text_set(ctx);
    let (rules_by_pattern, rules_without_pattern) = index(&rules, compiler.pattern_count());
    let sender_globs = compiler.sender_globs(ctx);
    Some(Classification {
        rules,
        text_set: text_set?,
        failure_pattern,
        rules_by_pattern,
        rules_without_pattern,
        sender_globs: sender_globs?,
        decided_categories,
    })
}

/// Records a rule's id and returns the rule's `file:line`; `None` after reporting an empty
/// id or one already used.
fn register_id(
    ctx: &mut Ctx,
    ids: &mut HashMap<String, Arc<str>>,
    file: usize,
    span: &Range<usize>,
    id: &Name,
) -> Option<Arc<str>> {
    let text = id.get_ref();
    if text.trim().is_empty() {
        ctx.error(file, &id.span(), "rule id is empty");
        return None;
    }
    if let Some(prev) = ids.get(text) {
        ctx.error(
            file,
            &id.span(),
            format!("rule id \"{text}\" is already used at {prev}"),
        );
        return None;
    }
    let at = ctx.at(file, span);
    ids.insert(text.clone(), at.clone());
    Some(at)
}

/// One rule with a registered id, and what the shadow check needs to know of it.
fn rule(
    cx: &mut RuleCx,
    span: Range<usize>,
    doc: RuleDoc,
    at: Arc<str>,
    known: &Known,
) -> (Rule, ShadowKey) {
    let file = cx.file;
    let when = doc
        .when
        .map(|w| (w.span(), w.into_inner()))
        .unwrap_or_default();
    let (conds, key) = cx.conditions(&when.1, &when.0);
    let set_span = doc.set.span();
    let actions = actions(cx.ctx, file, doc.set.get_ref(), known);
    let id = doc.id.into_inner();
    warn_about_actions(cx.ctx, file, &set_span, &id, &actions, known.categories);
    let why = doc.description.unwrap_or_else(|| key.summary());
    let id: Arc<str> = id.into();
    let shadow = ShadowKey {
        file,
        span,
        id: id.clone(),
        at: at.clone(),
        conds: key,
        fields: actions.fields(),
        tags: actions.tags.clone(),
    };
    let rule = Rule {
        reason: Arc::new(Reason {
            by: ReasonKind::Rule,
            rule: Some(id.clone()),
            at: Some(at),
            why: why.into(),
        }),
        id,
        conds,
        set: actions,
    };
    (rule, shadow)
}

/// What a rule's `set` decides, each value checked against its vocabulary or the defined
/// categories and queues.
fn actions(ctx: &mut Ctx, file: usize, set: &SetDoc, known: &Known) -> Actions {
    Actions {
        segment: set
            .segment
            .as_ref()
            .and_then(|s| ctx.vocab::<Segment>(file, s)),
        category: set
            .category
            .as_ref()
            .and_then(|c| category_ref(ctx, known.categories, file, c)),
        priority: set
            .priority
            .as_ref()
            .and_then(|p| ctx.vocab::<Priority>(file, p)),
        automation: set
            .automation
            .as_ref()
            .and_then(|a| ctx.vocab::<Automation>(file, a)),
        queue: set
            .queue
            .as_ref()
            .and_then(|q| queue_ref(ctx, known.queues, file, q)),
        tags: set
            .tags
            .iter()
            .flat_map(|t| t.get_ref().0.iter())
            .map(|t| Arc::from(t.as_str()))
            .collect(),
    }
}

/// Warns when a rule's automation will be lowered, and when it sets nothing at all.
fn warn_about_actions(
    ctx: &mut Ctx,
    file: usize,
    set_span: &Range<usize>,
    id: &str,
    actions: &Actions,
    categories: &HashMap<Arc<str>, Category>,
) {
    if let (Some(Automation::Automated), Some(cat)) = (actions.automation, &actions.category) {
        if categories.get(cat).is_some_and(|c| !c.automatable) {
            ctx.warn(file, set_span, format!("category {cat} is not automatable, so automation = \"automated\" is lowered to semi-automated"));
        }
    }
    if actions.segment == Some(Segment::BusinessCritical)
        && actions.automation == Some(Automation::Automated)
    {
        ctx.warn(file, set_span, "business-critical tickets are never automated; automation is lowered to semi-automated");
    }
    if actions.fields() == 0 && actions.tags.is_empty() {
        ctx.warn(file, set_span, format!("rule \"{id}\" sets nothing"));
    }
}

/// Lists each rule under the first pattern it needs (its anchor), or sets its bit among the
/// rules that are evaluated for every ticket.
fn index(rules: &[Rule], patterns: usize) -> (Vec<Vec<u32>>, Vec<u64>) {
    let mut rules_by_pattern = vec![Vec::new(); patterns];
    let mut rules_without_pattern = vec![0u64; rules.len().div_ceil(64)];
    for (i, rule) in rules.iter().enumerate() {
        let anchor = rule.conds.iter().find_map(|c| match c {
            Cond::Pattern { pattern, .. } => Some(*pattern),
            _ => None,
        });
        match anchor {
            Some(p) => rules_by_pattern[p].push(i as u32),
            None => rules_without_pattern[i / 64] |= 1 << (i % 64),
        }
    }
    (rules_by_pattern, rules_without_pattern)
}

#[cfg(test)]
mod tests {
    use crate::rules::compile::tests::{errors, has, warnings};

    #[test]
    fn unknown_names_are_errors_at_their_line() {
        let errs = errors(
            "[[rule]]\nid = \"a\"\nset = { category = \"pasword-reset\" }\n\n[[rule]]\nid = \"b\"\nset = { queue = \"nowhere\", segment = \"vip\" }\n",
        );
        assert!(
            has(&errs, "rules.toml:3: unknown category \"pasword-reset\""),
            "{errs:?}"
        );
        assert!(
            has(&errs, "rules.toml:7: unknown queue \"nowhere\""),
            "{errs:?}"
        );
        assert!(
            has(&errs, "rules.toml:7: unknown segment \"vip\""),
            "{errs:?}"
        );
    }

    #[test]
    fn duplicate_rule_ids_name_the_first_definition() {
        let errs = errors(
            "[[rule]]\nid = \"a\"\nset = { priority = \"P1\" }\n[[rule]]\nid = \"a\"\nset = { priority = \"P2\" }\n",
        );
        assert!(
            has(
                &errs,
                "rules.toml:5: rule id \"a\" is already used at rules.toml:1"
            ),
            "{errs:?}"
        );
    }

    #[test]
    fn a_unicode_word_boundary_warns() {
        let warns = warnings(
            "[[rule]]\nid = \"a\"\nwhen.text = '\\bdown\\b'\nset = { priority = \"P1\" }\n\n[[rule]]\nid = \"b\"\nwhen.text = '(?:^|\\W)down(?:\\W|$)|a\\\\b'\nset = { priority = \"P2\" }\n",
        );
        assert!(
            has(&warns, "rules.toml:3: \\b keeps the patterns"),
            "{warns:?}"
        );
        assert_eq!(warns.len(), 1, "{warns:?}");
    }

    #[test]
    fn automating_a_non_automatable_category_warns() {
        let warns = warnings(
            "[[rule]]\nid = \"a\"\nwhen.keywords = \"x\"\nset = { category = \"billing\", automation = \"automated\" }\n",
        );
        assert!(
            has(&warns, "rules.toml:4: category billing is not automatable"),
            "{warns:?}"
        );
    }
}
