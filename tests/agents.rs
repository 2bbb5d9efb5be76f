//! The agent workflow through the real server and database (SQLite, and PostgreSQL when
//! `TRIAGE_TEST_DATABASE_URL` is set): agents, presence, a queue's work list, claim, assign,
//! transfer, "my tickets", and two agents racing for one ticket.

mod common;

use common::{client, client_with, each_backend, get_json, post_ticket, TestServer};
use serde_json::{json, Value};
use triage::model::Role;

async fn send(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
    if_match: Option<&str>,
) -> (u16, Value) {
    let mut req = c.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(tag) = if_match {
        req = req.header("If-Match", tag);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn agents_claim_assign_and_transfer_with_their_names_on_it() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        for (id, cap) in [("eva", 2), ("max", 1)] {
            server
                .state
                .desk
                .store
                .add_token(id, Role::Agent, &format!("token-{id}"), chrono::Utc::now())
                .await
                .unwrap();
            let (s, v) = send(&client(), reqwest::Method::PUT, server.url(&format!("/api/v1/agents/{id}")),
                Some(json!({"name": id.to_uppercase(), "skills": ["level-1"], "languages": ["de", "en"], "capacity": cap, "presence": "away"})), None).await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(v["load"], 0);
        }
        let (eva, max) = (client_with("token-eva"), client_with("token-max"));
        // Agents may not register agents.
        let (s, _) = send(&eva, reqwest::Method::PUT, server.url("/api/v1/agents/x"), Some(json!({"name":"X","capacity":1})), None).await;
        assert_eq!(s, 403);

        // Three tickets in the service desk; the queue lists them soonest due first.
        let mut numbers = Vec::new();
        for subject in ["Drucker druckt nicht", "Bildschirm flackert", "Maus defekt"] {
            let (s, _, t) = post_ticket(&server.base, &json!({"channel":"web","subject":subject,"body":"Bitte um Hilfe.",
                "from":{"email":"max@stadt.example"}}), None).await;
            assert_eq!(s, 201);
            assert_eq!(t["decision"]["queue"], "service-desk", "{t}");
            numbers.push(t["number"].as_str().unwrap().to_owned());
        }
        let (s, list) = get_json(&server.url("/api/v1/queues/service-desk/tickets")).await;
        assert_eq!(s, 200);
        let due: Vec<String> = list.as_array().unwrap().iter().filter_map(|t| t["sla"]["due_at"].as_str().map(str::to_owned)).collect();
        let mut sorted = due.clone();
        sorted.sort();
        assert_eq!(due, sorted, "soonest due first");
        assert!(list.as_array().unwrap().len() >= 3);
        let (s, _) = get_json(&server.url("/api/v1/queues/nowhere/tickets")).await;
        assert_eq!(s, 404);

        // Two agents claim the same ticket on the same view at once: one gets it.
        let t0 = server.url(&format!("/api/v1/tickets/{}", numbers[0]));
        let (a, b) = tokio::join!(
            send(&eva, reqwest::Method::POST, format!("{t0}/claim"), None, Some("\"1\"")),
            send(&max, reqwest::Method::POST, format!("{t0}/claim"), None, Some("\"1\""))
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert!(statuses == [200, 412] || statuses == [200, 409], "{a:?} {b:?}");
        let winner = if a.0 == 200 { &a.1 } else { &b.1 };
        let owner = winner["assignee"].as_str().unwrap().to_owned();
        // Without If-Match the loser is told who has it.
        let loser = if owner == "eva" { &max } else { &eva };
        let (s, v) = send(loser, reqwest::Method::POST, format!("{t0}/claim"), None, None).await;
        assert_eq!(s, 409, "{v}");
        assert!(v["detail"].as_str().unwrap().contains(&owner), "{v}");

        // Max's capacity is 1.
        let t1 = server.url(&format!("/api/v1/tickets/{}", numbers[1]));
        let t2 = server.url(&format!("/api/v1/tickets/{}", numbers[2]));
        let (s, v) = send(&client(), reqwest::Method::POST, format!("{t1}/assign"), Some(json!({"agent":"max"})), None).await;
        if owner == "max" {
            assert_eq!(s, 409, "max is at capacity: {v}");
            assert!(v["detail"].as_str().unwrap().contains("capacity"), "{v}");
        } else {
            assert_eq!(s, 200, "{v}");
            let (s, v) = send(&client(), reqwest::Method::POST, format!("{t2}/assign"), Some(json!({"agent":"max"})), None).await;
            assert_eq!(s, 409, "max is at capacity: {v}");
        }
        // Offline agents get nothing.
        let (s, _) = send(&eva, reqwest::Method::POST, server.url("/api/v1/agents/eva/presence"), Some(json!({"presence":"offline"})), None).await;
        assert_eq!(s, 200);
        let (s, v) = send(&client(), reqwest::Method::POST, format!("{t2}/assign"), Some(json!({"agent":"eva"})), None).await;
        assert_eq!(s, 409, "{v}");
        assert!(v["detail"].as_str().unwrap().contains("offline"));
        // An agent sets only their own presence.
        let (s, _) = send(&eva, reqwest::Method::POST, server.url("/api/v1/agents/max/presence"), Some(json!({"presence":"away"})), None).await;
        assert_eq!(s, 403);

        // "My tickets" of the winner.
        let me = if owner == "eva" { &eva } else { &max };
        let (s, mine) = send(me, reqwest::Method::GET, server.url("/api/v1/agents/me/tickets"), None, None).await;
        assert_eq!(s, 200);
        assert!(mine.as_array().unwrap().iter().any(|t| t["number"] == numbers[0].as_str()), "{mine}");

        // Transfer: another queue, no agent, the reason in the trail.
        let (s, v) = send(me, reqwest::Method::POST, format!("{t0}/transfer"), Some(json!({"queue":"security","reason":"Verdacht auf Phishing"})), None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["decision"]["queue"], "security");
        assert_eq!(v["assignee"], Value::Null);
        let (s, v) = send(me, reqwest::Method::POST, format!("{t0}/transfer"), Some(json!({"queue":"nowhere","reason":"x"})), None).await;
        assert_eq!((s, v["field"].as_str()), (422, Some("queue")));
        let (_, events) = get_json(&format!("{t0}/events")).await;
        let trail: Vec<(String, String)> = events.as_array().unwrap().iter()
            .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["actor"].as_str().unwrap().to_owned())).collect();
        assert!(trail.contains(&("claimed".into(), owner.clone())), "{trail:?}");
        assert!(trail.contains(&("transferred".into(), owner.clone())), "{trail:?}");
        let (_, agents) = get_json(&server.url("/api/v1/agents")).await;
        assert_eq!(agents.as_array().unwrap().len(), 2);
        server.stop().await;
    })
    .await;
}

