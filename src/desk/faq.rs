//! FAQ article changes and this process's copy of the search index: articles live in the
//! database; each process builds its own index from them and follows changes made here at
//! once and by other processes within seconds.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use super::{Ctx, DeskError};
use crate::faq::{Article, FaqIndex};
use crate::store::{FaqArticleRecord, StoreError};

/// Why the FAQ could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum FaqInitError {
    #[error("FAQ articles not imported:\n{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Articles(Vec<crate::faq::FaqError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the FAQ index could not be built: {0}")]
    Index(String),
}

/// The index in force and what it was built from; swapped whole on a rebuild.
pub struct FaqHandle {
    index: RwLock<Arc<FaqIndex>>,
    /// Where the index is kept (in memory when `None`).
    dir: Option<std::path::PathBuf>,
    /// The articles' change signature the index was built from.
    built_from: tokio::sync::Mutex<Option<(u64, Option<DateTime<Utc>>)>>,
}

impl FaqHandle {
    pub fn in_memory() -> FaqHandle {
        FaqHandle {
            index: RwLock::new(Arc::new(FaqIndex::empty())),
            dir: None,
            built_from: tokio::sync::Mutex::new(None),
        }
    }

    pub fn on_disk(dir: std::path::PathBuf) -> FaqHandle {
        FaqHandle {
            dir: Some(dir),
            ..FaqHandle::in_memory()
        }
    }

    /// The index in force now.
    pub fn current(&self) -> Arc<FaqIndex> {
        match self.index.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rebuilds the index from the database if the articles changed since it was built
    /// (here or in another process sharing the database). Returns whether it rebuilt; a
    /// failed build keeps the running index.
    pub async fn refresh(&self, store: &crate::store::Store) -> Result<bool, FaqInitError> {
        let mut built = self.built_from.lock().await;
        let now = store.faq_signature().await?;
        if built.as_ref() == Some(&now) {
            return Ok(false);
        }
        let articles: Vec<Article> = store
            .articles()
            .await?
            .iter()
            .map(crate::store::article_of)
            .collect();
        let dir = self.dir.clone();
        let index = tokio::task::spawn_blocking(move || {
            FaqIndex::build(
                &articles,
                dir.as_deref(),
                crate::faq::Mode::Full,
                crate::faq::default_confidence(),
            )
        })
        .await
        .map_err(|e| FaqInitError::Index(e.to_string()))?;
        match index {
            Ok(index) => {
                tracing::info!(articles = index.len(), "FAQ index built");
                let index = Arc::new(index);
                match self.index.write() {
                    Ok(mut f) => *f = index,
                    Err(poisoned) => *poisoned.into_inner() = index,
                }
                *built = Some(now);
                Ok(true)
            }
            Err(e) => {
                tracing::error!("FAQ index not rebuilt, the running one stays: {e}");
                Ok(false)
            }
        }
    }

    /// Imports the articles of the rules' FAQ directory when the database has none yet,
    /// then builds the index.
    pub async fn init(
        &self,
        cx: &Ctx<'_>,
        rules_dir: &std::path::Path,
    ) -> Result<(), FaqInitError> {
        if cx.store.faq_signature().await?.0 == 0 {
            if let Some(sub) = &cx.rules.faq.articles {
                let dir = rules_dir.join(sub);
                let articles = crate::faq::load_dir(&dir).map_err(FaqInitError::Articles)?;
                cx.store.upsert_articles(&articles, cx.now).await?;
                tracing::info!(count = articles.len(), dir = %dir.display(), "FAQ articles imported");
            }
        }
        self.refresh(cx.store).await?;
        Ok(())
    }
}

/// Creates or replaces an article after checking it against the rules' categories; the
/// index follows at once.
pub async fn put_article(
    cx: &Ctx<'_>,
    handle: &FaqHandle,
    article: Article,
) -> Result<FaqArticleRecord, DeskError> {
    if let Some((field, message)) = article.problem() {
        return Err(DeskError::invalid(field, message));
    }
    if !cx.rules.categories.contains_key(article.category.as_str()) {
        return Err(DeskError::invalid(
            "category",
            format!("unknown category \"{}\"", article.category),
        ));
    }
    let id = article.id.clone();
    cx.store.upsert_articles(&[article], cx.now).await?;
    refresh(cx, handle).await?;
    Ok(cx.store.article(&id).await?)
}

/// Removes an article; the index follows at once.
pub async fn delete_article(cx: &Ctx<'_>, handle: &FaqHandle, id: &str) -> Result<(), DeskError> {
    if !cx.store.delete_article(id).await? {
        return Err(DeskError::NotFound(format!("no FAQ article {id}")));
    }
    refresh(cx, handle).await
}

async fn refresh(cx: &Ctx<'_>, handle: &FaqHandle) -> Result<(), DeskError> {
    match handle.refresh(cx.store).await {
        Ok(_) => Ok(()),
        Err(FaqInitError::Store(e)) => Err(e.into()),
        Err(e) => {
            tracing::error!("{e}");
            Ok(())
        }
    }
}
