//! What the API shows: stored records rendered for clients. A stored value that cannot be
//! read back fails the request loudly (500 naming the ticket and the column) instead of
//! showing as empty.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ApiError;
use crate::desk::Ctx;
use crate::rules::CompiledRules;
use crate::sla::ClockView;
use crate::store::{
    self, AgentRecord, AttachmentRecord, EventRecord, FaqArticleRecord, MessageRecord,
    NotificationRecord, OutboxRecord, TicketRecord,
};

/// A stored JSON column decoded, or 500 naming what is corrupt.
fn decoded<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    what: impl FnOnce() -> String,
) -> Result<T, ApiError> {
    serde_json::from_value(value.clone()).map_err(|e| ApiError::corrupt(format!("{}: {e}", what())))
}

/// A ticket with the decision the engine made about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// Time-ordered (UUID version 7): a later ticket of the same process has a greater id.
    pub id: Uuid,
    /// Human number, `T-000123`.
    pub number: String,
    pub status: String,
    pub channel: String,
    pub subject: String,
    pub body: String,
    pub language: String,
    pub from: SenderView,
    pub organisation: Option<String>,
    pub external_id: Option<String>,
    pub received_at: DateTime<Utc>,
    pub decision: DecisionView,
    /// Service level: the policy and every clock, as of this response.
    pub sla: SlaView,
    /// What the FAQ did: `mode` automated (answered, `article`, `confidence`), suggested (up
    /// to three `suggestions` for an agent) or human, with the `reason`.
    #[schema(value_type = Object)]
    pub faq: Option<serde_json::Value>,
    /// The agent working it.
    pub assignee: Option<String>,
    /// Increases with every change; for optimistic concurrency (also the `ETag`).
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SenderView {
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
}

/// Segment, category, priority, window, automation and queue, each with its reason in `trace`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    pub segment: String,
    pub category: String,
    pub priority: String,
    pub time_window: String,
    pub within_window: bool,
    pub automation: String,
    pub queue: String,
    pub tags: Vec<String>,
    pub rules_version: String,
    /// Per field: `by` (rule, customer, category, segment, channel, calendar, detected, cap,
    /// default, agent), `rule`, `at` (file:line) and `why`; plus `matched_rules`.
    #[schema(value_type = Object)]
    pub trace: serde_json::Value,
}

/// A ticket's service level at the moment of the response.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaView {
    /// The SLA policy (first match in the rules), if any applies.
    pub policy: Option<String>,
    /// `file:line` of the policy.
    pub policy_at: Option<String>,
    /// The calendar the policy counts in (its own, the organisation's or the time window's).
    pub calendar: Option<String>,
    /// `file:line` of the customer-list row when the calendar is the organisation's own.
    pub calendar_at: Option<String>,
    /// `none`, `running`, `paused`, `met` or `breached` (any clock breached).
    pub state: String,
    /// The earliest due time of a running clock.
    pub due_at: Option<DateTime<Utc>>,
    #[schema(value_type = Vec<Object>)]
    pub clocks: Vec<ClockView>,
}

impl SlaView {
    fn new(
        r: &TicketRecord,
        rules: &CompiledRules,
        now: DateTime<Utc>,
    ) -> Result<SlaView, ApiError> {
        Ok(match store::clock_state(r)? {
            Some(s) => SlaView {
                policy: s.policy.as_ref().map(|p| p.id.clone()),
                policy_at: s.policy.as_ref().map(|p| p.at.clone()),
                calendar: s.policy.as_ref().map(|p| p.calendar.clone()),
                calendar_at: s.policy.as_ref().and_then(|p| p.calendar_at.clone()),
                state: s.summary(now).to_owned(),
                due_at: s.next_due(),
                clocks: s.view(now, &rules.calendars),
            },
            None => SlaView {
                policy: None,
                policy_at: None,
                calendar: None,
                calendar_at: None,
                state: "none".into(),
                due_at: None,
                clocks: Vec::new(),
            },
        })
    }
}

