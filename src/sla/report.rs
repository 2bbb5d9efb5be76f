//! The compliance report: per group, how many clocks met or breached their target and how
//! many business minutes first response and resolution took.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ClockState, ClockView, Metric};

/// Figures of one metric in one group.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MetricFigures {
    pub met: u64,
    /// Stopped over target, or running past the due time.
    pub breached: u64,
    /// Running within target, or paused: not decided yet.
    pub open: u64,
    /// met / (met + breached), in percent; absent when nothing is decided.
    pub attainment_pct: Option<f64>,
    /// Business minutes used by the stopped clocks (nearest-rank percentiles).
    pub median_minutes: Option<i64>,
    pub p90_minutes: Option<i64>,
}

/// One row of the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReportRow {
    pub group: String,
    pub tickets: u64,
    /// Over all metrics: met / (met + breached), in percent.
    pub attainment_pct: Option<f64>,
    pub first_response: MetricFigures,
    pub next_reply: MetricFigures,
    pub resolution: MetricFigures,
}

#[derive(Default)]
struct Acc {
    tickets: u64,
    counts: [(u64, u64, u64); 3],
    minutes: [Vec<i64>; 3],
}

/// Builds the rows, one per group in name order, from each ticket's group and clocks.
pub fn report<'a>(tickets: impl IntoIterator<Item = (String, &'a [ClockView])>) -> Vec<ReportRow> {
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for (group, clocks) in tickets {
        let acc = groups.entry(group).or_default();
        acc.tickets += 1;
        for c in clocks {
            let i = c.metric.index();
            match c.state {
                ClockState::Met => acc.counts[i].0 += 1,
                ClockState::Breached => acc.counts[i].1 += 1,
                ClockState::Running | ClockState::Paused => acc.counts[i].2 += 1,
                ClockState::Ended => {}
            }
            if c.stopped_at.is_some() && matches!(c.state, ClockState::Met | ClockState::Breached) {
                acc.minutes[i].push(c.business_minutes_used);
            }
        }
    }
    groups
        .into_iter()
        .map(|(group, mut acc)| {
            let mut figures = Metric::ALL.map(|m| {
                let (met, breached, open) = acc.counts[m.index()];
                let mins = &mut acc.minutes[m.index()];
                mins.sort_unstable();
                MetricFigures {
                    met,
                    breached,
                    open,
                    attainment_pct: pct(met, breached),
                    median_minutes: nearest_rank(mins, 50),
                    p90_minutes: nearest_rank(mins, 90),
                }
            });
            let (met, breached) = figures
                .iter()
                .fold((0, 0), |(m, b), f| (m + f.met, b + f.breached));
            let [first_response, next_reply, resolution] = std::mem::take(&mut figures);
            ReportRow {
                group,
                tickets: acc.tickets,
                attainment_pct: pct(met, breached),
                first_response,
                next_reply,
                resolution,
            }
        })
        .collect()
}

fn pct(met: u64, breached: u64) -> Option<f64> {
    let n = met + breached;
    (n > 0).then(|| (met as f64 * 1000.0 / n as f64).round() / 10.0)
}

fn nearest_rank(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The rows as CSV with a header line.
pub fn to_csv(rows: &[ReportRow]) -> String {
    let mut out = String::from(
        "group,tickets,attainment_pct,first_response_met,first_response_breached,first_response_open,first_response_attainment_pct,first_response_median_minutes,first_response_p90_minutes,next_reply_met,next_reply_breached,next_reply_open,next_reply_attainment_pct,next_reply_median_minutes,next_reply_p90_minutes,resolution_met,resolution_breached,resolution_open,resolution_attainment_pct,resolution_median_minutes,resolution_p90_minutes\n",
    );
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let opt_i = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
    for r in rows {
        let group = if r.group.contains([',', '"', '\n']) {
            format!("\"{}\"", r.group.replace('"', "\"\""))
        } else {
            r.group.clone()
        };
        out.push_str(&format!("{group},{},{}", r.tickets, opt(r.attainment_pct)));
        for f in [&r.first_response, &r.next_reply, &r.resolution] {
            out.push_str(&format!(
                ",{},{},{},{},{},{}",
                f.met,
                f.breached,
                f.open,
                opt(f.attainment_pct),
                opt_i(f.median_minutes),
                opt_i(f.p90_minutes)
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(metric: Metric, state: ClockState, minutes: i64, stopped: bool) -> ClockView {
        ClockView {
            metric,
            cycle: 1,
            policy: "p".into(),
            calendar: "office".into(),
            target_minutes: 60,
            due_at: None,
            state,
            business_minutes_used: minutes,
            business_minutes_remaining: 60 - minutes,
            business_minutes_paused: 0,
            stopped_at: stopped.then(chrono::Utc::now),
        }
    }

    #[test]
    fn attainment_and_percentiles_per_group() {
        use ClockState::*;
        let a = [
            clock(Metric::FirstResponse, Met, 10, true),
            clock(Metric::Resolution, Breached, 500, true),
        ];
        let b = [
            clock(Metric::FirstResponse, Met, 30, true),
            clock(Metric::Resolution, Running, 20, false),
        ];
        let c = [clock(Metric::FirstResponse, Breached, 90, true)];
        let d = [clock(Metric::FirstResponse, Breached, 70, false)];
        let rows = report([
            ("commercial".to_owned(), &a[..]),
            ("commercial".to_owned(), &b[..]),
            ("commercial".to_owned(), &c[..]),
            ("administrative".to_owned(), &d[..]),
        ]);
        assert_eq!(rows.len(), 2);
        let adm = &rows[0];
        assert_eq!(adm.group, "administrative");
        // Running past due counts as breached but has no minutes yet.
        assert_eq!(
            (
                adm.first_response.breached,
                adm.first_response.median_minutes
            ),
            (1, None)
        );
        let com = &rows[1];
        assert_eq!(com.tickets, 3);
        assert_eq!(
            (com.first_response.met, com.first_response.breached),
            (2, 1)
        );
        assert_eq!(com.first_response.attainment_pct, Some(66.7));
        assert_eq!(com.first_response.median_minutes, Some(30));
        assert_eq!(com.first_response.p90_minutes, Some(90));
        assert_eq!((com.resolution.breached, com.resolution.open), (1, 1));
        assert_eq!(com.attainment_pct, Some(50.0));
        let csv = to_csv(&rows);
        assert_eq!(csv.lines().count(), 3);
        assert!(csv
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("commercial,3,50,2,1,0,66.7,30,90,"));
    }
}
