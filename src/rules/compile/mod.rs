//! Validation and compilation of parsed rules files into [`CompiledRules`].
//!
//! All text patterns of all rules go into one `RegexSet`, scanned once over the subject and
//! once over the body, and all sender globs into one `GlobSet`, so classifying a ticket costs
//! one scan per field however many rules there are. Each rule is indexed by one of its
//! patterns, so only rules whose pattern matched (and the few without any) are evaluated.

mod calendars;
mod categories;
mod classification;
mod conditions;
mod contact;
mod defaults;
mod faq;
pub mod privacy;
mod queues;
mod sections;
mod segments;
mod shadow;
pub(super) use shadow::report_unreachable_policies;

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use globset::GlobSet;
use regex::RegexSet;
use sha2::{Digest, Sha256};

use super::customers::CustomerIndex;
use super::source::{FileDoc, Name};
use super::{Diagnostic, Loaded, ReadError, RulesError, Severity, SourceFile};
use crate::calendar::Calendar;
use crate::language::LanguageDetector;
use crate::model::{Reason, ReasonKind, TimeWindow};
use crate::sla::SlaRules;

pub use calendars::WindowDef;
pub use categories::Category;
pub use classification::{Rule, FAILURE_WORDING};
pub use conditions::Cond;
pub(super) use conditions::{full_sender_pattern, sender_glob, unicode_word_boundary};
pub use contact::ContactStrategy;
pub use defaults::Defaults;
pub use faq::FaqRules;
pub(super) use queues::queue_ref;
pub use queues::{Queue, Screen};
pub(super) use sections::{collect, At};
pub use segments::SegmentDef;

/// One file of a rules version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesFile {
    /// The name traces give it (`rules/sla.toml`).
    pub name: Arc<str>,
    /// Hex SHA-256 of the text.
    pub hash: String,
    pub text: Arc<str>,
}

/// A value together with the reason the rules give for it.
pub type Why<T> = (T, Arc<Reason>);

/// A rules directory ready to classify with; immutable, swapped whole on reload.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    /// `sha256:` and the first 16 hex digits of the hash over all files' names and contents.
    pub version: Arc<str>,
    /// The files this version was compiled from, as traces name them, with their text: kept
    /// so the store can resolve a version's `file:line` after the files changed.
    pub files: Arc<[RulesFile]>,
    pub defaults: Defaults,
    /// Indexed by `TimeWindow::index`.
    pub windows: [WindowDef; 4],
    /// Indexed by `Segment::index`.
    pub segments: [SegmentDef; 3],
    /// Indexed by `Channel::index`.
    pub channel_windows: [Option<Why<TimeWindow>>; 3],
    pub categories: HashMap<Arc<str>, Category>,
    pub queues: BTreeMap<Arc<str>, Queue>,
    /// The contact strategy per potential class ([`crate::rules::customers::Potential::index`]).
    pub contact: [Option<ContactStrategy>; 4],
    /// Queue → who it screens out (`[queue.X] screen`).
    pub screens: BTreeMap<Arc<str>, Screen>,
    pub calendars: BTreeMap<Arc<str>, Arc<Calendar>>,
    pub customers: CustomerIndex,
    pub rules: Vec<Rule>,
    /// Every rule's text patterns, scanned over subject and body, and the failure wording
    /// of outage reports.
    pub text_set: RegexSet,
    /// The index of [`FAILURE_WORDING`] in `text_set`.
    pub failure_pattern: usize,
    /// Pattern index → the rules that need it to match (each rule listed under one pattern).
    pub rules_by_pattern: Vec<Vec<u32>>,
    /// Bit set (bit `i` = rule `i`) of the rules without a text condition: they are
    /// evaluated for every ticket.
    pub rules_without_pattern: Vec<u64>,
    pub sender_globs: GlobSet,
    pub language: LanguageDetector,
    pub sla: SlaRules,
    pub faq: FaqRules,
    pub mail: super::MailRules,
    pub privacy: privacy::PrivacyRules,
}

impl CompiledRules {
    /// Every distinct text pattern of every rule and the failure wording, as compiled into
    /// the pattern set.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.text_set.patterns().iter().map(String::as_str)
    }
}

