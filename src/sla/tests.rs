use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn cals() -> BTreeMap<Arc<str>, Arc<Calendar>> {
    let office = Calendar::new(
        "office",
        "Europe/Vienna",
        [("mon-fri", vec!["08:00-12:00", "13:00-17:00"])],
    )
    .unwrap();
    let always = Calendar::new(
        "always",
        "Europe/Vienna",
        [("mon-sun", vec!["00:00-24:00"])],
    )
    .unwrap();
    [office, always]
        .into_iter()
        .map(|c| (Arc::from(c.name()), Arc::new(c)))
        .collect()
}

fn policy(id: &str, calendar: &str, first: u32, next: u32, resolution: u32) -> PolicySnapshot {
    PolicySnapshot {
        id: id.into(),
        at: "sla.toml:1".into(),
        calendar: calendar.into(),
        calendar_at: None,
        targets: [Some(first), Some(next), Some(resolution)],
        follow_up: None,
        warn: vec![75, 90],
        escalations: vec![60],
    }
}

fn clock(s: &SlaState, m: Metric) -> &Clock {
    s.clocks.iter().rev().find(|c| c.metric == m).unwrap()
}

fn pending() -> ClockEvent {
    ClockEvent::Status {
        status: "pending-customer".into(),
        pauses: true,
    }
}

fn open() -> ClockEvent {
    ClockEvent::Status {
        status: "open".into(),
        pauses: false,
    }
}

#[test]
fn first_response_due_counts_office_hours_only() {
    let c = cals();
    // Friday 16:30 with a 2 h target: 30 min Friday, 90 min Monday → Monday 09:30.
    let s = SlaState::new(
        Some(policy("p", "office", 120, 240, 960)),
        at("2026-11-27T16:30:00+01:00"),
        &c,
    );
    assert_eq!(
        clock(&s, Metric::FirstResponse).due_at,
        Some(at("2026-11-30T09:30:00+01:00"))
    );
    assert_eq!(s.next_due(), Some(at("2026-11-30T09:30:00+01:00")));
    assert_eq!(s.summary(at("2026-11-30T09:00:00+01:00")), "running");
    assert_eq!(s.summary(at("2026-11-30T09:31:00+01:00")), "breached");
}

#[test]
fn pending_customer_pauses_resolution_clock() {
    let c = cals();
    let t0 = at("2026-11-23T09:00:00+01:00");
    let mut s = SlaState::new(Some(policy("p", "office", 60, 60, 8 * 60)), t0, &c);
    s.apply(&ClockEvent::AgentReply, at("2026-11-23T09:30:00+01:00"), &c);
    // Waiting for the customer from 10:00 Monday to 10:00 Tuesday: none of that counts.
    s.apply(&pending(), at("2026-11-23T10:00:00+01:00"), &c);
    let paused = clock(&s, Metric::Resolution);
    assert_eq!(paused.used_secs, 3600);
    assert_eq!(paused.due_at, None);
    assert_eq!(paused.state(at("2026-11-30T00:00:00Z")), ClockState::Paused);
    s.apply(&open(), at("2026-11-24T10:00:00+01:00"), &c);
    // The pause held 8 office hours (Monday 10–12, 13–17; Tuesday 8–10).
    assert_eq!(clock(&s, Metric::Resolution).paused_secs, 8 * 3600);
    // 7 h left from Tuesday 10:00: 2 h until 12:00, 4 h afternoon, 1 h Wednesday.
    assert_eq!(
        clock(&s, Metric::Resolution).due_at,
        Some(at("2026-11-25T09:00:00+01:00"))
    );
    let first = clock(&s, Metric::FirstResponse);
    assert_eq!(first.met, Some(true));
    assert_eq!(first.used_secs, 1800);
}

