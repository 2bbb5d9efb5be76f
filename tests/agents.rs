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
                .store
                .add_token(id, Role::Agent, &format!("token-{id}"), chrono::Utc::now())
                .await
                .unwrap();
            let (s, v) = send(&client(), reqwest::Method::PUT, server.url(&format!("/api/v1/agents/{id}")),
                Some(json!({"name": id.to_uppercase(), "skills": ["level-1"], "languages": ["de", "en"], "capacity": cap, "presence": "available"})), None).await;
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
