//! Background work of `triage serve` and `triage worker`: fires SLA warnings, breaches and
//! escalations into the notification outbox, delivers webhook notifications, sends the
//! outbound mail queue over SMTP, assigns waiting tickets to agents, resolves automatic
//! answers left without a verdict, and counts the compliance report's ended days.
//!
//! Any number of workers may run against one PostgreSQL database; what keeps them from
//! doing the same work twice lives in the store (`FOR UPDATE SKIP LOCKED`, a unique
//! constraint per notification, delivery leases), so a worker holds no state of its own and
//! catches up after downtime by looking at what is due.

pub mod mail;

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::model::TimeWindow;
use crate::rules::CompiledRules;
use crate::sla::{Notify, Webhook};
use crate::store::{
    clock_state, AlarmPlan, Delivery, NewNotification, NotificationRecord, Store, StoreError,
    TicketRecord,
};

/// How often and how much a worker does per round.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub interval: Duration,
    /// Tickets per alarm sweep and notifications per delivery round.
    pub batch: u64,
    /// How long a leased delivery is left alone by other workers.
    pub lease: Duration,
    /// Timeout of one webhook request or SMTP exchange.
    pub http_timeout: Duration,
    /// SMTP relay URL for outbound mail; without one, mail waits in the queue.
    pub smtp_url: Option<String>,
    /// Where rounds read "now" (settable in tests).
    pub clock: crate::clock::Clock,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            interval: Duration::from_secs(5),
            batch: 200,
            lease: Duration::from_secs(60),
            http_timeout: Duration::from_secs(10),
            smtp_url: None,
            clock: crate::clock::Clock::system(),
        }
    }
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub notifications: usize,
    pub delivered: usize,
    pub failed: usize,
    pub mail_sent: usize,
    /// Tickets given to agents automatically.
    pub assigned: usize,
    pub mail_failed: usize,
    /// Closed (and noise) tickets whose personal content retention removed.
    pub erased: usize,
    /// Automatic answers resolved after the customer's silence.
    pub resolved: usize,
    /// Ended days of the compliance report counted (anew).
    pub days_counted: usize,
}

/// Runs rounds until `shutdown` completes; `rules` gives the current rules (they may be
/// reloaded meanwhile).
pub async fn run(
    store: Store,
    rules: crate::desk::RulesHandle,
    config: WorkerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let http = http_client(&config);
    let mailer = match config
        .smtp_url
        .as_deref()
        .map(|u| mail::Mailer::from_url(u, config.http_timeout))
    {
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => {
            tracing::error!("outbound mail stays queued: {e}");
            None
        }
        None => {
            tracing::info!("no SMTP relay configured (--smtp-url): outbound mail stays queued");
            None
        }
    };
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(config.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {
                match round(&store, &rules.current(), &config, &http, mailer.as_ref(), config.clock.now()).await {
                    Ok(r) if r != Round::default() => tracing::info!(
                        notifications = r.notifications, delivered = r.delivered, failed = r.failed,
                        mail_sent = r.mail_sent, mail_failed = r.mail_failed,
                        assigned = r.assigned, resolved = r.resolved, days_counted = r.days_counted,
                        "worker round"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("worker round failed, retrying next round: {e}"),
                }
            }
        }
    }
}

pub fn http_client(config: &WorkerConfig) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(config.http_timeout)
        .build()
        .unwrap_or_default()
}

