//! Ticket updates that move SLA clocks, the worker's alarm sweep and the notification outbox.
//!
//! Several processes may run these at once on one PostgreSQL: the sweep locks the tickets it
//! works on with `FOR UPDATE SKIP LOCKED`, so two workers split the due tickets between them,
//! and a unique constraint on (ticket, metric, cycle, level, target) makes each notification
//! exist once even if two workers computed it. Deliveries are leased for a while before they
//! are sent, so a webhook is not sent twice at the same time.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;

use entity::{notifications, tickets};

use super::locks::{claim_write_lock, lease_columns, lease_due, skip_locked};
use super::tickets::{insert_events, NewEvent};
use super::{Store, StoreError, TicketRecord};
use crate::sla::{Calendars, SlaState};

pub use entity::notifications::Model as NotificationRecord;

/// The SLA columns of a ticket as of a write.
#[derive(Debug, Clone, Default)]
pub struct SlaColumns {
    pub state: Option<Value>,
    pub policy: Option<String>,
    pub summary: String,
    pub due_at: Option<DateTime<Utc>>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub alarm_at: Option<DateTime<Utc>>,
}

impl SlaColumns {
    /// The columns for clocks `state`, with its due times and next alarm as of `now`.
    pub fn new(state: &SlaState, cals: &dyn Calendars, now: DateTime<Utc>) -> SlaColumns {
        let index = state.index(cals, now);
        SlaColumns {
            state: serde_json::to_value(state).ok(),
            policy: state.policy.as_ref().map(|p| p.id.clone()),
            summary: index.summary.to_owned(),
            due_at: index.due_at,
            first_response_due_at: index.first_response_due_at,
            resolution_due_at: index.resolution_due_at,
            alarm_at: index.alarm_at,
        }
    }

    /// Sets the SLA columns of a row being written.
    pub(super) fn set_on(&self, row: &mut tickets::ActiveModel) {
        row.sla = Set(self.state.clone());
        row.sla_policy = Set(self.policy.clone());
        row.sla_state = Set(self.summary.clone());
        row.sla_due_at = Set(self.due_at);
        row.first_response_due_at = Set(self.first_response_due_at);
        row.resolution_due_at = Set(self.resolution_due_at);
        row.sla_alarm_at = Set(self.alarm_at);
    }
}

/// What the worker decided for one ticket whose alarm time has come.
#[derive(Debug, Clone, Default)]
pub struct AlarmPlan {
    pub notifications: Vec<NewNotification>,
    /// When to look again (the next alarm after now), if ever.
    pub next_alarm_at: Option<DateTime<Utc>>,
    pub summary: String,
}

/// One alarm for one recipient.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub metric: String,
    pub cycle: i32,
    pub level: String,
    pub target: String,
    pub payload: Value,
    pub fire_at: DateTime<Utc>,
    /// Webhooks are `pending` until delivered; queue and role notifications are `recorded`.
    pub deliver: bool,
    /// Not before this moment (office hours for levels that must not go out at night).
    pub not_before: DateTime<Utc>,
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone)]
pub enum Delivery {
    Delivered,
    /// Failed; try again at the given time, or give up (`None`: dead letter).
    Failed {
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
}

/// Filters of the notification list.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    pub status: Option<String>,
    pub ticket: Option<Uuid>,
    pub target: Option<String>,
}