impl TicketView {
    pub fn new(
        r: TicketRecord,
        rules: &CompiledRules,
        now: DateTime<Utc>,
    ) -> Result<TicketView, ApiError> {
        let sla = SlaView::new(&r, rules, now)?;
        let number = store::ticket_number(r.seq);
        let tags = decoded(&r.tags, || format!("the tags of ticket {number}"))?;
        Ok(TicketView {
            id: r.id,
            number,
            status: r.status,
            channel: r.channel,
            subject: r.subject,
            body: r.body,
            language: r.language,
            from: SenderView {
                email: r.from_email,
                name: r.from_name,
                phone: r.from_phone,
            },
            organisation: r.organisation,
            external_id: r.external_id,
            received_at: r.received_at,
            decision: DecisionView {
                segment: r.segment,
                category: r.category,
                priority: r.priority,
                time_window: r.time_window,
                within_window: r.within_window,
                automation: r.automation,
                queue: r.queue,
                tags,
                rules_version: r.rules_version,
                trace: r.trace,
            },
            sla,
            faq: r.faq,
            assignee: r.assignee,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    /// Tickets as of the context's moment.
    pub fn all(rows: Vec<TicketRecord>, cx: &Ctx<'_>) -> Result<Vec<TicketView>, ApiError> {
        rows.into_iter()
            .map(|r| TicketView::new(r, &cx.rules, cx.now))
            .collect()
    }
}

/// A ticket as a response, with its version as the `ETag`, for `If-Match` on changes.
pub struct TicketResponse(pub TicketView);

impl TicketResponse {
    pub fn new(r: TicketRecord, cx: &Ctx<'_>) -> Result<TicketResponse, ApiError> {
        TicketView::new(r, &cx.rules, cx.now).map(TicketResponse)
    }

    /// The `ETag` of a ticket at `version`.
    pub fn etag(version: i32) -> String {
        format!("\"{version}\"")
    }
}

impl IntoResponse for TicketResponse {
    fn into_response(self) -> Response {
        let etag = TicketResponse::etag(self.0.version);
        ([(header::ETAG, etag)], Json(self.0)).into_response()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    pub items: Vec<TicketView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One entry of a ticket's audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub kind: String,
    /// Who or what made the change: `rules`, `mail`, `faq`, the calling token's name.
    pub actor: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<EventRecord> for EventView {
    fn from(e: EventRecord) -> Self {
        EventView {
            id: e.id,
            kind: e.kind,
            actor: e.actor,
            data: e.data,
            created_at: e.created_at,
        }
    }
}

/// One message of a ticket's conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: i64,
    /// `inbound` (from the customer), `outbound` (a reply, also an automatic answer),
    /// `note` (internal) or `bounce` (a mail server's report on our mail).
    pub direction: String,
    /// Internal: seen by agents only, never sent.
    pub internal: bool,
    pub author: Option<String>,
    /// `email`, `web` or `phone`; null for messages stored before channels were recorded.
    pub channel: Option<String>,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// The mail's Message-ID as on the wire, with angle brackets.
    pub message_id: Option<String>,
    pub attachments: Vec<AttachmentView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl MessagePage {
    pub fn new(rows: Vec<MessageRecord>, files: Vec<AttachmentRecord>, more: bool) -> MessagePage {
        let next_cursor = more
            .then(|| rows.last().map(|m| m.id.to_string()))
            .flatten();
        let mut files: Vec<Option<AttachmentRecord>> = files.into_iter().map(Some).collect();
        let items = rows
            .into_iter()
            .map(|m| {
                let attachments = match &m.message_id {
                    Some(id) => files
                        .iter_mut()
                        .filter(|f| f.as_ref().is_some_and(|f| &f.message_id == id))
                        .filter_map(|f| f.take().map(AttachmentView::from))
                        .collect(),
                    None => Vec::new(),
                };
                MessageView {
                    id: m.id,
                    internal: m.direction == "note",
                    direction: m.direction,
                    author: m.author,
                    channel: m.channel,
                    subject: m.subject,
                    body: m.body,
                    created_at: m.created_at,
                    message_id: m.message_id.map(|id| format!("<{id}>")),
                    attachments,
                }
            })
            .collect();
        MessagePage { items, next_cursor }
    }
}

/// One notification of the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub ticket_id: Uuid,
    pub ticket_number: String,
    pub metric: String,
    pub cycle: i32,
    pub level: String,
    pub target: String,
    pub status: String,
    pub attempts: i32,
    pub fire_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<NotificationRecord> for NotificationView {
    fn from(n: NotificationRecord) -> Self {
        NotificationView {
            id: n.id,
            ticket_id: n.ticket_id,
            ticket_number: store::ticket_number(n.ticket_seq),
            metric: n.metric,
            cycle: n.cycle,
            level: n.level,
            target: n.target,
            status: n.status,
            attempts: n.attempts,
            fire_at: n.fire_at,
            next_attempt_at: n.next_attempt_at,
            last_error: n.last_error,
            delivered_at: n.delivered_at,
            payload: n.payload,
        }
    }
}

/// An article with how its automatic answers fared.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleView {
    pub id: String,
    pub language: String,
    pub category: String,
    pub title: String,
    pub questions: Vec<String>,
    pub keywords: Vec<String>,
    pub body: String,
    /// Automatic answers sent with this article.
    pub sent: i64,
    pub helped: i64,
    pub not_helped: i64,
    /// helped / (helped + not helped): requests the article settled without a person.
    pub deflection_rate: Option<f64>,
    /// Self-service searches after which the person read this article and did not submit
    /// the form (`POST /api/v1/faq/{id}/deflections`).
    pub deflected: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<FaqArticleRecord> for ArticleView {
    fn from(r: FaqArticleRecord) -> Self {
        let a = store::article_of(&r);
        let judged = r.helped + r.not_helped;
        ArticleView {
            id: a.id,
            language: a.language,
            category: a.category,
            title: a.title,
            questions: a.questions,
            keywords: a.keywords,
            body: a.body,
            sent: r.sent,
            helped: r.helped,
            not_helped: r.not_helped,
            deflection_rate: (judged > 0).then(|| r.helped as f64 / judged as f64),
            deflected: r.deflected,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentView {
    /// Also the name of the agent's API token.
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub skills: Vec<String>,
    pub languages: Vec<String>,
    pub capacity: i32,
    pub presence: String,
    pub calendar: Option<String>,
    /// Open tickets assigned now.
    pub load: u64,
    /// When the agent was last given a ticket.
    pub last_assigned_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl AgentView {
    pub fn new((a, load): (AgentRecord, u64)) -> Result<AgentView, ApiError> {
        let id = a.id.clone();
        Ok(AgentView {
            load,
            skills: decoded(&a.skills, || format!("the skills of agent {id}"))?,
            languages: decoded(&a.languages, || format!("the languages of agent {id}"))?,
            id: a.id,
            name: a.name,
            email: a.email,
            capacity: a.capacity,
            presence: a.presence,
            calendar: a.calendar,
            last_assigned_at: a.last_assigned_at,
            updated_at: a.updated_at,
        })
    }
}

/// An attachment as listed (content from `…/attachments/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: i64,
    pub message_id: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub inline: bool,
    /// Stored, or over a size limit (then `note` says which).
    pub stored: bool,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<AttachmentRecord> for AttachmentView {
    fn from(a: AttachmentRecord) -> Self {
        AttachmentView {
            id: a.id,
            message_id: a.message_id,
            name: a.name,
            content_type: a.content_type,
            size: a.size,
            inline: a.inline,
            stored: a.note.is_none(),
            note: a.note,
            created_at: a.created_at,
        }
    }
}

/// One outbound mail and its delivery state.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    pub id: i64,
    pub ticket_id: uuid::Uuid,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    /// The text part as sent.
    pub body: String,
    /// Whether an HTML alternative goes with it.
    pub html: bool,
    pub automatic: bool,
    /// `pending`, `sent`, `dead` or `bounced`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<OutboxRecord> for OutboxView {
    fn from(m: OutboxRecord) -> Self {
        OutboxView {
            id: m.id,
            ticket_id: m.ticket_id,
            message_id: m.message_id,
            recipient: m.recipient,
            subject: m.subject,
            body: m.body,
            html: m.body_html.is_some(),
            automatic: m.automatic,
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

/// What became of a delivered message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailIntakeView {
    /// `created` (a new ticket), `appended` (a reply on its ticket), `duplicate` (this
    /// Message-ID was delivered before), `bounce` (a bounce of our mail, on its ticket).
    pub outcome: String,
    /// The Message-ID the message is stored under (made up if it had none).
    pub message_id: String,
    pub ticket: TicketView,
}

/// What became of a call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallView {
    /// `created` (a new ticket), `appended` (to the caller's open phone ticket), or
    /// `duplicate` (this call id was reported before).
    pub outcome: String,
    pub ticket: TicketView,
}

/// What a gateway gets back from intake: what happened and under which number, never the
/// ticket's content — a gateway (or anyone who can send mail through it) must not learn
/// other customers' data by repeating an id or naming a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    /// `created`, `duplicate`, `appended` or `bounce`.
    pub outcome: String,
    /// The ticket's number.
    pub ticket: String,
    pub status: String,
    /// For mail: the Message-ID the message is stored under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

/// An intake answer as documented: the whole view for agents and above, a [`Receipt`] for
/// a gateway (one schema with both, since both are `application/json`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum OrReceipt<T: ToSchema> {
    View(T),
    Receipt(Receipt),
}

impl Receipt {
    pub fn new(outcome: &str, r: &TicketRecord, message_id: Option<String>) -> Receipt {
        Receipt {
            outcome: outcome.into(),
            ticket: store::ticket_number(r.seq),
            status: r.status.clone(),
            message_id,
        }
    }
}