/// One round: sweep due alarms (until none are left), deliver due webhooks, send due mail.
pub async fn round(
    store: &Store,
    rules: &CompiledRules,
    config: &WorkerConfig,
    http: &reqwest::Client,
    mailer: Option<&mail::Mailer>,
    now: DateTime<Utc>,
) -> Result<Round, StoreError> {
    let mut out = Round::default();
    loop {
        let (tickets, created) = store
            .sweep_alarms(now, config.batch, |t| plan(rules, t, now))
            .await?;
        out.notifications += created.len();
        for n in &created {
            let level = n.level.split('-').next().unwrap_or("").to_owned();
            metrics::counter!("triage_sla_notifications_total", "level" => level, "metric" => n.metric.clone())
                .increment(1);
        }
        if tickets < config.batch as usize {
            break;
        }
    }
    // Catches what no request woke the assigner for: a shift starting, a rules reload.
    out.assigned = crate::desk::assign::round(store, rules, now).await?.len();
    for (status, days) in [
        ("closed", rules.privacy.erase_closed_after_days),
        ("noise", rules.mail.noise_kept_days),
    ] {
        if let Some(days) = days {
            let before = now - chrono::Duration::days(i64::from(days));
            let erased = store
                .erase_in_status(status, before, config.batch, now)
                .await?;
            out.erased += erased.tickets as usize;
        }
    }
    out.resolved =
        crate::desk::conversation::resolve_silent_answers(store, rules, now, config.batch).await?;
    // A few days a round, so that a first count of a long history does not hold up alarms.
    out.days_counted = store.count_closed_days(now, 7).await?;
    let lease = chrono::Duration::from_std(config.lease).unwrap_or(chrono::Duration::seconds(60));
    let leased = store.lease_deliveries(now, config.batch, lease).await?;
    for n in leased {
        let outcome = deliver(http, rules, &n, config.clock.now()).await;
        let result = match &outcome {
            Delivery::Delivered => {
                out.delivered += 1;
                "delivered"
            }
            Delivery::Failed {
                retry_at: Some(_), ..
            } => {
                out.failed += 1;
                "retry"
            }
            Delivery::Failed { retry_at: None, .. } => {
                out.failed += 1;
                "dead"
            }
        };
        metrics::counter!("triage_webhook_deliveries_total", "result" => result).increment(1);
        store
            .finish_delivery(&n, outcome, config.clock.now())
            .await?;
    }
    if let Some(mailer) = mailer {
        for m in store.lease_mail(now, config.batch, lease).await? {
            let outcome = mailer.send(rules, &m, config.clock.now()).await;
            let result = match &outcome {
                crate::store::Sent::Sent => {
                    out.mail_sent += 1;
                    "sent"
                }
                crate::store::Sent::Failed { retry_at, .. } => {
                    out.mail_failed += 1;
                    if retry_at.is_some() {
                        "retry"
                    } else {
                        "dead"
                    }
                }
            };
            metrics::counter!("triage_mail_sent_total", "result" => result).increment(1);
            store.finish_mail(&m, outcome, config.clock.now()).await?;
        }
    }
    Ok(out)
}

/// The notifications due for a ticket at `now`, and when to look at it again. Pure.
pub fn plan(rules: &CompiledRules, ticket: &TicketRecord, now: DateTime<Utc>) -> AlarmPlan {
    let state = match clock_state(ticket) {
        Ok(Some(state)) => state,
        Ok(None) => {
            return AlarmPlan {
                summary: ticket.sla_state.clone(),
                ..AlarmPlan::default()
            }
        }
        Err(e) => {
            tracing::error!("no alarms for a ticket whose clocks cannot be read: {e}");
            return AlarmPlan {
                summary: ticket.sla_state.clone(),
                ..AlarmPlan::default()
            };
        }
    };
    let (due, next) = state.due_alarms(&rules.calendars, now);
    let policy = state
        .policy
        .as_ref()
        .and_then(|p| rules.sla.policies.iter().find(|x| *x.id == p.id));
    let office = &rules.windows[TimeWindow::BusinessHours.index()].calendar;
    let mut notifications = Vec::new();
    for a in due {
        let (recipients, outside_hours) = match policy {
            Some(p) => p.recipients(&a.level),
            // The policy is gone from the rules: tell the ticket's queue.
            None => (&[Notify::TicketQueue][..], true),
        };
        let not_before = if outside_hours {
            now
        } else {
            office.next_open(now).unwrap_or(now)
        };
        let clock = state
            .clocks
            .iter()
            .find(|c| c.metric == a.metric && c.cycle == a.cycle);
        for r in recipients {
            let target = r.target(&ticket.queue, ticket.assignee.as_deref());
            let payload = serde_json::json!({
                "event": format!("sla.{}", a.level),
                "level": a.level,
                "metric": a.metric,
                "cycle": a.cycle,
                "target": target,
                "fire_at": a.at,
                "due_at": clock.and_then(|c| c.due_at),
                "target_minutes": clock.map(|c| c.target_minutes),
                "policy": state.policy.as_ref().map(|p| &p.id),
                "ticket": {
                    "id": ticket.id,
                    "number": crate::store::ticket_number(ticket.seq),
                    "subject": ticket.subject,
                    "queue": ticket.queue,
                    "segment": ticket.segment,
                    "priority": ticket.priority,
                    "status": ticket.status,
                },
            });
            notifications.push(NewNotification {
                metric: a.metric.as_str().to_owned(),
                cycle: a.cycle as i32,
                level: a.level.clone(),
                target,
                payload,
                fire_at: a.at,
                deliver: matches!(r, Notify::Webhook(_)),
                not_before,
            });
        }
    }
    AlarmPlan {
        notifications,
        next_alarm_at: next,
        summary: state.summary(now).to_owned(),
    }
}