/// The files being compiled and the messages about them so far, in the order found.
pub(super) struct Ctx<'a> {
    files: &'a [SourceFile],
    pub(super) diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn push(&mut self, severity: Severity, file: usize, offset: usize, message: String) {
        let (line, column) = self.files[file].line_col(offset);
        self.diags.push(Diagnostic {
            severity,
            file: self.files[file].path.clone(),
            line,
            column,
            message,
        });
    }

    /// Records an error at the start of `span` in `file`.
    pub(super) fn error(&mut self, file: usize, span: &Range<usize>, message: impl Into<String>) {
        self.push(Severity::Error, file, span.start, message.into());
    }

    /// Records a warning at the start of `span` in `file`.
    pub(super) fn warn(&mut self, file: usize, span: &Range<usize>, message: impl Into<String>) {
        self.push(Severity::Warning, file, span.start, message.into());
    }

    /// `file:line` of a span, as used in traces.
    pub(super) fn at(&self, file: usize, span: &Range<usize>) -> Arc<str> {
        let (line, _) = self.files[file].line_col(span.start);
        format!("{}:{line}", self.files[file].path).into()
    }

    fn has_errors(&self) -> bool {
        self.diags.iter().any(|d| d.severity == Severity::Error)
    }

    /// Parses a vocabulary value, reporting an error at its position when it is unknown.
    pub(super) fn vocab<T: std::str::FromStr>(&mut self, file: usize, name: &Name) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        match name.get_ref().parse::<T>() {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(file, &name.span(), e.to_string());
                None
            }
        }
    }

    /// A reason located at the `file:line` of `span`, for traces.
    pub(super) fn reason(
        &self,
        by: ReasonKind,
        file: usize,
        span: &Range<usize>,
        why: String,
    ) -> Arc<Reason> {
        Arc::new(Reason {
            by,
            rule: None,
            at: Some(self.at(file, span)),
            why: why.into(),
        })
    }
}

/// Validates and compiles rules files. `read` fetches a further file named by the rules
/// (the customer list) relative to the rules directory.
pub fn compile(
    files: &[SourceFile],
    read: impl Fn(&str) -> Result<SourceFile, ReadError>,
) -> Result<Loaded, RulesError> {
    compile_with(files, &read)
}

/// [`compile`] with a reader whose errors say why a file could not be read.
pub(super) fn compile_with(
    files: &[SourceFile],
    read: &dyn Fn(&str) -> Result<SourceFile, ReadError>,
) -> Result<Loaded, RulesError> {
    let mut ctx = Ctx {
        files,
        diags: Vec::new(),
    };
    let mut docs = Vec::new();
    for (i, f) in files.iter().enumerate() {
        match toml::from_str::<FileDoc>(&f.text) {
            Ok(doc) => docs.push((i, doc)),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                ctx.error(i, &span, e.message().to_owned());
            }
        }
    }
    if files.is_empty() {
        return Err(RulesError {
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                file: "rules".into(),
                line: 0,
                column: 0,
                message: "no rules files (*.toml) found".into(),
            }],
        });
    }
    if ctx.has_errors() {
        // Fix the shape first: cross-references are meaningless in a file that did not parse.
        return Err(RulesError {
            diagnostics: ctx.diags,
        });
    }
    match build(&mut ctx, docs, read) {
        Some(mut rules) if !ctx.has_errors() => {
            let mut hasher = Sha256::new();
            let mut kept = Vec::new();
            for f in files.iter().chain(rules.1.iter()) {
                let name = f.path.rsplit(['/', '\\']).next().unwrap_or(&f.path);
                hasher.update(name.as_bytes());
                hasher.update([0]);
                hasher.update(f.text.as_bytes());
                hasher.update([0]);
                kept.push(RulesFile {
                    name: f.path.clone(),
                    hash: crate::model::hex(&Sha256::digest(f.text.as_bytes())),
                    text: f.text.as_str().into(),
                });
            }
            let hex = crate::model::hex(&hasher.finalize()[..8]);
            rules.0.version = format!("sha256:{hex}").into();
            rules.0.files = kept.into();
            Ok(Loaded {
                rules: rules.0,
                warnings: ctx.diags,
            })
        }
        _ => Err(RulesError {
            diagnostics: ctx.diags,
        }),
    }
}

