//! FAQ articles with their answer statistics, and the FAQ outcome of each ticket.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FaqArticles {
    Table,
    Id,
    Language,
    Category,
    Title,
    Questions,
    Keywords,
    Body,
    Sent,
    Helped,
    NotHelped,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Faq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let count = |c: FaqArticles| {
            ColumnDef::new(c)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()
        };
        m.create_table(
            Table::create()
                .table(FaqArticles::Table)
                .col(
                    ColumnDef::new(FaqArticles::Id)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(FaqArticles::Language).string().not_null())
                .col(ColumnDef::new(FaqArticles::Category).string().not_null())
                .col(ColumnDef::new(FaqArticles::Title).string().not_null())
                .col(ColumnDef::new(FaqArticles::Questions).json().not_null())
                .col(ColumnDef::new(FaqArticles::Keywords).json().not_null())
                .col(ColumnDef::new(FaqArticles::Body).text().not_null())
                .col(count(FaqArticles::Sent))
                .col(count(FaqArticles::Helped))
                .col(count(FaqArticles::NotHelped))
                .col(
                    ColumnDef::new(FaqArticles::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Tickets::Table)
                .add_column(ColumnDef::new(Tickets::Faq).json().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FaqArticles::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Tickets::Table)
                .drop_column(Tickets::Faq)
                .to_owned(),
        )
        .await
    }
}
