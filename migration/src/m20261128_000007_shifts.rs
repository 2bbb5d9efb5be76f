//! Agents' shift calendars and when each was last given a ticket (for "longest idle first").

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agents {
    Table,
    Calendar,
    LastAssignedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        m.alter_table(
            Table::alter()
                .table(Agents::Table)
                .add_column(ColumnDef::new(Agents::Calendar).string().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Agents::Table)
                .add_column(
                    ColumnDef::new(Agents::LastAssignedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Agents::Table)
                .drop_column(Agents::LastAssignedAt)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Agents::Table)
                .drop_column(Agents::Calendar)
                .to_owned(),
        )
        .await
    }
}
