//! The compliance report: per group, how many clocks met or breached their target and how
//! many business minutes first response and resolution took.

use std::collections::BTreeMap;

use chrono::{
    DateTime, Duration, DurationRound, FixedOffset, NaiveDate, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::Serialize;

use super::{ClockState, Metric, SlaState};

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
    /// Follow-ups after our replies: met when we followed up in time.
    pub follow_up: MetricFigures,
}

/// What the report groups tickets by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Segment,
    Channel,
    Queue,
    Category,
    /// The ticket's SLA policy; `(none)` for tickets without one.
    Policy,
    /// What started the clock: the event kind of a task or a follow-up (`webinar-attended`,
    /// `quote-sent`), `reply` for the follow-up after our reply, `inbound` for the
    /// customer's own request.
    Trigger,
}

/// The trigger of a customer's own request.
pub const INBOUND: &str = "inbound";
/// The trigger of the follow-up after our reply.
pub const REPLY: &str = "reply";

impl GroupBy {
    pub const NAMES: &'static str = "segment, channel, queue, category, policy or trigger";

    pub fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "segment" => GroupBy::Segment,
            "channel" => GroupBy::Channel,
            "queue" => GroupBy::Queue,
            "category" => GroupBy::Category,
            "policy" => GroupBy::Policy,
            "trigger" => GroupBy::Trigger,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Segment => "segment",
            GroupBy::Channel => "channel",
            GroupBy::Queue => "queue",
            GroupBy::Category => "category",
            GroupBy::Policy => "policy",
            GroupBy::Trigger => "trigger",
        }
    }
}

/// The group of tickets without an SLA policy.
pub const NO_POLICY: &str = "(none)";

/// A clock as the store keeps it for the report: what no passing of time changes, and the
/// due time after which a running clock counts as breached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptClock {
    pub metric: Metric,
    pub cycle: u32,
    /// Met, breached, ended, running or paused; never breached by time alone.
    pub state: ClockState,
    pub due_at: Option<DateTime<Utc>>,
    /// Business minutes used, for met and breached clocks.
    pub minutes: Option<i64>,
    /// What started it when not the ticket's own trigger: a follow-up's event kind or
    /// [`REPLY`].
    pub trigger: Option<String>,
}

/// The clocks of `state` as kept for the report.
pub fn kept(state: &SlaState) -> Vec<KeptClock> {
    state
        .clocks
        .iter()
        .map(|c| {
            // Before any due time: a running clock stays running.
            let state = c.state(DateTime::<Utc>::MIN_UTC);
            KeptClock {
                metric: c.metric,
                cycle: c.cycle,
                state,
                due_at: c.due_at.filter(|_| state == ClockState::Running),
                minutes: c.met.map(|_| c.used_secs / 60),
                trigger: (c.metric == Metric::FollowUp)
                    .then(|| c.trigger.clone().unwrap_or_else(|| REPLY.to_owned())),
            }
        })
        .collect()
}

/// How many clocks of one group (and bucket) have one metric, state and minutes, as the
/// database counts them; the state is as of the report's now. Without a metric: how many
/// tickets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    pub group: String,
    pub bucket: i64,
    pub metric: Option<Metric>,
    pub state: ClockState,
    pub minutes: Option<i64>,
    pub n: u64,
}

#[derive(Default)]
struct Acc {
    tickets: u64,
    counts: [(u64, u64, u64); 4],
    /// Minutes of decided clocks and how often each occurs: exact percentiles from counts.
    minutes: [BTreeMap<i64, u64>; 4],
}

impl Acc {
    fn add(&mut self, metric: Metric, state: ClockState, minutes: Option<i64>, n: u64) {
        let i = metric.index();
        match state {
            ClockState::Met => self.counts[i].0 += n,
            ClockState::Breached => self.counts[i].1 += n,
            ClockState::Running | ClockState::Paused => self.counts[i].2 += n,
            ClockState::Ended => {}
        }
        if let (Some(m), ClockState::Met | ClockState::Breached) = (minutes, state) {
            *self.minutes[i].entry(m).or_default() += n;
        }
    }

    fn count(&mut self, t: &Tally) {
        match t.metric {
            Some(m) => self.add(m, t.state, t.minutes, t.n),
            None => self.tickets += t.n,
        }
    }