#[test]
fn resolution_records_met_or_breached_with_minutes_used() {
    let c = cals();
    let mut s = SlaState::new(
        Some(policy("p", "office", 60, 60, 120)),
        at("2026-11-23T09:00:00+01:00"),
        &c,
    );
    s.apply(
        &ClockEvent::Status {
            status: "resolved".into(),
            pauses: false,
        },
        at("2026-11-23T13:30:00+01:00"),
        &c,
    );
    let r = clock(&s, Metric::Resolution);
    assert_eq!(r.met, Some(false));
    assert_eq!(r.used_secs, (3 * 60 + 30) * 60);
    let v = s.view(at("2026-12-01T00:00:00Z"), &c);
    let rv = v.iter().find(|v| v.metric == Metric::Resolution).unwrap();
    assert_eq!(rv.state, ClockState::Breached);
    assert_eq!(rv.business_minutes_used, 210);
    assert_eq!(rv.business_minutes_remaining, -90);
    // Reopening continues the same clock with the time already used.
    s.apply(&open(), at("2026-11-24T08:00:00+01:00"), &c);
    let r = clock(&s, Metric::Resolution);
    assert_eq!(r.met, None);
    assert_eq!(r.used_secs, 210 * 60);
    assert_eq!(r.due_at, Some(at("2026-11-24T08:00:00+01:00")));
}

#[test]
fn reclassification_keeps_elapsed_and_paused_time() {
    let c = cals();
    let mut s = SlaState::new(
        Some(policy("slow", "office", 240, 240, 960)),
        at("2026-11-23T08:00:00+01:00"),
        &c,
    );
    s.apply(&pending(), at("2026-11-23T09:00:00+01:00"), &c);
    s.apply(&open(), at("2026-11-23T11:00:00+01:00"), &c);
    // At 11:30: 1 h before the pause + 30 min after it; the pause is not counted.
    s.apply(
        &ClockEvent::Policy {
            policy: Some(policy("fast", "always", 120, 60, 480)),
        },
        at("2026-11-23T11:30:00+01:00"),
        &c,
    );
    let f = clock(&s, Metric::FirstResponse);
    assert_eq!(f.used_secs, 90 * 60);
    assert_eq!(f.target_minutes, 120);
    assert_eq!(f.calendar, "always");
    // 30 minutes left, counted round the clock now.
    assert_eq!(f.due_at, Some(at("2026-11-23T12:00:00+01:00")));
}

#[test]
fn next_reply_starts_with_the_oldest_unanswered_customer_message() {
    let c = cals();
    let mut s = SlaState::new(
        Some(policy("p", "always", 60, 30, 960)),
        at("2026-11-23T09:00:00+01:00"),
        &c,
    );
    // Before the first response a customer message starts nothing.
    s.apply(
        &ClockEvent::CustomerMessage,
        at("2026-11-23T09:05:00+01:00"),
        &c,
    );
    assert!(!s.clocks.iter().any(|c| c.metric == Metric::NextReply));
    s.apply(&ClockEvent::AgentReply, at("2026-11-23T09:10:00+01:00"), &c);
    s.apply(
        &ClockEvent::CustomerMessage,
        at("2026-11-23T10:00:00+01:00"),
        &c,
    );
    s.apply(
        &ClockEvent::CustomerMessage,
        at("2026-11-23T10:20:00+01:00"),
        &c,
    );
    let n = clock(&s, Metric::NextReply);
    assert_eq!(
        (n.cycle, n.started_at),
        (1, at("2026-11-23T10:00:00+01:00"))
    );
    s.apply(&ClockEvent::AgentReply, at("2026-11-23T10:40:00+01:00"), &c);
    assert_eq!(clock(&s, Metric::NextReply).met, Some(false));
    s.apply(
        &ClockEvent::CustomerMessage,
        at("2026-11-23T11:00:00+01:00"),
        &c,
    );
    assert_eq!(clock(&s, Metric::NextReply).cycle, 2);
}

