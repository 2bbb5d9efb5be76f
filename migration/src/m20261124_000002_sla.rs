//! SLA clocks on tickets (state, due times, next alarm) and the notification outbox.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Seq,
    Status,
    Sla,
    SlaPolicy,
    SlaState,
    SlaDueAt,
    FirstResponseDueAt,
    ResolutionDueAt,
    SlaAlarmAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    TicketId,
    TicketSeq,
    Metric,
    Cycle,
    Level,
    Target,
    Payload,
    FireAt,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    DeliveredAt,
    CreatedAt,
}

fn ts_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for col in [
            ColumnDef::new(Tickets::Sla).json().null().to_owned(),
            ColumnDef::new(Tickets::SlaPolicy)
                .string()
                .null()
                .to_owned(),
            ColumnDef::new(Tickets::SlaState)
                .string()
                .not_null()
                .default("none")
                .to_owned(),
            ts_null(Tickets::SlaDueAt),
            ts_null(Tickets::FirstResponseDueAt),
            ts_null(Tickets::ResolutionDueAt),
            ts_null(Tickets::SlaAlarmAt),
        ] {
            let mut col = col;
            m.alter_table(
                Table::alter()
                    .table(Tickets::Table)
                    .add_column(&mut col)
                    .to_owned(),
            )
            .await?;
        }
        // "What breaches next" and the worker's "which alarms are due" are range scans.
        for (name, cols) in [
            ("idx_tickets_sla_due", vec![Tickets::SlaDueAt, Tickets::Seq]),
            (
                "idx_tickets_status_sla_due",
                vec![Tickets::Status, Tickets::SlaDueAt],
            ),
            ("idx_tickets_sla_alarm", vec![Tickets::SlaAlarmAt]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(Tickets::Table);
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx.to_owned()).await?;
        }

        m.create_table(
            Table::create()
                .table(Notifications::Table)
                .col(
                    ColumnDef::new(Notifications::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Notifications::TicketId).uuid().not_null())
                .col(
                    ColumnDef::new(Notifications::TicketSeq)
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(Notifications::Metric).string().not_null())
                .col(ColumnDef::new(Notifications::Cycle).integer().not_null())
                .col(ColumnDef::new(Notifications::Level).string().not_null())
                .col(ColumnDef::new(Notifications::Target).string().not_null())
                .col(ColumnDef::new(Notifications::Payload).json().not_null())
                .col(
                    ColumnDef::new(Notifications::FireAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(Notifications::Status).string().not_null())
                .col(ColumnDef::new(Notifications::Attempts).integer().not_null())
                .col(
                    ColumnDef::new(Notifications::NextAttemptAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ts_null(Notifications::LeaseUntil))
                .col(ColumnDef::new(Notifications::LastError).text().null())
                .col(ts_null(Notifications::DeliveredAt))
                .col(
                    ColumnDef::new(Notifications::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        // Exactly once per ticket, metric, cycle, level and recipient, whichever process
        // (or how many) noticed the alarm.
        m.create_index(
            Index::create()
                .name("uq_notifications_alarm")
                .table(Notifications::Table)
                .col(Notifications::TicketId)
                .col(Notifications::Metric)
                .col(Notifications::Cycle)
                .col(Notifications::Level)
                .col(Notifications::Target)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_notifications_due")
                .table(Notifications::Table)
                .col(Notifications::Status)
                .col(Notifications::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Notifications::Table).to_owned())
            .await?;
        for name in [
            "idx_tickets_sla_due",
            "idx_tickets_status_sla_due",
            "idx_tickets_sla_alarm",
        ] {
            m.drop_index(Index::drop().name(name).table(Tickets::Table).to_owned())
                .await?;
        }
        for col in [
            Tickets::Sla,
            Tickets::SlaPolicy,
            Tickets::SlaState,
            Tickets::SlaDueAt,
            Tickets::FirstResponseDueAt,
            Tickets::ResolutionDueAt,
            Tickets::SlaAlarmAt,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Tickets::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
