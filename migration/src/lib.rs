//! sea-orm migrations of the triage store, one file per change, never edited after release.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_initial;
mod m20261124_000002_sla;
mod m20261124_000003_faq;
mod m20261124_000004_mail;
mod m20261124_000005_tokens;
mod m20261124_000006_agents;
mod m20261128_000007_shifts;
mod m20261128_000008_work_lists;
mod m20261202_000009_conversation;
mod m20261202_000010_erasure;
mod m20261202_000011_raw_parts;
mod m20261202_000012_faq_deflections;
mod m20261203_000013_rules_versions;
mod m20261203_000014_queue_by;
mod m20261203_000015_sla_clocks;
mod m20261203_000016_kept_faq;
mod m20261203_000017_queue_load;
mod m20261204_000018_report_days;
mod m20261206_000019_clock_trigger;
mod m20261206_000020_leads;
mod m20261207_000021_lz4;
mod m20261207_000022_ticket_indexes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_initial::Migration),
            Box::new(m20261124_000002_sla::Migration),
            Box::new(m20261124_000003_faq::Migration),
            Box::new(m20261124_000004_mail::Migration),
            Box::new(m20261124_000005_tokens::Migration),
            Box::new(m20261124_000006_agents::Migration),
            Box::new(m20261128_000007_shifts::Migration),
            Box::new(m20261128_000008_work_lists::Migration),
            Box::new(m20261202_000009_conversation::Migration),
            Box::new(m20261202_000010_erasure::Migration),
            Box::new(m20261202_000011_raw_parts::Migration),
            Box::new(m20261202_000012_faq_deflections::Migration),
            Box::new(m20261203_000013_rules_versions::Migration),
            Box::new(m20261203_000014_queue_by::Migration),
            Box::new(m20261203_000015_sla_clocks::Migration),
            Box::new(m20261203_000016_kept_faq::Migration),
            Box::new(m20261203_000017_queue_load::Migration),
            Box::new(m20261204_000018_report_days::Migration),
            Box::new(m20261206_000019_clock_trigger::Migration),
            Box::new(m20261206_000020_leads::Migration),
            Box::new(m20261207_000021_lz4::Migration),
            Box::new(m20261207_000022_ticket_indexes::Migration),
        ]
    }
}
