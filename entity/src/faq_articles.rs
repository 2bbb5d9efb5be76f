//! FAQ articles, the source of truth for the search index, with how their answers fared.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "faq_articles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub language: String,
    pub category: String,
    pub title: String,
    pub questions: Json,
    pub keywords: Json,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// Automatic answers sent with this article.
    pub sent: i64,
    pub helped: i64,
    pub not_helped: i64,
    /// Self-service searches after which the person did not submit the form.
    pub deflected: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
