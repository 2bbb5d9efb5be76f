//! Due-time computation (`Calendar::add_business`) on the shipped calendars, side by side
//! with a naive oracle that steps minute by minute, measured in the same run.
//!
//! `cargo bench --bench calendar` runs criterion and prints a summary: computations/s for
//! the target mix of the shipped SLA policies, the cost of a 30-day target against a
//! 30-minute one, and the ratio to the oracle.

mod common;

use common::time_per_pass;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput};
use triage::calendar::{naive, Calendar};

fn calendars() -> Vec<Calendar> {
    let rules = triage::rules::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
        .unwrap()
        .rules;
    ["office", "extended", "always"]
        .iter()
        .map(|n| (*rules.calendars[*n]).clone())
        .collect()
}

/// Arrival instants spread over 2026 and 2027 (any second of any day).
fn starts(n: usize) -> Vec<DateTime<Utc>> {
    let base = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .timestamp();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            DateTime::from_timestamp(base + (seed % (2 * 365 * 86_400)) as i64, 0).unwrap()
        })
        .collect()
}

/// The targets of the shipped policies, in minutes.
const POLICY_TARGETS: [i64; 10] = [15, 30, 60, 120, 240, 360, 480, 960, 2400, 10_080];

fn run(cals: &[Calendar], starts: &[DateTime<Utc>], minutes: impl Fn(usize) -> i64) -> usize {
    starts
        .iter()
        .enumerate()
        .filter_map(|(i, s)| cals[i % cals.len()].add_business(black_box(*s), minutes(i) * 60))
        .count()
}

fn run_naive(cals: &[Calendar], starts: &[DateTime<Utc>], minutes: impl Fn(usize) -> i64) -> usize {
    starts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            naive::due_time(&cals[i % cals.len()], black_box(*s), minutes(i)).timestamp() as usize
        })
        .sum()
}

fn main() {
    let cals = calendars();
    let office = &cals[..1];
    let starts = starts(10_000);
    let few = &starts[..50];
    let mix = |i: usize| POLICY_TARGETS[i % POLICY_TARGETS.len()];
    let thirty_min = |_| 30;
    let thirty_days = |_| 30 * 1440;

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    {
        let mut g = c.benchmark_group("due-time");
        g.throughput(Throughput::Elements(starts.len() as u64));
        g.bench_function("policy-mix", |b| b.iter(|| run(&cals, &starts, mix)));
        g.bench_function("office-30min", |b| {
            b.iter(|| run(office, &starts, thirty_min))
        });
        g.bench_function("office-30days", |b| {
            b.iter(|| run(office, &starts, thirty_days))
        });
        g.finish();
        let mut g = c.benchmark_group("due-time-oracle");
        g.throughput(Throughput::Elements(few.len() as u64));
        g.bench_function("policy-mix", |b| b.iter(|| run_naive(&cals, few, mix)));
        g.finish();
    }
    c.final_summary();

    let budget = Duration::from_secs(2);
    let n = starts.len() as f64;
    let per = |secs: f64, count: f64| count / secs;
    let t_mix = time_per_pass(budget, || run(&cals, &starts, mix));
    let t_30m = time_per_pass(budget, || run(office, &starts, thirty_min));
    let t_30d = time_per_pass(budget, || run(office, &starts, thirty_days));
    let t_30m_always = time_per_pass(budget, || run(&cals[2..], &starts, thirty_min));
    let t_30d_always = time_per_pass(budget, || run(&cals[2..], &starts, thirty_days));
    let t_naive = time_per_pass(budget, || run_naive(&cals, few, mix));
    let fast_mix = per(t_mix, n);
    let naive_mix = per(t_naive, few.len() as f64);
    println!(
        "\nsummary, one core, {} arrival instants over 2026-2027:",
        starts.len()
    );
    println!(
        "  policy target mix (15 min to 7 days) on office, extended, always: {:>10.0} due times/s",
        fast_mix
    );
    println!(
        "  naive minute-by-minute oracle, same mix:                          {:>10.0} due times/s ({:.0}x slower)",
        naive_mix,
        fast_mix / naive_mix
    );
    println!(
        "  office (Austrian holidays): 30 min {:>10.0}/s, 30 days {:>10.0}/s: 30 days costs {:.2}x 30 min",
        per(t_30m, n),
        per(t_30d, n),
        t_30d / t_30m
    );
    println!(
        "  24x7:                       30 min {:>10.0}/s, 30 days {:>10.0}/s: 30 days costs {:.2}x 30 min",
        per(t_30m_always, n),
        per(t_30d_always, n),
        t_30d_always / t_30m_always
    );
}
