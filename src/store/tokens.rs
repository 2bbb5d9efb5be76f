//! API tokens: random, shown once, kept only as a SHA-256 hash. A token is long and random,
//! so a fast hash is enough: there is nothing to guess from it.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use sha2::{Digest, Sha256};

use entity::api_tokens;

use super::{is_unique_violation, Store, StoreError};
use crate::model::Role;

pub use entity::api_tokens::Model as TokenRecord;

/// Hex SHA-256 of a token, as stored and looked up.
pub fn token_hash(token: &str) -> String {
    crate::model::hex(&Sha256::digest(token.as_bytes()))
}

/// A new token: `trg_` and 64 hex digits (244 random bits).
pub fn new_token() -> String {
    format!(
        "trg_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Store {
    /// Stores `token` (hashed) under a unique name.
    pub async fn add_token(
        &self,
        name: &str,
        role: Role,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenRecord, StoreError> {
        let row = api_tokens::ActiveModel {
            name: Set(name.to_owned()),
            role: Set(role.to_string()),
            hash: Set(token_hash(token)),
            created_at: Set(now),
            revoked_at: Set(None),
            ..Default::default()
        };
        row.insert(&self.db).await.map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Duplicate(format!("a token named {name:?} exists"))
            } else {
                e.into()
            }
        })
    }

    /// The role of a token that is not revoked.
    pub async fn token_role(&self, token: &str) -> Result<Option<(String, Role)>, StoreError> {
        let row = api_tokens::Entity::find()
            .filter(api_tokens::Column::Hash.eq(token_hash(token)))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?;
        Ok(row.and_then(|r| Some((r.name, r.role.parse().ok()?))))
    }

    /// Revokes a token by name; false when there is none (or it was revoked before).
    pub async fn revoke_token(&self, name: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = api_tokens::Entity::update_many()
            .col_expr(
                api_tokens::Column::RevokedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(api_tokens::Column::Name.eq(name))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Deletes the tokens named with `prefix` that were revoked or created before `before`
    /// (ended dashboard sessions); returns how many.
    pub async fn delete_ended_tokens(
        &self,
        prefix: &str,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        use sea_orm::sea_query::Condition;
        let result = api_tokens::Entity::delete_many()
            .filter(api_tokens::Column::Name.starts_with(prefix))
            .filter(
                Condition::any()
                    .add(api_tokens::Column::RevokedAt.is_not_null())
                    .add(api_tokens::Column::CreatedAt.lt(before)),
            )
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }

    /// All tokens (hashes only), oldest first.
    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        Ok(api_tokens::Entity::find()
            .order_by_asc(api_tokens::Column::Id)
            .all(&self.db)
            .await?)
    }
}
