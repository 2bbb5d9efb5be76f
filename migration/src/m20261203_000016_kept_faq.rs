//! The ticket's own row of `sla_clocks` also keeps what the FAQ did with it, so the
//! automation figures (answered, suggested, left to people, per category and segment) are
//! the same grouped count as the compliance report. Rows kept before have no such value:
//! they are removed, and the store's one-time fill writes them anew at the next start.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SlaClocks {
    Table,
    Faq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DELETE FROM sla_clocks")
            .await?;
        m.alter_table(
            Table::alter()
                .table(SlaClocks::Table)
                .add_column(ColumnDef::new(SlaClocks::Faq).small_integer().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(SlaClocks::Table)
                .drop_column(SlaClocks::Faq)
                .to_owned(),
        )
        .await
    }
}
