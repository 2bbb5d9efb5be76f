//! Self-service deflections per FAQ article: how often a person read the article in a web
//! form's suggestions and did not submit the form.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum FaqArticles {
    Table,
    Deflected,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(FaqArticles::Table)
                .add_column(
                    ColumnDef::new(FaqArticles::Deflected)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(FaqArticles::Table)
                .drop_column(FaqArticles::Deflected)
                .to_owned(),
        )
        .await
    }
}
