//! A received mail's bytes beyond its first part, in parts of at most 1 MiB: a 50 MB mail is
//! written and read a part at a time, so storing it costs a small multiple of its size in
//! memory instead of the several copies a single 50 MB value takes through the driver.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum MailRawParts {
    Table,
    MessageId,
    Seq,
    TicketId,
    Bytes,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MailRawParts::Table)
                .col(ColumnDef::new(MailRawParts::MessageId).string().not_null())
                .col(ColumnDef::new(MailRawParts::Seq).integer().not_null())
                .col(ColumnDef::new(MailRawParts::TicketId).uuid().not_null())
                .col(ColumnDef::new(MailRawParts::Bytes).binary().not_null())
                .primary_key(
                    Index::create()
                        .col(MailRawParts::MessageId)
                        .col(MailRawParts::Seq),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("mail_raw_parts_ticket")
                .table(MailRawParts::Table)
                .col(MailRawParts::TicketId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MailRawParts::Table).to_owned())
            .await
    }
}
