//! Service levels: which policy a ticket gets, and its clocks — first response, next reply,
//! resolution — counted in business time, paused while the customer owes an answer.
//!
//! Pure: every change takes "now" as a value, calendars come in through a lookup, and the
//! state is plain data that the store keeps as JSON. The state is a fold over [`ClockEvent`]s,
//! which the store also records, so [`SlaState::replay`] recomputes it from a ticket's events.
//!
//! Semantics a reader may look for:
//! - A clock counts open time of its calendar while it runs; paused time is never counted.
//! - A customer message starts a next-reply cycle unless one is already running (the oldest
//!   unanswered message counts), and only after the first response.
//! - Changing the policy keeps the business time used so far: the running stretch is counted
//!   in the old calendar, the rest in the new one, against the new target.
//! - Met or breached is decided when the clock stops (reply, resolution), from the business
//!   time used; a running clock past its due time shows as breached.
//! - A follow-up clock measures us, not the customer: our public reply starts it ("follow up
//!   within 7 days unless the customer answers"), the customer's message ends it without a
//!   verdict, our next reply stops it (met or breached) and starts the next one. Waiting for
//!   the customer is what it counts, so pausing statuses do not hold it.

pub mod lead;
mod policy;
pub mod report;

pub use policy::{
    parse_minutes, CalendarChoice, Escalation, Notify, Policy, PolicyCalendar, PolicyFacts,
    PolicyWhen, SlaRules, Trigger, TriggerStart, Webhook,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;

/// What a service level measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    FirstResponse,
    NextReply,
    Resolution,
    /// Our reply waits for the customer: follow up by the due time unless they answer.
    FollowUp,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::FirstResponse,
        Metric::NextReply,
        Metric::Resolution,
        Metric::FollowUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::FirstResponse => "first_response",
            Metric::NextReply => "next_reply",
            Metric::Resolution => "resolution",
            Metric::FollowUp => "follow_up",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The state shown for a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    Running,
    Paused,
    Met,
    Breached,
    /// Stopped without a verdict: nothing was left to answer (the ticket was resolved
    /// while it waited for a reply, or the policy stopped measuring it). Neither open nor
    /// decided, so no report counts it.
    Ended,
}

impl ClockState {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::Running => "running",
            ClockState::Paused => "paused",
            ClockState::Met => "met",
            ClockState::Breached => "breached",
            ClockState::Ended => "ended",
        }
    }
}

/// The parts of a policy a clock needs, copied at the time it applied so that a ticket's
/// clocks can be recomputed after the rules changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySnapshot {
    pub id: String,
    /// `file:line` of the policy.
    pub at: String,
    pub calendar: String,
    /// `file:line` of the customer-list row whose calendar this is, when the policy counts
    /// in the organisation's own calendar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_at: Option<String>,
    /// Target minutes of first response, next reply and resolution ([`Metric::index`]).
    pub targets: [Option<u32>; 3],
    /// Target minutes of the follow-up after our reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<u32>,
    /// Warning thresholds in percent of the target.
    pub warn: Vec<u8>,
    /// Escalation levels: business minutes after the due time.
    pub escalations: Vec<u32>,
}

impl PolicySnapshot {
    /// The target minutes of a metric, if the policy measures it.
    pub fn target(&self, metric: Metric) -> Option<u32> {
        match metric {
            Metric::FollowUp => self.follow_up,
            m => self.targets[m.index()],
        }
    }
}

