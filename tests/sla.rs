//! SLA clocks, notifications and the compliance report through the real HTTP server and the
//! real database (SQLite always, PostgreSQL when `TRIAGE_TEST_DATABASE_URL` is set), with
//! `triage worker` processes and a real local webhook receiver.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing;
use chrono::{DateTime, Utc};
use common::{
    client, clock, each_backend, get_json, post, post_ticket, rules_with_sla, time, TestServer,
};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use triage::api::ApiConfig;
use triage::sla::{ClockEvent, SlaState};

const SECRET: &str = "test-secret";

fn sla_toml(hook: &str, max_attempts: u32) -> String {
    format!(
        r#"
[sla]
pause-statuses = ["pending-vendor"]
warn = [50]
warn-notify = ["queue"]
breach-notify = ["queue", "webhook:hook"]

[webhook.hook]
url = "{hook}"
secret = "{SECRET}"
max-attempts = {max_attempts}
retry-after = "1s"

[[policy]]
id = "standard"
first-response = "120m"
next-reply = "60m"
resolution = "240m"
calendar = "always"
escalate = [{{ after = "10m", notify = ["role:duty-manager"] }}]
"#
    )
}

/// The same policy, but a faster one first that every ticket matches.
fn faster_sla_toml() -> String {
    sla_toml("http://127.0.0.1:9/unused", 3).replace(
        "[[policy]]\nid = \"standard\"",
        "[[policy]]\nid = \"fast\"\nfirst-response = \"60m\"\nresolution = \"120m\"\ncalendar = \"always\"\n\n[[policy]]\nid = \"standard\"",
    )
}

fn mail(received: DateTime<Utc>) -> Value {
    json!({
        "channel": "email",
        "subject": "Drucker im 2. Stock druckt nicht",
        "body": "Seit heute Morgen kommt nichts mehr aus dem Drucker.",
        "from": {"email": "m.huber@gemeinde-lannach.example"},
        "received_at": received.to_rfc3339(),
    })
}