/// Registers an agent (their shifts round the clock, so the test holds at any hour).
async fn register(
    server: &TestServer,
    id: &str,
    skills: &[&str],
    langs: &[&str],
    cap: i32,
    presence: &str,
) -> Value {
    let (s, v) = send(&client(), reqwest::Method::PUT, server.url(&format!("/api/v1/agents/{id}")),
        Some(json!({"name": id, "skills": skills, "languages": langs, "capacity": cap, "presence": presence, "calendar": "always"})), None).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn ticket(server: &TestServer, subject: &str, body: &str, from: &str) -> String {
    let (s, _, t) = post_ticket(
        &server.base,
        &json!({"channel":"web","subject":subject,"body":body,"from":{"email":from}}),
        None,
    )
    .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["decision"]["queue"], "service-desk", "{t}");
    t["number"].as_str().unwrap().to_owned()
}

/// The ticket's assignee once the assigner has run (it runs off the request's path), or
/// `None` if nobody got it within two seconds.
async fn assignee(server: &TestServer, number: &str) -> Option<String> {
    for _ in 0..40 {
        let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{number}"))).await;
        if let Some(a) = t["assignee"].as_str() {
            return Some(a.to_owned());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn tickets_go_to_a_free_agent_with_the_skills_language_and_capacity() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        register(&server, "anna", &["level-1"], &["de"], 1, "available").await;
        register(&server, "ben", &["level-1"], &["en"], 2, "available").await;
        register(&server, "carl", &["sales"], &["de", "en"], 5, "available").await;
        register(&server, "dora", &["level-1", "level-2"], &["de"], 3, "away").await;

        // German: anna is the only German speaker with level-1 who is available.
        let de1 = ticket(
            &server,
            "Drucker druckt nicht",
            "Der Drucker im 2. Stock druckt seit heute nicht mehr.",
            "max@stadt.example",
        )
        .await;
        assert_eq!(assignee(&server, &de1).await.as_deref(), Some("anna"));
        let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{de1}/events"))).await;
        let assigned = events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "assigned")
            .expect("an assigned event");
        assert_eq!(assigned["actor"], "triage");
        let reason = assigned["data"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("skills-least-loaded in queue service-desk: anna (0 of 1 open)"),
            "{reason}"
        );

        // English goes to ben.
        let en = ticket(
            &server,
            "Printer not working",
            "The printer on the second floor does not print anything since this morning.",
            "jane@stadt.example",
        )
        .await;
        assert_eq!(assignee(&server, &en).await.as_deref(), Some("ben"));

        // Anna is full and dora away: the next German ticket waits in the queue …
        let de2 = ticket(
            &server,
            "Bildschirm flackert",
            "Mein Bildschirm flackert ständig, bitte um Hilfe.",
            "max@stadt.example",
        )
        .await;
        assert_eq!(assignee(&server, &de2).await, None);
        // … until dora becomes available: she has it when her presence call returns.
        let (s, v) = send(
            &client(),
            reqwest::Method::POST,
            server.url("/api/v1/agents/dora/presence"),
            Some(json!({"presence":"available"})),
            None,
        )
        .await;
        assert_eq!((s, v["load"].as_u64()), (200, Some(1)), "{v}");
        let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{de2}"))).await;
        assert_eq!(t["assignee"], "dora");

        // Business-critical tickets need level-2 as well: dora, not anna (who is free again).
        let (s, _) = send(
            &client(),
            reqwest::Method::POST,
            server.url(&format!("/api/v1/tickets/{de1}/status")),
            Some(json!({"status":"resolved"})),
            None,
        )
        .await;
        assert_eq!(s, 200);
        let crit = ticket(
            &server,
            "Drucker druckt nicht",
            "Der Drucker auf Station 3 druckt keine Befunde mehr.",
            "pflege@lkh-nord.example",
        )
        .await;
        let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{crit}"))).await;
        assert_eq!(t["decision"]["segment"], "business-critical", "{t}");
        assert_eq!(assignee(&server, &crit).await.as_deref(), Some("dora"));
        // Anna, free again, takes the next ordinary one.
        let de3 = ticket(
            &server,
            "Maus defekt",
            "Meine Maus reagiert nicht mehr.",
            "max@stadt.example",
        )
        .await;
        assert_eq!(assignee(&server, &de3).await.as_deref(), Some("anna"));

        // Nobody ever exceeds their capacity, and carl (no level-1) got nothing.
        let (_, agents) = get_json(&server.url("/api/v1/agents")).await;
        for a in agents.as_array().unwrap() {
            assert!(a["load"].as_u64() <= a["capacity"].as_u64(), "{a}");
            if a["id"] == "carl" {
                assert_eq!(a["load"], 0);
            }
        }
        // The queues as the rules define them, with what feeds them.
        let (s, queues) = get_json(&server.url("/api/v1/queues")).await;
        assert_eq!(s, 200);
        let desk = queues
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["id"] == "service-desk")
            .unwrap();
        assert_eq!(desk["assignment"], "skills-least-loaded");
        assert_eq!(desk["skills"], json!(["level-1"]));
        assert_eq!(desk["critical_skill"], "level-2");
        assert_eq!(desk["calendar"], "extended");
        assert!(
            desk["fed_by"]
                .as_array()
                .unwrap()
                .contains(&json!("category incident")),
            "{desk}"
        );
        let sales = queues
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["id"] == "sales")
            .unwrap();
        assert_eq!(sales["assignment"], "manual");
        assert!(
            sales["fed_by"]
                .as_array()
                .unwrap()
                .contains(&json!("segment commercial")),
            "{sales}"
        );
        // A shift calendar the rules do not know is refused.
        let (s, v) = send(
            &client(),
            reqwest::Method::PUT,
            server.url("/api/v1/agents/eve"),
            Some(json!({"name": "eve", "capacity": 1, "calendar": "nights"})),
            None,
        )
        .await;
        assert_eq!((s, v["field"].as_str()), (422, Some("calendar")), "{v}");
        server.stop().await;
    })
    .await;
}

