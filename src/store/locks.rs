//! Locks and leases that make background work safe with several processes on one
//! PostgreSQL: rows taken with `FOR UPDATE SKIP LOCKED` (or waited for), leases on
//! deliveries, and SQLite's single writer taken up front.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, TransactionTrait,
};

use super::StoreError;

/// The lease columns of an outbox entity (all outboxes name them alike).
macro_rules! lease_columns {
    ($entity:ident) => {
        $crate::store::locks::LeaseColumns {
            id: $entity::Column::Id,
            status: $entity::Column::Status,
            next_attempt_at: $entity::Column::NextAttemptAt,
            lease_until: $entity::Column::LeaseUntil,
            attempts: $entity::Column::Attempts,
        }
    };
}
pub(super) use lease_columns;

/// The columns of an outbox table whose pending rows workers lease.
pub(super) struct LeaseColumns<C> {
    pub id: C,
    pub status: C,
    pub next_attempt_at: C,
    pub lease_until: C,
    pub attempts: C,
}

/// Leases up to `limit` pending rows due at `now` and not leased by another worker: marks
/// them leased until `now + lease` and counts the attempt, in one transaction that skips
/// rows another worker holds (PostgreSQL) or holds the write lock (SQLite). `row` gives a
/// row's id and its attempt counter, which is counted in the returned rows too.
pub(super) async fn lease_due<E>(
    db: &sea_orm::DatabaseConnection,
    c: LeaseColumns<E::Column>,
    now: DateTime<Utc>,
    limit: u64,
    lease: Duration,
    row: fn(&mut E::Model) -> (i64, &mut i32),
) -> Result<Vec<E::Model>, StoreError>
where
    E: EntityTrait,
{
    let txn = db.begin().await?;
    claim_write_lock(&txn).await?;
    let q = E::find()
        .filter(c.status.eq("pending"))
        .filter(c.next_attempt_at.lte(now))
        .filter(c.lease_until.is_null().or(c.lease_until.lt(now)))
        .order_by_asc(c.next_attempt_at)
        .limit(limit);
    let mut rows = skip_locked(q, &txn).all(&txn).await?;
    if !rows.is_empty() {
        let mut ids = Vec::with_capacity(rows.len());
        for r in &mut rows {
            let (id, attempts) = row(r);
            ids.push(id);
            *attempts += 1;
        }
        E::update_many()
            .col_expr(c.lease_until, Expr::value(now + lease))
            .col_expr(c.attempts, Expr::col(c.attempts).add(1))
            .filter(c.id.is_in(ids))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(rows)
}

/// PostgreSQL: lock the selected rows, and let another worker skip them instead of waiting.
pub(super) fn skip_locked<E: EntityTrait>(q: Select<E>, txn: &DatabaseTransaction) -> Select<E> {
    if txn.get_database_backend() == DbBackend::Postgres {
        q.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
    } else {
        q
    }
}

/// PostgreSQL: locks the selected rows until the transaction ends, waiting for another
/// holder (SQLite holds its write lock already, see `claim_write_lock`).
pub(super) fn for_update<E: EntityTrait>(q: Select<E>, txn: &DatabaseTransaction) -> Select<E> {
    if txn.get_database_backend() == DbBackend::Postgres {
        q.lock(sea_orm::sea_query::LockType::Update)
    } else {
        q
    }
}

/// SQLite: take the write lock first, so a transaction that reads and then writes never
/// finds that another connection wrote in between (which SQLite reports as busy at once,
/// without waiting). PostgreSQL locks rows instead.
pub(super) async fn claim_write_lock(txn: &DatabaseTransaction) -> Result<(), StoreError> {
    if txn.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE notifications SET id = id WHERE 0 = 1")
            .await?;
    }
    Ok(())
}
