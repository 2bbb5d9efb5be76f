//! A rules version (the hash tickets record) and the files it was made of.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rules_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: String,
    /// JSON list of `{name, hash, bytes}`, in load order.
    pub files: String,
    pub first_loaded_at: DateTimeUtc,
    pub first_loaded_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
