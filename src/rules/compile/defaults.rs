//! `[defaults]`: the fallbacks for fields no rule decided, the languages detected, the country
//! code of phone numbers written without one, and the customer list it names.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;

use super::categories::{category_ref, Category};
use super::queues::{queue_ref, Queue};
use super::{Ctx, Why};
use crate::language::{supported_codes, LanguageDetector};
use crate::model::{Priority, Reason, ReasonKind, Segment};
use crate::rules::customers::{CustomerIndex, RowError};
use crate::rules::source::DefaultsDoc;
use crate::rules::{Diagnostic, ReadError, Severity, SourceFile};

/// Fallbacks for fields no rule decided.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub segment: Why<Segment>,
    pub category: Why<Arc<str>>,
    pub priority: Why<Priority>,
    pub queue: Why<Arc<str>>,
    pub language: Why<Arc<str>>,
    /// The reason given for a language that detection decided.
    pub detected_language: Arc<Reason>,
    /// Country calling code for phone numbers written without one (`43`).
    pub country_code: String,
}

/// The one `[defaults]` table, with the languages and the country code it settles.
pub(super) struct Table {
    pub(super) file: usize,
    pub(super) span: Range<usize>,
    doc: DefaultsDoc,
    /// The languages detected and answered in (`de`, `en` unless given).
    pub(super) languages: Vec<String>,
    country_code: String,
}

/// The `[defaults]` table and the language detector for its languages; `None` when no file
/// has the table, as nothing that depends on it can be checked then.
pub(super) fn table(
    ctx: &mut Ctx,
    mut docs: Vec<(usize, Spanned<DefaultsDoc>)>,
) -> Option<(Table, Option<LanguageDetector>)> {
    if docs.is_empty() {
        ctx.error(0, &(0..0), "no [defaults] table in any rules file");
        return None;
    }
    for (file, d) in docs.iter().skip(1) {
        let first = ctx.at(docs[0].0, &docs[0].1.span());
        ctx.error(
            *file,
            &d.span(),
            format!("[defaults] is already defined at {first}"),
        );
    }
    let (file, doc) = docs.swap_remove(0);
    let span = doc.span();
    let doc = doc.into_inner();
    let languages: Vec<String> = doc
        .languages
        .as_ref()
        .map(|l| l.get_ref().0.clone())
        .unwrap_or_else(|| vec!["de".into(), "en".into()]);
    let detector = match LanguageDetector::new(languages.iter().map(String::as_str)) {
        Ok(l) => Some(l),
        Err(crate::language::UnknownLanguage(code)) => {
            let at = doc.languages.as_ref().map_or(span.clone(), |l| l.span());
            ctx.error(
                file,
                &at,
                format!(
                    "language \"{code}\" cannot be detected (supported: {})",
                    supported_codes().collect::<Vec<_>>().join(", ")
                ),
            );
            None
        }
    };
    if !languages.contains(doc.language.get_ref()) {
        ctx.error(
            file,
            &doc.language.span(),
            format!(
                "default language \"{}\" is not among languages ({})",
                doc.language.get_ref(),
                languages.join(", ")
            ),
        );
    }
    let country_code = country_code(ctx, file, &span, &doc);
    let table = Table {
        file,
        span,
        doc,
        languages,
        country_code,
    };
    Some((table, detector))
}

/// `country-code` without a leading `+` (`43` unless given), reported unless all digits.
fn country_code(ctx: &mut Ctx, file: usize, span: &Range<usize>, doc: &DefaultsDoc) -> String {
    let code = doc
        .country_code
        .as_ref()
        .map(|c| c.get_ref().trim_start_matches('+').to_owned())
        .unwrap_or_else(|| "43".into());
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        let at = doc.country_code.as_ref().map_or(span.clone(), |c| c.span());
        ctx.error(
            file,
            &at,
            format!("country-code \"{code}\" must be digits, e.g. \"43\""),
        );
    }
    code
}

/// The segment, priority, category and queue `[defaults]` names, each one known.
pub(super) struct Fallbacks {
    segment: Segment,
    priority: Priority,
    pub(super) category: Arc<str>,
    queue: Arc<str>,
}

