//! Who chose a ticket's queue (`trace.queue.by`: a rule, the mail rules or a person) as a
//! column of its own, kept by the database from the trace: a rules replay reads it for
//! every stored ticket, and taking it out of the trace's JSON per row costs more than
//! reading the rest of the row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let sql = match m.get_database_backend() {
            // Stored: computed once when the trace is written, not on every read.
            DbBackend::Postgres => {
                "ALTER TABLE tickets ADD COLUMN queue_by TEXT GENERATED ALWAYS AS (trace->'queue'->>'by') STORED"
            }
            // SQLite can add only virtual generated columns to an existing table.
            _ => {
                "ALTER TABLE tickets ADD COLUMN queue_by TEXT GENERATED ALWAYS AS (json_extract(trace, '$.queue.by')) VIRTUAL"
            }
        };
        m.get_connection().execute_unprepared(sql).await.map(|_| ())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("ALTER TABLE tickets DROP COLUMN queue_by")
            .await
            .map(|_| ())
    }
}
