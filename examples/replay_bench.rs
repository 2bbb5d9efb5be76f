//! How fast a rules change is tried on past tickets, against plain classification of the same
//! tickets measured in the same run.
//!
//! ```sh
//! cargo run --release --example replay_bench -- [--db URL] [--tickets N] [--candidate DIR] [--faq-tickets N]
//! ```
//!
//! Seeds the database with a history of N tickets (the sample tickets of
//! `examples/tickets.jsonl`, arrivals spread over the past year) when it holds fewer, then
//! measures: plain classification of those tickets in memory with one rule set on every core
//! (the floor a replay cannot beat: a replay classifies each ticket twice and reads it from
//! the database); `rules diff` classification only; with SLA policies and due times; and with
//! SLA and the FAQ decision (on the first `--faq-tickets`).

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use triage::desk::simulate::{diff, DiffOptions};
use triage::simulate::Scope;
use triage::store::Store;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The allocator of the `triage` binary, whose `rules diff` this measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let db = arg("--db").unwrap_or_else(|| {
        let dir = std::env::temp_dir().join(format!("triage-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        format!("sqlite://{}?mode=rwc", dir.join("history.db").display())
    });
    let n: u64 = arg("--tickets").map_or(Ok(100_000), |s| s.parse())?;
    let faq_n: u64 = arg("--faq-tickets").map_or(Ok(20_000), |s| s.parse())?;
    let candidate_dir = arg("--candidate").unwrap_or_else(|| "rules".into());
    let current = Arc::new(triage::rules::load_dir("rules".as_ref())?.rules);
    let candidate = Arc::new(triage::rules::load_dir(candidate_dir.as_ref())?.rules);
    let store = Store::open(&db).await?;

    let samples =
        triage::loadtest::sample_tickets(&std::fs::read_to_string("examples/tickets.jsonl")?);
    let have = store.count().await?;
    if have < n {
        let start = Instant::now();
        let now = Utc::now();
        let decided = Arc::new(triage::loadtest::decided_tickets(&current, &samples, now));
        let todo = n - have;
        let workers = 32u64;
        let mut tasks = Vec::new();
        for w in 0..workers {
            let (store, decided) = (store.clone(), decided.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = w;
                while i < todo {
                    let mut t = decided[(i as usize) % decided.len()].clone();
                    // Spread over the past year, minute by minute.
                    t.ticket.received_at = now - Duration::minutes((i * 5 % 525_600) as i64);
                    store.create_ticket(t, now).await?;
                    i += workers;
                }
                Ok::<(), anyhow::Error>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        eprintln!(
            "seeded {todo} tickets in {:.1} s",
            start.elapsed().as_secs_f64()
        );
    }
    let total = store.count().await?;

    // The floor: the same tickets, already in memory, classified once with one rule set.
    let mut tickets = Vec::new();
    let mut after = 0;
    let read = Instant::now();
    loop {
        let page = store
            .history_after(after, (None, None), 10_000, false)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        tickets.extend(
            page.into_iter()
                .filter_map(|r| triage::desk::simulate::past_of(r, false))
                .map(|p| p.ticket),
        );
    }
    let read_per_s = tickets.len() as f64 / read.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let chunk = tickets.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for part in tickets.chunks(chunk) {
            let rules = &current;
            s.spawn(move || {
                for t in part {
                    std::hint::black_box(triage::classify::classify(rules, t));
                }
            });
        }
    });
    let floor = tickets.len() as f64 / start.elapsed().as_secs_f64();
    drop(tickets);
    println!("history: {total} tickets in {db}");
    println!("plain classify, in memory, one rule set, {threads} threads: {floor:>9.0} tickets/s");
    println!("reading the stored tickets alone (pages of 10,000):     {read_per_s:>9.0} tickets/s");

    let faq = {
        let handle = triage::desk::faq::FaqHandle::in_memory();
        let dir = std::path::Path::new("rules");
        if store.articles().await?.is_empty() {
            let articles = triage::faq::load_dir(&dir.join("faq"))
                .map_err(|e| anyhow::anyhow!("FAQ articles: {e:?}"))?;
            store.upsert_articles(&articles, Utc::now()).await?;
        }
        handle.refresh(&store).await?;
        handle.current()
    };
    for (name, scope, limit) in [
        (
            "classification only",
            Scope {
                sla: false,
                faq: false,
            },
            None,
        ),
        (
            "with SLA",
            Scope {
                sla: true,
                faq: false,
            },
            None,
        ),
        (
            "with SLA and FAQ",
            Scope {
                sla: true,
                faq: true,
            },
            Some(faq_n),
        ),
    ] {
        let report = diff(
            &store,
            current.clone(),
            candidate.clone(),
            scope.faq.then(|| faq.clone()),
            DiffOptions {
                since: None,
                until: None,
                limit,
                scope,
            },
        )
        .await?;
        println!(
            "rules diff, {name:<20} {:>9.0} tickets/s ({:.2}x the floor; {} tickets, {} changed, {:.2} s)",
            report.tickets_per_second,
            report.tickets_per_second / floor,
            report.diff.tickets,
            report.diff.changed,
            report.seconds
        );
    }
    Ok(())
}