/// One clock: one metric, one cycle (next reply runs once per customer message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub metric: Metric,
    pub cycle: u32,
    pub target_minutes: u32,
    pub calendar: String,
    pub started_at: DateTime<Utc>,
    /// Business seconds counted before `running_since`.
    pub used_secs: i64,
    /// Business seconds spent paused (waiting for the customer or a pausing status) before
    /// `paused_since`; never part of `used_secs`.
    #[serde(default)]
    pub paused_secs: i64,
    /// Set while a pausing status holds the clock.
    #[serde(default)]
    pub paused_since: Option<DateTime<Utc>>,
    /// Set while the clock runs.
    pub running_since: Option<DateTime<Utc>>,
    /// Due time while running; kept (frozen) once stopped.
    pub due_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// Decided when the clock stops.
    pub met: Option<bool>,
    /// What started a follow-up: an event kind (`quote-sent`); none for our reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// Something that moves the clocks, as recorded in the ticket's events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ClockEvent {
    /// The ticket was created or reclassified under this policy (none: no service level).
    Policy { policy: Option<PolicySnapshot> },
    /// A public reply by an agent.
    AgentReply,
    /// A message from the customer.
    CustomerMessage,
    /// The ticket's status changed; `pauses` says whether the new status stops the clocks.
    Status { status: String, pauses: bool },
    /// The customer said the automatic answer did not help: it no longer counts as the first
    /// response, whose clock runs on as if it had never stopped, and the resolution clock
    /// counts the time the answer waited for the verdict.
    AnswerRejected,
    /// Something we did that another system reported (a quote sent, an appointment
    /// proposed): like our reply, it waits for the customer's answer, for
    /// `follow_up_minutes` of `calendar` (the policy's when none).
    Sent {
        what: String,
        follow_up_minutes: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        calendar: Option<String>,
        /// When it happened, if before it was recorded: the wait counts from then.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        occurred_at: Option<DateTime<Utc>>,
    },
}

/// All clocks of a ticket and what drives them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaState {
    pub policy: Option<PolicySnapshot>,
    pub clocks: Vec<Clock>,
    pub status: String,
    pub paused: bool,
    pub responded: bool,
    pub next_reply_cycles: u32,
}

/// Finds calendars by name; a clock whose calendar is no longer defined counts wall time.
pub trait Calendars {
    fn calendar(&self, name: &str) -> Option<&Calendar>;
}

impl Calendars for std::collections::BTreeMap<std::sync::Arc<str>, std::sync::Arc<Calendar>> {
    fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.get(name).map(|c| &**c)
    }
}

/// A moment at which someone must hear about a clock: a warning, the breach, an escalation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alarm {
    pub metric: Metric,
    pub cycle: u32,
    /// `warn-75`, `breach`, `escalate-1`, …
    pub level: String,
    pub at: DateTime<Utc>,
}

/// The columns the store indexes, so that "due next" and "alarms due" are range scans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlaIndex {
    pub summary: &'static str,
    pub due_at: Option<DateTime<Utc>>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// The earliest alarm of a running clock, also one that may already have fired: the
    /// worker looks, finds it recorded, and moves on to the next.
    pub alarm_at: Option<DateTime<Utc>>,
}

/// The clocks of a new ticket under `policy` and the event that started them (kept for
/// recomputation).
pub fn start(
    policy: Option<PolicySnapshot>,
    cals: &dyn Calendars,
    received_at: DateTime<Utc>,
) -> (SlaState, ClockEvent) {
    let event = ClockEvent::Policy { policy };
    let s = SlaState::replay([(&event, received_at)], cals);
    (s, event)
}

/// A clock as the API shows it at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClockView {
    pub metric: Metric,
    pub cycle: u32,
    pub policy: String,
    pub calendar: String,
    pub target_minutes: u32,
    pub due_at: Option<DateTime<Utc>>,
    pub state: ClockState,
    pub business_minutes_used: i64,
    pub business_minutes_remaining: i64,
    /// Business minutes the clock was held by pausing statuses (not counted as used).
    pub business_minutes_paused: i64,
    pub stopped_at: Option<DateTime<Utc>>,
}

fn elapsed(cals: &dyn Calendars, calendar: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    match cals.calendar(calendar) {
        Some(c) => c.business_between(from, to),
        None => (to - from).num_seconds().max(0),
    }
}

/// `secs` business seconds after `from` in the named calendar; wall time when the calendar
/// is no longer defined.
pub fn due_after(
    cals: &dyn Calendars,
    calendar: &str,
    from: DateTime<Utc>,
    secs: i64,
) -> Option<DateTime<Utc>> {
    match cals.calendar(calendar) {
        Some(c) => c.add_business(from, secs),
        None => Some(from + chrono::Duration::seconds(secs.max(0))),
    }
}

