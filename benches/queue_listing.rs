//! A queue's work list (`GET /api/v1/queues/{id}/tickets`: `Store::queue_tickets`, open
//! tickets soonest due first) on PostgreSQL with 1,000,000 tickets in 100 queues, against
//! the plainest list of the same length — the newest 50 tickets by primary key
//! (`Store::list` without filters) — measured in the same run, with 1 and 4 clients.
//!
//! `cargo bench --bench queue_listing`. The server comes from `TRIAGE_BENCH_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`); the bench makes a database of its
//! own there and drops it afterwards.

mod common;

use common::percentile;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};
use triage::store::{Store, TicketFilter};

const TICKETS: u64 = 1_000_000;
const QUEUES: u64 = 100;
const LIMIT: u64 = 50;
const BUDGET: Duration = Duration::from_secs(5);

/// Runs `query(n)` from `clients` tasks for the budget; returns sorted latencies and rate.
async fn measure<F, Fut>(clients: usize, query: F) -> (Vec<Duration>, f64)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = usize> + Send,
{
    let query = Arc::new(query);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let query = query.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n = c as u64;
            while start.elapsed() < BUDGET {
                let t0 = Instant::now();
                let rows = query(n).await;
                lat.push(t0.elapsed());
                assert_eq!(rows as u64, LIMIT, "a full page every time");
                n += clients as u64;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    all.sort();
    (all, rate)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bench_db = common::BenchDb::create("triage_bench_queue_listing").await?;
    let url = bench_db.url.clone();
    let store = Store::open(&url).await?;

    // One real ticket, classified by the shipped rules, then copied a million times across
    // 100 queues: one in ten open, due times spread over ten weeks, all four priorities.
    common::store_sample_ticket(&store).await?;
    let db = Database::connect(&url).await?;
    let cols = common::copied_columns(&db, "tickets").await?;
    let value = |c: &str| -> String {
        match c {
            "id" => "gen_random_uuid()".into(),
            "external_id" => "NULL".into(),
            "queue" => format!("'queue-' || (g % {QUEUES})"),
            // Independent of the queue (g % QUEUES), so every queue has open tickets.
            "status" => {
                format!("CASE WHEN (g / {QUEUES}) % 10 = 0 THEN 'open' ELSE 'resolved' END")
            }
            "sla_due_at" => "now() + (g % 100000) * interval '1 minute'".into(),
            "priority" => "'P' || (1 + g % 4)".into(),
            "assignee" => "NULL".into(),
            other => format!("s.{other}"),
        }
    };
    let t0 = Instant::now();
    db.execute_unprepared(&format!(
        "INSERT INTO tickets ({}) SELECT {} FROM tickets s CROSS JOIN generate_series(1, {}) g",
        cols.join(", "),
        cols.iter().map(|c| value(c)).collect::<Vec<_>>().join(", "),
        TICKETS - 1
    ))
    .await?;
    db.execute_unprepared("ANALYZE tickets").await?;
    println!(
        "{TICKETS} tickets in {QUEUES} queues (10% open) written in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let store = Arc::new(store);
    for clients in [1, 4] {
        let s = store.clone();
        let (base, base_rate) = measure(clients, move |_| {
            let s = s.clone();
            async move {
                s.list(&TicketFilter::default(), None, LIMIT)
                    .await
                    .unwrap()
                    .0
                    .len()
            }
        })
        .await;
        let s = store.clone();
        let (ours, rate) = measure(clients, move |n| {
            let s = s.clone();
            async move {
                s.queue_tickets(&format!("queue-{}", n % QUEUES), LIMIT)
                    .await
                    .unwrap()
                    .len()
            }
        })
        .await;
        for (what, lat, r) in [
            ("newest 50 by primary key (baseline)", &base, base_rate),
            ("queue work list, 50 soonest due", &ours, rate),
        ] {
            println!(
                "{clients} client(s), {what:>36}: {r:>6.0}/s, p50 {:>6.2} ms, p99 {:>6.2} ms",
                percentile(lat, 0.5).as_secs_f64() * 1e3,
                percentile(lat, 0.99).as_secs_f64() * 1e3
            );
        }
        println!(
            "{clients} client(s), work list / baseline: p50 {:.2}x, p99 {:.2}x",
            percentile(&ours, 0.5).as_secs_f64() / percentile(&base, 0.5).as_secs_f64(),
            percentile(&ours, 0.99).as_secs_f64() / percentile(&base, 0.99).as_secs_f64()
        );
    }
    drop(store);
    db.close().await?;
    bench_db.drop_db().await?;
    Ok(())
}
