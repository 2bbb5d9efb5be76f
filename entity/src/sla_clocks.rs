//! One SLA clock of one ticket, or the ticket itself, as the compliance report counts it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_clocks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: Uuid,
    /// 0 first response, 1 next reply, 2 resolution; 3 the ticket itself.
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric: i16,
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
    /// What started the clock: an event kind, `reply` (the follow-up after our reply) or
    /// `inbound` (the customer's request).
    pub trigger: String,
    /// 0 met, 1 breached, 2 running, 3 paused, 4 ended (and the ticket's own row).
    pub state: i16,
    /// When a running clock breaches, microseconds since 1970.
    pub due_us: Option<i64>,
    /// Business minutes used by a met or breached clock.
    pub minutes: Option<i64>,
    /// On the ticket's own row, what the FAQ did: 0 answered automatically, 1 suggested to
    /// an agent, 2 left to people because no article fits, 3 left to people by the rules.
    pub faq: Option<i16>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
