//! Every new ticket is written into each index of `tickets`, so an index only earns its
//! place where a query reads it. Here each one is held to a query, and the ones a new
//! ticket need not enter leave it out:
//! - Two go: `(queue, sla_due_at)`, whose work list reads the partial index of open
//!   tickets since migration 8, and `(status, sla_due_at)`, whose lists read
//!   `(sla_due_at, seq)` as well: only tickets with a running clock have a due time.
//! - An agent's tickets, the sender's phone number and the organisation are indexed only
//!   where there is one (and an agent's only while the ticket is open): a new ticket is
//!   held by nobody, and most do not come by phone. (New names: a pooled SQLite
//!   connection that has not yet seen the drop would still know the old one.)
//! - The tickets the worker erases once they have been closed or noise long enough get an
//!   index each, of just those not yet erased, in the order they are erased: before, every
//!   pass read the whole table to find none.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Tickets {
    Table,
    Queue,
    Status,
    SlaDueAt,
    Assignee,
    FromPhone,
    CreatedAt,
    Organisation,
    Seq,
    UpdatedAt,
    ErasedAt,
}

/// Statuses in which a ticket needs no more work (`store::agents::DONE`).
const DONE: [&str; 2] = ["resolved", "closed"];

fn index(name: &str, cols: &[Tickets]) -> IndexCreateStatement {
    let mut idx = Index::create();
    idx.name(name).table(Tickets::Table).if_not_exists();
    for c in cols {
        idx.col(*c);
    }
    idx
}

/// Each step may be taken again: SQLite runs a migration outside a transaction, so one
/// stopped half-way is taken from the start next time.
async fn drop(m: &SchemaManager<'_>, name: &str) -> Result<(), DbErr> {
    m.drop_index(
        Index::drop()
            .name(name)
            .table(Tickets::Table)
            .if_exists()
            .to_owned(),
    )
    .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "tickets_queue_due",
            "idx_tickets_status_sla_due",
            "tickets_assignee",
            "tickets_from_phone",
            "idx_tickets_organisation",
        ] {
            drop(m, name).await?;
        }
        let partial = [
            index("tickets_assignee_open", &[Tickets::Assignee])
                .and_where(Expr::col(Tickets::Assignee).is_not_null())
                .and_where(Expr::col(Tickets::Status).is_not_in(DONE))
                .to_owned(),
            index(
                "tickets_known_phone",
                &[Tickets::FromPhone, Tickets::CreatedAt],
            )
            .and_where(Expr::col(Tickets::FromPhone).is_not_null())
            .to_owned(),
            index(
                "tickets_known_organisation",
                &[Tickets::Organisation, Tickets::Seq],
            )
            .and_where(Expr::col(Tickets::Organisation).is_not_null())
            .to_owned(),
            index("tickets_closed_unerased", &[Tickets::UpdatedAt])
                .and_where(Expr::col(Tickets::Status).eq("closed"))
                .and_where(Expr::col(Tickets::ErasedAt).is_null())
                .to_owned(),
            index("tickets_noise_unerased", &[Tickets::UpdatedAt])
                .and_where(Expr::col(Tickets::Status).eq("noise"))
                .and_where(Expr::col(Tickets::ErasedAt).is_null())
                .to_owned(),
        ];
        for idx in partial {
            m.create_index(idx).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "tickets_noise_unerased",
            "tickets_closed_unerased",
            "tickets_known_organisation",
            "tickets_known_phone",
            "tickets_assignee_open",
        ] {
            drop(m, name).await?;
        }
        for idx in [
            index(
                "idx_tickets_organisation",
                &[Tickets::Organisation, Tickets::Seq],
            ),
            index(
                "tickets_from_phone",
                &[Tickets::FromPhone, Tickets::CreatedAt],
            ),
            index("tickets_assignee", &[Tickets::Assignee]),
            index(
                "idx_tickets_status_sla_due",
                &[Tickets::Status, Tickets::SlaDueAt],
            ),
            index("tickets_queue_due", &[Tickets::Queue, Tickets::SlaDueAt]),
        ] {
            m.create_index(idx.to_owned()).await?;
        }
        Ok(())
    }
}