    fn row(self, group: String) -> ReportRow {
        let mut figures = Metric::ALL.map(|m| {
            let (met, breached, open) = self.counts[m.index()];
            let mins = &self.minutes[m.index()];
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
        let [first_response, next_reply, resolution, follow_up] = std::mem::take(&mut figures);
        ReportRow {
            group,
            tickets: self.tickets,
            attainment_pct: pct(met, breached),
            first_response,
            next_reply,
            resolution,
            follow_up,
        }
    }
}

/// The same rows from the database's tallies of the tickets and their clocks.
pub fn rows_of(tallies: impl IntoIterator<Item = Tally>) -> Vec<ReportRow> {
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    for mut t in tallies {
        groups
            .entry(std::mem::take(&mut t.group))
            .or_default()
            .count(&t);
    }
    groups.into_iter().map(|(g, acc)| acc.row(g)).collect()
}

fn pct(met: u64, breached: u64) -> Option<f64> {
    crate::model::percent(met, met + breached)
}

/// The nearest-rank percentile of the minutes counted in `hist`.
fn nearest_rank(hist: &BTreeMap<i64, u64>, p: u64) -> Option<i64> {
    let total: u64 = hist.values().sum();
    if total == 0 {
        return None;
    }
    let rank = (p * total).div_ceil(100).max(1);
    let mut seen = 0;
    hist.iter().find_map(|(&m, &n)| {
        seen += n;
        (seen >= rank).then_some(m)
    })
}

/// How a period is cut into buckets: days or weeks (from Monday) of one time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    Day,
    Week,
}

impl Bucket {
    pub fn parse(s: &str) -> Option<Bucket> {
        match s {
            "day" => Some(Bucket::Day),
            "week" => Some(Bucket::Week),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
        }
    }
}

/// The buckets of a period in a time zone, as integer arithmetic the database can do: a
/// moment's local day is `(seconds + offset) / 86400` with the zone's offset in force then,
/// a week `(day + 3) / 7` (1970-01-01 was a Thursday).
#[derive(Clone, Debug, PartialEq)]
pub struct BucketPlan {
    pub bucket: Bucket,
    /// The zone's UTC offset in seconds from each moment on (microseconds since 1970); the
    /// first holds from the period's start.
    pub offsets: Vec<(i64, i64)>,
    /// Each bucket's number and its first moment, local midnight in the zone.
    pub starts: Vec<(i64, DateTime<FixedOffset>)>,
}

impl BucketPlan {
    /// The plan for `[from, to)` in `tz`; offsets change where the zone's do (found to the
    /// 15 minutes, which every zone's transitions since 1970 fall on).
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz, bucket: Bucket) -> BucketPlan {
        let offset_at = |t: DateTime<Utc>| {
            i64::from(
                tz.offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc(),
            )
        };
        let mut offsets = vec![(from.timestamp_micros(), offset_at(from))];
        // No zone changes its offset twice in a day: look a day ahead, and search that day
        // in 15-minute steps only where the offset differs.
        let step = Duration::minutes(15);
        let mut day = from;
        while day < to {
            let next = (day + Duration::days(1)).min(to);
            let current = offsets.last().map_or(0, |l| l.1);
            if offset_at(next) != current {
                let mut t = day.duration_trunc(step).unwrap_or(day) + step;
                while t <= next && t < to {
                    let o = offset_at(t);
                    if o != current {
                        offsets.push((t.timestamp_micros(), o));
                        break;
                    }
                    t += step;
                }
            }
            day = next;
        }
        let mut plan = BucketPlan {
            bucket,
            offsets,
            starts: Vec::new(),
        };
        let last = (to - Duration::microseconds(1)).max(from);
        let (first, last) = (plan.bucket_of(from), plan.bucket_of(last));
        plan.starts = (first..=last)
            .map(|b| {
                let day = match bucket {
                    Bucket::Day => b,
                    Bucket::Week => b * 7 - 3,
                };
                let date =
                    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + Duration::days(day);
                let midnight = date.and_time(NaiveTime::MIN);
                // A midnight that a transition skips starts at the first moment that exists.
                let local = tz
                    .from_local_datetime(&midnight)
                    .earliest()
                    .or_else(|| {
                        tz.from_local_datetime(&(midnight + Duration::hours(1)))
                            .earliest()
                    })
                    .map_or_else(
                        || Utc.from_utc_datetime(&midnight).fixed_offset(),
                        |t| t.fixed_offset(),
                    );
                (b, local)
            })
            .collect();
        plan
    }

    /// The zone's offset in seconds at `us` microseconds since 1970.
    fn offset_at(&self, us: i64) -> i64 {
        self.offsets
            .iter()
            .rev()
            .find(|(from, _)| us >= *from)
            .or(self.offsets.first())
            .map_or(0, |o| o.1)
    }

