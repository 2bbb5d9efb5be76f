//! The people who work tickets.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    /// Also the name of the agent's API token, so "my tickets" needs no lookup table.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub skills: Json,
    pub languages: Json,
    /// Most open tickets at once.
    pub capacity: i32,
    /// `available`, `away` or `offline`.
    pub presence: String,
    pub updated_at: DateTimeUtc,
    /// The rules calendar of the agent's shifts; none: the queue's hours.
    pub calendar: Option<String>,
    /// When the agent was last given a ticket: who has waited longest goes first.
    pub last_assigned_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