/// Two servers on one database assign the same queue at once: no ticket goes to two agents,
/// no agent gets more than their capacity.
#[tokio::test]
async fn two_servers_assigning_at_once_never_double_assign_or_overfill() {
    each_backend(async |db| {
        let (a, b) = (TestServer::start(db).await, TestServer::start(db).await);
        for id in ["p1", "p2", "p3", "p4"] {
            register(&a, id, &["level-1"], &["de"], 3, "away").await;
        }
        // 20 tickets through both servers at once, while nobody is available.
        let subjects: Vec<String> = (0..20)
            .map(|i| format!("Drucker {i} druckt nicht"))
            .collect();
        let mut posts = Vec::new();
        for (i, subject) in subjects.iter().enumerate() {
            let server = if i % 2 == 0 { &a } else { &b };
            posts.push(ticket(
                server,
                subject,
                "Der Drucker druckt seit heute nicht mehr.",
                "max@stadt.example",
            ));
        }
        let numbers = futures::future::join_all(posts).await;
        // All four become available at once, half through each server: both assign.
        let admin = client();
        let mut calls = Vec::new();
        for (i, id) in ["p1", "p2", "p3", "p4"].iter().enumerate() {
            let server = if i % 2 == 0 { &a } else { &b };
            calls.push(send(
                &admin,
                reqwest::Method::POST,
                server.url(&format!("/api/v1/agents/{id}/presence")),
                Some(json!({"presence":"available"})),
                None,
            ));
        }
        for (s, v) in futures::future::join_all(calls).await {
            assert_eq!(s, 200, "{v}");
        }
        let mut per_agent = std::collections::HashMap::<String, u32>::new();
        let mut assigned = 0;
        for n in &numbers {
            let (_, events) = get_json(&a.url(&format!("/api/v1/tickets/{n}/events"))).await;
            let given: Vec<&Value> = events
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "assigned")
                .collect();
            assert!(given.len() <= 1, "{n} assigned twice: {given:?}");
            if let Some(e) = given.first() {
                assigned += 1;
                *per_agent
                    .entry(e["data"]["agent"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
        assert_eq!(
            assigned, 12,
            "four agents with room for three each: {per_agent:?}"
        );
        assert!(per_agent.values().all(|&n| n == 3), "{per_agent:?}");
        a.stop().await;
        b.stop().await;
    })
    .await;
}

/// Channel steering: a routine caller is pointed to mail and the web form, and the ticket
/// says why (the line of the rules that takes routine requests off the phone).
#[tokio::test]
async fn a_phone_ticket_of_a_segment_the_phone_does_not_serve_names_the_open_channels() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (s, _, t) = post_ticket(
            &server.base,
            &json!({"channel":"phone","subject":"Anruf: Drucker","body":"Drucker druckt nicht.",
            "from":{"email":"max@stadt.example","phone":"+43 316 555 0101"}}),
            None,
        )
        .await;
        assert_eq!(s, 201, "{t}");
        assert_eq!(t["decision"]["segment"], "administrative", "{t}");
        let steer = &t["decision"]["trace"]["steer"];
        assert_eq!(steer["open"], json!(["email", "web"]), "{t}");
        let why = steer["reason"]["why"].as_str().unwrap();
        assert!(
            why.starts_with("administrative is not served by phone; open now: email, web"),
            "{why}"
        );
        assert!(
            steer["reason"]["at"]
                .as_str()
                .unwrap()
                .contains("service.toml:"),
            "{steer}"
        );
        // A business-critical customer's mail is served where it came: nothing to point to.
        let (_, _, t) = post_ticket(
            &server.base,
            &json!({"channel":"email","subject":"Drucker","body":"Drucker druckt nicht.",
            "from":{"email":"pflege@lkh-nord.example"}}),
            None,
        )
        .await;
        assert!(t["decision"]["trace"].get("steer").is_none(), "{t}");
        server.stop().await;
    })
    .await;
}