/// Signature of a webhook body: `sha256=` and the hex HMAC-SHA256 of `"{timestamp}.{body}"`
/// under the webhook's secret. The timestamp is sent along, so a receiver can refuse replays.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", crate::model::hex(&mac.finalize().into_bytes()))
}

/// One delivery attempt of a leased notification.
async fn deliver(
    http: &reqwest::Client,
    rules: &CompiledRules,
    n: &NotificationRecord,
    now: DateTime<Utc>,
) -> Delivery {
    let name = n.target.strip_prefix("webhook:").unwrap_or(&n.target);
    let Some(hook) = rules.sla.webhooks.get(name) else {
        return Delivery::Failed {
            error: format!("webhook \"{name}\" is not defined in the rules any more"),
            retry_at: None,
        };
    };
    let body = serde_json::to_vec(&serde_json::json!({
        "id": n.id,
        "notification": n.payload,
    }))
    .unwrap_or_default();
    let ts = now.timestamp();
    let result = http
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-triage-delivery", n.id.to_string())
        .header("x-triage-event", format!("sla.{}", n.level))
        .header("x-triage-timestamp", ts.to_string())
        .header("x-triage-signature", signature(&hook.secret, ts, &body))
        .body(body)
        .send()
        .await;
    let error = match result {
        Ok(resp) if resp.status().is_success() => return Delivery::Delivered,
        Ok(resp) => format!("{} answered {}", hook.url, resp.status()),
        Err(e) => format!("{}: {e}", hook.url),
    };
    Delivery::Failed {
        error,
        retry_at: retry_time(hook, n.attempts, now),
    }
}

