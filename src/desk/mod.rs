//! The workflows of the service desk: intake (JSON, mail, call), replies and notes, customer
//! messages, status changes, feedback on automatic answers, reclassification, claim, assign
//! and transfer, assignment rounds, and FAQ article changes.
//!
//! Each workflow is a function over a [`Ctx`] — the store, the rules and FAQ index in force
//! when it began, and its moment — returning a stored record or one [`DeskError`]. None of
//! them knows HTTP: the API renders their results, the worker and `triage bench` call the
//! same functions.

pub mod assign;
pub mod call;
pub mod conversation;
pub mod events;
pub mod faq;
pub mod intake;
pub mod leads;
pub mod mail;
pub mod privacy;
pub mod report;
pub mod rules;
pub mod simulate;
pub mod work;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::faq::FaqIndex;
use crate::model::Role;
use crate::rules::CompiledRules;
use crate::store::{self, NewEvent, Store, StoreError, TicketRecord};

/// What a workflow can refuse or fail with; the API maps each kind to one status.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// A field of the request is wrong.
    #[error("{detail}")]
    Invalid { field: String, detail: String },
    #[error("{0}")]
    NotFound(String),
    /// The ticket's state forbids the change (closed, not answered automatically, …).
    #[error("{0}")]
    Conflict(String),
    /// Another agent has the ticket.
    #[error("{0}")]
    AlreadyAssigned(String),
    /// The ticket moved on since the version the caller saw (`If-Match`).
    #[error("{0}")]
    Stale(String),
    /// The caller may not do this (act for someone else, set another's presence).
    #[error("{0}")]
    Forbidden(String),
    /// A message that is no e-mail at all.
    #[error("{0}")]
    Unparseable(String),
    /// The ticket kept changing under a retried write.
    #[error("{0}")]
    Busy(String),
    /// The caller's identity cannot do this (a claim without an agent behind the token).
    #[error("{0}")]
    NotAnAgent(String),
    /// A rules directory with errors; the running rules stay.
    #[error("{0}")]
    RulesRejected(crate::rules::RulesError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DeskError {
    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> DeskError {
        DeskError::Invalid {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// The rules in force, shared by the API, the worker and the reload on SIGHUP of one
/// process; swapped whole, never mutated. It also knows where they come from and under which
/// instance name this process reports them.
#[derive(Clone, Debug)]
pub struct RulesHandle(Arc<HandleInner>);

#[derive(Debug)]
struct HandleInner {
    rules: RwLock<Arc<CompiledRules>>,
    dir: Option<std::path::PathBuf>,
    instance: Arc<str>,
    status: std::sync::Mutex<rules::RulesStatus>,
}

impl RulesHandle {
    /// Rules given as they are (tests, benches): no directory to reload from.
    pub fn new(rules: CompiledRules) -> RulesHandle {
        RulesHandle::build(rules, None, rules::default_instance_name().into())
    }

    /// Rules loaded from `dir`, reported as `instance`.
    pub fn from_dir(rules: CompiledRules, dir: std::path::PathBuf, instance: &str) -> RulesHandle {
        RulesHandle::build(rules, Some(dir), instance.into())
    }

    fn build(
        rules: CompiledRules,
        dir: Option<std::path::PathBuf>,
        instance: Arc<str>,
    ) -> RulesHandle {
        RulesHandle(Arc::new(HandleInner {
            rules: RwLock::new(Arc::new(rules)),
            dir,
            instance,
            status: Default::default(),
        }))
    }

    /// The rules in force now.
    pub fn current(&self) -> Arc<CompiledRules> {
        match self.0.rules.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the rules in force.
    pub fn set(&self, rules: CompiledRules) {
        let rules = Arc::new(rules);
        match self.0.rules.write() {
            Ok(mut r) => *r = rules,
            Err(poisoned) => *poisoned.into_inner() = rules,
        }
    }

    /// The directory the rules are reloaded from, if any.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.0.dir.as_deref()
    }

    /// The name this process reports its rules under.
    pub fn instance(&self) -> &str {
        &self.0.instance
    }

    /// When the rules in force were loaded and the last rejected reload.
    pub fn status(&self) -> rules::RulesStatus {
        match self.0.status.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn update_status(&self, f: impl FnOnce(&mut rules::RulesStatus)) {
        match self.0.status.lock() {
            Ok(mut s) => f(&mut s),
            Err(p) => f(&mut p.into_inner()),
        }
    }
}

/// One process's service desk: the store, the rules and FAQ index in force, the clock, and
/// the assigner's wake-up.
pub struct Desk {
    pub store: Store,
    pub rules: RulesHandle,
    pub faq: faq::FaqHandle,
    pub clock: Clock,
    assigner: tokio::sync::Notify,
}

impl Desk {
    pub fn new(store: Store, rules: RulesHandle, clock: Clock) -> Desk {
        Desk {
            store,
            rules,
            faq: faq::FaqHandle::in_memory(),
            clock,
            assigner: tokio::sync::Notify::new(),
        }
    }

    /// Keeps the FAQ index on disk in `dir` instead of in memory.
    pub fn with_faq_dir(mut self, dir: std::path::PathBuf) -> Desk {
        self.faq = faq::FaqHandle::on_disk(dir);
        self
    }

    /// What one workflow call works with: the rules and index in force now, and this moment.
    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            store: &self.store,
            rules: self.rules.current(),
            faq: self.faq.current(),
            now: self.clock.now(),
            wake: Some(&self.assigner),
        }
    }

    /// Runs assignment rounds whenever a workflow signals that a waiting ticket may find its
    /// agent, until the process ends. Wakes coalesce, and a round follows the last one after
    /// [`ROUND_PAUSE`] at the earliest: a busy intake costs a few rounds a second, not one
    /// per ticket (each round is a transaction per automatic queue).
    pub async fn assign_on_wake(self: Arc<Self>) {
        loop {
            self.assigner.notified().await;
            let rules = self.rules.current();
            if let Err(e) = assign::round(&self.store, &rules, self.clock.now()).await {
                tracing::warn!("assignment round failed, the worker retries: {e}");
            }
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }
}

/// The least time between two assignment rounds on wake-ups: a ticket waits at most this
/// long for its agent beyond the round itself.
const ROUND_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// The inputs of one workflow call.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub rules: Arc<CompiledRules>,
    pub faq: Arc<FaqIndex>,
    pub now: DateTime<Utc>,
    wake: Option<&'a tokio::sync::Notify>,
}

impl<'a> Ctx<'a> {
    /// A context without an assigner to wake (the worker, `triage bench`).
    pub fn new(
        store: &'a Store,
        rules: Arc<CompiledRules>,
        faq: Arc<FaqIndex>,
        now: DateTime<Utc>,
    ) -> Ctx<'a> {
        Ctx {
            store,
            rules,
            faq,
            now,
            wake: None,
        }
    }

    /// Something happened that may let a waiting ticket find its agent (it arrived, came
    /// back, moved, or was done): the assigner runs a round soon, off the caller's path.
    pub fn wake_assigner(&self) {
        if let Some(w) = self.wake {
            w.notify_one();
        }
    }
}

/// Who does something: the authenticated identity, and the agent a manager acts for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The calling token's name (or, without authentication, the name given or a fallback).
    pub name: String,
    /// The agent a manager or admin acts for, named in the request.
    pub on_behalf_of: Option<String>,
}

impl Actor {
    pub fn named(name: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            on_behalf_of: None,
        }
    }

    /// Whose words a message is: the agent acted for, else the actor.
    pub fn author(&self) -> &str {
        self.on_behalf_of.as_deref().unwrap_or(&self.name)
    }

    /// An event by this actor; acting for someone is recorded in its data.
    pub fn event(&self, kind: &str, mut data: serde_json::Value) -> NewEvent {
        if let (Some(agent), Some(obj)) = (&self.on_behalf_of, data.as_object_mut()) {
            obj.insert("on_behalf_of".into(), agent.clone().into());
        }
        NewEvent {
            kind: kind.into(),
            actor: self.name.clone(),
            data,
        }
    }
}