#[test]
fn alarms_fire_at_thresholds_breach_and_escalation() {
    let c = cals();
    let mut p = policy("p", "always", 100, 100, 1000);
    p.targets = [Some(100), None, None];
    let s = SlaState::new(Some(p), at("2026-11-23T09:00:00Z"), &c);
    let got: Vec<(String, DateTime<Utc>)> =
        s.alarms(&c).into_iter().map(|a| (a.level, a.at)).collect();
    assert_eq!(
        got,
        vec![
            ("warn-75".into(), at("2026-11-23T10:15:00Z")),
            ("warn-90".into(), at("2026-11-23T10:30:00Z")),
            ("breach".into(), at("2026-11-23T10:40:00Z")),
            ("escalate-1".into(), at("2026-11-23T11:40:00Z")),
        ]
    );
}

#[test]
fn replaying_the_events_gives_the_same_state() {
    let c = cals();
    let events = vec![
        (
            ClockEvent::Policy {
                policy: Some(policy("p", "office", 60, 30, 600)),
            },
            at("2026-11-23T16:00:00+01:00"),
        ),
        (ClockEvent::AgentReply, at("2026-11-24T08:20:00+01:00")),
        (pending(), at("2026-11-24T08:30:00+01:00")),
        (ClockEvent::CustomerMessage, at("2026-11-24T11:00:00+01:00")),
        (open(), at("2026-11-24T11:00:01+01:00")),
        (
            ClockEvent::Policy {
                policy: Some(policy("q", "always", 30, 20, 300)),
            },
            at("2026-11-24T11:30:00+01:00"),
        ),
    ];
    let mut live = SlaState::new(None, events[0].1, &c);
    live.policy = None;
    live.clocks.clear();
    for (e, t) in &events {
        live.apply(e, *t, &c);
    }
    let replayed = SlaState::replay(events.iter().map(|(e, t)| (e, *t)), &c);
    assert_eq!(replayed, live);
    // The state round-trips through its stored JSON form.
    let json = serde_json::to_string(&live).unwrap();
    assert_eq!(serde_json::from_str::<SlaState>(&json).unwrap(), live);
}

#[test]
fn a_late_automatic_answer_rejected_keeps_the_due_time_it_missed() {
    let c = cals();
    let t0 = at("2026-11-23T09:00:00+01:00");
    let mut s = SlaState::new(Some(policy("p", "always", 60, 60, 600)), t0, &c);
    // Answered automatically 90 minutes after arrival (the mail waited): already late.
    s.apply(&ClockEvent::AgentReply, at("2026-11-23T10:30:00+01:00"), &c);
    assert_eq!(clock(&s, Metric::FirstResponse).met, Some(false));
    s.apply(
        &ClockEvent::AnswerRejected,
        at("2026-11-23T10:40:00+01:00"),
        &c,
    );
    let f = clock(&s, Metric::FirstResponse);
    assert_eq!(f.due_at, Some(at("2026-11-23T10:00:00+01:00")));
    assert_eq!(
        f.state(at("2026-11-23T10:40:00+01:00")),
        ClockState::Breached
    );
}

#[test]
fn a_rejected_automatic_answer_leaves_the_first_response_clock_running_from_arrival() {
    let c = cals();
    let t0 = at("2026-11-23T09:00:00+01:00");
    let mut s = SlaState::new(Some(policy("p", "always", 60, 60, 600)), t0, &c);
    // Answered automatically a minute after arrival: first response met.
    s.apply(&ClockEvent::AgentReply, at("2026-11-23T09:01:00+01:00"), &c);
    assert_eq!(clock(&s, Metric::FirstResponse).met, Some(true));
    // Two hours later the customer says it did not help.
    s.apply(
        &ClockEvent::AnswerRejected,
        at("2026-11-23T11:01:00+01:00"),
        &c,
    );
    let f = clock(&s, Metric::FirstResponse);
    assert_eq!(f.met, None);
    assert_eq!(f.due_at, Some(at("2026-11-23T10:00:00+01:00")));
    assert_eq!(
        f.state(at("2026-11-23T11:01:00+01:00")),
        ClockState::Breached
    );
    // A customer message now starts no next-reply clock: nobody has answered yet.
    s.apply(
        &ClockEvent::CustomerMessage,
        at("2026-11-23T11:02:00+01:00"),
        &c,
    );
    assert!(!s.clocks.iter().any(|c| c.metric == Metric::NextReply));
}

