//! Tickets, messages, events, organisations and idempotency keys.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Seq,
    Id,
    ExternalId,
    Channel,
    Subject,
    Body,
    Language,
    FromEmail,
    FromName,
    FromPhone,
    Organisation,
    Segment,
    Category,
    Priority,
    TimeWindow,
    WithinWindow,
    Automation,
    Queue,
    Tags,
    RulesVersion,
    Trace,
    Status,
    ReceivedAt,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    TicketId,
    Direction,
    Author,
    Subject,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    TicketId,
    Kind,
    Actor,
    Data,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    Name,
    Segment,
    Tags,
    Source,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Key,
    TicketId,
    RequestHash,
    CreatedAt,
}

fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Tickets::Table)
                .col(
                    ColumnDef::new(Tickets::Seq)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Tickets::Id).uuid().not_null().unique_key())
                .col(
                    ColumnDef::new(Tickets::ExternalId)
                        .string()
                        .null()
                        .unique_key(),
                )
                .col(text(Tickets::Channel))
                .col(ColumnDef::new(Tickets::Subject).text().not_null())
                .col(ColumnDef::new(Tickets::Body).text().not_null())
                .col(text(Tickets::Language))
                .col(ColumnDef::new(Tickets::FromEmail).string().null())
                .col(ColumnDef::new(Tickets::FromName).string().null())
                .col(ColumnDef::new(Tickets::FromPhone).string().null())
                .col(ColumnDef::new(Tickets::Organisation).string().null())
                .col(text(Tickets::Segment))
                .col(text(Tickets::Category))
                .col(text(Tickets::Priority))
                .col(text(Tickets::TimeWindow))
                .col(ColumnDef::new(Tickets::WithinWindow).boolean().not_null())
                .col(text(Tickets::Automation))
                .col(text(Tickets::Queue))
                .col(ColumnDef::new(Tickets::Tags).json().not_null())
                .col(text(Tickets::RulesVersion))
                .col(ColumnDef::new(Tickets::Trace).json().not_null())
                .col(text(Tickets::Status))
                .col(ts(Tickets::ReceivedAt))
                .col(ts(Tickets::CreatedAt))
                .col(ts(Tickets::UpdatedAt))
                .col(ColumnDef::new(Tickets::Version).integer().not_null())
                .to_owned(),
        )
        .await?;
        // The API's list queries: by queue and status (newest first), by organisation, by
        // creation time.
        for (name, cols) in [
            (
                "idx_tickets_queue_status",
                vec![Tickets::Queue, Tickets::Status, Tickets::Seq],
            ),
            (
                "idx_tickets_organisation",
                vec![Tickets::Organisation, Tickets::Seq],
            ),
            ("idx_tickets_created", vec![Tickets::CreatedAt]),
            ("idx_tickets_segment", vec![Tickets::Segment, Tickets::Seq]),
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
                .table(Messages::Table)
                .col(
                    ColumnDef::new(Messages::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Messages::TicketId).uuid().not_null())
                .col(text(Messages::Direction))
                .col(ColumnDef::new(Messages::Author).string().null())
                .col(ColumnDef::new(Messages::Subject).text().not_null())
                .col(ColumnDef::new(Messages::Body).text().not_null())
                .col(ts(Messages::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_messages_ticket")
                .table(Messages::Table)
                .col(Messages::TicketId)
                .col(Messages::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(
                    ColumnDef::new(Events::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Events::TicketId).uuid().not_null())
                .col(text(Events::Kind))
                .col(text(Events::Actor))
                .col(ColumnDef::new(Events::Data).json().not_null())
                .col(ts(Events::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_events_ticket")
                .table(Events::Table)
                .col(Events::TicketId)
                .col(Events::Id)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Organisations::Table)
                .col(
                    ColumnDef::new(Organisations::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Organisations::Name)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(Organisations::Segment).string().null())
                .col(ColumnDef::new(Organisations::Tags).json().not_null())
                .col(text(Organisations::Source))
                .col(ts(Organisations::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(
                    ColumnDef::new(IdempotencyKeys::Key)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(IdempotencyKeys::TicketId).uuid().not_null())
                .col(text(IdempotencyKeys::RequestHash))
                .col(ts(IdempotencyKeys::CreatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Tickets::Table.into_iden(),
            Messages::Table.into_iden(),
            Events::Table.into_iden(),
            Organisations::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