impl Clock {
    fn used_at(&self, now: DateTime<Utc>, cals: &dyn Calendars) -> i64 {
        self.used_secs
            + self
                .running_since
                .map_or(0, |since| elapsed(cals, &self.calendar, since, now))
    }

    fn target_secs(&self) -> i64 {
        i64::from(self.target_minutes) * 60
    }

    /// Counts the running stretch into `used_secs` and stops running.
    fn pause(&mut self, at: DateTime<Utc>, cals: &dyn Calendars) {
        if let Some(since) = self.running_since.take() {
            self.used_secs += elapsed(cals, &self.calendar, since, at);
            self.due_at = None;
        }
    }

    /// Ends a pause that a pausing status began, counting its business time.
    fn end_pause(&mut self, at: DateTime<Utc>, cals: &dyn Calendars) {
        if let Some(since) = self.paused_since.take() {
            self.paused_secs += elapsed(cals, &self.calendar, since, at);
        }
    }

    /// Runs from `at` on the time left. With none left the due time stays the moment the
    /// target ran out (kept since it stopped): the clock is breached since then, not now.
    fn run_from(&mut self, at: DateTime<Utc>, cals: &dyn Calendars) {
        self.running_since = Some(at);
        let left = self.target_secs() - self.used_secs;
        if left > 0 || self.due_at.is_none() {
            self.due_at = due_after(cals, &self.calendar, at, left.max(0));
        }
    }

    fn resume(&mut self, at: DateTime<Utc>, cals: &dyn Calendars) {
        self.end_pause(at, cals);
        if self.stopped_at.is_none() && self.running_since.is_none() {
            self.run_from(at, cals);
        }
    }

    fn stop(&mut self, at: DateTime<Utc>, cals: &dyn Calendars) {
        if self.stopped_at.is_some() {
            return;
        }
        let due = self.due_at;
        self.pause(at, cals);
        self.end_pause(at, cals);
        self.due_at = due;
        self.stopped_at = Some(at);
        self.met = Some(self.used_secs <= self.target_secs());
    }

    /// Stops a clock without a verdict: nothing is left to answer (or to follow up).
    fn end(&mut self, at: DateTime<Utc>, cals: &dyn Calendars) {
        self.pause(at, cals);
        self.stopped_at = Some(at);
    }

    /// Continues a stopped clock (a reopened ticket): the time used so far stays.
    fn restart(&mut self, at: DateTime<Utc>, paused: bool, cals: &dyn Calendars) {
        self.stopped_at = None;
        self.met = None;
        self.due_at = None;
        if !paused {
            self.resume(at, cals);
        }
    }

    /// The state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> ClockState {
        match (self.met, self.running_since, self.due_at) {
            (None, _, _) if self.stopped_at.is_some() => ClockState::Ended,
            (Some(true), _, _) => ClockState::Met,
            (Some(false), _, _) => ClockState::Breached,
            (None, Some(_), Some(due)) if now > due => ClockState::Breached,
            (None, Some(_), _) => ClockState::Running,
            (None, None, _) => ClockState::Paused,
        }
    }
}

impl SlaState {
    /// The clocks of a new ticket: first response and resolution start at `at`.
    pub fn new(
        policy: Option<PolicySnapshot>,
        at: DateTime<Utc>,
        cals: &dyn Calendars,
    ) -> SlaState {
        SlaState::replay([(&ClockEvent::Policy { policy }, at)], cals)
    }

    /// Recomputes the state from a ticket's clock events, oldest first.
    pub fn replay<'a>(
        events: impl IntoIterator<Item = (&'a ClockEvent, DateTime<Utc>)>,
        cals: &dyn Calendars,
    ) -> SlaState {
        let mut s = SlaState {
            status: "open".into(),
            ..SlaState::default()
        };
        for (e, at) in events {
            s.apply(e, at, cals);
        }
        s
    }

