//! The conversation as agents read it: the channel each message came or went by, and the
//! HTML part an outbound mail carries beside its plain text.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Messages {
    Table,
    Channel,
}

#[derive(DeriveIden)]
enum MailOutbox {
    Table,
    BodyHtml,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .add_column(ColumnDef::new(Messages::Channel).string().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(MailOutbox::Table)
                .add_column(ColumnDef::new(MailOutbox::BodyHtml).text().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(MailOutbox::Table)
                .drop_column(MailOutbox::BodyHtml)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Messages::Table)
                .drop_column(Messages::Channel)
                .to_owned(),
        )
        .await
    }
}
