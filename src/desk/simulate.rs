//! A rules change tried on the stored history: tickets are read in pages (memory stays
//! bounded whatever the history), the next page is fetched while the current one is decided
//! again on every core under the current and the candidate rules.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DeskError;
use crate::faq::FaqIndex;
use crate::model::ReasonKind;
use crate::rules::CompiledRules;
pub use crate::simulate::Scope;
use crate::simulate::{replay, Diff, FaqLookup, Past, Stop};
use crate::sla::{Metric, SlaState};
use crate::store::{self, HistoryRow, Store};

/// Tickets read per page.
const PAGE: u64 = 4096;

/// Which tickets, and what to decide again.
#[derive(Clone, Copy, Debug)]
pub struct DiffOptions {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<u64>,
    pub scope: Scope,
}

/// The diff with both versions and how long it took.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub current_version: String,
    pub candidate_version: String,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub seconds: f64,
    pub tickets_per_second: f64,
    #[serde(flatten)]
    pub diff: Diff,
}

/// What the diff needs of a stored ticket (its recorded clocks only `with_clocks`); `None`
/// for one whose channel is unknown.
pub fn past_of(r: HistoryRow, with_clocks: bool) -> Option<Past> {
    let by = r
        .queue_by
        .as_deref()
        .and_then(|b| ReasonKind::deserialize(serde_json::Value::from(b)).ok());
    let clocks: Option<SlaState> = r
        .sla
        .as_deref()
        .filter(|_| with_clocks)
        .and_then(|s| serde_json::from_str(s).ok());
    let stop = |m: Metric| {
        let c = clocks
            .as_ref()?
            .clocks
            .iter()
            .find(|c| c.metric == m && c.cycle == 1 && c.met.is_some())?;
        Some(Stop {
            at: c.stopped_at?,
            paused_secs: c.paused_secs,
        })
    };
    Some(Past {
        number: store::ticket_number(r.seq),
        queue_by_person: (by == Some(ReasonKind::Agent)).then(|| r.queue.as_str().into()),
        mail_verdict: match by {
            Some(ReasonKind::Mail | ReasonKind::Trigger) => {
                Some((r.queue.as_str().into(), r.automation.parse().ok()?))
            }
            _ => None,
        },
        assigned: r.assignee.is_some(),
        first_response: stop(Metric::FirstResponse),
        resolution: stop(Metric::Resolution),
        ticket: crate::model::Ticket {
            channel: r.channel.parse().ok()?,
            subject: r.subject,
            body: r.body,
            from: crate::model::Sender {
                email: r.from_email,
                name: r.from_name,
                phone: r.from_phone,
            },
            received_at: r.received_at,
        },
    })
}

/// Decides one page on all cores.
fn decide_page(
    rows: Vec<HistoryRow>,
    current: &CompiledRules,
    candidate: &CompiledRules,
    faq: Option<&FaqIndex>,
    scope: Scope,
) -> Diff {
    let pasts: Vec<Past> = rows
        .into_iter()
        .filter_map(|r| past_of(r, scope.sla))
        .collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .max(1);
    let chunk = pasts.len().div_ceil(workers).max(1);
    std::thread::scope(|s| {
        let parts: Vec<_> = pasts
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut diff = Diff::default();
                    for p in part {
                        let mut lookup = faq.map(FaqLookup::new);
                        let a = replay(current, p, scope, lookup.as_mut());
                        let b = replay(candidate, p, scope, lookup.as_mut());
                        diff.add(p, (current, candidate), &a, &b);
                    }
                    diff
                })
            })
            .collect();
        let mut diff = Diff::default();
        for p in parts {
            if let Ok(d) = p.join() {
                diff.merge(d);
            }
        }
        diff
    })
}

