//! Helpers shared by the benchmarks (each uses some of them).
#![allow(dead_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Mean seconds per pass, measured for about `budget` (at least three passes).
pub fn time_per_pass(budget: Duration, mut pass: impl FnMut() -> usize) -> f64 {
    black_box(pass());
    let start = Instant::now();
    let mut passes = 0u32;
    while start.elapsed() < budget || passes < 3 {
        black_box(pass());
        passes += 1;
    }
    start.elapsed().as_secs_f64() / passes as f64
}

/// The `p` quantile (0–1) of sorted latencies: the smallest one at least that share of all
/// is not above.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// A database of a bench's own on the PostgreSQL server of `TRIAGE_BENCH_DATABASE_URL`
/// (default `postgres://postgres@127.0.0.1:5432/test`), made anew; dropped with
/// [`BenchDb::drop_db`].
pub struct BenchDb {
    admin: sea_orm::DatabaseConnection,
    name: String,
    pub url: String,
}

impl BenchDb {
    pub async fn create(name: &str) -> anyhow::Result<BenchDb> {
        use sea_orm::ConnectionTrait;
        let admin_url = std::env::var("TRIAGE_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let admin = sea_orm::Database::connect(&admin_url).await?;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
            .await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await?;
        let (base, _) = admin_url.rsplit_once('/').unwrap_or((&admin_url, ""));
        let url = format!("{base}/{name}");
        Ok(BenchDb {
            admin,
            name: name.to_owned(),
            url,
        })
    }

    pub async fn drop_db(self) -> anyhow::Result<()> {
        use sea_orm::ConnectionTrait;
        let name = &self.name;
        self.admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        Ok(())
    }
}

/// The columns of `table` a bulk copy writes: all but those the database fills (serial
/// numbers, generated columns).
pub async fn copied_columns(
    db: &sea_orm::DatabaseConnection,
    table: &str,
) -> anyhow::Result<Vec<String>> {
    use sea_orm::ConnectionTrait;
    let sql = format!(
        "SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' \
         AND is_identity = 'NO' AND is_generated = 'NEVER' \
         AND COALESCE(column_default, '') NOT LIKE 'nextval(%' ORDER BY ordinal_position"
    );
    let rows = db
        .query_all(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get::<String>("", "column_name"))
        .collect::<Result<_, _>>()?)
}

/// The shipped rules, as `triage serve` loads them.
pub fn shipped_rules() -> anyhow::Result<triage::rules::CompiledRules> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    Ok(triage::rules::load_dir(&dir)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .rules)
}

/// Stores one real ticket, the first of `examples/tickets.jsonl` classified by the shipped
/// rules, for a bulk copy to start from.
pub async fn store_sample_ticket(store: &triage::store::Store) -> anyhow::Result<()> {
    let samples = triage::loadtest::sample_tickets(include_str!("../../examples/tickets.jsonl"));
    let now = chrono::Utc::now();
    let seed = triage::loadtest::decided_tickets(&shipped_rules()?, &samples[..1], now)
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no sample ticket"))?;
    store.create_ticket_unbatched(seed, now).await?;
    Ok(())
}
