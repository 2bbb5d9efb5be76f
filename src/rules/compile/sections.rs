//! The sections of all rules files gathered by kind, each with the file it came from; the
//! named tables (`[queue.NAME]` and the like) merged across files.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::Ctx;
use crate::rules::sla::SlaDocs;
use crate::rules::source::{
    CalendarDoc, CategoryDoc, ChannelDoc, DefaultsDoc, FaqDoc, FileDoc, MailDoc, Name,
    PotentialDoc, PrivacyDoc, QueueDoc, RuleDoc, SegmentDoc,
};

/// A parsed item with the file it came from.
pub(in crate::rules) struct At<T> {
    pub(in crate::rules) file: usize,
    pub(in crate::rules) span: Range<usize>,
    pub(in crate::rules) item: T,
}

/// Collects `[kind.name]` tables from all files, reporting names defined twice.
pub(in crate::rules) fn collect<T>(
    ctx: &mut Ctx,
    kind: &str,
    tables: Vec<(usize, BTreeMap<Name, Spanned<T>>)>,
) -> BTreeMap<String, At<T>> {
    let mut out: BTreeMap<String, At<T>> = BTreeMap::new();
    for (file, table) in tables {
        for (name, value) in table {
            let span = value.span();
            if let Some(prev) = out.get(name.get_ref()) {
                let prev_at = ctx.at(prev.file, &prev.span);
                ctx.error(
                    file,
                    &name.span(),
                    format!(
                        "{kind} \"{}\" is already defined at {prev_at}",
                        name.get_ref()
                    ),
                );
                continue;
            }
            out.insert(
                name.into_inner(),
                At {
                    file,
                    span,
                    item: value.into_inner(),
                },
            );
        }
    }
    out
}

/// Every section of every file by kind, in file order; named tables by name.
pub(super) struct Sections {
    pub(super) defaults: Vec<(usize, Spanned<DefaultsDoc>)>,
    pub(super) windows: Vec<(usize, Spanned<BTreeMap<Name, Name>>)>,
    pub(super) calendars: BTreeMap<String, At<CalendarDoc>>,
    pub(super) segments: BTreeMap<String, At<SegmentDoc>>,
    pub(super) channels: BTreeMap<String, At<ChannelDoc>>,
    pub(super) categories: BTreeMap<String, At<CategoryDoc>>,
    pub(super) queues: BTreeMap<String, At<QueueDoc>>,
    pub(super) potentials: BTreeMap<String, At<PotentialDoc>>,
    pub(super) rules: Vec<(usize, Spanned<RuleDoc>)>,
    pub(super) sla: SlaDocs,
    pub(super) faq: Option<(usize, Spanned<FaqDoc>)>,
    pub(super) mail: Vec<(usize, Spanned<MailDoc>)>,
    pub(super) privacy: Vec<(usize, Spanned<PrivacyDoc>)>,
}

/// Sorts the parsed files' sections by kind, reporting a second `[faq]` and every name that
/// a named table defines twice.
pub(super) fn gather(ctx: &mut Ctx, docs: Vec<(usize, FileDoc)>) -> Sections {
    let mut defaults_docs = Vec::new();
    let mut window_tables = Vec::new();
    let (mut cals, mut segs, mut chans, mut cats, mut queues) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut potentials = Vec::new();
    let mut rule_docs = Vec::new();
    let mut sla_docs = SlaDocs::default();
    let mut faq_doc: Option<(usize, Spanned<FaqDoc>)> = None;
    let mut mail_docs = Vec::new();
    let mut privacy_docs = Vec::new();
    for (file, doc) in docs {
        mail_docs.extend(doc.mail.map(|m| (file, m)));
        privacy_docs.extend(doc.privacy.map(|p| (file, p)));
        sla_docs.sla.extend(doc.sla.map(|d| (file, d)));
        sla_docs
            .policies
            .extend(doc.policy.into_iter().flatten().map(|p| (file, p)));
        sla_docs.webhooks.extend(doc.webhook.map(|w| (file, w)));
        sla_docs.triggers.extend(doc.trigger.map(|t| (file, t)));
        sla_docs.leads.extend(doc.lead.map(|l| (file, l)));
        if let Some(f) = doc.faq {
            if faq_doc.is_some() {
                ctx.error(file, &f.span(), "[faq] is defined more than once");
            }
            faq_doc = Some((file, f));
        }
        if let Some(d) = doc.defaults {
            defaults_docs.push((file, d));
        }
        if let Some(w) = doc.window {
            window_tables.push((file, w));
        }
        cals.extend(doc.calendar.map(|t| (file, t)));
        segs.extend(doc.segment.map(|t| (file, t)));
        chans.extend(doc.channel.map(|t| (file, t)));
        cats.extend(doc.category.map(|t| (file, t)));
        queues.extend(doc.queue.map(|t| (file, t)));
        potentials.extend(doc.potential.map(|t| (file, t)));
        for r in doc.rule.unwrap_or_default() {
            rule_docs.push((file, r));
        }
    }
    let calendar_docs = collect(ctx, "calendar", cals);
    let segment_docs = collect(ctx, "segment", segs);
    let channel_docs = collect(ctx, "channel", chans);
    let category_docs = collect(ctx, "category", cats);
    let queue_docs = collect(ctx, "queue", queues);
    let potential_docs = collect(ctx, "potential class", potentials);
    Sections {
        defaults: defaults_docs,
        windows: window_tables,
        calendars: calendar_docs,
        segments: segment_docs,
        channels: channel_docs,
        categories: category_docs,
        queues: queue_docs,
        potentials: potential_docs,
        rules: rule_docs,
        sla: sla_docs,
        faq: faq_doc,
        mail: mail_docs,
        privacy: privacy_docs,
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::compile::tests::{has, located};
    use crate::rules::compile_sources;
    use crate::rules::fixture::{CUSTOMERS, SERVICE};

    #[test]
    fn definitions_duplicated_across_files_are_errors() {
        let err = compile_sources(&[
            ("a.toml", SERVICE),
            ("b.toml", "[queue.desk]\n"),
            ("customers.csv", CUSTOMERS),
        ])
        .unwrap_err();
        let errs: Vec<_> = err.errors().map(located).collect();
        assert!(
            has(
                &errs,
                "b.toml:1: queue \"desk\" is already defined at a.toml:"
            ),
            "{errs:?}"
        );
    }
}
