//! Rules versions: every version any process loaded, with its files' text stored once per
//! distinct content, every load and rejected reload, and what each instance runs now.
//! Inserts are `ON CONFLICT DO NOTHING`, so any number of instances may record the same
//! version at once.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use entity::{rules_files, rules_instances, rules_loads, rules_versions};

use super::{Store, StoreError};
use crate::rules::RulesFile;

pub use entity::rules_instances::Model as RulesInstanceRecord;
pub use entity::rules_loads::Model as RulesLoadRecord;

/// One file of a stored version, as listed (its text stays in `rules_files`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredFileRef {
    pub name: String,
    pub hash: String,
    pub bytes: usize,
}

impl From<&RulesFile> for StoredFileRef {
    fn from(f: &RulesFile) -> StoredFileRef {
        StoredFileRef {
            name: f.name.to_string(),
            hash: f.hash.clone(),
            bytes: f.text.len(),
        }
    }
}

/// A stored rules version with its files' text.
#[derive(Clone, Debug)]
pub struct StoredVersion {
    pub version: String,
    pub first_loaded_at: DateTime<Utc>,
    pub first_loaded_by: String,
    /// In load order: name, hash and text.
    pub files: Vec<(StoredFileRef, String)>,
}

/// Who loaded rules, how, and when.
pub struct LoadBy<'a> {
    pub instance: &'a str,
    /// `start`, `signal` or `api`.
    pub trigger: &'a str,
    pub token: Option<&'a str>,
    pub at: DateTime<Utc>,
}

impl Store {
    /// Records a loaded version (its files, once per content), the load, and that the
    /// instance now runs it.
    pub async fn record_rules_loaded(
        &self,
        version: &str,
        files: &[RulesFile],
        by: &LoadBy<'_>,
        started_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let refs: Vec<StoredFileRef> = files.iter().map(StoredFileRef::from).collect();
        let listing =
            serde_json::to_string(&refs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let txn = self.db.begin().await?;
        for f in files {
            rules_files::Entity::insert(rules_files::ActiveModel {
                hash: Set(f.hash.clone()),
                text: Set(f.text.to_string()),
            })
            .on_conflict(
                OnConflict::column(rules_files::Column::Hash)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        rules_versions::Entity::insert(rules_versions::ActiveModel {
            version: Set(version.to_owned()),
            files: Set(listing),
            first_loaded_at: Set(by.at),
            first_loaded_by: Set(by.instance.to_owned()),
        })
        .on_conflict(
            OnConflict::column(rules_versions::Column::Version)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        insert_load(&txn, by, Some(version), None).await?;
        rules_instances::Entity::insert(rules_instances::ActiveModel {
            instance: Set(by.instance.to_owned()),
            version: Set(version.to_owned()),
            loaded_at: Set(by.at),
            started_at: Set(started_at),
            heartbeat_at: Set(by.at),
            last_error: Set(None),
            last_error_at: Set(None),
        })
        .on_conflict(
            OnConflict::column(rules_instances::Column::Instance)
                .update_columns([
                    rules_instances::Column::Version,
                    rules_instances::Column::LoadedAt,
                    rules_instances::Column::StartedAt,
                    rules_instances::Column::HeartbeatAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Records a rejected reload: the running rules stay, the instance shows the error.
    pub async fn record_rules_rejected(
        &self,
        by: &LoadBy<'_>,
        error: &str,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        insert_load(&txn, by, None, Some(error)).await?;
        rules_instances::Entity::update_many()
            .col_expr(rules_instances::Column::LastError, Expr::value(error))
            .col_expr(rules_instances::Column::LastErrorAt, Expr::value(by.at))
            .filter(rules_instances::Column::Instance.eq(by.instance))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Marks the instance alive at `now`.
    pub async fn rules_heartbeat(
        &self,
        instance: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        rules_instances::Entity::update_many()
            .col_expr(rules_instances::Column::HeartbeatAt, Expr::value(now))
            .filter(rules_instances::Column::Instance.eq(instance))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Every instance that ever reported, the most recent heartbeat first.
    pub async fn rules_instances(&self) -> Result<Vec<RulesInstanceRecord>, StoreError> {
        Ok(rules_instances::Entity::find()
            .order_by_desc(rules_instances::Column::HeartbeatAt)
            .all(&self.db)
            .await?)
    }

    /// The latest loads and rejected reloads, newest first; of one version when given.
    pub async fn rules_loads(
        &self,
        version: Option<&str>,
        limit: u64,
    ) -> Result<Vec<RulesLoadRecord>, StoreError> {
        let mut q = rules_loads::Entity::find();
        if let Some(v) = version {
            q = q.filter(rules_loads::Column::Version.eq(v));
        }
        Ok(q.order_by_desc(rules_loads::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// A stored version with the text of each of its files.
    pub async fn rules_version(&self, version: &str) -> Result<Option<StoredVersion>, StoreError> {
        let Some(row) = rules_versions::Entity::find_by_id(version.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let refs: Vec<StoredFileRef> = serde_json::from_str(&row.files)
            .map_err(|e| StoreError::Corrupt(format!("rules version {version}: {e}")))?;
        let hashes: Vec<String> = refs.iter().map(|r| r.hash.clone()).collect();
        let texts: std::collections::HashMap<String, String> = rules_files::Entity::find()
            .filter(rules_files::Column::Hash.is_in(hashes))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|f| (f.hash, f.text))
            .collect();
        let mut files = Vec::with_capacity(refs.len());
        for r in refs {
            let text = texts.get(&r.hash).cloned().ok_or_else(|| {
                StoreError::Corrupt(format!("rules version {version}: no text for {}", r.name))
            })?;
            files.push((r, text));
        }
        Ok(Some(StoredVersion {
            version: row.version,
            first_loaded_at: row.first_loaded_at,
            first_loaded_by: row.first_loaded_by,
            files,
        }))
    }
}

async fn insert_load(
    txn: &sea_orm::DatabaseTransaction,
    by: &LoadBy<'_>,
    version: Option<&str>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    rules_loads::Entity::insert(rules_loads::ActiveModel {
        at: Set(by.at),
        instance: Set(by.instance.to_owned()),
        trigger: Set(by.trigger.to_owned()),
        token_name: Set(by.token.map(str::to_owned)),
        version: Set(version.map(str::to_owned)),
        error: Set(error.map(str::to_owned)),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
