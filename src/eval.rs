//! Evaluation of the rules against labelled, independently written tickets: the Softoft
//! "Multilingual Customer Support Tickets" data set (see `shared/data/tickets-softoft/SOURCE.md`).
//!
//! It only reads and counts; nothing here tunes rules. The data set has no channel and no
//! arrival time, so every ticket is taken as an e-mail arriving on a Monday at 10:00 in
//! Vienna.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};

use crate::classify::classify;
use crate::model::{Channel, Decision, Priority, Sender, Ticket};
use crate::rules::CompiledRules;

/// The files read, in this order (the German-only files use another queue taxonomy).
pub const FILES: &[&str] = &[
    "aa_dataset-tickets-multi-lang-5-2-50-version.csv",
    "dataset-tickets-multi-lang-4-20k.csv",
];

/// A ticket of the data set with its labels.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub ticket: Ticket,
    pub queue: String,
    pub priority: String,
    pub language: String,
}

/// Where the shared data sets live: `$TRIAGE_DATA_DIR`, else `../shared/data` beside the
/// project root.
pub fn data_dir() -> PathBuf {
    std::env::var_os("TRIAGE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

/// A data set file that cannot be read as the evaluation expects it.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {why}")]
pub struct DataError {
    pub path: String,
    pub why: String,
}

/// Reads the labelled tickets of [`FILES`] from the `tickets-softoft` folder.
pub fn load_softoft(dir: &Path) -> Result<Vec<Labelled>, DataError> {
    let arrival = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let mut out = Vec::new();
    for name in FILES {
        let path = dir.join(name);
        let fail = |why: String| DataError {
            path: path.display().to_string(),
            why,
        };
        let mut reader =
            csv::Reader::from_path(&path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let headers = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
        let col = |name: &str| headers.iter().position(|h| h == name);
        let (Some(s), Some(b), Some(q), Some(p), Some(l)) = (
            col("subject"),
            col("body"),
            col("queue"),
            col("priority"),
            col("language"),
        ) else {
            return Err(fail("unexpected columns".into()));
        };
        for record in reader.records() {
            let r = record.map_err(|e| fail(e.to_string()))?;
            let text = |i: usize| r.get(i).unwrap_or("").replace("\\n", "\n");
            out.push(Labelled {
                ticket: Ticket {
                    channel: Channel::Email,
                    subject: text(s),
                    body: text(b),
                    from: Sender::default(),
                    received_at: arrival,
                },
                queue: text(q),
                priority: text(p),
                language: text(l),
            });
        }
    }
    Ok(out)
}

/// Counts of (row label, column value).
#[derive(Debug, Default)]
pub struct CrossTab {
    pub cells: BTreeMap<String, BTreeMap<String, usize>>,
}

impl CrossTab {
    pub fn add(&mut self, row: &str, col: &str) {
        *self
            .cells
            .entry(row.to_owned())
            .or_default()
            .entry(col.to_owned())
            .or_default() += 1;
    }

    pub fn count(&self, row: &str, col: &str) -> usize {
        self.cells
            .get(row)
            .and_then(|r| r.get(col))
            .copied()
            .unwrap_or(0)
    }

    pub fn row_total(&self, row: &str) -> usize {
        self.cells.get(row).map_or(0, |r| r.values().sum())
    }

    /// A Markdown table with the given columns, row totals and row-wise percentages.
    pub fn markdown(&self, corner: &str, columns: &[String]) -> String {
        let mut s = format!("| {corner} | n |");
        for c in columns {
            let _ = write!(s, " {c} |");
        }
        s.push_str("\n|---|---:|");
        s.push_str(&"---:|".repeat(columns.len()));
        s.push('\n');
        for (row, cells) in &self.cells {
            let total: usize = cells.values().sum();
            let _ = write!(s, "| {row} | {total} |");
            for c in columns {
                let n = cells.get(c).copied().unwrap_or(0);
                if n == 0 {
                    s.push_str(" · |");
                } else {
                    let _ = write!(s, " {:.0}% |", 100.0 * n as f64 / total as f64);
                }
            }
            s.push('\n');
        }
        s
    }

    /// Column values sorted by overall frequency.
    pub fn columns(&self) -> Vec<String> {
        let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
        for cells in self.cells.values() {
            for (c, n) in cells {
                *totals.entry(c).or_default() += n;
            }
        }
        let mut cols: Vec<(&str, usize)> = totals.into_iter().collect();
        cols.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        cols.into_iter().map(|(c, _)| c.to_owned()).collect()
    }
}

/// The tables reported in the README.
#[derive(Debug, Default)]
pub struct Report {
    pub tickets: usize,
    pub queue_segment: CrossTab,
    pub queue_category: CrossTab,
    pub priority: CrossTab,
    pub language: CrossTab,
    /// Label × a plain stopword vote, to tell detection errors from mislabelled rows.
    pub language_by_stopwords: CrossTab,
    /// Queue × our automation level.
    pub queue_automation: CrossTab,
    /// Tickets of the outage queue, and of those the ones we take for an outage or as
    /// business-critical.
    pub outage_queue: (usize, usize),
    /// Tickets whose wording reports a failure (held from automatic answers by the cap).
    pub failure_reports: usize,
    /// Tickets of the outage queue, or reporting a failure, that would be automated.
    pub outage_automated: usize,
}

/// The data set's queue of outage reports.
pub const OUTAGE_QUEUE: &str = "Service Outages and Maintenance";

/// Which of German or English has more of its commonest function words in the text: a
/// deliberately simple, independent second opinion on the language labels.
pub fn stopword_vote(text: &str) -> &'static str {
    const DE: &[&str] = &[
        "der", "die", "das", "und", "ist", "sind", "mit", "wir", "unser", "unsere", "bitte", "ich",
        "zu", "nicht", "ein", "eine", "für", "von", "den", "sie",
    ];
    const EN: &[&str] = &[
        "the", "and", "is", "are", "with", "we", "our", "please", "i", "to", "not", "a", "an",
        "for", "of", "you", "this", "that", "it", "have",
    ];
    let (mut de, mut en) = (0, 0);
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let w = word.to_lowercase();
        de += DE.contains(&w.as_str()) as usize;
        en += EN.contains(&w.as_str()) as usize;
    }
    if de > en {
        "de"
    } else {
        "en"
    }
}

/// Classifies every labelled ticket and tabulates decisions against labels.
pub fn evaluate(rules: &CompiledRules, data: &[Labelled]) -> Report {
    let mut report = Report::default();
    for l in data {
        let d: Decision = classify(rules, &l.ticket);
        report.tickets += 1;
        report.queue_segment.add(&l.queue, d.segment.as_str());
        report.queue_category.add(&l.queue, &d.category);
        report.priority.add(&l.priority, d.priority.as_str());
        report.language.add(&l.language, &d.language);
        report.queue_automation.add(&l.queue, d.automation.as_str());
        let failure = d.trace.automation.why.contains("reports a failure");
        report.failure_reports += usize::from(failure);
        if l.queue == OUTAGE_QUEUE {
            report.outage_queue.0 += 1;
            report.outage_queue.1 += usize::from(
                &*d.category == "outage" || d.segment == crate::model::Segment::BusinessCritical,
            );
        }
        if (l.queue == OUTAGE_QUEUE || failure)
            && d.automation == crate::model::Automation::Automated
        {
            report.outage_automated += 1;
        }
        let text = format!("{}\n{}", l.ticket.subject, l.ticket.body);
        report
            .language_by_stopwords
            .add(&l.language, stopword_vote(&text));
    }
    report
}

impl Report {
    /// The whole report as Markdown.
    pub fn markdown(&self) -> String {
        let priorities: Vec<String> = Priority::ALL.iter().map(|p| p.to_string()).collect();
        let segments: Vec<String> = crate::model::Segment::ALL
            .iter()
            .map(|s| s.to_string())
            .collect();
        let automation: Vec<String> = ["automated", "semi-automated", "human"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (n, recognised) = self.outage_queue;
        let outage = format!(
            "\n### Outage reports\n\n{recognised} of the {n} tickets of the outage queue ({:.0}%) are taken for an outage or as business-critical; {} tickets report a failure in their wording and are held from automatic answers by the cap; {} tickets of the outage queue or reporting a failure would be answered automatically.\n\n### Data set queue × our automation\n\n{}",
            100.0 * recognised as f64 / n.max(1) as f64,
            self.failure_reports,
            self.outage_automated,
            self.queue_automation.markdown("queue (data set)", &automation),
        );
        format!(
            "{} tickets.\n\n### Data set queue × our segment\n\n{}\n### Data set queue × our category\n\n{}\n### Data set priority × our priority\n\n{}\n### Data set language × detected language\n\n{}\n### Data set language × stopword vote (a check on the labels)\n\n{}",
            self.tickets,
            self.queue_segment.markdown("queue (data set)", &segments),
            self.queue_category.markdown("queue (data set)", &self.queue_category.columns()),
            self.priority.markdown("priority (data set)", &priorities),
            self.language.markdown("language (data set)", &self.language.columns()),
            self.language_by_stopwords
                .markdown("language (data set)", &self.language_by_stopwords.columns()),
        ) + &outage
    }
}