/// Exponential backoff: the first retry after `retry-after`, each further one twice as late;
/// `None` once `max-attempts` are used up (a dead letter).
pub fn retry_time(hook: &Webhook, attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if attempts >= hook.max_attempts as i32 {
        return None;
    }
    let factor = 1i64 << (attempts.clamp(1, 20) - 1);
    Some(now + chrono::Duration::seconds(i64::from(hook.retry_after_secs) * factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A stored ticket with the clocks a policy starts at `received`.
    fn ticket(rules: &CompiledRules, received: DateTime<Utc>) -> TicketRecord {
        let t = crate::model::Ticket {
            channel: crate::model::Channel::Email,
            subject: "Drucker".into(),
            body: "Der Drucker druckt nicht.".into(),
            from: Default::default(),
            received_at: received,
        };
        let d = crate::classify::classify(rules, &t);
        let (clocks, _) = crate::desk::intake::start_clocks(rules, &t, &d);
        TicketRecord {
            seq: 7,
            id: uuid::Uuid::nil(),
            external_id: None,
            channel: "email".into(),
            subject: t.subject,
            body: t.body,
            language: "de".into(),
            from_email: None,
            from_name: None,
            from_phone: None,
            organisation: None,
            segment: d.segment.to_string(),
            category: d.category.to_string(),
            priority: d.priority.to_string(),
            time_window: d.time_window.to_string(),
            within_window: d.within_window,
            automation: d.automation.to_string(),
            queue: d.queue.to_string(),
            tags: serde_json::json!([]),
            rules_version: String::new(),
            trace: serde_json::json!({}),
            status: "open".into(),
            received_at: received,
            created_at: received,
            updated_at: received,
            version: 1,
            sla: serde_json::to_value(&clocks).ok(),
            sla_policy: clocks.policy.as_ref().map(|p| p.id.clone()),
            sla_state: "running".into(),
            sla_due_at: clocks.next_due(),
            first_response_due_at: None,
            resolution_due_at: None,
            sla_alarm_at: None,
            faq: None,
            assignee: None,
            erased_at: None,
        }
    }

    #[test]
    fn alarms_go_to_their_recipients_and_night_levels_wait_for_office_hours() {
        let loaded = crate::rules::fixture::with_rules(
            r#"
[sla]
warn = [50]
warn-notify = ["queue"]
breach-notify = ["role:shift-lead"]

[[policy]]
id = "p"
first-response = "60m"
calendar = "always"
breach-outside-hours = false
escalate = [{ after = "30m", notify = ["queue:major"] }]
"#,
        )
        .unwrap();
        let rules = &loaded.rules;
        // Arrived Friday 16:00 Vienna; at 17:35 the warning, the breach and the escalation
        // are all due (a warning is left out once its clock has breached).
        let t = ticket(rules, at("2026-11-27T16:00:00+01:00"));
        let p = plan(rules, &t, at("2026-11-27T17:35:00+01:00"));
        let got: Vec<(String, String, bool)> = p
            .notifications
            .iter()
            .map(|n| (n.level.clone(), n.target.clone(), n.deliver))
            .collect();
        assert_eq!(
            got,
            [
                ("breach".into(), "role:shift-lead".into(), false),
                ("escalate-1".into(), "queue:major".into(), false),
            ]
        );
        // The breach may not go out at night: it waits for Monday 08:00 in the office
        // calendar; the escalation may go out at once.
        assert_eq!(
            p.notifications[0].not_before,
            at("2026-11-30T08:00:00+01:00")
        );
        assert_eq!(
            p.notifications[1].not_before,
            at("2026-11-27T17:35:00+01:00")
        );
        assert_eq!(p.summary, "breached");
        assert_eq!(p.next_alarm_at, None);
        // Before the warning: nothing due, and the next look is at the warning.
        let early = plan(rules, &t, at("2026-11-27T16:10:00+01:00"));
        assert!(early.notifications.is_empty());
        assert_eq!(early.next_alarm_at, Some(at("2026-11-27T16:30:00+01:00")));
        let warn = plan(rules, &t, at("2026-11-27T16:40:00+01:00"));
        assert_eq!(warn.notifications.len(), 1);
        assert_eq!(warn.notifications[0].target, "queue:desk");
    }

    #[test]
    fn signatures_are_hmac_sha256_over_timestamp_and_body() {
        // RFC 4231 test case 2 ("Jefe" / "what do ya want for nothing?"), split at the dot.
        let sig = signature("Jefe", 0, b"what do ya want for nothing?");
        let expected = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
            mac.update(b"0.what do ya want for nothing?");
            mac.finalize().into_bytes()
        };
        let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(sig, format!("sha256={hex}"));
        assert_ne!(sig, signature("other", 0, b"what do ya want for nothing?"));
    }

    #[test]
    fn retries_back_off_exponentially_and_end_in_a_dead_letter() {
        let hook = Webhook {
            name: "ops".into(),
            url: "http://x".into(),
            secret: "s".into(),
            max_attempts: 4,
            retry_after_secs: 10,
        };
        let now = Utc::now();
        let after = |a| retry_time(&hook, a, now).map(|t| (t - now).num_seconds());
        assert_eq!(after(1), Some(10));
        assert_eq!(after(2), Some(20));
        assert_eq!(after(3), Some(40));
        assert_eq!(after(4), None);
    }
}