/// The actor of a request: the token's identity. A request may name someone else
/// (`field`) only when a manager or admin acts for a registered agent; an agent acts as
/// themselves. Without authentication (demo mode) the name given counts, else `fallback`.
pub async fn actor(
    cx: &Ctx<'_>,
    caller: Option<(&str, Role)>,
    given: Option<String>,
    field: &str,
    fallback: &str,
) -> Result<Actor, DeskError> {
    let given = given.map(|g| g.trim().to_owned()).filter(|g| !g.is_empty());
    let Some((name, role)) = caller else {
        return Ok(Actor::named(given.unwrap_or_else(|| fallback.to_owned())));
    };
    match given {
        Some(other) if other != name => {
            if !matches!(role, Role::Manager | Role::Admin) {
                return Err(DeskError::Forbidden(format!(
                    "the token is {name}'s (role {role}); only managers act for someone else, so leave out \"{field}\""
                )));
            }
            match cx.store.agent(&other).await {
                Ok(_) => Ok(Actor {
                    name: name.to_owned(),
                    on_behalf_of: Some(other),
                }),
                Err(StoreError::NotFound(_)) => Err(DeskError::invalid(
                    field,
                    format!("{field}: no agent {other} to act for"),
                )),
                Err(e) => Err(e.into()),
            }
        }
        _ => Ok(Actor::named(name)),
    }
}

