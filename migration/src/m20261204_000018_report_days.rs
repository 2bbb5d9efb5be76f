//! The compliance report's closed days, counted once: per UTC day and grouping, the day's
//! kept rows of `sla_clocks` counted by hour, group, metric, state and minutes, in one
//! compact row. A report over 90 days then reads 90 rows per grouping instead of every
//! clock of the period. A day whose kept rows change after it was counted is marked in
//! `sla_days_changed` by the same transaction, and read from `sla_clocks` until it is
//! counted again.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SlaDays {
    Table,
    Day,
    Grouping,
    BuiltUs,
    Rows,
    Data,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Status,
    UpdatedAt,
}

/// The automatic answers waiting for the customer's verdict, by when they last changed:
/// the workers resolve those left without one (`[faq] resolve-after-days`).
const WAITING_ANSWERS: &str = "tickets_answered_automatically";

#[derive(DeriveIden)]
enum SlaDaysChanged {
    Table,
    Day,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(SlaDays::Table)
                // Days since 1970-01-01 in UTC.
                .col(ColumnDef::new(SlaDays::Day).big_integer().not_null())
                // 0 segment, 1 channel, 2 queue, 3 category, 4 policy.
                .col(ColumnDef::new(SlaDays::Grouping).small_integer().not_null())
                .col(ColumnDef::new(SlaDays::BuiltUs).big_integer().not_null())
                // Kept rows counted: what the report would otherwise have read.
                .col(ColumnDef::new(SlaDays::Rows).big_integer().not_null())
                .col(ColumnDef::new(SlaDays::Data).binary().not_null())
                .primary_key(Index::create().col(SlaDays::Day).col(SlaDays::Grouping))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SlaDaysChanged::Table)
                .col(
                    ColumnDef::new(SlaDaysChanged::Day)
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(WAITING_ANSWERS)
                .table(Tickets::Table)
                .col(Tickets::UpdatedAt)
                .and_where(Expr::col(Tickets::Status).eq("answered-automatically"))
                .to_owned(),
        )
        .await?;
        if m.get_database_backend() == DbBackend::Postgres {
            // The rows are read whole and are already compact: no compression to undo.
            m.get_connection()
                .execute_unprepared("ALTER TABLE sla_days ALTER COLUMN data SET STORAGE EXTERNAL")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(WAITING_ANSWERS)
                .table(Tickets::Table)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(SlaDaysChanged::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(SlaDays::Table).to_owned())
            .await
    }
}
