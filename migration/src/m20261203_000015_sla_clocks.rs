//! Every ticket and each of its SLA clocks as a narrow row, kept by the store with each write
//! of the ticket: the compliance report and its time series count these rows in the
//! database, from one index that holds all they read, instead of reading and replaying every
//! ticket of the period.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SlaClocks {
    Table,
    TicketId,
    Metric,
    Cycle,
    CreatedUs,
    Segment,
    Channel,
    Queue,
    Category,
    Policy,
    State,
    DueUs,
    Minutes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let text = |c: SlaClocks| ColumnDef::new(c).text().not_null().to_owned();
        let code = |c: SlaClocks| ColumnDef::new(c).small_integer().not_null().to_owned();
        m.create_table(
            Table::create()
                .table(SlaClocks::Table)
                .col(ColumnDef::new(SlaClocks::TicketId).uuid().not_null())
                // 0 first response, 1 next reply, 2 resolution; 3 the ticket itself.
                .col(code(SlaClocks::Metric))
                .col(ColumnDef::new(SlaClocks::Cycle).integer().not_null())
                // The ticket's creation time in microseconds since 1970: the report's period,
                // and integer arithmetic for day and week buckets on either database.
                .col(
                    ColumnDef::new(SlaClocks::CreatedUs)
                        .big_integer()
                        .not_null(),
                )
                .col(text(SlaClocks::Segment))
                .col(text(SlaClocks::Channel))
                .col(text(SlaClocks::Queue))
                .col(text(SlaClocks::Category))
                .col(text(SlaClocks::Policy))
                // 0 met, 1 breached, 2 running, 3 paused, 4 ended (and the ticket's row); a
                // running clock is breached once the report's now is past `due_us`.
                .col(code(SlaClocks::State))
                .col(ColumnDef::new(SlaClocks::DueUs).big_integer().null())
                // Business minutes used, for met and breached clocks.
                .col(ColumnDef::new(SlaClocks::Minutes).big_integer().null())
                .primary_key(
                    Index::create()
                        .col(SlaClocks::TicketId)
                        .col(SlaClocks::Metric)
                        .col(SlaClocks::Cycle),
                )
                .to_owned(),
        )
        .await?;
        // Everything the report reads, in the index: an index-only scan of the period.
        let sql = match m.get_database_backend() {
            DbBackend::Postgres => {
                "CREATE INDEX idx_sla_clocks_created ON sla_clocks (created_us) \
                 INCLUDE (metric, state, due_us, minutes, segment, channel, queue, category, policy)"
            }
            _ => {
                "CREATE INDEX idx_sla_clocks_created ON sla_clocks (created_us, metric, state, \
                 due_us, minutes, segment, channel, queue, category, policy)"
            }
        };
        m.get_connection().execute_unprepared(sql).await.map(|_| ())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SlaClocks::Table).to_owned())
            .await
    }
}