/// Replays the stored tickets under both rule sets.
pub async fn diff(
    store: &Store,
    current: Arc<CompiledRules>,
    candidate: Arc<CompiledRules>,
    faq: Option<Arc<FaqIndex>>,
    opts: DiffOptions,
) -> Result<DiffReport, DeskError> {
    let started = Instant::now();
    let mut total = Diff::default();
    let mut left = opts.limit.unwrap_or(u64::MAX);
    let page = |after: i64, left: u64| {
        store.history_after(
            after,
            (opts.since, opts.until),
            PAGE.min(left),
            opts.scope.sla,
        )
    };
    let mut rows = page(0, left).await?;
    while !rows.is_empty() && left > 0 {
        left = left.saturating_sub(rows.len() as u64);
        let after = rows.last().map_or(0, |r| r.seq);
        let (cur, cand, index) = (current.clone(), candidate.clone(), faq.clone());
        let work = tokio::task::spawn_blocking(move || {
            decide_page(rows, &cur, &cand, index.as_deref(), opts.scope)
        });
        let next = async {
            if left == 0 {
                Ok(Vec::new())
            } else {
                page(after, left).await
            }
        };
        let (part, next) = tokio::join!(work, next);
        total.merge(part.map_err(|e| DeskError::Busy(format!("replay failed: {e}")))?);
        rows = next?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(DiffReport {
        current_version: current.version.to_string(),
        candidate_version: candidate.version.to_string(),
        since: opts.since,
        until: opts.until,
        seconds,
        tickets_per_second: if seconds > 0.0 {
            total.tickets as f64 / seconds
        } else {
            0.0
        },
        diff: total,
    })
}

fn pct(met: u64, of: u64) -> String {
    if of == 0 {
        "–".into()
    } else {
        format!("{:.1} %", 100.0 * met as f64 / of as f64)
    }
}

impl DiffReport {
    /// The report for a terminal: changes per field with their transitions and examples,
    /// projected attainment per segment and channel, automation and queues.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let d = &self.diff;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "rules diff: {} tickets replayed in {:.2} s ({:.0} tickets/s)\ncurrent {} → candidate {}\n{} tickets change, {} stay",
            d.tickets,
            self.seconds,
            self.tickets_per_second,
            self.current_version,
            self.candidate_version,
            d.changed,
            d.tickets - d.changed
        );
        let _ = writeln!(
            o,
            "kept as people and the mail rules decided: {} queues chosen by a transfer, {} mail verdicts (noise, spam); {} tickets assigned to an agent",
            d.kept.queue_by_person, d.kept.mail_verdict, d.kept.assigned
        );
        let _ = writeln!(o, "\nchanges per field:");
        for name in crate::simulate::FIELDS {
            let changed = d.fields.get(name).map_or(0, |f| f.changed);
            let _ = writeln!(o, "  {name:<20} {changed:>8}");
        }
        for name in crate::simulate::FIELDS {
            let Some(f) = d.fields.get(name) else {
                continue;
            };
            let _ = writeln!(o, "\n{name}:");
            let mut ts: Vec<_> = f.transitions.iter().collect();
            ts.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
            for (key, t) in ts {
                let _ = writeln!(o, "  {key}: {}", t.count);
                for e in &t.examples {
                    let at = |s: &crate::simulate::Side| match (&s.rule, &s.at) {
                        (Some(r), Some(at)) => format!("{r} ({at})"),
                        (None, Some(at)) => at.clone(),
                        (Some(r), None) => r.clone(),
                        (None, None) => s.why.clone(),
                    };
                    let _ = writeln!(
                        o,
                        "    {} \"{}\"\n      now:       {}\n      candidate: {}",
                        e.ticket,
                        e.subject,
                        at(&e.current),
                        at(&e.candidate)
                    );
                }
            }
        }
        let _ = writeln!(
            o,
            "\nprojected attainment (recorded first responses and resolutions against each side's due times):\n  {:<32} {:>24} {:>24}",
            "segment/channel", "first response now → cand.", "resolution now → cand."
        );
        for (g, a) in &d.attainment {
            if a.first_response.current_measured
                + a.first_response.candidate_measured
                + a.resolution.current_measured
                + a.resolution.candidate_measured
                == 0
            {
                continue;
            }
            let col = |x: &crate::simulate::Attainment| {
                format!(
                    "{} → {} ({})",
                    pct(x.current_met, x.current_measured),
                    pct(x.candidate_met, x.candidate_measured),
                    x.candidate_measured
                )
            };
            let _ = writeln!(
                o,
                "  {g:<32} {:>24} {:>24}",
                col(&a.first_response),
                col(&a.resolution)
            );
        }
        for (title, c) in [
            ("automation", &d.automation),
            ("tickets per queue", &d.queues),
        ] {
            let _ = writeln!(o, "\n{title} (now → candidate):");
            let keys: std::collections::BTreeSet<&String> =
                c.current.keys().chain(c.candidate.keys()).collect();
            for k in keys {
                let now = c.current.get(k).copied().unwrap_or(0);
                let cand = c.candidate.get(k).copied().unwrap_or(0);
                let _ = writeln!(
                    o,
                    "  {k:<24} {now:>8} → {cand:<8} ({} → {})",
                    pct(now, d.tickets),
                    pct(cand, d.tickets)
                );
            }
        }
        o
    }
}

/// The rules in force with `changes` (file name → text) laid over them: a file of that
/// name is replaced, a new name is added. An invalid result is refused with every error.
pub fn candidate_of(
    current: &CompiledRules,
    changes: &std::collections::BTreeMap<String, String>,
) -> Result<CompiledRules, DeskError> {
    let base = |name: &str| name.rsplit(['/', '\\']).next().unwrap_or(name).to_owned();
    let mut files: std::collections::BTreeMap<String, String> = current
        .files
        .iter()
        .map(|f| (base(&f.name), f.text.to_string()))
        .collect();
    for (name, text) in changes {
        files.insert(base(name), text.clone());
    }
    let pairs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    crate::rules::compile_sources(&pairs)
        .map(|l| l.rules)
        .map_err(DeskError::RulesRejected)
}
