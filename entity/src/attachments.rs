//! Attachments and inline images of received mail.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ticket_id: Uuid,
    /// The message it came with.
    pub message_id: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub inline: bool,
    /// `None` when over a size limit; `note` says which.
    pub content: Option<Vec<u8>>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