/// Checks and compiles everything; returns the rules and the extra files read (for the hash).
fn build(
    ctx: &mut Ctx,
    docs: Vec<(usize, FileDoc)>,
    read: &dyn Fn(&str) -> Result<SourceFile, ReadError>,
) -> Option<(CompiledRules, Vec<SourceFile>)> {
    let docs = sections::gather(ctx, docs);

    // Queues first: everything else may route to them.
    let mut queues = queues::declared(&docs.queues);
    let mut extra_files = Vec::new();
    let calendars = calendars::compile(ctx, &docs.calendars, read, &mut extra_files);
    let staffing = queues::staffing(ctx, &docs.queues, &calendars);
    let windows = calendars::windows(ctx, &docs.windows, &calendars);
    let (table, language) = defaults::table(ctx, docs.defaults)?;
    let mut faq = faq::compile(ctx, docs.faq);
    let (categories, faq_thresholds) = categories::compile(ctx, &docs.categories, &queues);
    faq.category_thresholds = faq_thresholds;
    let fallbacks = defaults::fallbacks(ctx, &table, &categories, &queues);
    let channel_windows = segments::channels(ctx, &docs.channels);
    let segments = segments::compile(ctx, &docs.segments, &queues, (table.file, &table.span));
    let customers = defaults::customer_list(ctx, &table, read, &mut extra_files, &calendars);
    let screens = queues::screens(ctx, &docs.queues, &queues, &customers);
    let contact = contact::compile(ctx, &docs.potentials);
    let classification = classification::compile(
        ctx,
        docs.rules,
        &classification::Known {
            customers: &customers,
            languages: &table.languages,
            categories: &categories,
            queues: &queues,
        },
    );

    if let (Some(c), Some(f)) = (&classification, &fallbacks) {
        categories::report_undecided(ctx, &docs.categories, &c.decided_categories, &f.category);
    }

    // SLA and mail are checked only once everything above compiled.
    let (Some(fallbacks), Some(windows), Some(segments), Some(classification), Some(language)) =
        (fallbacks, windows, segments, classification, language)
    else {
        return None;
    };
    let sla = super::sla::compile_sla(
        ctx,
        docs.sla,
        &super::sla::Known {
            calendars: &calendars.compiled,
            windows: &windows,
            queues: &queues,
            categories: &categories,
            customers: &customers,
        },
    );
    let mail = super::mail::compile_mail(ctx, docs.mail, &queues);
    let privacy = privacy::compile(ctx, docs.privacy);
    queues::staff(&mut queues, staffing);
    if ctx.has_errors() {
        return None;
    }
    let defaults = defaults::compile(ctx, table, fallbacks);
    Some((
        CompiledRules {
            version: "".into(),
            files: Arc::from(Vec::new()),
            defaults,
            windows,
            segments,
            channel_windows,
            categories,
            queues,
            calendars: calendars.compiled,
            customers,
            screens,
            contact,
            rules: classification.rules,
            text_set: classification.text_set,
            failure_pattern: classification.failure_pattern,
            rules_by_pattern: classification.rules_by_pattern,
            rules_without_pattern: classification.rules_without_pattern,
            sender_globs: classification.sender_globs,
            language,
            sla,
            faq,
            mail,
            privacy,
        },
        extra_files,
    ))
}

/// Reports `name` as none of the defined `kind`s (singular and plural), listing `defined`:
/// `unknown queue "x" (defined queues: a, b)`.
pub(super) fn report_unknown(
    ctx: &mut Ctx,
    file: usize,
    name: &Name,
    [kind, kinds]: [&str; 2],
    defined: &[&str],
) {
    ctx.error(
        file,
        &name.span(),
        format!(
            "unknown {kind} \"{}\" (defined {kinds}: {})",
            name.get_ref(),
            list(defined.iter())
        ),
    );
}

