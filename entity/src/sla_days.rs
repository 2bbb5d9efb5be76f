//! One closed UTC day of the compliance report, counted for one grouping.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_days")]
pub struct Model {
    /// Days since 1970-01-01, UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: i64,
    /// 0 segment, 1 channel, 2 queue, 3 category, 4 policy.
    #[sea_orm(primary_key, auto_increment = false)]
    pub grouping: i16,
    /// When the day was counted, microseconds since 1970.
    pub built_us: i64,
    /// How many kept rows the count holds.
    pub rows: i64,
    /// The counts, in the store's compact encoding (`store::report_days`).
    pub data: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
