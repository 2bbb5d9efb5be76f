//! The notification outbox: one row per alarm and recipient, delivered by the worker.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ticket_id: Uuid,
    pub ticket_seq: i64,
    pub metric: String,
    pub cycle: i32,
    /// `warn-75`, `breach`, `escalate-1`, …
    pub level: String,
    /// `queue:NAME`, `role:NAME` or `webhook:NAME`.
    pub target: String,
    pub payload: Json,
    /// When the alarm was due.
    pub fire_at: DateTimeUtc,
    /// `pending` (a webhook to deliver), `delivered`, `dead` (gave up), `recorded` (queue or
    /// role: shown to people, nothing to send).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// Set while a worker delivers it, so another worker leaves it alone.
    pub lease_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
