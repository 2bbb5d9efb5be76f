//! `[category.NAME]`: the categories rules may decide, the defaults each brings, and how far
//! tickets of each may be automated.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::queues::{queue_ref, Queue};
use super::{faq, report_unknown, At, Ctx, Why};
use crate::model::{Automation, Priority, ReasonKind, Segment};
use crate::rules::source::{CategoryDoc, Name};

/// A category and the defaults it brings.
#[derive(Debug, Clone)]
pub struct Category {
    pub name: Arc<str>,
    pub description: Option<String>,
    pub automatable: bool,
    /// A request reporting an outage or failure is never answered by a machine alone.
    pub outage_cap: bool,
    pub automation: Why<Automation>,
    pub segment: Option<Why<Segment>>,
    pub priority: Option<Why<Priority>>,
    pub queue: Option<Why<Arc<str>>>,
}

/// Compiles every category, in name order; also returns the FAQ thresholds categories set.
pub(super) fn compile(
    ctx: &mut Ctx,
    docs: &BTreeMap<String, At<CategoryDoc>>,
    queues: &BTreeMap<Arc<str>, Queue>,
) -> (HashMap<Arc<str>, Category>, HashMap<Arc<str>, f64>) {
    let mut categories = HashMap::new();
    let mut faq_thresholds = HashMap::new();
    for (name, c) in docs {
        let cat = category(ctx, name, c, queues);
        if let Some(v) = c
            .item
            .faq_threshold
            .as_ref()
            .and_then(|v| faq::threshold(ctx, c.file, v))
        {
            faq_thresholds.insert(cat.name.clone(), v);
        }
        categories.insert(cat.name.clone(), cat);
    }
    (categories, faq_thresholds)
}

fn category(
    ctx: &mut Ctx,
    name: &str,
    c: &At<CategoryDoc>,
    queues: &BTreeMap<Arc<str>, Queue>,
) -> Category {
    let file = c.file;
    let cat_reason = |ctx: &Ctx, field: &str| {
        ctx.reason(
            ReasonKind::Category,
            file,
            &c.span,
            format!("no rule decided the {field}; default of category {name}"),
        )
    };
    let automation = automation(ctx, name, c);
    let segment = c
        .item
        .segment
        .as_ref()
        .and_then(|s| ctx.vocab::<Segment>(file, s));
    let priority = c
        .item
        .priority
        .as_ref()
        .and_then(|p| ctx.vocab::<Priority>(file, p));
    let queue = c
        .item
        .queue
        .as_ref()
        .and_then(|q| queue_ref(ctx, queues, file, q));
    Category {
        name: name.into(),
        description: c.item.description.clone(),
        automatable: c.item.automatable,
        outage_cap: c.item.outage_cap.unwrap_or(true),
        automation: (automation, cat_reason(ctx, "automation")),
        segment: segment.map(|s| (s, cat_reason(ctx, "segment"))),
        priority: priority.map(|p| (p, cat_reason(ctx, "priority"))),
        queue: queue.map(|q| (q, cat_reason(ctx, "queue"))),
    }
}

/// The level given (with a warning when the category is not automatable, as it will be
/// lowered), else automated for an automatable category and human for any other.
fn automation(ctx: &mut Ctx, name: &str, c: &At<CategoryDoc>) -> Automation {
    let file = c.file;
    match &c.item.automation {
        Some(a) => match ctx.vocab::<Automation>(file, a) {
            Some(level) => {
                if level > Automation::Human && !c.item.automatable {
                    ctx.warn(
                        file,
                        &a.span(),
                        format!("category {name} is not automatable, so automation = \"{level}\" is lowered to semi-automated"),
                    );
                }
                level
            }
            None => Automation::Human,
        },
        None if c.item.automatable => Automation::Automated,
        None => Automation::Human,
    }
}

/// Warns about categories no ticket can get: no rule that can change a decision sets them,
/// and they are not the default.
pub(super) fn report_undecided(
    ctx: &mut Ctx,
    docs: &BTreeMap<String, At<CategoryDoc>>,
    decided: &std::collections::BTreeSet<Arc<str>>,
    default: &str,
) {
    for (name, c) in docs {
        if name != default && !decided.contains(name.as_str()) {
            ctx.warn(
                c.file,
                &c.span,
                format!("category \"{name}\" is never decided: no rule that can apply sets it, and it is not the default category"),
            );
        }
    }
}

/// The name of the category `name` refers to, or an error at `name` listing the defined
/// categories in name order.
pub(super) fn category_ref(
    ctx: &mut Ctx,
    categories: &HashMap<Arc<str>, Category>,
    file: usize,
    name: &Name,
) -> Option<Arc<str>> {
    if let Some((k, _)) = categories.get_key_value(name.get_ref().as_str()) {
        return Some(k.clone());
    }
    let mut defined: Vec<&str> = categories.keys().map(|k| &**k).collect();
    defined.sort_unstable();
    report_unknown(ctx, file, name, ["category", "categories"], &defined);
    None
}
