//! E-mail: message ids and headers on messages, the raw messages, attachments, and the
//! outbound mail queue.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    MessageId,
    Mail,
}

#[derive(DeriveIden)]
enum MailRaw {
    Table,
    MessageId,
    TicketId,
    Raw,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Attachments {
    Table,
    Id,
    TicketId,
    MessageId,
    Name,
    ContentType,
    Size,
    Inline,
    Content,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    Id,
    TicketId,
    MessageId,
    Recipient,
    Subject,
    Body,
    InReplyTo,
    References,
    Automatic,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}

fn time(c: impl IntoIden) -> ColumnDef {
    ColumnDef::new(c)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::MessageId).string().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::Mail).json().null())
                .to_owned(),
        )
        .await?;
        // A Message-ID is stored once: MTAs redeliver, and several processes may take the
        // same message at once.
        m.create_index(
            Index::create()
                .name("messages_message_id")
                .table(Messages::Table)
                .col(Messages::MessageId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MailRaw::Table)
                .col(
                    ColumnDef::new(MailRaw::MessageId)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(MailRaw::TicketId).uuid().not_null())
                .col(ColumnDef::new(MailRaw::Raw).binary().not_null())
                .col(time(MailRaw::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Attachments::Table)
                .col(
                    ColumnDef::new(Attachments::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Attachments::TicketId).uuid().not_null())
                .col(ColumnDef::new(Attachments::MessageId).string().not_null())
                .col(ColumnDef::new(Attachments::Name).string().not_null())
                .col(ColumnDef::new(Attachments::ContentType).string().not_null())
                .col(ColumnDef::new(Attachments::Size).big_integer().not_null())
                .col(ColumnDef::new(Attachments::Inline).boolean().not_null())
                .col(ColumnDef::new(Attachments::Content).binary().null())
                .col(ColumnDef::new(Attachments::Note).text().null())
                .col(time(Attachments::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("attachments_ticket")
                .table(Attachments::Table)
                .col(Attachments::TicketId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MailOutbox::Table)
                .col(
                    ColumnDef::new(MailOutbox::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(MailOutbox::TicketId).uuid().not_null())
                .col(
                    ColumnDef::new(MailOutbox::MessageId)
                        .string()
                        .not_null()
                        .unique_key(),
                )
                .col(ColumnDef::new(MailOutbox::Recipient).string().not_null())
                .col(ColumnDef::new(MailOutbox::Subject).text().not_null())
                .col(ColumnDef::new(MailOutbox::Body).text().not_null())
                .col(ColumnDef::new(MailOutbox::InReplyTo).string().null())
                .col(ColumnDef::new(MailOutbox::References).text().null())
                .col(ColumnDef::new(MailOutbox::Automatic).boolean().not_null())
                .col(ColumnDef::new(MailOutbox::Status).string().not_null())
                .col(
                    ColumnDef::new(MailOutbox::Attempts)
                        .integer()
                        .not_null()
                        .default(0),
                )
                .col(time(MailOutbox::NextAttemptAt))
                .col(
                    ColumnDef::new(MailOutbox::LeaseUntil)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(ColumnDef::new(MailOutbox::LastError).text().null())
                .col(time(MailOutbox::CreatedAt))
                .col(
                    ColumnDef::new(MailOutbox::SentAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("mail_outbox_due")
                .table(MailOutbox::Table)
                .col(MailOutbox::Status)
                .col(MailOutbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("mail_outbox_recipient")
                .table(MailOutbox::Table)
                .col(MailOutbox::Recipient)
                .col(MailOutbox::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            MailOutbox::Table.into_iden(),
            Attachments::Table.into_iden(),
            MailRaw::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        m.drop_index(
            Index::drop()
                .name("messages_message_id")
                .table(Messages::Table)
                .to_owned(),
        )
        .await?;
        for c in [Messages::Mail, Messages::MessageId] {
            m.alter_table(
                Table::alter()
                    .table(Messages::Table)
                    .drop_column(c)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