/// Two `triage worker` processes assign the same waiting tickets at once: each ticket goes
/// to one agent, nobody over capacity, and nothing changes when they run on.
#[tokio::test]
async fn two_worker_processes_assign_each_ticket_once() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        for id in ["w1", "w2", "w3"] {
            register(&server, id, &["level-1"], &["de"], 4, "away").await;
        }
        let mut numbers = Vec::new();
        for i in 0..16 {
            numbers.push(
                ticket(
                    &server,
                    &format!("Drucker {i} druckt nicht"),
                    "Der Drucker druckt seit heute nicht mehr.",
                    "max@stadt.example",
                )
                .await,
            );
        }
        // Available in the database only, so that no request wakes this server's assigner:
        // the two workers do all the assigning.
        for id in ["w1", "w2", "w3"] {
            server
                .state
                .desk
                .store
                .set_presence(id, "available", chrono::Utc::now())
                .await
                .unwrap();
        }
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let workers = common::Workers::start(&db.url, &rules, &[]);
        let load = async || -> u64 {
            let (_, agents) = get_json(&server.url("/api/v1/agents")).await;
            agents
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["load"].as_u64().unwrap())
                .sum()
        };
        for _ in 0..200 {
            if load().await >= 12 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Both run on for a while: nothing more is given out.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        drop(workers);
        let (_, agents) = get_json(&server.url("/api/v1/agents")).await;
        for a in agents.as_array().unwrap() {
            assert_eq!(a["load"], 4, "each at capacity, none over: {agents}");
        }
        let mut assigned = 0;
        for n in &numbers {
            let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{n}/events"))).await;
            let given = events
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "assigned")
                .count();
            assert!(given <= 1, "{n} assigned {given} times");
            assigned += given;
        }
        assert_eq!(assigned, 12);
        server.stop().await;
    })
    .await;
}

