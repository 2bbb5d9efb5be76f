//! FAQ articles: the source of truth of the search index, and their answer statistics.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};

use entity::faq_articles;

use super::{Store, StoreError};
use crate::faq::Article;

pub use entity::faq_articles::Model as FaqArticleRecord;

/// What a customer said about an automatic answer. (Answers sent are counted when the
/// ticket is stored, in the same transaction.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaqOutcome {
    Helped,
    NotHelped,
}

/// The article a stored row holds.
pub fn article_of(r: &FaqArticleRecord) -> Article {
    Article {
        id: r.id.clone(),
        language: r.language.clone(),
        category: r.category.clone(),
        title: r.title.clone(),
        questions: serde_json::from_value(r.questions.clone()).unwrap_or_default(),
        keywords: serde_json::from_value(r.keywords.clone()).unwrap_or_default(),
        body: r.body.clone(),
    }
}

impl Store {
    /// Inserts or replaces articles by id; their statistics stay.
    pub async fn upsert_articles(
        &self,
        articles: &[Article],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for a in articles {
            let row = faq_articles::ActiveModel {
                id: Set(a.id.clone()),
                language: Set(a.language.clone()),
                category: Set(a.category.clone()),
                title: Set(a.title.clone()),
                questions: Set(serde_json::json!(a.questions)),
                keywords: Set(serde_json::json!(a.keywords)),
                body: Set(a.body.clone()),
                sent: Set(0),
                helped: Set(0),
                not_helped: Set(0),
                deflected: Set(0),
                updated_at: Set(now),
            };
            faq_articles::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(faq_articles::Column::Id)
                        .update_columns([
                            faq_articles::Column::Language,
                            faq_articles::Column::Category,
                            faq_articles::Column::Title,
                            faq_articles::Column::Questions,
                            faq_articles::Column::Keywords,
                            faq_articles::Column::Body,
                            faq_articles::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await?;
        }
        Ok(())
    }

    /// All articles, by id.
    pub async fn articles(&self) -> Result<Vec<FaqArticleRecord>, StoreError> {
        Ok(faq_articles::Entity::find()
            .order_by_asc(faq_articles::Column::Id)
            .all(&self.db)
            .await?)
    }

    pub async fn article(&self, id: &str) -> Result<FaqArticleRecord, StoreError> {
        faq_articles::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("FAQ article {id}")))
    }

    /// Removes an article; `false` if there was none.
    pub async fn delete_article(&self, id: &str) -> Result<bool, StoreError> {
        let r = faq_articles::Entity::delete_by_id(id.to_owned())
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// Changes when any article is added, changed or removed: what a process compares to
    /// know that its index is stale.
    pub async fn faq_signature(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let n = faq_articles::Entity::find().count(&self.db).await?;
        let latest = faq_articles::Entity::find()
            .order_by_desc(faq_articles::Column::UpdatedAt)
            .one(&self.db)
            .await?
            .map(|a| a.updated_at);
        Ok((n, latest))
    }

    /// Counts a self-service deflection of article `id`; `false` if there is no such
    /// article.
    pub async fn count_deflection(&self, id: &str) -> Result<bool, StoreError> {
        let col = faq_articles::Column::Deflected;
        let r = faq_articles::Entity::update_many()
            .col_expr(col, Expr::col(col).add(1))
            .filter(faq_articles::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// Counts a customer's verdict on an automatic answer.
    pub async fn count_faq_outcome(&self, id: &str, outcome: FaqOutcome) -> Result<(), StoreError> {
        let col = match outcome {
            FaqOutcome::Helped => faq_articles::Column::Helped,
            FaqOutcome::NotHelped => faq_articles::Column::NotHelped,
        };
        faq_articles::Entity::update_many()
            .col_expr(col, Expr::col(col).add(1))
            .filter(faq_articles::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
