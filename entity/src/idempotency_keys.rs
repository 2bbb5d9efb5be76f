//! `Idempotency-Key` headers seen on ticket creation; the primary key makes a repeat, even a
//! concurrent one in another process, find the first request's ticket instead of making a
//! second.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub ticket_id: Uuid,
    /// Hash of the request body, so a key reused for a different request is refused.
    pub request_hash: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