/// Names for an error message: "a, b, c", or "none".
pub fn list<'a, S: AsRef<str> + 'a>(names: impl Iterator<Item = &'a S>) -> String {
    let v: Vec<&str> = names.map(|s| s.as_ref()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
pub(in crate::rules) mod tests {
    use super::super::fixture::with_rules;
    use super::super::{Diagnostic, Severity};

    /// The errors of a rejected rules set, as "file:line: message" strings.
    pub(in crate::rules) fn errors(rules: &str) -> Vec<String> {
        let err = with_rules(rules).expect_err("rules should be rejected");
        err.errors().map(located).collect()
    }

    /// The warnings of an accepted rules set, as "file:line: message" strings; without
    /// those about the fixture's categories that `rules` leaves undecided.
    pub(super) fn warnings(rules: &str) -> Vec<String> {
        all_warnings(rules)
            .into_iter()
            .filter(|w| !(w.starts_with("service.toml:") && w.contains("is never decided")))
            .collect()
    }

    /// Every warning of an accepted rules set, as "file:line: message" strings.
    pub(super) fn all_warnings(rules: &str) -> Vec<String> {
        with_rules(rules)
            .unwrap_or_else(|e| panic!("rules rejected: {e}"))
            .warnings
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .map(located)
            .collect()
    }

    /// A message as "file:line: message".
    pub(in crate::rules) fn located(d: &Diagnostic) -> String {
        format!("{}:{}: {}", d.file, d.line, d.message)
    }

    /// Whether any message contains `needle`.
    pub(in crate::rules) fn has(list: &[String], needle: &str) -> bool {
        list.iter().any(|m| m.contains(needle))
    }

    #[test]
    fn mail_rules_errors_name_their_line() {
        let errs = errors(
            "[mail]\naddress = \"no address\"\nreview-queue = \"nowhere\"\nspam-patterns = [\"(open\"]\nblocked-senders = [\"*@[bad\"]\nmax-attachment-kib = 0\n",
        );
        for (line, needle) in [
            (2, "invalid mail address \"no address\""),
            (3, "unknown queue \"nowhere\""),
            (4, "invalid regular expression in spam-patterns"),
            (5, "invalid sender pattern \"*@[bad\""),
            (6, "a size limit must be a positive number of KiB"),
        ] {
            assert!(
                has(&errs, &format!("rules.toml:{line}: {needle}")),
                "{errs:?}"
            );
        }
    }

    #[test]
    fn a_spam_pattern_with_a_unicode_word_boundary_warns() {
        let warns = warnings(
            "[mail]\nreview-queue = \"desk\"\nspam-patterns = [\n  '(?i)\\bbacklinks\\b',\n  '(?i)(?:^|\\W)seo(?:\\W|$)',\n]\n",
        );
        let about: Vec<&String> = warns
            .iter()
            .filter(|w| w.contains("spam pattern"))
            .collect();
        assert_eq!(about.len(), 1, "{warns:?}");
        assert!(
            has(
                &warns,
                "rules.toml:3: spam pattern \"(?i)\\\\bbacklinks\\\\b\": \\b keeps"
            ),
            "{warns:?}"
        );
    }

    #[test]
    fn categories_no_rule_decides_are_warned_about() {
        let warns = all_warnings(
            "[[rule]]\nid = \"pw\"\nwhen.keywords = \"passwort\"\nset = { category = \"password-reset\" }\n\n[[rule]]\nid = \"shadowed\"\nwhen = { keywords = \"passwort\", channel = \"web\" }\nset = { category = \"password-reset\" }\n\n[[rule]]\nid = \"major\"\nwhen.keywords = \"down\"\nset = { category = \"outage\" }\n",
        );
        // billing: no rule at all; general is the default; outage and password-reset are set.
        let undecided: Vec<&String> = warns
            .iter()
            .filter(|w| w.contains("never decided"))
            .collect();
        assert_eq!(undecided.len(), 1, "{warns:?}");
        assert!(
            has(
                &warns,
                "service.toml:44: category \"billing\" is never decided"
            ),
            "{warns:?}"
        );
        // A category only a rule that can never apply sets is never decided either.
        let warns = all_warnings(
            "[[rule]]\nid = \"pw\"\nwhen.keywords = \"passwort*\"\nset = { category = \"password-reset\" }\n\n[[rule]]\nid = \"billing\"\nwhen.keywords = \"passwortrechnung\"\nset = { category = \"billing\" }\n",
        );
        assert!(
            has(
                &warns,
                "rules.toml:6: rule \"billing\" can never change a decision"
            ),
            "{warns:?}"
        );
        assert!(
            has(
                &warns,
                "service.toml:44: category \"billing\" is never decided"
            ),
            "{warns:?}"
        );
    }

    #[test]
    fn the_fixture_compiles_without_warnings() {
        let loaded = with_rules("").unwrap();
        assert!(warnings("").is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.rules.customers.len(), 3);
        assert!(loaded.rules.version.starts_with("sha256:"));
    }

    #[test]
    fn toml_syntax_error_names_line_and_column() {
        let errs = errors("[[rule]]\nid = \"x\nset = {}\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("rules.toml:2:"), "{errs:?}");
    }

    #[test]
    fn unknown_key_is_an_error_at_its_line() {
        let errs =
            errors("[[rule]]\nid = \"x\"\nwhen.keyword = [\"a\"]\nset = { priority = \"P1\" }\n");
        assert!(
            has(&errs, "rules.toml:3: unknown field `keyword`"),
            "{errs:?}"
        );
    }

    #[test]
    fn sla_policies_compile_and_the_first_match_wins() {
        use crate::model::{Channel, Priority, Segment};
        use crate::sla::PolicyFacts;
        let loaded = with_rules(
            r#"
[calendar.vienna]
timezone = "Europe/Vienna"
hours = { mon-fri = ["08:00-17:00"] }
holidays = ["12-25 Christtag", "easter+1 Ostermontag"]
special = { "12-24" = ["08:00-12:00"] }

[sla]
pause-statuses = ["pending-vendor"]

[webhook.ops]
url = "http://127.0.0.1:9/hook"
secret = "s3cret"
retry-after = "2s"

[[policy]]
id = "weekend-p1"
when = { priority = "P1", arrived-on = "sat-sun" }
first-response = "4h"

[[policy]]
id = "p1"
when = { priority = "P1" }
first-response = "2h"
resolution = "1d"
calendar = "always"
escalate = [{ after = "0m", notify = ["webhook:ops", "role:duty-manager"] }]

[[policy]]
id = "web-form"
when = { channel = "web" }
first-response = "2h"
"#,
        )
        .unwrap();
        let sla = &loaded.rules.sla;
        assert!(sla.pauses("pending-vendor") && sla.pauses("pending-customer"));
        assert!(!sla.is_known_status("waiting"));
        assert_eq!(sla.webhooks["ops"].retry_after_secs, 2);
        let facts = |priority, at: &str| PolicyFacts {
            segment: Segment::Administrative,
            priority,
            channel: Channel::Web,
            category: "general",
            tags: &[],
            received_at: chrono::DateTime::parse_from_rfc3339(at).unwrap().into(),
            organisation: None,
            customer_tags: &[],
            potential: None,
            queue: "desk",
        };
        let pick = |f| sla.select(&f).map(|p| p.id.to_string());
        assert_eq!(
            pick(facts(Priority::P1, "2026-11-28T10:00:00+01:00")).as_deref(),
            Some("weekend-p1")
        );
        assert_eq!(
            pick(facts(Priority::P1, "2026-11-30T10:00:00+01:00")).as_deref(),
            Some("p1")
        );
        assert_eq!(
            pick(facts(Priority::P3, "2026-11-30T10:00:00+01:00")).as_deref(),
            Some("web-form")
        );
        let p1 = &sla.policies[1];
        assert_eq!(p1.targets, [Some(120), None, Some(1440)]);
        assert_eq!(p1.reason.at.as_deref(), Some("rules.toml:21"));
        let vienna = &loaded.rules.calendars["vienna"];
        let d = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(vienna.special_day(d("2027-03-29")), Some("Ostermontag"));
        assert_eq!(vienna.hours_on(d("2026-12-24")).len(), 1);
    }

    #[test]
    fn sla_mistakes_are_errors_at_their_line() {
        let errs = errors(
            r#"
[calendar.broken]
timezone = "UTC"
hours = { mon = ["08:00-17:00"] }
holidays = ["24.12. Heiliger Abend"]
holiday-files = ["missing.ics"]

[[policy]]
id = "p"
when = { category = "nope", segment = "vip" }
first-response = "2 hours"
warn = [75, 120]
escalate = [{ after = "1h", notify = ["webhook:pager", "mail:boss"] }]
"#,
        );
        for (line, needle) in [
            (5, "invalid date \"24.12.\""),
            (6, "cannot read missing.ics"),
            (10, "unknown category \"nope\""),
            (10, "vip"),
            (11, "invalid first-response \"2 hours\""),
            (12, "warning threshold 120"),
            (13, "unknown webhook \"pager\""),
            (13, "unknown notification target \"mail:boss\""),
        ] {
            assert!(
                errs.iter()
                    .any(|e| e.starts_with(&format!("rules.toml:{line}:")) && e.contains(needle)),
                "{needle} at line {line}: {errs:#?}"
            );
        }
    }

    #[test]
    fn version_changes_with_any_file() {
        let a = with_rules("").unwrap().rules.version;
        let b = with_rules("# a comment\n").unwrap().rules.version;
        assert_ne!(a, b);
    }
}