impl Store {
    /// Handles up to `limit` tickets whose alarm time has come: `plan` decides (from the
    /// ticket alone) which notifications are due; each is written once, with an event on the
    /// ticket, and the ticket's next alarm time is set. Returns how many tickets were looked
    /// at and the notifications created.
    pub async fn sweep_alarms(
        &self,
        now: DateTime<Utc>,
        limit: u64,
        plan: impl Fn(&TicketRecord) -> AlarmPlan,
    ) -> Result<(usize, Vec<NotificationRecord>), StoreError> {
        let txn = self.db.begin().await?;
        claim_write_lock(&txn).await?;
        let q = tickets::Entity::find()
            .filter(tickets::Column::SlaAlarmAt.lte(now))
            .order_by_asc(tickets::Column::SlaAlarmAt)
            .limit(limit);
        let due = skip_locked(q, &txn).all(&txn).await?;
        let mut created = Vec::new();
        for ticket in &due {
            let p = plan(ticket);
            for n in p.notifications {
                let row = notifications::ActiveModel {
                    ticket_id: Set(ticket.id),
                    ticket_seq: Set(ticket.seq),
                    metric: Set(n.metric.clone()),
                    cycle: Set(n.cycle),
                    level: Set(n.level.clone()),
                    target: Set(n.target.clone()),
                    payload: Set(n.payload.clone()),
                    fire_at: Set(n.fire_at),
                    status: Set(if n.deliver { "pending" } else { "recorded" }.into()),
                    attempts: Set(0),
                    next_attempt_at: Set(n.not_before),
                    lease_until: Set(None),
                    last_error: Set(None),
                    delivered_at: Set(None),
                    created_at: Set(now),
                    ..Default::default()
                };
                let inserted = notifications::Entity::insert(row)
                    .on_conflict(
                        OnConflict::columns([
                            notifications::Column::TicketId,
                            notifications::Column::Metric,
                            notifications::Column::Cycle,
                            notifications::Column::Level,
                            notifications::Column::Target,
                        ])
                        .do_nothing()
                        .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
                if inserted == 0 {
                    continue;
                }
                let record = notifications::Entity::find()
                    .filter(notifications::Column::TicketId.eq(ticket.id))
                    .filter(notifications::Column::Metric.eq(n.metric.as_str()))
                    .filter(notifications::Column::Cycle.eq(n.cycle))
                    .filter(notifications::Column::Level.eq(n.level.as_str()))
                    .filter(notifications::Column::Target.eq(n.target.as_str()))
                    .one(&txn)
                    .await?;
                insert_events(
                    &txn,
                    ticket.id,
                    vec![NewEvent {
                        kind: format!("sla.{}", n.level),
                        actor: "worker".into(),
                        data: serde_json::json!({
                            "metric": n.metric,
                            "cycle": n.cycle,
                            "target": n.target,
                            "fire_at": n.fire_at,
                            "notification": record.as_ref().map(|r| r.id),
                        }),
                    }],
                    now,
                )
                .await?;
                created.extend(record);
            }
            tickets::Entity::update_many()
                .col_expr(tickets::Column::SlaAlarmAt, Expr::value(p.next_alarm_at))
                .col_expr(tickets::Column::SlaState, Expr::value(p.summary))
                .filter(tickets::Column::Id.eq(ticket.id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok((due.len(), created))
    }

    /// Leases up to `limit` webhook notifications that are due for an attempt.
    pub async fn lease_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let cols = lease_columns!(notifications);
        lease_due::<notifications::Entity>(&self.db, cols, now, limit, lease, |r| {
            (r.id, &mut r.attempts)
        })
        .await
    }

    /// Records the outcome of a delivery attempt; a dead letter is also an event on the
    /// ticket.
    pub async fn finish_delivery(
        &self,
        n: &NotificationRecord,
        outcome: Delivery,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let mut row = notifications::ActiveModel {
            id: Set(n.id),
            lease_until: Set(None),
            ..Default::default()
        };
        let mut event = None;
        match outcome {
            Delivery::Delivered => {
                row.status = Set("delivered".into());
                row.delivered_at = Set(Some(now));
                row.last_error = Set(None);
            }
            Delivery::Failed { error, retry_at } => {
                row.last_error = Set(Some(error.clone()));
                match retry_at {
                    Some(at) => row.next_attempt_at = Set(at),
                    None => {
                        row.status = Set("dead".into());
                        event = Some(NewEvent {
                            kind: "notification.dead".into(),
                            actor: "worker".into(),
                            data: serde_json::json!({
                                "notification": n.id,
                                "target": n.target,
                                "level": n.level,
                                "attempts": n.attempts,
                                "error": error,
                            }),
                        });
                    }
                }
            }
        }
        row.update(&txn).await?;
        if let Some(e) = event {
            insert_events(&txn, n.ticket_id, vec![e], now).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Notifications, newest first.
    pub async fn notifications(
        &self,
        filter: &NotificationFilter,
        limit: u64,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let mut q = notifications::Entity::find();
        if let Some(s) = &filter.status {
            q = q.filter(notifications::Column::Status.eq(s.as_str()));
        }
        if let Some(t) = filter.ticket {
            q = q.filter(notifications::Column::TicketId.eq(t));
        }
        if let Some(t) = &filter.target {
            q = q.filter(notifications::Column::Target.eq(t.as_str()));
        }
        Ok(q.order_by_desc(notifications::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?)
    }
}
