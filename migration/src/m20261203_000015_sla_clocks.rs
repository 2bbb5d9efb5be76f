//! Every ticket and each of its SLA clocks as a narrow row, kept by the store with each write
//! of the ticket: the compliance report and its time series count these rows in the
//! database instead of reading and replaying every ticket of the period.

use sea_orm_migration::prelude::*;

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
        // By creation time alone: rows are appended as tickets come, so a period's rows lie
        // together in the table, and a narrow index keeps intake's writes cheap.
        m.create_index(
            Index::create()
                .name("idx_sla_clocks_created")
                .table(SlaClocks::Table)
                .col(SlaClocks::CreatedUs)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(SlaClocks::Table).to_owned())
            .await
    }
}
