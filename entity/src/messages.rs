//! Every inbound and outbound text on a ticket.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ticket_id: Uuid,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub author: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    pub created_at: DateTimeUtc,
    /// The e-mail's Message-ID (without angle brackets), unique: received ones as sent,
    /// ours as generated; a mail without one gets one made up at intake.
    pub message_id: Option<String>,
    /// E-mail headers that matter: from, reply-to, to, cc, date, refers-to, automatic, spam.
    pub mail: Option<Json>,
    /// `email`, `web` or `phone`: how it came or went (older rows: unknown).
    pub channel: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