fn answered() -> ClockEvent {
    ClockEvent::Status {
        status: "answered-automatically".into(),
        pauses: true,
    }
}

#[test]
fn an_automatic_answer_waits_for_the_verdict_without_using_the_resolution_target() {
    let c = cals();
    let t0 = at("2026-11-23T09:00:00+01:00");
    let start = |c: &BTreeMap<Arc<str>, Arc<Calendar>>| {
        let mut s = SlaState::new(Some(policy("p", "always", 60, 60, 600)), t0, c);
        // Answered automatically after 2 minutes; then the answer waits for the customer.
        let answer = at("2026-11-23T09:02:00+01:00");
        s.apply(&ClockEvent::AgentReply, answer, c);
        s.apply(&answered(), answer, c);
        s
    };
    // A week of silence: the resolution clock is paused, not breached.
    let week = at("2026-11-30T09:02:00+01:00");
    let mut silent = start(&c);
    let r = clock(&silent, Metric::Resolution);
    assert_eq!(r.state(week), ClockState::Paused);
    // Resolved then (by the worker, or "helped"): met with the two minutes to the answer.
    silent.apply(
        &ClockEvent::Status {
            status: "resolved".into(),
            pauses: false,
        },
        week,
        &c,
    );
    let r = clock(&silent, Metric::Resolution);
    assert_eq!((r.met, r.used_secs), (Some(true), 120));

    // "Did not help" after 20 hours: the customer waited all along, so the resolution clock
    // counts the 20 hours and runs on from there (the target of 10 hours is past).
    let mut rejected = start(&c);
    let verdict = at("2026-11-24T05:02:00+01:00");
    rejected.apply(&ClockEvent::AnswerRejected, verdict, &c);
    rejected.apply(&open(), verdict, &c);
    let r = clock(&rejected, Metric::Resolution);
    assert_eq!(r.used_secs, 20 * 3600 + 120);
    assert_eq!(r.due_at, Some(at("2026-11-23T19:00:00+01:00")));
    assert_eq!(r.state(verdict), ClockState::Breached);
}

fn follow_up_policy() -> PolicySnapshot {
    PolicySnapshot {
        follow_up: Some(7 * 24 * 60),
        ..policy("quote", "always", 72 * 60, 8 * 60, 30 * 24 * 60)
    }
}

