//! One SLA clock of one ticket, as the compliance report counts it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_clocks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub cycle: i32,
    /// The ticket's creation time, microseconds since 1970.
    pub created_us: i64,
    pub segment: String,
    pub channel: String,
    pub queue: String,
    pub category: String,
    /// The ticket's SLA policy, `(none)` without one.
    pub policy: String,
    /// `met`, `breached`, `ended`, `running` or `paused`.
    pub state: String,
    /// When a running clock breaches, microseconds since 1970.
    pub due_us: Option<i64>,
    /// Business minutes used by a met or breached clock.
    pub minutes: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
