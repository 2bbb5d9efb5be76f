//! The calls of a service manager's dashboard over HTTP on PostgreSQL with 1,000,000
//! tickets created over a year (a kept row for each, and for 2,300,000 SLA clocks): the
//! compliance report of 30 and 90 days per grouping, its time series per day and week, the
//! automation report, the queues' load now, the tickets that breached and those due within
//! the hour or the day, dead notifications — against a plain indexed count of
//! the last 30 days' tickets (`SELECT COUNT(*) … WHERE created_at >= …`) in the same run.
//!
//! `cargo bench --bench dashboard`. The server comes from `TRIAGE_BENCH_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`); the bench makes a database of its
//! own there and drops it afterwards.

mod common;

use common::percentile;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use sea_orm::{ConnectionTrait, Database, Statement};
use triage::api::{ApiConfig, AppState};
use triage::store::Store;

const TICKETS: u64 = 1_000_000;
const BUDGET: Duration = Duration::from_secs(4);

/// Runs `call` from `clients` tasks for the budget; returns sorted latencies.
async fn measure<F, Fut>(clients: usize, call: F) -> Vec<Duration>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    call().await;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while start.elapsed() < BUDGET || lat.len() < 20 {
                let t0 = Instant::now();
                call().await;
                lat.push(t0.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

/// One real ticket, classified by the shipped rules, copied a million times: created over
/// the last 365 days, in three segments, three channels, 20 queues and three policies.
async fn seed(url: &str, store: &Store) -> anyhow::Result<()> {
    common::store_sample_ticket(store).await?;
    let db = Database::connect(url).await?;
    let cols = common::copied_columns(&db, "tickets").await?;
    let value = |c: &str| -> String {
        match c {
            "id" => "gen_random_uuid()".into(),
            "external_id" => "NULL".into(),
            "created_at" | "received_at" | "updated_at" => {
                "now() - (g * 31.536) * interval '1 second'".into()
            }
            "segment" => {
                "(ARRAY['business-critical','commercial','administrative'])[1 + g % 3]".into()
            }
            "channel" => "(ARRAY['email','web','phone'])[1 + (g / 3) % 3]".into(),
            "queue" => "'queue-' || (g % 20)".into(),
            "sla_policy" => "(ARRAY['critical','standard','basic'])[1 + (g / 7) % 3]".into(),
            "status" => "CASE WHEN g % 20 = 0 THEN 'open' ELSE 'resolved' END".into(),
            "sla_state" => {
                "CASE WHEN g % 20 = 0 THEN 'running' WHEN g % 9 = 0 THEN 'breached' ELSE 'met' END"
                    .into()
            }
            "sla_due_at" => {
                "CASE WHEN g % 20 = 0 THEN now() + ((g % 5000) - 200) * interval '1 minute' END"
                    .into()
            }
            other => format!("s.{other}"),
        }
    };
    let t0 = Instant::now();
    db.execute_unprepared(&format!(
        "INSERT INTO tickets ({}) SELECT {} FROM tickets s \
         CROSS JOIN generate_series(1, {}) g",
        cols.join(", "),
        cols.iter().map(|c| value(c)).collect::<Vec<_>>().join(", "),
        TICKETS - 1
    ))
    .await?;
    // A row per ticket (metric 3) and its clocks (0 first response, 2 resolution, 1 next
    // reply for three in ten): 85 % met (0), 10 % breached (1), the rest running (2, due
    // over the next days, some past) or paused (3); up to 10 hours to first response, 4 days
    // to resolution; the ticket's row with one of the four FAQ handlings.
    db.execute_unprepared(
        "INSERT INTO sla_clocks (ticket_id, metric, cycle, created_us, segment, channel, queue, \
           category, policy, state, due_us, minutes, faq) \
         SELECT t.id, m.metric, CASE WHEN m.metric = 3 THEN 0 ELSE 1 END, \
           (extract(epoch FROM t.created_at) * 1000000)::bigint, \
           t.segment, t.channel, t.queue, t.category, COALESCE(t.sla_policy, '(none)'), \
           CASE WHEN m.metric = 3 THEN 4 WHEN x.h % 100 < 85 THEN 0 WHEN x.h % 100 < 95 THEN 1 \
                WHEN x.h % 100 < 98 THEN 2 ELSE 3 END, \
           CASE WHEN m.metric <> 3 AND x.h % 100 BETWEEN 95 AND 97 THEN \
             (extract(epoch FROM now()) * 1000000)::bigint + (x.h % 5000 - 200) * 60000000 END, \
           CASE WHEN m.metric <> 3 AND x.h % 100 < 95 THEN (x.h / 100) % m.span END, \
           CASE WHEN m.metric = 3 THEN (x.h % 4)::smallint END \
         FROM tickets t \
         CROSS JOIN (VALUES (0, 600), (2, 5760), (1, 480), (3, 1)) m(metric, span) \
         CROSS JOIN LATERAL (SELECT abs(hashtext(t.id::text || m.metric)::bigint) AS h) x \
         WHERE m.metric <> 1 OR t.seq % 10 < 3 \
         ON CONFLICT DO NOTHING",
    )
    .await?;
    // Vacuumed, as autovacuum would have done long since: index-only scans need the
    // visibility map.
    for table in ["tickets", "sla_clocks"] {
        db.execute_unprepared(&format!("VACUUM ANALYZE {table}"))
            .await?;
    }
    println!(
        "{TICKETS} tickets over 365 days and their clocks written in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    db.close().await?;
    Ok(())
}

/// Latencies of GET `url` from `clients` clients.
async fn call(http: &reqwest::Client, url: String, clients: usize) -> Vec<Duration> {
    let http = http.clone();
    measure(clients, move || {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let r = http.get(&url).send().await.unwrap();
            assert!(r.status().is_success(), "{url}: {}", r.status());
            r.bytes().await.unwrap();
        }
    })
    .await
}

/// Prints p50 and p99 (and the ratio to the baseline's p99); returns the p99.
fn report(clients: usize, what: &str, lat: &[Duration], base: Option<Duration>) -> Duration {
    let p99 = percentile(lat, 0.99);
    let ratio = base.map_or(String::new(), |b| {
        format!(
            " ({:.1}x the baseline's p99)",
            p99.as_secs_f64() / b.as_secs_f64()
        )
    });
    println!(
        "{clients} client(s), {what:>48}: p50 {:>7.2} ms, p99 {:>7.2} ms{ratio}",
        percentile(lat, 0.5).as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
    );
    p99
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bench_db = common::BenchDb::create("triage_bench_dashboard").await?;
    let url = bench_db.url.clone();
    let store = Store::open(&url).await?;
    seed(&url, &store).await?;

    let rules = common::shipped_rules()?;
    let config = ApiConfig {
        auth: false,
        ..ApiConfig::default()
    };
    let state = Arc::new(AppState::new(store.clone(), rules, config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(triage::api::serve(listener, state, async move {
        let _ = stopped.await;
    }));

    let db = Database::connect(&url).await?;
    let now = Utc::now();
    let ago = |days: i64| {
        (now - chrono::Duration::days(days))
            .to_rfc3339_opts(SecondsFormat::Secs, true)
            .replace(':', "%3A")
    };
    let soon = (now + chrono::Duration::hours(1))
        .to_rfc3339_opts(SecondsFormat::Secs, true)
        .replace(':', "%3A");
    let day = (now + chrono::Duration::hours(24))
        .to_rfc3339_opts(SecondsFormat::Secs, true)
        .replace(':', "%3A");
    let calls: Vec<(String, String)> = vec![
        (
            "report, 30 days, per segment".into(),
            format!("/api/v1/sla/report?from={}&group_by=segment", ago(30)),
        ),
        (
            "report, 30 days, per queue".into(),
            format!("/api/v1/sla/report?from={}&group_by=queue", ago(30)),
        ),
        (
            "report, 30 days, per policy".into(),
            format!("/api/v1/sla/report?from={}&group_by=policy", ago(30)),
        ),
        (
            "report, 90 days, per channel".into(),
            format!("/api/v1/sla/report?from={}&group_by=channel", ago(90)),
        ),
        (
            "series, 30 days by day, per segment".into(),
            format!(
                "/api/v1/sla/report/series?from={}&group_by=segment&tz=Europe/Berlin",
                ago(30)
            ),
        ),
        (
            "same, with p50/p90 per day".into(),
            format!(
                "/api/v1/sla/report/series?from={}&group_by=segment&tz=Europe/Berlin&percentiles=true",
                ago(30)
            ),
        ),
        (
            "series, 90 days by day, per queue".into(),
            format!(
                "/api/v1/sla/report/series?from={}&group_by=queue&tz=Europe/Berlin",
                ago(90)
            ),
        ),
        (
            "series, 90 days by week, per policy".into(),
            format!(
                "/api/v1/sla/report/series?from={}&group_by=policy&bucket=week&tz=Europe/Berlin",
                ago(90)
            ),
        ),
        (
            "automation, 30 days, per category".into(),
            format!("/api/v1/automation/report?from={}&group_by=category", ago(30)),
        ),
        (
            "automation, 90 days, per segment".into(),
            format!("/api/v1/automation/report?from={}&group_by=segment", ago(90)),
        ),
        ("queues now (load)".into(), "/api/v1/queues/load".into()),
        (
            "running clocks due within 24 h, soonest 50".into(),
            format!("/api/v1/tickets?due_before={day}&sla_state=running&limit=50"),
        ),
        (
            "dead notifications, newest 50".into(),
            "/api/v1/notifications?status=dead&limit=50".into(),
        ),
        (
            "tickets breached, newest 50".into(),
            "/api/v1/tickets?sla_state=breached&limit=50".into(),
        ),
        (
            "tickets due within the hour, soonest 50".into(),
            format!("/api/v1/tickets?due_before={soon}&limit=50"),
        ),
    ];
    let http = reqwest::Client::new();
    let baseline = |clients: usize| {
        let db = db.clone();
        let from = now - chrono::Duration::days(30);
        measure(clients, move || {
            let db = db.clone();
            async move {
                db.query_one(Statement::from_sql_and_values(
                    db.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM tickets WHERE created_at >= $1",
                    [from.into()],
                ))
                .await
                .unwrap()
                .unwrap();
            }
        })
    };
    // The compliance calls first from the kept rows alone, as before any day is counted.
    let b99 = report(
        1,
        "plain indexed count, 30 days (baseline)",
        &baseline(1).await,
        None,
    );
    for (what, path) in calls.iter().take(8) {
        let lat = call(&http, format!("{addr}{path}"), 1).await;
        report(1, &format!("{what} (rows)"), &lat, Some(b99));
    }
    let t0 = Instant::now();
    let mut days = 0;
    loop {
        let n = store.count_closed_days(Utc::now(), 50).await?;
        if n == 0 {
            break;
        }
        days += n;
    }
    db.execute_unprepared("VACUUM ANALYZE sla_days").await?;
    println!(
        "{days} ended days counted in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    for clients in [1, 4] {
        let b99 = report(
            clients,
            "plain indexed count, 30 days (baseline)",
            &baseline(clients).await,
            None,
        );
        for (what, path) in &calls {
            let lat = call(&http, format!("{addr}{path}"), clients).await;
            report(clients, what, &lat, Some(b99));
        }
    }
    let _ = stop.send(());
    server.await??;
    db.close().await?;
    // TRIAGE_BENCH_KEEP=1 leaves the database for a look at the query plans.
    if std::env::var("TRIAGE_BENCH_KEEP").is_err() {
        bench_db.drop_db().await?;
    }
    Ok(())
}
