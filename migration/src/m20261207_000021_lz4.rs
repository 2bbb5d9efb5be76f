//! On PostgreSQL, the wide columns written at intake are compressed with lz4 instead of
//! the default pglz, where the server has lz4. A 20 KB mail's raw bytes, its attachments
//! and every ticket's trace pass through the compressor once per write: pglz took about a
//! fifth of PostgreSQL's CPU per mail, and with lz4 that CPU is 5–28 % lower, at 6 % more
//! bytes kept (BENCHMARKS.md, "Mail intake"). Rows written before keep their pglz values;
//! both read.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns intake writes that can be wider than PostgreSQL's 2 KB compression
/// threshold.
const COLUMNS: &[(&str, &str)] = &[
    ("tickets", "body"),
    ("tickets", "trace"),
    ("tickets", "faq"),
    ("tickets", "sla"),
    ("messages", "body"),
    ("messages", "mail"),
    ("events", "data"),
    ("mail_raw", "raw"),
    ("mail_raw_parts", "bytes"),
    ("attachments", "content"),
    ("mail_outbox", "body"),
    ("mail_outbox", "body_html"),
];

/// Whether this PostgreSQL was built with lz4 (an option at build time since version 14).
async fn has_lz4(m: &SchemaManager<'_>) -> Result<bool, DbErr> {
    let row = m
        .get_connection()
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT COUNT(*) AS n FROM pg_settings \
             WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)",
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0)
        > 0)
}

async fn set(m: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if m.get_database_backend() != DbBackend::Postgres || !has_lz4(m).await? {
        return Ok(());
    }
    let sql: Vec<String> = COLUMNS
        .iter()
        .map(|(table, column)| {
            format!("ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")
        })
        .collect();
    m.get_connection()
        .execute_unprepared(&sql.join(";\n"))
        .await
        .map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        set(m, "lz4").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        set(m, "DEFAULT").await
    }
}
