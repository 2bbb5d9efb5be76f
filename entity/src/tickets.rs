//! A ticket with the engine's decision about it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    /// Database-assigned, so ticket numbers (`T-` and this, zero-padded) never collide
    /// between processes; gaps are allowed.
    #[sea_orm(primary_key)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub external_id: Option<String>,
    pub channel: String,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub language: String,
    pub from_email: Option<String>,
    pub from_name: Option<String>,
    pub from_phone: Option<String>,
    pub organisation: Option<String>,
    pub segment: String,
    pub category: String,
    pub priority: String,
    pub time_window: String,
    pub within_window: bool,
    pub automation: String,
    pub queue: String,
    pub tags: Json,
    pub rules_version: String,
    pub trace: Json,
    pub status: String,
    pub received_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Optimistic concurrency: every update checks and increments it.
    pub version: i32,
    /// The SLA clocks (`sla::SlaState`) as JSON.
    pub sla: Option<Json>,
    pub sla_policy: Option<String>,
    /// `none`, `running`, `paused`, `met` or `breached`, as of the last write.
    pub sla_state: String,
    /// Earliest due time of a running clock.
    pub sla_due_at: Option<DateTimeUtc>,
    pub first_response_due_at: Option<DateTimeUtc>,
    pub resolution_due_at: Option<DateTimeUtc>,
    /// When the worker should next look at this ticket's clocks.
    pub sla_alarm_at: Option<DateTimeUtc>,
    /// What the FAQ did: answered automatically, suggested articles, or why not.
    pub faq: Option<Json>,
    /// The agent (id) working it.
    pub assignee: Option<String>,
    /// When its personal content was removed (retention, or an erasure request).
    pub erased_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