#[test]
fn our_reply_starts_a_follow_up_that_waiting_for_the_customer_does_not_hold() {
    let c = cals();
    let mut s = SlaState::new(
        Some(follow_up_policy()),
        at("2026-12-01T09:00:00+01:00"),
        &c,
    );
    assert!(s.clocks.iter().all(|c| c.metric != Metric::FollowUp));
    // The quote goes out on Wednesday; the ticket then waits for the customer.
    s.apply(&ClockEvent::AgentReply, at("2026-12-02T10:00:00+01:00"), &c);
    s.apply(&pending(), at("2026-12-02T10:01:00+01:00"), &c);
    let f = clock(&s, Metric::FollowUp);
    assert_eq!((f.cycle, f.target_minutes), (1, 7 * 24 * 60));
    assert_eq!(f.due_at, Some(at("2026-12-09T10:00:00+01:00")));
    assert_eq!(
        f.state(at("2026-12-05T00:00:00+01:00")),
        ClockState::Running
    );
    assert_eq!(s.next_due(), Some(at("2026-12-09T10:00:00+01:00")));
    // The other clocks are held while the customer owes the answer.
    assert_eq!(
        clock(&s, Metric::Resolution).state(at("2026-12-05T00:00:00+01:00")),
        ClockState::Paused
    );
    let alarms: Vec<String> = s
        .alarms(&c)
        .into_iter()
        .filter(|a| a.metric == Metric::FollowUp)
        .map(|a| format!("{} {}", a.level, a.at.to_rfc3339()))
        .collect();
    assert_eq!(
        alarms,
        [
            "warn-75 2026-12-07T15:00:00+00:00",
            "warn-90 2026-12-08T16:12:00+00:00",
            "breach 2026-12-09T09:00:00+00:00",
            "escalate-1 2026-12-09T10:00:00+00:00",
        ]
    );
    // Nobody answered: our follow-up on day 8 is late, and waits for the customer again.
    s.apply(&ClockEvent::AgentReply, at("2026-12-10T10:00:00+01:00"), &c);
    let first = s
        .clocks
        .iter()
        .find(|c| c.metric == Metric::FollowUp && c.cycle == 1)
        .unwrap();
    assert_eq!(first.met, Some(false));
    let second = clock(&s, Metric::FollowUp);
    assert_eq!(
        (second.cycle, second.due_at),
        (2, Some(at("2026-12-17T10:00:00+01:00")))
    );
    // The customer answers: nothing is left to follow up, and no verdict is counted.
    s.apply(
        &ClockEvent::CustomerMessage,
        at("2026-12-11T08:00:00+01:00"),
        &c,
    );
    assert_eq!(
        clock(&s, Metric::FollowUp).state(at("2026-12-20T00:00:00+01:00")),
        ClockState::Ended
    );
    assert!(s.alarms(&c).iter().all(|a| a.metric != Metric::FollowUp));
    // The customer's message opened a next-reply cycle as before.
    assert_eq!(clock(&s, Metric::NextReply).cycle, 1);
}

#[test]
fn a_follow_up_in_time_is_met_and_resolving_the_ticket_ends_the_next_one() {
    let c = cals();
    let mut s = SlaState::new(
        Some(follow_up_policy()),
        at("2026-12-01T09:00:00+01:00"),
        &c,
    );
    s.apply(&ClockEvent::AgentReply, at("2026-12-01T10:00:00+01:00"), &c);
    s.apply(&ClockEvent::AgentReply, at("2026-12-05T10:00:00+01:00"), &c);
    let first = s
        .clocks
        .iter()
        .find(|c| c.metric == Metric::FollowUp && c.cycle == 1)
        .unwrap();
    assert_eq!(first.met, Some(true));
    s.apply(
        &ClockEvent::Status {
            status: "resolved".into(),
            pauses: false,
        },
        at("2026-12-06T10:00:00+01:00"),
        &c,
    );
    assert_eq!(
        clock(&s, Metric::FollowUp).state(at("2026-12-20T00:00:00+01:00")),
        ClockState::Ended
    );
    // A policy without follow-up starts none.
    let mut plain = SlaState::new(
        Some(policy("p", "always", 60, 60, 600)),
        at("2026-12-01T09:00:00+01:00"),
        &c,
    );
    plain.apply(&ClockEvent::AgentReply, at("2026-12-01T10:00:00+01:00"), &c);
    assert!(plain.clocks.iter().all(|c| c.metric != Metric::FollowUp));
}

#[test]
fn snapshots_kept_before_follow_ups_existed_still_read() {
    let old = r#"{"id":"p","at":"sla.toml:1","calendar":"office","targets":[60,null,600],"warn":[],"escalations":[]}"#;
    let p: PolicySnapshot = serde_json::from_str(old).unwrap();
    assert_eq!(
        (p.target(Metric::FirstResponse), p.target(Metric::FollowUp)),
        (Some(60), None)
    );
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("follow_up"), "{json}");
}