fn ago(minutes: i64) -> DateTime<Utc> {
    let t = Utc::now() - chrono::Duration::minutes(minutes);
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

/// The first-response clock of a ticket just moved to a policy with `target` minutes, after
/// 30 minutes under another: 30 used, 30 left (whole minutes adding up to the target), due
/// 30 minutes after the move.
fn thirty_used_thirty_left(r: &Value, target: u32) {
    let f = clock(r, "first_response");
    assert_eq!(f["target_minutes"], target);
    assert_eq!(f["business_minutes_used"], 30, "{f}");
    assert_eq!(f["business_minutes_remaining"], target - 30, "{f}");
    let left = time(&f["due_at"]) - time(&r["updated_at"]);
    let expected = chrono::Duration::minutes(i64::from(target) - 30);
    assert!((left - expected).num_seconds().abs() <= 2, "{left}");
}

/// The clock changes recorded in a ticket's events, with their times.
fn clock_events(events: &[triage::store::EventRecord]) -> Vec<(ClockEvent, DateTime<Utc>)> {
    events
        .iter()
        .filter(|e| !e.data["clock"].is_null())
        .map(|e| {
            let c = serde_json::from_value(e.data["clock"].clone()).unwrap();
            (c, time(&e.data["clock_at"]))
        })
        .collect()
}

#[tokio::test]
async fn pending_customer_pauses_and_resuming_moves_the_due_time() {
    each_backend(async |db| {
        let (_dir, rules) = rules_with_sla(&sla_toml("http://127.0.0.1:9/unused", 3));
        let server = TestServer::start_with_rules(db, ApiConfig::default(), rules).await;
        let received = ago(60);
        let (status, _, t) = post_ticket(&server.base, &mail(received), None).await;
        assert_eq!(status, 201, "{t}");
        assert_eq!(t["sla"]["policy"], "standard");
        let first = clock(&t, "first_response");
        assert_eq!(first["state"], "running");
        assert_eq!(first["calendar"], "always");
        let due_before = time(&first["due_at"]);
        assert_eq!(due_before, received + chrono::Duration::minutes(120));
        assert_eq!(time(&t["sla"]["due_at"]), due_before);
        let url = server.url(&format!(
            "/api/v1/tickets/{}/status",
            t["number"].as_str().unwrap()
        ));

        let (status, paused) = post(url.clone(), json!({"status": "pending-customer"})).await;
        assert_eq!(status, 200, "{paused}");
        assert_eq!(paused["status"], "pending-customer");
        assert_eq!(paused["sla"]["state"], "paused");
        let p = clock(&paused, "first_response");
        assert_eq!(
            (p["state"].as_str(), p["due_at"].is_null()),
            (Some("paused"), true)
        );
        assert_eq!(p["business_minutes_used"], 60);
        // Two hours pass while the ticket waits for the customer: paused time is not
        // counted, still 60 minutes used.
        server.state.clock().advance(chrono::Duration::hours(2));
        let (_, still) =
            get_json(&server.url(&format!("/api/v1/tickets/{}", t["id"].as_str().unwrap()))).await;
        assert_eq!(clock(&still, "first_response")["business_minutes_used"], 60);

        let (status, resumed) = post(url.clone(), json!({"status": "open"})).await;
        assert_eq!(status, 200, "{resumed}");
        let r = clock(&resumed, "first_response");
        assert_eq!(r["state"], "running");
        let pause = time(&resumed["updated_at"]) - time(&paused["updated_at"]);
        let moved = time(&r["due_at"]) - due_before;
        assert!(
            moved >= pause - chrono::Duration::seconds(1)
                && moved <= pause + chrono::Duration::seconds(1),
            "the due time moved by {moved} for a pause of {pause}"
        );
        assert!(moved >= chrono::Duration::hours(2), "{moved}");

        // Unknown status, empty reply, and a closed ticket are refused with a reason.
        let (status, body) = post(url.clone(), json!({"status": "waiting"})).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("status")),
            "{body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains("pending-vendor"),
            "{body}"
        );
        let replies = url.replace("/status", "/replies");
        let (status, body) = post(replies.clone(), json!({"body": "  "})).await;
        assert_eq!(status, 422, "{body}");
        let (status, _) = post(url.clone(), json!({"status": "closed"})).await;
        assert_eq!(status, 200);
        let (status, body) = post(replies, json!({"body": "Hallo"})).await;
        assert_eq!(status, 409, "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("closed"),
            "{body}"
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn reclassification_keeps_the_time_already_used() {
    each_backend(async |db| {
        let (_dir, rules) = rules_with_sla(&sla_toml("http://127.0.0.1:9/unused", 3));
        let server = TestServer::start_with_rules(db, ApiConfig::default(), rules).await;
        let (_, _, t) = post_ticket(&server.base, &mail(ago(30)), None).await;
        assert_eq!(clock(&t, "first_response")["target_minutes"], 120);
        let (_dir2, faster) = rules_with_sla(&faster_sla_toml());
        server.state.set_rules(faster);
        let (status, r) = post(
            server.url(&format!(
                "/api/v1/tickets/{}/reclassify",
                t["id"].as_str().unwrap()
            )),
            json!({}),
        )
        .await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["sla"]["policy"], "fast");
        // Due 30 minutes after the reclassification, not 60 after it nor at creation + 60.
        thirty_used_thirty_left(&r, 60);
        // The new policy measures no next reply; resolution keeps its 30 minutes as well.
        assert_eq!(clock(&r, "resolution")["business_minutes_used"], 30);
        let (_, events) = get_json(&server.url(&format!(
            "/api/v1/tickets/{}/events",
            t["id"].as_str().unwrap()
        )))
        .await;
        let re = events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "reclassified")
            .unwrap();
        assert_eq!(re["data"]["clock"]["policy"]["id"], "fast");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn replies_messages_report_and_due_filters() {
    each_backend(async |db| {
        let (_dir, rules) = rules_with_sla(&sla_toml("http://127.0.0.1:9/unused", 3));
        let server = TestServer::start_with_rules(db, ApiConfig::default(), rules).await;
        // A: answered after 30 minutes (met), then a customer message.
        let (_, _, a) = post_ticket(&server.base, &mail(ago(30)), None).await;
        // B: not answered for 200 minutes (breached).
        let (_, _, b) = post_ticket(&server.base, &mail(ago(200)), None).await;
        // C: fresh.
        let (_, _, c) = post_ticket(&server.base, &mail(ago(1)), None).await;
        let path = |t: &Value, what: &str| {
            server.url(&format!(
                "/api/v1/tickets/{}/{what}",
                t["number"].as_str().unwrap()
            ))
        };
        let (status, a2) = post(
            path(&a, "replies"),
            json!({"body": "Wir schauen uns das an."}),
        )
        .await;
        assert_eq!(status, 200, "{a2}");
        let f = clock(&a2, "first_response");
        assert_eq!(
            (f["state"].as_str(), f["business_minutes_used"].as_i64()),
            (Some("met"), Some(30))
        );
        let (_, a3) = post(
            path(&a, "messages"),
            json!({"body": "Danke, es geht wieder nicht."}),
        )
        .await;
        let n = clock(&a3, "next_reply");
        assert_eq!(
            (
                n["state"].as_str(),
                n["cycle"].as_i64(),
                n["target_minutes"].as_i64()
            ),
            (Some("running"), Some(1), Some(60))
        );
        // A note moves no clock.
        let (_, a4) = post(
            path(&a, "replies"),
            json!({"body": "intern: Techniker informiert", "internal": true}),
        )
        .await;
        assert_eq!(clock(&a4, "next_reply")["state"], "running");
        let (_, b2) = post(
            path(&b, "replies"),
            json!({"body": "Entschuldigung für die Wartezeit."}),
        )
        .await;
        assert_eq!(clock(&b2, "first_response")["state"], "breached");
        assert_eq!(clock(&b2, "first_response")["business_minutes_used"], 200);

        // What breaches next: running clocks due before a moment, soonest first.
        let soon = (Utc::now() + chrono::Duration::minutes(150)).to_rfc3339();
        let (status, page) = get_json(&format!(
            "{}?due_before={}",
            server.url("/api/v1/tickets"),
            urlencode(&soon)
        ))
        .await;
        assert_eq!(status, 200, "{page}");
        let numbers: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["number"].as_str().unwrap())
            .collect();
        // B's resolution is due in 40 minutes, A's next reply in an hour, C's first response
        // in about two hours.
        assert_eq!(numbers, ["T-000002", "T-000001", "T-000003"], "{page}");
        let (_, page) = get_json(&format!(
            "{}?due_before={}&limit=1",
            server.url("/api/v1/tickets"),
            urlencode(&soon)
        ))
        .await;
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        let (_, page2) = get_json(&format!(
            "{}?due_before={}&limit=5&cursor={cursor}",
            server.url("/api/v1/tickets"),
            urlencode(&soon)
        ))
        .await;
        assert_eq!(page2["items"][0]["number"], "T-000001", "{page2}");
        let (_, breached) = get_json(&server.url("/api/v1/tickets?sla_state=breached")).await;
        let numbers: Vec<&str> = breached["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["number"].as_str().unwrap())
            .collect();
        assert_eq!(numbers, ["T-000002"], "{breached}");
        let (status, body) = get_json(&server.url("/api/v1/tickets?sla_state=late")).await;
        assert_eq!(status, 422, "{body}");
        let _ = c;

        // The report: 1 met and 1 breached first response, 1 still open.
        let (status, report) = get_json(&server.url("/api/v1/sla/report?group_by=policy")).await;
        assert_eq!(status, 200, "{report}");
        let row = &report[0];
        assert_eq!(row["group"], "standard");
        assert_eq!(row["tickets"], 3);
        let fr = &row["first_response"];
        assert_eq!(
            (
                fr["met"].as_i64(),
                fr["breached"].as_i64(),
                fr["open"].as_i64()
            ),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(fr["attainment_pct"], 50.0);
        assert_eq!(fr["median_minutes"], 30);
        assert_eq!(fr["p90_minutes"], 200);
        let csv = common::get_csv(&server.url("/api/v1/sla/report?group_by=segment")).await;
        assert!(csv.starts_with("group,tickets,attainment_pct,"), "{csv}");
        assert!(
            csv.lines().nth(1).unwrap().starts_with("administrative,3,"),
            "{csv}"
        );
        let (status, body) = get_json(&server.url("/api/v1/sla/report?group_by=weather")).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("group_by")),
            "{body}"
        );
        server.stop().await;
    })
    .await;
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn clocks_are_recomputed_from_the_events() {
    each_backend(async |db| {
        let (_dir, rules) = rules_with_sla(&sla_toml("http://127.0.0.1:9/unused", 3));
        let server = TestServer::start_with_rules(db, ApiConfig::default(), rules.clone()).await;
        let (_, _, t) = post_ticket(&server.base, &mail(ago(45)), None).await;
        let key = t["number"].as_str().unwrap();
        let p = |w: &str| server.url(&format!("/api/v1/tickets/{key}/{w}"));
        post(
            p("replies"),
            json!({"body": "Frage: welches Modell?", "status": "pending-customer"}),
        )
        .await;
        post(p("messages"), json!({"body": "HP LaserJet 4250"})).await;
        post(p("status"), json!({"status": "pending-vendor"})).await;
        post(p("status"), json!({"status": "resolved"})).await;
        let record = server.state.desk.store.get(key).await.unwrap();
        let stored: SlaState = serde_json::from_value(record.sla.clone().unwrap()).unwrap();
        let events = server.state.desk.store.events(record.id).await.unwrap();
        let clock_events = clock_events(&events);
        assert_eq!(clock_events.len(), 7, "{events:?}");
        let replayed =
            SlaState::replay(clock_events.iter().map(|(e, t)| (e, *t)), &rules.calendars);
        assert_eq!(replayed, stored);
        assert_eq!(stored.status, "resolved");
        server.stop().await;
    })
    .await;
}

/// A webhook receiver: `/ok` accepts, `/flaky` fails the first two attempts of each
/// delivery, `/down` always fails. Records every request with whether its signature holds.
/// Path, delivery id, whether the signature holds, body.
type Received = (String, i64, bool, Value);

#[derive(Clone, Default)]
struct Receiver {
    log: Arc<Mutex<Vec<Received>>>,
    attempts: Arc<Mutex<HashMap<i64, u32>>>,
}

async fn receive(
    State(r): State<Receiver>,
    Path(mode): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{}.", h("x-triage-timestamp")).as_bytes());
    mac.update(&body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let valid = h("x-triage-signature") == format!("sha256={expected}");
    let id: i64 = h("x-triage-delivery").parse().unwrap_or(-1);
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.log
        .lock()
        .unwrap()
        .push((mode.clone(), id, valid, payload));
    let n = {
        let mut a = r.attempts.lock().unwrap();
        let n = a.entry(id).or_default();
        *n += 1;
        *n
    };
    match mode.as_str() {
        "ok" => StatusCode::OK,
        "flaky" if n > 2 => StatusCode::NO_CONTENT,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn start_receiver() -> (String, Receiver) {
    let r = Receiver::default();
    let app = axum::Router::new()
        .route("/{mode}", routing::post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, r)
}

async fn notifications(server: &TestServer, query: &str) -> Vec<Value> {
    let (status, body) =
        get_json(&server.url(&format!("/api/v1/notifications?limit=500{query}"))).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

#[tokio::test]
async fn alarms_fire_exactly_once_with_two_worker_processes() {
    each_backend(async |db| {
        let (hook, receiver) = start_receiver().await;
        let (dir, rules) = rules_with_sla(&sla_toml(&format!("{hook}/ok"), 3));
        let server = TestServer::start_with_rules(db, ApiConfig::default(), rules).await;
        // Five tickets that breached long ago: the workers catch up on all their alarms.
        for _ in 0..5 {
            let (status, _, _) = post_ticket(&server.base, &mail(ago(24 * 60)), None).await;
            assert_eq!(status, 201);
        }
        let workers = common::Workers::start(&db.url, dir.path(), &[]);
        // Per ticket and metric (first response, resolution): breach to the queue and the
        // webhook, escalation to the duty manager; the 50% warning is left out because the
        // clock has breached as well.
        let expected = 5 * 2 * 3;
        for _ in 0..300 {
            let rows = notifications(&server, "").await;
            let delivered = rows.iter().filter(|n| n["status"] == "delivered").count();
            if rows.len() >= expected && delivered == 10 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Let both workers run on for a while: nothing more may appear.
        tokio::time::sleep(Duration::from_millis(600)).await;
        drop(workers);
        let rows = notifications(&server, "").await;
        assert_eq!(rows.len(), expected, "{rows:#?}");
        let mut keys: Vec<String> = rows
            .iter()
            .map(|n| {
                format!(
                    "{} {} {} {}",
                    n["ticket_id"], n["metric"], n["level"], n["target"]
                )
            })
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), expected);
        assert_eq!(rows.iter().filter(|n| n["level"] == "breach").count(), 20);
        assert_eq!(
            rows.iter()
                .filter(|n| n["target"] == "role:duty-manager")
                .count(),
            10
        );
        assert!(rows.iter().all(|n| n["level"] != "warn-50"));
        let recorded = rows.iter().filter(|n| n["status"] == "recorded").count();
        assert_eq!(recorded, 20);
        // Each webhook notification reached the receiver once, correctly signed.
        let log = receiver.log.lock().unwrap().clone();
        assert_eq!(log.len(), 10, "{log:#?}");
        assert!(log.iter().all(|(_, _, valid, _)| *valid));
        let mut ids: Vec<i64> = log.iter().map(|(_, id, _, _)| *id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 10);
        assert_eq!(log[0].3["notification"]["event"], "sla.breach");
        // Every notification is also an event on its ticket.
        let t = rows[0]["ticket_id"].as_str().unwrap();
        let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{t}/events"))).await;
        let sla_events = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"].as_str().unwrap().starts_with("sla."))
            .count();
        assert_eq!(sla_events, 6, "{events}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn webhooks_are_retried_with_backoff_and_kept_as_dead_letters() {
    each_backend(async |db| {
        let (hook, receiver) = start_receiver().await;
        // Ticket 1 goes to a flaky receiver (succeeds on the third attempt); ticket 2 to one
        // that is down (dead letter after 3 attempts).
        let (_dir, flaky) = rules_with_sla(&sla_toml(&format!("{hook}/flaky"), 3));
        let server = TestServer::start_with_rules(db, ApiConfig::default(), flaky.clone()).await;
        let (_, _, t1) = post_ticket(&server.base, &mail(ago(24 * 60)), None).await;
        // The worker's clock moves a quarter second per round: no test time is slept away.
        let config = triage::worker::WorkerConfig {
            lease: Duration::from_secs(30),
            ..Default::default()
        };
        let step = chrono::Duration::milliseconds(250);
        let http = triage::worker::http_client(&config);
        let store = &server.state.desk.store;
        let start = config.clock.now();
        // Ticket 1: rounds until both webhook notifications are delivered.
        let mut rows = Vec::new();
        for _ in 0..200 {
            triage::worker::round(store, &flaky, &config, &http, None, config.clock.now())
                .await
                .unwrap();
            rows = notifications(&server, "&target=webhook:hook").await;
            if rows.len() == 2 && rows.iter().all(|n| n["status"] == "delivered") {
                break;
            }
            config.clock.advance(step);
        }
        assert!(
            rows.iter()
                .all(|n| n["status"] == "delivered" && n["attempts"] == 3),
            "{rows:#?}"
        );
        // Backoff: 1 s after the first failure, 2 s after the second, on the worker's clock.
        let waited = config.clock.now() - start;
        assert!(waited >= chrono::Duration::seconds(3), "{waited}");
        assert!(waited < chrono::Duration::seconds(4), "{waited}");
        let log = receiver.log.lock().unwrap().clone();
        assert_eq!(log.len(), 6);
        assert!(log
            .iter()
            .all(|(mode, _, valid, _)| mode == "flaky" && *valid));

        let (_dir2, down) = rules_with_sla(&sla_toml(&format!("{hook}/down"), 2));
        server.state.set_rules(down.clone());
        let (_, _, t2) = post_ticket(&server.base, &mail(ago(24 * 60)), None).await;
        let ticket2 = format!("&ticket={}", t2["id"].as_str().unwrap());
        for _ in 0..200 {
            triage::worker::round(store, &down, &config, &http, None, config.clock.now())
                .await
                .unwrap();
            rows = notifications(&server, &format!("&target=webhook:hook{ticket2}")).await;
            if rows.len() == 2 && rows.iter().all(|n| n["status"] == "dead") {
                break;
            }
            config.clock.advance(step);
        }
        assert!(
            rows.iter()
                .all(|n| n["status"] == "dead" && n["attempts"] == 2),
            "{rows:#?}"
        );
        assert!(
            rows[0]["last_error"].as_str().unwrap().contains("503"),
            "{rows:#?}"
        );
        let dead = notifications(&server, "&status=dead").await;
        assert_eq!(dead.len(), 2);
        let (_, events) = get_json(&server.url(&format!(
            "/api/v1/tickets/{}/events",
            t2["id"].as_str().unwrap()
        )))
        .await;
        let dead_events = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "notification.dead")
            .count();
        assert_eq!(dead_events, 2, "{events}");
        let _ = t1;
        server.stop().await;
    })
    .await;
}

/// Policies by organisation, customer tag and queue; the queue's targets follow a transfer.
fn team_sla_toml() -> &'static str {
    r#"
[[policy]]
id = "alpen-contract"
when = { organisation = "Alpen Logistik GmbH" }
first-response = "30m"
calendar = "always"

[[policy]]
id = "hospitals"
when = { customer-tag = "hospital" }
first-response = "45m"
calendar = "always"

[[policy]]
id = "billing-team"
when = { queue = "billing" }
first-response = "60m"
resolution = "600m"
calendar = "always"

[[policy]]
id = "standard"
first-response = "120m"
resolution = "240m"
calendar = "always"
"#
}

fn from(email: &str, received: DateTime<Utc>) -> Value {
    let mut m = mail(received);
    m["from"]["email"] = json!(email);
    m
}

#[tokio::test]
async fn policies_condition_on_organisation_customer_tag_and_queue() {
    each_backend(async |db| {
        let (_dir, rules) = rules_with_sla(team_sla_toml());
        let server = TestServer::start_with_rules(db, ApiConfig::default(), rules).await;
        for (sender, policy, target) in [
            ("einkauf@alpen-logistik.example", "alpen-contract", 30),
            ("it@lkh-nord.example", "hospitals", 45),
            ("m.huber@gemeinde-lannach.example", "standard", 120),
        ] {
            let (s, _, t) = post_ticket(&server.base, &from(sender, ago(5)), None).await;
            assert_eq!(s, 201, "{t}");
            assert_eq!(t["sla"]["policy"], policy, "{sender}: {}", t["sla"]);
            assert_eq!(clock(&t, "first_response")["target_minutes"], target);
        }

        // Thirty minutes in the service desk under "standard", then to the billing team.
        let (_, _, t) = post_ticket(&server.base, &mail(ago(30)), None).await;
        assert_eq!(t["decision"]["queue"], "service-desk");
        let key = t["number"].as_str().unwrap().to_owned();
        let transfer = |queue: &str| {
            post(
                server.url(&format!("/api/v1/tickets/{key}/transfer")),
                json!({"queue": queue, "reason": "a billing question after all"}),
            )
        };
        let (s, r) = transfer("billing").await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["sla"]["policy"], "billing-team", "{}", r["sla"]);
        // Due 30 minutes after the transfer: the time used stays used.
        thirty_used_thirty_left(&r, 60);
        let res = clock(&r, "resolution");
        assert_eq!(res["target_minutes"], 600);
        assert_eq!(res["business_minutes_used"], 30, "{res}");

        // Back to the service desk: its policy again, the same time used.
        let (s, r) = transfer("service-desk").await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["sla"]["policy"], "standard");
        assert_eq!(clock(&r, "first_response")["target_minutes"], 120);
        assert_eq!(clock(&r, "first_response")["business_minutes_used"], 30);

        // The transfers are in the events, so the clocks replay to what is stored.
        let record = server.state.desk.store.get(&key).await.unwrap();
        let stored: SlaState = serde_json::from_value(record.sla.clone().unwrap()).unwrap();
        let events = server.state.desk.store.events(record.id).await.unwrap();
        let moved: Vec<&str> = events
            .iter()
            .filter(|e| e.kind == "transferred")
            .map(|e| e.data["clock"]["policy"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(moved, ["billing-team", "standard"]);
        let clock_events = clock_events(&events);
        let rules = server.state.rules();
        let replayed =
            SlaState::replay(clock_events.iter().map(|(e, t)| (e, *t)), &rules.calendars);
        assert_eq!(replayed, stored);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_customer_with_its_own_calendar_is_served_in_its_hours() {
    each_backend(async |db| {
        // The shipped rules: Northwind (London) has the london-office calendar, Müller &
        // Partner (Vienna) none; both are commercial, served in the extended window.
        let server = TestServer::start(db).await;
        let tuesday_8_utc: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
        let ask = |email: &str| {
            json!({
                "channel": "email",
                "subject": "Contract amendment",
                "body": "We would like to add a second site to our framework contract. Who can prepare the amendment?",
                "from": {"email": email},
                "received_at": tuesday_8_utc.to_rfc3339(),
            })
        };
        let (s, _, london) = post_ticket(&server.base, &ask("buyer@northwind.example"), None).await;
        assert_eq!(s, 201, "{london}");
        assert_eq!(london["organisation"], "Northwind Traders Ltd");
        assert_eq!(london["sla"]["policy"], "commercial", "{}", london["sla"]);
        assert_eq!(london["sla"]["calendar"], "london-office");
        let row = london["sla"]["calendar_at"].as_str().unwrap();
        assert!(row.contains("customers.csv:"), "{row}");
        let f = clock(&london, "first_response");
        assert_eq!(f["calendar"], "london-office");
        // London opens at 09:00 (UTC in winter): four hours of its day end at 13:00.
        assert_eq!(time(&f["due_at"]), "2026-12-01T13:00:00Z".parse::<DateTime<Utc>>().unwrap());

        let (_, _, vienna) =
            post_ticket(&server.base, &ask("kanzlei@mueller-partner.example"), None).await;
        assert_eq!(vienna["sla"]["policy"], "commercial");
        assert_eq!(vienna["sla"]["calendar"], "extended");
        assert!(vienna["sla"]["calendar_at"].is_null());
        // Vienna's extended window is open at 09:00 local (08:00 UTC): due at 12:00 UTC.
        let f = clock(&vienna, "first_response");
        assert_eq!(time(&f["due_at"]), "2026-12-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap());
        server.stop().await;
    })
    .await;
}

/// A quote request under the shipped rules, from a commercial customer.
fn quote_request(subject: &str) -> Value {
    json!({
        "channel": "email",
        "subject": subject,
        "body": "Bitte senden Sie uns ein Angebot für 20 Lizenzen inklusive Wartung.",
        "from": {"email": "kanzlei@mueller-partner.example"},
    })
}

#[tokio::test]
async fn a_follow_up_after_our_reply_fires_once_for_its_owner_unless_the_customer_answers() {
    each_backend(async |db| {
        let rules = common::shipped_rules();
        let server = TestServer::start_with_rules(db, ApiConfig::default(), rules.clone()).await;
        let (_, _, a) = post_ticket(&server.base, &quote_request("Angebot Lizenzen"), None).await;
        let (_, _, b) = post_ticket(&server.base, &quote_request("Angebot Wartung"), None).await;
        assert_eq!(a["sla"]["policy"], "quote", "{a}");
        assert_eq!(clock(&a, "first_response")["target_minutes"], 72 * 60);
        assert!(a["sla"]["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["metric"] != "follow_up"));
        let path = |t: &Value, what: &str| {
            server.url(&format!(
                "/api/v1/tickets/{}/{what}",
                t["number"].as_str().unwrap()
            ))
        };
        // Anna owns A.
        let resp = client()
            .put(server.url("/api/v1/agents/anna"))
            .json(&json!({"name": "Anna", "capacity": 5, "presence": "away"}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        let (status, v) = post(path(&a, "assign"), json!({"agent": "anna"})).await;
        assert_eq!(status, 200, "{v}");
        // The quotes go out; both tickets now wait for the customer.
        for t in [&a, &b] {
            let (status, r) =
                post(path(t, "replies"), json!({"body": "Anbei unser Angebot."})).await;
            assert_eq!(status, 200, "{r}");
            let f = clock(&r, "follow_up");
            assert_eq!(
                (f["state"].as_str(), f["target_minutes"].as_i64()),
                (Some("running"), Some(7 * 24 * 60)),
                "{f}"
            );
            let wait = time(&f["due_at"]) - time(&r["updated_at"]);
            assert!(
                (wait - chrono::Duration::days(7)).num_seconds().abs() <= 2,
                "{wait}"
            );
            let (status, r) = post(path(t, "status"), json!({"status": "pending-customer"})).await;
            assert_eq!(status, 200, "{r}");
            assert_eq!(
                clock(&r, "follow_up")["state"],
                "running",
                "waiting for the customer does not hold it"
            );
        }
        // B's customer answers: nothing is left to follow up there.
        let (status, r) = post(
            path(&b, "messages"),
            json!({"body": "Danke, wir prüfen das Angebot."}),
        )
        .await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(clock(&r, "follow_up")["state"], "ended", "{r}");

        // The compliance report counts both tickets once, and A's follow-up as open (B's
        // ended with the customer's answer: no verdict).
        let (status, report) = get_json(&server.url("/api/v1/sla/report?group_by=policy")).await;
        assert_eq!(status, 200, "{report}");
        let quote = report["rows"]
            .as_array()
            .or_else(|| report.as_array())
            .unwrap()
            .iter()
            .find(|r| r["group"] == "quote")
            .unwrap_or_else(|| panic!("{report}"))
            .clone();
        assert_eq!(quote["tickets"], 2, "{quote}");
        let f = &quote["follow_up"];
        assert_eq!(
            (
                f["open"].as_u64(),
                f["met"].as_u64(),
                f["breached"].as_u64()
            ),
            (Some(1), Some(0), Some(0)),
            "{quote}"
        );
        assert_eq!(quote["first_response"]["met"], 2, "{quote}");

        // Eight days on, two workers on their own connections sweep at the same moment, twice.
        let later = Utc::now() + chrono::Duration::days(8);
        let config = triage::worker::WorkerConfig::default();
        let http = triage::worker::http_client(&config);
        let other = triage::store::Store::connect(&db.url).await.unwrap();
        let store = &server.state.desk.store;
        for _ in 0..2 {
            let (x, y) = tokio::join!(
                triage::worker::round(store, &rules, &config, &http, None, later),
                triage::worker::round(&other, &rules, &config, &http, None, later),
            );
            x.unwrap();
            y.unwrap();
        }
        let rows = notifications(&server, "").await;
        let mut got: Vec<String> = rows
            .iter()
            .map(|n| {
                format!(
                    "{} {} {} {}",
                    n["ticket_id"].as_str().unwrap(),
                    n["metric"],
                    n["level"],
                    n["target"]
                )
            })
            .collect();
        got.sort();
        let a_id = a["id"].as_str().unwrap();
        // The warnings are left out: the breach says more. Anna hears of it, and the sales lead.
        assert_eq!(
            got,
            [
                format!("{a_id} \"follow_up\" \"breach\" \"agent:anna\""),
                format!("{a_id} \"follow_up\" \"breach\" \"role:sales-lead\""),
            ],
            "{rows:#?}"
        );
        let (_, owed) = get_json(&server.url("/api/v1/notifications?target=agent:anna")).await;
        assert_eq!(owed.as_array().unwrap().len(), 1, "{owed}");
        server.stop().await;
    })
    .await;
}
