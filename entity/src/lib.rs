//! sea-orm entities of the triage store. The shapes follow `migration/`; the store module of
//! the main crate is the only user.

pub mod agents;
pub mod api_tokens;
pub mod attachments;
pub mod events;
pub mod faq_articles;
pub mod idempotency_keys;
pub mod leads;
pub mod mail_outbox;
pub mod mail_raw;
pub mod mail_raw_parts;
pub mod messages;
pub mod notifications;
pub mod organisations;
pub mod rules_files;
pub mod rules_instances;
pub mod rules_loads;
pub mod rules_versions;
pub mod sla_clocks;
pub mod sla_days;
pub mod sla_days_changed;
pub mod tickets;
