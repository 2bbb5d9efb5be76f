//! Each kept row of `sla_clocks` names what started its clock (an event kind, `reply` or
//! `inbound`), so the compliance report groups by trigger as by the other columns. Rows and
//! counted days kept before have no trigger: they are removed, and the store's one-time
//! fill writes them anew at the next start.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SlaClocks {
    Table,
    Trigger,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        for table in ["sla_clocks", "sla_days", "sla_days_changed"] {
            db.execute_unprepared(&format!("DELETE FROM {table}"))
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table(SlaClocks::Table)
                .add_column(
                    ColumnDef::new(SlaClocks::Trigger)
                        .text()
                        .not_null()
                        .default("inbound"),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(SlaClocks::Table)
                .drop_column(SlaClocks::Trigger)
                .to_owned(),
        )
        .await
    }
}
