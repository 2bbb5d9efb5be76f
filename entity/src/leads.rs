//! A lead handed to sales: the ticket that carries it, what made it and what became of it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "leads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: Uuid,
    /// When the ticket was created: the report's period.
    pub created_at: DateTimeUtc,
    /// The event kind that made it (`webinar-attended`).
    pub trigger: String,
    /// Where marketing found it (a campaign, a list); the event's reference when not given.
    pub source: String,
    /// What marketing knows: need, time frame, budget, decision maker, ….
    pub fields: Json,
    /// The fields the rules require that are still missing (a JSON list).
    pub missing: Json,
    /// When it reached sales with every required field; none while marketing holds it.
    pub handed_at: Option<DateTimeUtc>,
    /// `accept`, `requalify` or `disqualify`.
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub opportunity: Option<String>,
    pub outcome_at: Option<DateTimeUtc>,
    pub outcome_by: Option<String>,
    /// Whether the outcome came within the lead's resolution target.
    pub within_sla: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
