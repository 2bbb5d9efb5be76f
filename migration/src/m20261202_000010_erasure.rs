//! When a ticket's personal content was removed (retention or a person's erasure request),
//! so that retention passes over it and reports can tell.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    ErasedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Tickets::Table)
                .add_column(
                    ColumnDef::new(Tickets::ErasedAt)
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
                .table(Tickets::Table)
                .drop_column(Tickets::ErasedAt)
                .to_owned(),
        )
        .await
    }
}
