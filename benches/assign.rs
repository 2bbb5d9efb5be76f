//! The cost of one assignment decision (`routing::choose`) with 1,000 agents and 100 queues,
//! against the least a least-loaded assigner must do — one pass over all agents keeping the
//! least loaded free one, without looking at skills, languages or shifts — measured in the
//! same run.
//!
//! `cargo bench --bench assign`

mod common;

use common::percentile;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use triage::calendar::Calendar;
use triage::routing::{choose, Candidate, Need, QueuePolicy, Strategy};

const AGENTS: usize = 1_000;
const QUEUES: usize = 100;
const SKILLS: usize = 20;
const DECISIONS: usize = 200_000;

/// xorshift64: the same agents and tickets in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn setup(now: DateTime<Utc>) -> (Vec<QueuePolicy>, Vec<Candidate>) {
    let always =
        Arc::new(Calendar::new("always", "Europe/Vienna", [("mon-sun", ["00:00-24:00"])]).unwrap());
    let office =
        Arc::new(Calendar::new("office", "Europe/Vienna", [("mon-fri", ["08:00-17:00"])]).unwrap());
    let mut rng = Rng(0x5eed);
    let queues = (0..QUEUES)
        .map(|i| QueuePolicy {
            strategy: if i % 3 == 0 {
                Strategy::RoundRobin
            } else {
                Strategy::SkillsLeastLoaded
            },
            skills: vec![format!("skill-{}", i % SKILLS)],
            languages: vec!["de".into(), "en".into()],
            calendar: Some(if i % 2 == 0 {
                always.clone()
            } else {
                office.clone()
            }),
            critical_skill: Some("level-2".into()),
        })
        .collect();
    let agents = (0..AGENTS)
        .map(|i| {
            let mut skills: Vec<String> = (0..3)
                .map(|_| format!("skill-{}", rng.below(SKILLS)))
                .collect();
            if rng.below(5) == 0 {
                skills.push("level-2".into());
            }
            let languages = match rng.below(3) {
                0 => vec!["de".into()],
                1 => vec!["en".into()],
                _ => vec!["de".into(), "en".into()],
            };
            let capacity = 5 + rng.below(6) as u32;
            Candidate {
                id: format!("agent-{i:04}"),
                skills,
                languages,
                capacity,
                load: rng.below(capacity as usize + 1) as u32,
                available: rng.below(5) != 0,
                shift: (rng.below(3) == 0).then(|| always.clone()),
                last_assigned_at: Some(now - chrono::Duration::seconds(rng.below(36_000) as i64)),
            }
        })
        .collect();
    (queues, agents)
}

/// Runs `f` for each of the decisions; returns per-decision times sorted and the total.
fn measure(mut f: impl FnMut(usize) -> bool) -> (Vec<Duration>, Duration, usize) {
    let mut times = Vec::with_capacity(DECISIONS);
    let mut found = 0;
    let start = Instant::now();
    for i in 0..DECISIONS {
        let t0 = Instant::now();
        found += usize::from(black_box(f(i)));
        times.push(t0.elapsed());
    }
    let total = start.elapsed();
    times.sort();
    (times, total, found)
}

fn main() {
    // A Wednesday morning in Vienna: the office queues are staffed.
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 9, 30, 0).unwrap();
    let (queues, agents) = setup(now);
    let mut rng = Rng(42);
    let tickets: Vec<(usize, &str, bool)> = (0..DECISIONS)
        .map(|_| {
            (
                rng.below(QUEUES),
                if rng.below(2) == 0 { "de" } else { "en" },
                rng.below(10) == 0,
            )
        })
        .collect();
    let names: Vec<String> = (0..QUEUES).map(|i| format!("queue-{i}")).collect();

    let (base, base_total, base_found) = measure(|i| {
        let _ = tickets[i];
        agents
            .iter()
            .filter(|a| a.available && a.load < a.capacity)
            .min_by_key(|a| (a.load, a.last_assigned_at))
            .is_some()
    });
    let (ours, ours_total, ours_found) = measure(|i| {
        let (q, language, critical) = tickets[i];
        let need = Need {
            queue: &names[q],
            language,
            business_critical: critical,
        };
        choose(&queues[q], need, &agents, now).is_ok()
    });
    println!("{AGENTS} agents, {QUEUES} queues, {DECISIONS} decisions");
    for (name, t, total, found) in [
        ("least loaded, no filters", &base, base_total, base_found),
        ("routing::choose", &ours, ours_total, ours_found),
    ] {
        println!(
            "{name:>28}: {:>9.0} decisions/s, p50 {:>6.2} µs, p99 {:>6.2} µs, found an agent for {:.1}%",
            DECISIONS as f64 / total.as_secs_f64(),
            percentile(t, 0.5).as_secs_f64() * 1e6,
            percentile(t, 0.99).as_secs_f64() * 1e6,
            found as f64 * 100.0 / DECISIONS as f64
        );
    }
    println!(
        "choose / baseline: mean {:.1}x, p99 {:.1}x",
        ours_total.as_secs_f64() / base_total.as_secs_f64(),
        percentile(&ours, 0.99).as_secs_f64() / percentile(&base, 0.99).as_secs_f64()
    );
}
