//! Outbound e-mail waiting for the worker to send it over SMTP. The Message-ID is fixed
//! here, so a retry sends the same message.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub ticket_id: Uuid,
    /// Our Message-ID of the mail (also on its message), unique.
    #[sea_orm(unique)]
    pub message_id: String,
    pub recipient: String,
    #[sea_orm(column_type = "Text")]
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// The customer's message this answers, for their mail client's threading.
    pub in_reply_to: Option<String>,
    /// Space-separated Message-IDs of the conversation.
    #[sea_orm(column_type = "Text", nullable)]
    pub references: Option<String>,
    /// An automatic answer (counts against the per-sender limit).
    pub automatic: bool,
    /// `pending`, `sent`, `dead` (gave up) or `bounced`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// An HTML alternative of `body` (automatic answers from Markdown articles).
    #[sea_orm(column_type = "Text", nullable)]
    pub body_html: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
