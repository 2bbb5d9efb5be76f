//! Two counts of the dashboard read an index alone, however many tickets are done: the
//! queues' load now (per queue, the tickets that wait for people, with their due time and
//! assignee) and the automation report (the tickets' own rows of `sla_clocks`, with the
//! groupings and the FAQ's handling).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SlaClocks {
    Table,
    Metric,
    CreatedUs,
    Segment,
    Channel,
    Category,
    Faq,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Queue,
    SlaDueAt,
    Assignee,
    Status,
}

const NAME: &str = "tickets_waiting_queue";
const TICKET_ROWS: &str = "sla_clocks_ticket_rows";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name(NAME)
                .table(Tickets::Table)
                .col(Tickets::Queue)
                .col(Tickets::SlaDueAt)
                .col(Tickets::Assignee)
                .and_where(Expr::col(Tickets::Status).is_not_in([
                    "resolved",
                    "closed",
                    "answered-automatically",
                    "noise",
                ]))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(TICKET_ROWS)
                .table(SlaClocks::Table)
                .col(SlaClocks::CreatedUs)
                .col(SlaClocks::Category)
                .col(SlaClocks::Segment)
                .col(SlaClocks::Channel)
                .col(SlaClocks::Faq)
                .and_where(Expr::col(SlaClocks::Metric).eq(3))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(TICKET_ROWS)
                .table(SlaClocks::Table)
                .to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name(NAME).table(Tickets::Table).to_owned())
            .await
    }
}
