//! The text of a rules file, once per distinct content (keyed by its SHA-256).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rules_files")]
pub struct Model {
    /// Hex SHA-256 of the text.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    pub text: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
