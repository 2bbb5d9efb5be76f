//! One load of a rules directory by one instance: at start, on SIGHUP or by the API; a
//! rejected reload has no version and the error.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rules_loads")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    pub instance: String,
    /// `start`, `signal` or `api`.
    pub trigger: String,
    pub token_name: Option<String>,
    pub version: Option<String>,
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
