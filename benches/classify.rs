//! Classification throughput, side by side with its floor: one `RegexSet::matches` scan of
//! the same texts with all the rules' patterns.
//!
//! `cargo bench --bench classify` runs criterion and then prints a summary with
//! tickets/s and the ratios to the floor measured in the same run. Tickets come from the
//! Softoft data set (../shared/data/tickets-softoft) when present, else examples/tickets.jsonl.

mod common;

use common::time_per_pass;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput};
use regex::{RegexSet, RegexSetBuilder};
use triage::classify::classify;
use triage::intake::jsonl::TicketInput;
use triage::model::Ticket;
use triage::rules::{compile_sources, CompiledRules};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tickets() -> Vec<Ticket> {
    let dir = triage::eval::data_dir().join("tickets-softoft");
    if let Ok(data) = triage::eval::load_softoft(&dir) {
        // Alternate German and English tickets as they come; 2,000 is plenty for stable means.
        return data.into_iter().take(2000).map(|l| l.ticket).collect();
    }
    eprintln!(
        "no Softoft data at {}; using examples/tickets.jsonl",
        dir.display()
    );
    let text = std::fs::read_to_string(root().join("examples/tickets.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            TicketInput::parse(l)
                .unwrap()
                .into_ticket(chrono::Utc::now())
                .unwrap()
        })
        .collect()
}

fn shipped() -> CompiledRules {
    triage::rules::load_dir(&root().join("rules"))
        .unwrap()
        .rules
}

/// The shipped service and catalogue with `n` generated rules built from words of the tickets.
fn generated(n: usize, tickets: &[Ticket]) -> CompiledRules {
    let mut words: Vec<String> = tickets
        .iter()
        .flat_map(|t| t.body.split(|c: char| !c.is_alphabetic()))
        .filter(|w| w.chars().count() >= 6)
        .map(str::to_lowercase)
        .collect();
    words.sort();
    words.dedup();
    let categories = [
        "incident",
        "billing",
        "password-reset",
        "outage",
        "quote",
        "onboarding",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |m: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % m as u64) as usize
    };
    let mut rules = String::new();
    for i in 0..n {
        let kws: Vec<String> = (0..6)
            .map(|_| format!("\"{}\"", words[next(words.len())]))
            .collect();
        rules.push_str(&format!("[[rule]]\nid = \"r{i}\"\n"));
        match i % 4 {
            0 => rules.push_str(&format!(
                "when = {{ keywords = [{}], channel = \"email\" }}\n",
                kws.join(", ")
            )),
            1 => rules.push_str(&format!("when.subject-keywords = [{}]\n", kws.join(", "))),
            2 => rules.push_str(&format!(
                "when.body = \"{}\\\\s+\\\\w+\"\n",
                words[next(words.len())]
            )),
            _ => rules.push_str(&format!("when.keywords = [{}]\n", kws.join(", "))),
        }
        rules.push_str(&format!(
            "set = {{ category = \"{}\", tags = [\"t{}\"] }}\n\n",
            categories[next(categories.len())],
            i % 50
        ));
    }
    let read = |name: &str| std::fs::read_to_string(root().join("rules").join(name)).unwrap();
    let (service, catalogue, customers, closures) = (
        read("service.toml"),
        read("catalogue.toml"),
        read("customers.csv"),
        read("closures.ics"),
    );
    compile_sources(&[
        ("service.toml", &service),
        ("catalogue.toml", &catalogue),
        ("generated.toml", &rules),
        ("customers.csv", &customers),
        ("closures.ics", &closures),
    ])
    .unwrap()
    .rules
}

/// The floor: all patterns of the rules in one set, scanned over subject and body.
fn floor_set(rules: &CompiledRules) -> RegexSet {
    RegexSetBuilder::new(rules.patterns())
        .size_limit(256 << 20)
        .dfa_size_limit(256 << 20)
        .build()
        .unwrap()
}

fn run_classify(rules: &CompiledRules, tickets: &[Ticket]) -> usize {
    tickets
        .iter()
        .map(|t| classify(rules, black_box(t)).tags.len())
        .sum()
}

fn run_floor(set: &RegexSet, tickets: &[Ticket]) -> usize {
    tickets
        .iter()
        .map(|t| set.matches(black_box(&t.subject)).len() + set.matches(black_box(&t.body)).len())
        .sum()
}

fn main() {
    let tickets = tickets();
    let shipped = shipped();
    let many = generated(1000, &tickets);
    let (shipped_floor, many_floor) = (floor_set(&shipped), floor_set(&many));

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20)
        .configure_from_args();
    {
        let mut g = c.benchmark_group("classify");
        g.throughput(Throughput::Elements(tickets.len() as u64));
        g.sampling_mode(SamplingMode::Flat);
        g.bench_function("shipped-rules", |b| {
            b.iter(|| run_classify(&shipped, &tickets))
        });
        g.bench_function("shipped-floor", |b| {
            b.iter(|| run_floor(&shipped_floor, &tickets))
        });
        g.bench_function("1000-rules", |b| b.iter(|| run_classify(&many, &tickets)));
        g.bench_function("1000-floor", |b| {
            b.iter(|| run_floor(&many_floor, &tickets))
        });
        g.finish();
    }
    c.final_summary();

    let budget = Duration::from_secs(3);
    let n = tickets.len() as f64;
    let s = time_per_pass(budget, || run_classify(&shipped, &tickets));
    let sf = time_per_pass(budget, || run_floor(&shipped_floor, &tickets));
    let m = time_per_pass(budget, || run_classify(&many, &tickets));
    let mf = time_per_pass(budget, || run_floor(&many_floor, &tickets));
    let avg_len = tickets
        .iter()
        .map(|t| t.subject.len() + t.body.len())
        .sum::<usize>() as f64
        / n;
    println!(
        "\nsummary over {} tickets (mean {:.0} bytes of subject+body), one core:",
        tickets.len(),
        avg_len
    );
    println!(
        "  shipped rules ({} rules): {:>9.0} tickets/s, {:.2}x the floor ({:.0} tickets/s)",
        shipped.rules.len(),
        n / s,
        s / sf,
        n / sf
    );
    println!(
        "  generated rules ({} rules): {:>9.0} tickets/s, {:.2}x the floor ({:.0} tickets/s)",
        many.rules.len(),
        n / m,
        m / mf,
        n / mf
    );
    let rule_ratio = many.rules.len() as f64 / shipped.rules.len() as f64;
    println!(
        "  {:.1}x the rules cost {:.2}x the time per ticket (linear would be {:.1}x)",
        rule_ratio,
        m / s,
        rule_ratio
    );
}