/// An agent whose shift is over gets nothing; when their shift calendar says they work, the
/// waiting ticket is theirs at once.
#[tokio::test]
async fn agents_off_shift_get_nothing() {
    // A calendar with no hours at all: never in shift, whatever time the test runs.
    let sla = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/sla.toml"),
    )
    .unwrap()
        + "\n[calendar.never]\ntimezone = \"Europe/Vienna\"\nhours = {}\n";
    let (_dir, rules) = common::rules_with_sla(&sla);
    each_backend(async |db| {
        let server = TestServer::start_with_rules(db, Default::default(), rules.clone()).await;
        let (s, v) = send(&client(), reqwest::Method::PUT, server.url("/api/v1/agents/nora"),
            Some(json!({"name": "Nora", "skills": ["level-1"], "languages": ["de"], "capacity": 2, "presence": "available", "calendar": "never"})), None).await;
        assert_eq!(s, 200, "{v}");
        let n = ticket(&server, "Drucker druckt nicht", "Der Drucker druckt seit heute nicht mehr.", "max@stadt.example").await;
        assert_eq!(assignee(&server, &n).await, None, "off shift");
        let (s, v) = send(&client(), reqwest::Method::PUT, server.url("/api/v1/agents/nora"),
            Some(json!({"name": "Nora", "skills": ["level-1"], "languages": ["de"], "capacity": 2, "presence": "available", "calendar": "always"})), None).await;
        assert_eq!((s, v["load"].as_u64()), (200, Some(1)), "{v}");
        server.stop().await;
    })
    .await;
}