    /// Applies one event at `at`.
    pub fn apply(&mut self, event: &ClockEvent, at: DateTime<Utc>, cals: &dyn Calendars) {
        match event {
            ClockEvent::Policy { policy } => self.set_policy(policy.clone(), at, cals),
            ClockEvent::AgentReply => {
                self.responded = true;
                for c in &mut self.clocks {
                    if matches!(c.metric, Metric::FirstResponse | Metric::NextReply) {
                        c.stop(at, cals);
                    }
                }
                self.await_customer(None, None, None, at, cals);
            }
            ClockEvent::AnswerRejected => {
                self.responded = false;
                // The wait for the customer's verdict was no wait of theirs: the resolution
                // clock counts it.
                for c in &mut self.clocks {
                    if c.metric == Metric::Resolution && c.stopped_at.is_none() {
                        if let Some(since) = c.paused_since.take() {
                            let left = c.target_secs() - c.used_secs;
                            c.used_secs += elapsed(cals, &c.calendar, since, at);
                            if left > 0 && c.used_secs >= c.target_secs() {
                                // Breached while it waited: since the target ran out.
                                c.due_at = due_after(cals, &c.calendar, since, left);
                            }
                        }
                    }
                }
                if let Some(c) = self
                    .clocks
                    .iter_mut()
                    .rev()
                    .find(|c| c.metric == Metric::FirstResponse && c.stopped_at.is_some())
                {
                    let stopped = c.stopped_at.take().unwrap_or(at);
                    c.met = None;
                    if self.paused {
                        c.used_secs += elapsed(cals, &c.calendar, stopped, at);
                    } else {
                        // Running since it stopped: the customer loses no time.
                        c.run_from(stopped, cals);
                    }
                }
            }
            ClockEvent::Sent {
                what,
                follow_up_minutes,
                calendar,
                occurred_at,
            } => {
                // Never before the previous follow-up stopped, nor after it was recorded.
                let since = occurred_at.map_or(at, |o| o.min(at).max(self.last_stop(at)));
                self.await_customer(
                    Some(*follow_up_minutes),
                    calendar.as_deref(),
                    Some(what),
                    since,
                    cals,
                );
            }
            ClockEvent::CustomerMessage => {
                // The customer answered: nothing to follow up.
                for c in &mut self.clocks {
                    if c.metric == Metric::FollowUp && c.stopped_at.is_none() {
                        c.end(at, cals);
                    }
                }
                let running = self
                    .clocks
                    .iter()
                    .any(|c| c.metric == Metric::NextReply && c.stopped_at.is_none());
                if self.responded && !running {
                    self.next_reply_cycles += 1;
                    let cycle = self.next_reply_cycles;
                    self.start_clock(Metric::NextReply, cycle, at, cals);
                }
            }
            ClockEvent::Status { status, pauses } => {
                let was_closed = matches!(self.status.as_str(), "resolved" | "closed");
                self.status = status.clone();
                match status.as_str() {
                    "resolved" | "closed" => {
                        for c in &mut self.clocks {
                            if c.metric == Metric::Resolution {
                                c.stop(at, cals);
                            } else if c.stopped_at.is_none() {
                                // Nothing left to answer: the clock ends without a verdict.
                                c.end(at, cals);
                            }
                        }
                        self.paused = false;
                    }
                    _ if *pauses => {
                        self.paused = true;
                        for c in &mut self.clocks {
                            if c.running_since.is_some() && c.metric != Metric::FollowUp {
                                c.pause(at, cals);
                                c.paused_since = Some(at);
                            }
                        }
                    }
                    _ => {
                        self.paused = false;
                        for c in &mut self.clocks {
                            if was_closed && c.metric == Metric::Resolution {
                                c.restart(at, false, cals);
                            } else {
                                c.resume(at, cals);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The latest moment a clock of this ticket started or stopped, not after `at`: an event
    /// that happened earlier is counted from no earlier than this.
    fn last_stop(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.clocks
            .iter()
            .flat_map(|c| [Some(c.started_at), c.stopped_at])
            .flatten()
            .filter(|t| *t <= at)
            .max()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Something of ours now waits for the customer: the running follow-up is done (met or
    /// breached) and the next one, started by `trigger` (our reply when none), runs, both
    /// from `since`, for `target` minutes of `calendar` or the policy's — unless the ticket
    /// is resolved.
    fn await_customer(
        &mut self,
        target: Option<u32>,
        calendar: Option<&str>,
        trigger: Option<&str>,
        since: DateTime<Utc>,
        cals: &dyn Calendars,
    ) {
        for c in &mut self.clocks {
            if c.metric == Metric::FollowUp {
                c.stop(since, cals);
            }
        }
        if !matches!(self.status.as_str(), "resolved" | "closed") {
            let cycle = self
                .clocks
                .iter()
                .filter(|c| c.metric == Metric::FollowUp)
                .count() as u32
                + 1;
            self.start_clock_for(Metric::FollowUp, cycle, target, calendar, since, cals);
            if let Some(c) = self
                .clocks
                .last_mut()
                .filter(|c| c.metric == Metric::FollowUp)
            {
                c.trigger = trigger.map(str::to_owned);
            }
        }
    }

    fn start_clock(&mut self, metric: Metric, cycle: u32, at: DateTime<Utc>, cals: &dyn Calendars) {
        self.start_clock_for(metric, cycle, None, None, at, cals);
    }

    /// Starts a clock of `metric` for `target` minutes in `calendar`, or the policy's target
    /// and calendar.
    fn start_clock_for(
        &mut self,
        metric: Metric,
        cycle: u32,
        target: Option<u32>,
        calendar: Option<&str>,
        at: DateTime<Utc>,
        cals: &dyn Calendars,
    ) {
        let Some(p) = &self.policy else { return };
        let Some(target) = target.or_else(|| p.target(metric)) else {
            return;
        };
        let mut c = Clock {
            metric,
            cycle,
            target_minutes: target,
            calendar: calendar.map_or_else(|| p.calendar.clone(), str::to_owned),
            started_at: at,
            used_secs: 0,
            paused_secs: 0,
            paused_since: None,
            running_since: None,
            due_at: None,
            stopped_at: None,
            met: None,
            trigger: None,
        };
        if !self.paused || metric == Metric::FollowUp {
            c.resume(at, cals);
        }
        self.clocks.push(c);
    }

    fn set_policy(
        &mut self,
        policy: Option<PolicySnapshot>,
        at: DateTime<Utc>,
        cals: &dyn Calendars,
    ) {
        let first = self.policy.is_none() && self.clocks.is_empty();
        self.policy = policy;
        let Some(p) = self.policy.clone() else {
            // No service level any more: open clocks end without a verdict.
            for c in &mut self.clocks {
                if c.stopped_at.is_none() {
                    c.end(at, cals);
                }
            }
            return;
        };
        let closed = matches!(self.status.as_str(), "resolved" | "closed");
        for c in &mut self.clocks {
            if c.stopped_at.is_some() {
                continue;
            }
            match p.target(c.metric) {
                Some(target) => {
                    // Count the stretch so far in the old calendar, the rest in the new one.
                    let was_running = c.running_since.is_some();
                    c.pause(at, cals);
                    c.calendar = p.calendar.clone();
                    c.target_minutes = target;
                    if was_running {
                        c.resume(at, cals);
                    }
                }
                None => c.end(at, cals),
            }
        }
        if closed {
            return;
        }
        // Metrics the new policy measures that no clock covers yet.
        for metric in [Metric::FirstResponse, Metric::Resolution] {
            let covered = self.clocks.iter().any(|c| c.metric == metric);
            let done = metric == Metric::FirstResponse && self.responded;
            if !covered && !done && (first || p.target(metric).is_some()) {
                self.start_clock(metric, 1, at, cals);
            }
        }
    }

    /// Every clock as shown at `now`.
    pub fn view(&self, now: DateTime<Utc>, cals: &dyn Calendars) -> Vec<ClockView> {
        let policy = self.policy.as_ref().map_or("", |p| p.id.as_str());
        self.clocks
            .iter()
            .map(|c| {
                let used = c.used_at(c.stopped_at.unwrap_or(now), cals);
                ClockView {
                    metric: c.metric,
                    cycle: c.cycle,
                    policy: policy.to_owned(),
                    calendar: c.calendar.clone(),
                    target_minutes: c.target_minutes,
                    due_at: c.due_at,
                    state: c.state(now),
                    business_minutes_used: used / 60,
                    business_minutes_paused: (c.paused_secs
                        + c.paused_since.map_or(0, |since| {
                            elapsed(cals, &c.calendar, since, c.stopped_at.unwrap_or(now))
                        }))
                        / 60,
                    // Whole minutes that add up to the target: used + remaining = target.
                    business_minutes_remaining: i64::from(c.target_minutes) - used / 60,
                    stopped_at: c.stopped_at,
                }
            })
            .collect()
    }

    /// The earliest due time of a running clock: what the "due next" index holds.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.clocks
            .iter()
            .filter(|c| c.running_since.is_some())
            .filter_map(|c| c.due_at)
            .min()
    }

    /// One word for the ticket: breached if any clock is, else running, paused, met, or
    /// `none` without clocks. A running clock past `now` counts as breached.
    pub fn summary(&self, now: DateTime<Utc>) -> &'static str {
        let states: Vec<ClockState> = self
            .clocks
            .iter()
            .map(|c| c.state(now))
            .filter(|s| *s != ClockState::Ended)
            .collect();
        if states.is_empty() {
            "none"
        } else if states.contains(&ClockState::Breached) {
            "breached"
        } else if states.contains(&ClockState::Running) {
            "running"
        } else if states.contains(&ClockState::Paused) {
            "paused"
        } else {
            "met"
        }
    }

    /// The indexed columns of a ticket as of `now`.
    pub fn index(&self, cals: &dyn Calendars, now: DateTime<Utc>) -> SlaIndex {
        let running_due = |m: Metric| {
            self.clocks
                .iter()
                .rev()
                .find(|c| c.metric == m && c.running_since.is_some())
                .and_then(|c| c.due_at)
        };
        SlaIndex {
            summary: self.summary(now),
            due_at: self.next_due(),
            first_response_due_at: running_due(Metric::FirstResponse),
            resolution_due_at: running_due(Metric::Resolution),
            alarm_at: self.alarms(cals).first().map(|a| a.at),
        }
    }

    /// The alarms due at `now` and when the next one after `now` falls. After downtime a
    /// warning whose clock has breached as well is left out: the breach says more.
    pub fn due_alarms(
        &self,
        cals: &dyn Calendars,
        now: DateTime<Utc>,
    ) -> (Vec<Alarm>, Option<DateTime<Utc>>) {
        let all = self.alarms(cals);
        let breached: Vec<(Metric, u32)> = all
            .iter()
            .filter(|a| a.level == "breach" && a.at <= now)
            .map(|a| (a.metric, a.cycle))
            .collect();
        let next = all.iter().find(|a| a.at > now).map(|a| a.at);
        let due = all
            .into_iter()
            .filter(|a| a.at <= now)
            .filter(|a| !(a.level.starts_with("warn-") && breached.contains(&(a.metric, a.cycle))))
            .collect();
        (due, next)
    }

    /// Warnings, breach and escalations of the running clocks, in time order.
    pub fn alarms(&self, cals: &dyn Calendars) -> Vec<Alarm> {
        let Some(p) = &self.policy else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for c in &self.clocks {
            let Some(since) = c.running_since else {
                continue;
            };
            let target = c.target_secs();
            let mut push = |level: String, at_secs: i64| {
                if let Some(at) = due_after(cals, &c.calendar, since, at_secs - c.used_secs) {
                    out.push(Alarm {
                        metric: c.metric,
                        cycle: c.cycle,
                        level,
                        at,
                    });
                }
            };
            for &pct in &p.warn {
                push(format!("warn-{pct}"), target * i64::from(pct) / 100);
            }
            push("breach".into(), target);
            for (k, &after) in p.escalations.iter().enumerate() {
                push(
                    format!("escalate-{}", k + 1),
                    target + i64::from(after) * 60,
                );
            }
        }
        out.sort_by_key(|a| a.at);
        out
    }
}

#[cfg(test)]
mod tests;
