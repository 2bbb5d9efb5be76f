//! Leads handed to sales: one row per lead ticket with its trigger, source, the fields
//! marketing gave and those missing, and the outcome sales recorded — what the lead report
//! counts and exports.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Leads {
    Table,
    TicketId,
    CreatedAt,
    Trigger,
    Source,
    Fields,
    Missing,
    HandedAt,
    Outcome,
    Reason,
    Opportunity,
    OutcomeAt,
    OutcomeBy,
    WithinSla,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let text = |c: Leads| ColumnDef::new(c).text().null().to_owned();
        let time = |c: Leads| {
            ColumnDef::new(c)
                .timestamp_with_time_zone()
                .null()
                .to_owned()
        };
        m.create_table(
            Table::create()
                .table(Leads::Table)
                .col(
                    ColumnDef::new(Leads::TicketId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Leads::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(Leads::Trigger).text().not_null())
                .col(ColumnDef::new(Leads::Source).text().not_null())
                .col(ColumnDef::new(Leads::Fields).json().not_null())
                .col(ColumnDef::new(Leads::Missing).json().not_null())
                .col(time(Leads::HandedAt))
                .col(text(Leads::Outcome))
                .col(text(Leads::Reason))
                .col(text(Leads::Opportunity))
                .col(time(Leads::OutcomeAt))
                .col(text(Leads::OutcomeBy))
                .col(ColumnDef::new(Leads::WithinSla).boolean().null())
                .to_owned(),
        )
        .await?;
        // The report and the export read a period's leads.
        m.create_index(
            Index::create()
                .name("idx_leads_created")
                .table(Leads::Table)
                .col(Leads::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Leads::Table).to_owned())
            .await
    }
}