/// Resolves the default segment, priority, category and queue, reporting every unknown one;
/// `None` when any is unknown.
pub(super) fn fallbacks(
    ctx: &mut Ctx,
    table: &Table,
    categories: &HashMap<Arc<str>, Category>,
    queues: &BTreeMap<Arc<str>, Queue>,
) -> Option<Fallbacks> {
    let (file, d) = (table.file, &table.doc);
    let segment = ctx.vocab::<Segment>(file, &d.segment);
    let priority = ctx.vocab::<Priority>(file, &d.priority);
    let category = category_ref(ctx, categories, file, &d.category);
    let queue = queue_ref(ctx, queues, file, &d.queue);
    Some(Fallbacks {
        segment: segment?,
        priority: priority?,
        category: category?,
        queue: queue?,
    })
}

/// The customer list `[defaults] customers` names, read into `extra_files`, with its row
/// errors located in its own file; empty when none is named or it cannot be read.
pub(super) fn customer_list(
    ctx: &mut Ctx,
    table: &Table,
    read: &dyn Fn(&str) -> Result<SourceFile, ReadError>,
    extra_files: &mut Vec<SourceFile>,
    calendars: &super::calendars::Calendars,
) -> CustomerIndex {
    let Some(path) = &table.doc.customers else {
        return CustomerIndex::default();
    };
    match read(path.get_ref()) {
        Err(e) => {
            ctx.error(table.file, &path.span(), e.to_string());
            CustomerIndex::default()
        }
        Ok(src) => {
            let (index, mut errors) =
                CustomerIndex::parse(&src.path, &src.text, &table.country_code);
            for c in index.iter() {
                let Some(name) = &c.calendar else { continue };
                if !calendars.defined.contains_key(&**name) {
                    errors.push(RowError {
                        line: c.line(),
                        message: format!(
                            "unknown calendar \"{name}\" for \"{}\" (defined calendars: {})",
                            c.name,
                            super::list(calendars.defined.keys())
                        ),
                    });
                }
            }
            for e in errors {
                ctx.diags.push(Diagnostic {
                    severity: Severity::Error,
                    file: src.path.clone(),
                    line: e.line,
                    column: 1,
                    message: e.message,
                });
            }
            extra_files.push(src);
            index
        }
    }
}

/// The compiled defaults, each with the reason naming the line of `[defaults]` it comes from.
pub(super) fn compile(ctx: &Ctx, table: Table, f: Fallbacks) -> Defaults {
    let Table {
        file,
        doc: d,
        country_code,
        ..
    } = table;
    let default_reason = |field: &str, span: &Range<usize>| {
        ctx.reason(
            ReasonKind::Default,
            file,
            span,
            format!("no rule decided the {field}; [defaults] {field}"),
        )
    };
    Defaults {
        segment: (f.segment, default_reason("segment", &d.segment.span())),
        category: (f.category, default_reason("category", &d.category.span())),
        priority: (f.priority, default_reason("priority", &d.priority.span())),
        queue: (f.queue, default_reason("queue", &d.queue.span())),
        language: (
            d.language.get_ref().as_str().into(),
            ctx.reason(
                ReasonKind::Default,
                file,
                &d.language.span(),
                "too little text to detect the language; [defaults] language".into(),
            ),
        ),
        detected_language: Arc::new(Reason {
            by: ReasonKind::Detected,
            rule: None,
            at: None,
            why: "detected from subject and body".into(),
        }),
        country_code,
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::compile::tests::{has, located};
    use crate::rules::compile_sources;
    use crate::rules::fixture::SERVICE;

    #[test]
    fn customer_list_errors_point_into_the_csv() {
        let err = compile_sources(&[
            ("service.toml", SERVICE),
            ("customers.csv", "organisation,segment\nA,gold\n"),
        ])
        .unwrap_err();
        let errs: Vec<_> = err.errors().map(located).collect();
        assert!(
            has(&errs, "customers.csv:2: unknown segment \"gold\""),
            "{errs:?}"
        );
    }
}