    /// The bucket of a moment, as the database computes it.
    pub fn bucket_of(&self, t: DateTime<Utc>) -> i64 {
        let us = t.timestamp_micros();
        let day = (us.div_euclid(1_000_000) + self.offset_at(us)).div_euclid(86_400);
        match self.bucket {
            Bucket::Day => day,
            Bucket::Week => (day + 3).div_euclid(7),
        }
    }
}

/// One bucket of one group in the time series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// The bucket's first moment (local midnight in the series' zone).
    pub start: DateTime<FixedOffset>,
    /// Tickets created in the bucket.
    pub tickets: u64,
    pub attainment_pct: Option<f64>,
    pub first_response: MetricFigures,
    pub next_reply: MetricFigures,
    pub resolution: MetricFigures,
    pub follow_up: MetricFigures,
}

/// One group's figures over the buckets, every bucket present (empty ones with zeros).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesGroup {
    pub group: String,
    pub points: Vec<SeriesPoint>,
}

/// The series of every group that has clocks in the period, in name order.
pub fn series_of(plan: &BucketPlan, tallies: impl IntoIterator<Item = Tally>) -> Vec<SeriesGroup> {
    let mut groups: BTreeMap<String, BTreeMap<i64, Acc>> = BTreeMap::new();
    for mut t in tallies {
        groups
            .entry(std::mem::take(&mut t.group))
            .or_default()
            .entry(t.bucket)
            .or_default()
            .count(&t);
    }
    groups
        .into_iter()
        .map(|(group, mut buckets)| SeriesGroup {
            points: plan
                .starts
                .iter()
                .map(|(b, start)| {
                    let r = buckets.remove(b).unwrap_or_default().row(String::new());
                    SeriesPoint {
                        start: *start,
                        tickets: r.tickets,
                        attainment_pct: r.attainment_pct,
                        first_response: r.first_response,
                        next_reply: r.next_reply,
                        resolution: r.resolution,
                        follow_up: r.follow_up,
                    }
                })
                .collect(),
            group,
        })
        .collect()
}

/// The figure columns of both CSV forms, after their leading columns.
const FIGURE_COLUMNS: &str = "attainment_pct,first_response_met,first_response_breached,first_response_open,first_response_attainment_pct,first_response_median_minutes,first_response_p90_minutes,next_reply_met,next_reply_breached,next_reply_open,next_reply_attainment_pct,next_reply_median_minutes,next_reply_p90_minutes,resolution_met,resolution_breached,resolution_open,resolution_attainment_pct,resolution_median_minutes,resolution_p90_minutes,follow_up_met,follow_up_breached,follow_up_open,follow_up_attainment_pct,follow_up_median_minutes,follow_up_p90_minutes";

pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn push_figures(out: &mut String, attainment: Option<f64>, figures: [&MetricFigures; 4]) {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let opt_i = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
    out.push_str(&opt(attainment));
    for f in figures {
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

/// The rows as CSV with a header line.
pub fn to_csv(rows: &[ReportRow]) -> String {
    let mut out = format!("group,tickets,{FIGURE_COLUMNS}\n");
    for r in rows {
        out.push_str(&format!("{},{},", csv_field(&r.group), r.tickets));
        let figures = [
            &r.first_response,
            &r.next_reply,
            &r.resolution,
            &r.follow_up,
        ];
        push_figures(&mut out, r.attainment_pct, figures);
    }
    out
}

/// The series as CSV, a line per bucket and group.
pub fn series_to_csv(groups: &[SeriesGroup]) -> String {
    let mut out = format!("start,group,tickets,{FIGURE_COLUMNS}\n");
    for g in groups {
        for p in &g.points {
            let (start, group) = (p.start.to_rfc3339(), csv_field(&g.group));
            out.push_str(&format!("{start},{group},{},", p.tickets));
            let figures = [
                &p.first_response,
                &p.next_reply,
                &p.resolution,
                &p.follow_up,
            ];
            push_figures(&mut out, p.attainment_pct, figures);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::ClockView;

    /// Builds the rows, one per group in name order, from each ticket's group and its clocks as
    /// the API shows them: what the database's tallies must come to.
    fn report<'a>(tickets: impl IntoIterator<Item = (String, &'a [ClockView])>) -> Vec<ReportRow> {
        let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
        for (group, clocks) in tickets {
            let acc = groups.entry(group).or_default();
            acc.tickets += 1;
            for c in clocks {
                let minutes = c.stopped_at.map(|_| c.business_minutes_used);
                acc.add(c.metric, c.state, minutes, 1);
            }
        }
        groups.into_iter().map(|(g, acc)| acc.row(g)).collect()
    }

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

    #[test]
    fn counted_tallies_give_the_rows_of_the_clocks_they_count() {
        use ClockState::*;
        let states = [Met, Breached, Running, Paused, Ended];
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut tickets = Vec::new();
        for _ in 0..400 {
            let group = ["a", "b", "c"][next(3) as usize].to_owned();
            let clocks: Vec<ClockView> = (0..next(4))
                .map(|_| {
                    let state = states[next(5) as usize];
                    let stopped = matches!(state, Met | Breached | Ended) && next(5) > 0;
                    clock(
                        Metric::ALL[next(4) as usize],
                        state,
                        next(300) as i64,
                        stopped,
                    )
                })
                .collect();
            tickets.push((group, clocks));
        }
        let expected = report(tickets.iter().map(|(g, c)| (g.clone(), &c[..])));
        // What the database counts: a row per ticket, a row per clock.
        type Key<'a> = (String, Option<usize>, &'a str, Option<i64>);
        let mut counted: BTreeMap<Key, u64> = BTreeMap::new();
        for (g, clocks) in &tickets {
            *counted.entry((g.clone(), None, "ended", None)).or_default() += 1;
            for c in clocks {
                let minutes = c.stopped_at.map(|_| c.business_minutes_used);
                let key = (g.clone(), Some(c.metric.index()), c.state.as_str(), minutes);
                *counted.entry(key).or_default() += 1;
            }
        }
        let tallies = counted
            .into_iter()
            .map(|((group, m, s, minutes), n)| Tally {
                group,
                bucket: 0,
                metric: m.map(|m| Metric::ALL[m]),
                state: *states.iter().find(|x| x.as_str() == s).unwrap(),
                minutes,
                n,
            });
        let rows = rows_of(tallies);
        assert_eq!(rows, expected);
        assert!(rows
            .iter()
            .all(|r| r.first_response.median_minutes.is_some()));
    }

    #[test]
    fn a_plan_follows_the_zone_across_the_end_of_summer_time() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let (from, to) = (at("2026-10-23T22:00:00Z"), at("2026-10-26T23:00:00Z"));
        let plan = BucketPlan::new(from, to, tz, Bucket::Day);
        assert_eq!(
            plan.offsets,
            vec![
                (from.timestamp_micros(), 7200),
                (at("2026-10-25T01:00:00Z").timestamp_micros(), 3600)
            ]
        );
        let starts: Vec<String> = plan.starts.iter().map(|s| s.1.to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                "2026-10-24T00:00:00+02:00",
                "2026-10-25T00:00:00+02:00",
                "2026-10-26T00:00:00+01:00"
            ]
        );
        // The last second of a local day and the first of the next.
        let b = |s: &str| plan.bucket_of(at(s));
        assert_eq!(b("2026-10-24T21:59:59Z") + 1, b("2026-10-24T22:00:00Z"));
        assert_eq!(b("2026-10-25T22:59:59Z") + 1, b("2026-10-25T23:00:00Z"));
        assert_eq!(b("2026-10-25T00:59:59Z"), b("2026-10-25T01:00:00Z"));
        let weeks = BucketPlan::new(from, to, tz, Bucket::Week);
        assert_eq!(weeks.starts.len(), 2);
        assert_eq!(weeks.starts[1].1.to_rfc3339(), "2026-10-26T00:00:00+01:00");
    }

    #[test]
    fn a_plan_finds_every_offset_change_a_scan_of_each_quarter_hour_finds() {
        let (from, to) = (
            "2025-01-01T00:07:00Z".parse::<DateTime<Utc>>().unwrap(),
            "2027-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        );
        for zone in [
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Pacific/Chatham",
            "Asia/Kathmandu",
            "UTC",
        ] {
            let tz: Tz = zone.parse().unwrap();
            let offset = |t: DateTime<Utc>| {
                i64::from(
                    tz.offset_from_utc_datetime(&t.naive_utc())
                        .fix()
                        .local_minus_utc(),
                )
            };
            let step = Duration::minutes(15);
            let mut scanned = vec![(from.timestamp_micros(), offset(from))];
            let mut t = from.duration_trunc(step).unwrap() + step;
            while t < to {
                if offset(t) != scanned.last().unwrap().1 {
                    scanned.push((t.timestamp_micros(), offset(t)));
                }
                t += step;
            }
            let plan = BucketPlan::new(from, to, tz, Bucket::Day);
            assert_eq!(plan.offsets, scanned, "{zone}");
        }
    }
}
