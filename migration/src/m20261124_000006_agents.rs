//! Agents, and who a ticket is assigned to.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agents {
    Table,
    Id,
    Name,
    Email,
    Skills,
    Languages,
    Capacity,
    Presence,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Assignee,
    Queue,
    SlaDueAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Agents::Table)
                .col(ColumnDef::new(Agents::Id).string().not_null().primary_key())
                .col(ColumnDef::new(Agents::Name).string().not_null())
                .col(ColumnDef::new(Agents::Email).string().null())
                .col(ColumnDef::new(Agents::Skills).json().not_null())
                .col(ColumnDef::new(Agents::Languages).json().not_null())
                .col(ColumnDef::new(Agents::Capacity).integer().not_null())
                .col(ColumnDef::new(Agents::Presence).string().not_null())
                .col(
                    ColumnDef::new(Agents::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tickets::Table)
                .add_column(ColumnDef::new(Tickets::Assignee).string().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("tickets_assignee")
                .table(Tickets::Table)
                .col(Tickets::Assignee)
                .to_owned(),
        )
        .await?;
        // A queue's work list: soonest due first.
        m.create_index(
            Index::create()
                .name("tickets_queue_due")
                .table(Tickets::Table)
                .col(Tickets::Queue)
                .col(Tickets::SlaDueAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("tickets_queue_due")
                .table(Tickets::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("tickets_assignee")
                .table(Tickets::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tickets::Table)
                .drop_column(Tickets::Assignee)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(Agents::Table).to_owned())
            .await
    }
}