/// The ticket versions a change was made on (`If-Match`); a change to a ticket that has
/// moved on since is refused, so two agents cannot both act on the same view.
#[derive(Debug, Clone, Default)]
pub struct Expected(pub Option<Vec<String>>);

impl Expected {
    pub fn check(&self, record: &TicketRecord) -> Result<(), DeskError> {
        match &self.0 {
            Some(tags)
                if !tags
                    .iter()
                    .any(|t| t == "*" || *t == record.version.to_string()) =>
            {
                Err(DeskError::Stale(format!(
                    "ticket {} is at version {} now, not {}: reload it and try again",
                    store::ticket_number(record.seq),
                    record.version,
                    tags.join(", ")
                )))
            }
            _ => Ok(()),
        }
    }
}

/// The ticket `key` names, at the version the caller saw.
pub async fn ticket(
    cx: &Ctx<'_>,
    key: &str,
    expected: &Expected,
) -> Result<TicketRecord, DeskError> {
    let record = cx.store.get(key).await?;
    expected.check(&record)?;
    Ok(record)
}

/// Moves a stored ticket's clocks to `policy` when it is not the one they count under,
/// recording it on `event` (which a replay of the events reads); the business time used so
/// far is kept and counts against the new targets.
fn follow_policy(
    cx: &Ctx<'_>,
    record: &TicketRecord,
    policy: Option<crate::sla::PolicySnapshot>,
    event: &mut NewEvent,
    update: &mut store::TicketUpdate,
) -> Result<(), DeskError> {
    let mut clocks = store::clock_state(record)?.unwrap_or_default();
    if clocks.policy == policy {
        return Ok(());
    }
    let e = crate::sla::ClockEvent::Policy { policy };
    clocks.apply(&e, cx.now, &cx.rules.calendars);
    event.data["clock"] = serde_json::to_value(&e).map_err(StoreError::from)?;
    event.data["clock_at"] = serde_json::json!(cx.now);
    update.sla = Some(store::SlaColumns::new(&clocks, &cx.rules.calendars, cx.now));
    Ok(())
}

/// The facts a stored ticket's service level depends on, in `queue`.
fn stored_subject<'a>(
    record: &'a TicketRecord,
    tags: &'a [Arc<str>],
    queue: &'a str,
) -> Result<crate::rules::SlaSubject<'a>, DeskError> {
    fn field<T: std::str::FromStr>(r: &TicketRecord, name: &str, v: &str) -> Result<T, StoreError> {
        v.parse().map_err(|_| {
            StoreError::Corrupt(format!(
                "ticket {} has an unknown {name} \"{v}\"",
                store::ticket_number(r.seq)
            ))
        })
    }
    Ok(crate::rules::SlaSubject {
        channel: field(record, "channel", &record.channel)?,
        received_at: record.received_at,
        segment: field(record, "segment", &record.segment)?,
        priority: field(record, "priority", &record.priority)?,
        category: &record.category,
        tags,
        time_window: field(record, "time window", &record.time_window)?,
        organisation: record.organisation.as_deref(),
        queue,
    })
}

/// Closed tickets are final.
fn ensure_not_closed(record: &TicketRecord) -> Result<(), DeskError> {
    if record.status == "closed" {
        return Err(DeskError::Conflict(format!(
            "ticket {} is closed; closed tickets are final, open a new ticket instead",
            store::ticket_number(record.seq)
        )));
    }
    Ok(())
}
