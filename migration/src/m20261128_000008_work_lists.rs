//! A queue's work list reads only open tickets, soonest due first: a partial index holds
//! just those, in the list's order, so the list neither skips done tickets nor sorts. And
//! a call-back finds the caller's recent phone ticket by number.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Queue,
    SlaDueAt,
    Priority,
    Seq,
    Status,
    FromPhone,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("tickets_open_queue_due")
                .table(Tickets::Table)
                .col(Tickets::Queue)
                .col(Tickets::SlaDueAt)
                .col(Tickets::Priority)
                .col(Tickets::Seq)
                .and_where(Expr::col(Tickets::Status).is_not_in(["resolved", "closed"]))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("tickets_from_phone")
                .table(Tickets::Table)
                .col(Tickets::FromPhone)
                .col(Tickets::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("tickets_from_phone")
                .table(Tickets::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(
            Index::drop()
                .name("tickets_open_queue_due")
                .table(Tickets::Table)
                .to_owned(),
        )
        .await
    }
}
