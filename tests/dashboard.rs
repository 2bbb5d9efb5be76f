//! What the dashboard stands on, through the real server and database: sessions in
//! cookies (HttpOnly, SameSite=Strict, CSRF on writes, sign-out revokes, expiry), the page
//! served from the binary in the browser's language, the queues' load now, the automation
//! report with the questions no article fits, and the demo month.

mod common;

use chrono::Duration;
use common::*;
use reqwest::header::{ACCEPT_LANGUAGE, COOKIE, SET_COOKIE};
use serde_json::{json, Value};

/// Signs in with `token`; the session cookie and the CSRF token.
async fn sign_in(server: &TestServer, token: &str) -> (u16, Option<(String, String)>, Vec<String>) {
    let resp = reqwest::Client::new()
        .post(server.url("/api/v1/session"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let cookies: Vec<String> = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let session = cookies
        .iter()
        .find_map(|c| c.strip_prefix("triage_session="))
        .map(|c| c.split(';').next().unwrap().to_owned());
    let csrf = body["csrf"].as_str().map(str::to_owned);
    (status, session.zip(csrf), cookies)
}

/// A GET with only the session cookie.
async fn get_with(server: &TestServer, path: &str, session: &str) -> (u16, Value) {
    send_with(server, reqwest::Method::GET, path, session, None, None).await
}

/// A POST with the session cookie, `csrf` as its header if given, and a JSON body.
async fn post_with(
    server: &TestServer,
    path: &str,
    session: &str,
    csrf: Option<&str>,
    body: Value,
) -> (u16, Value) {
    send_with(
        server,
        reqwest::Method::POST,
        path,
        session,
        csrf,
        Some(body),
    )
    .await
}

async fn send_with(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    session: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, server.url(path))
        .header(COOKIE, format!("triage_session={session}"));
    if let Some(c) = csrf {
        req = req.header("X-CSRF-Token", c);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_session_cookie_stands_for_the_token_and_writes_need_its_csrf_token() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (status, session, cookies) = sign_in(&server, "test-manager-token").await;
        assert_eq!(status, 201);
        let (session, csrf) = session.expect("a session cookie and a CSRF token");
        let session_cookie = cookies
            .iter()
            .find(|c| c.starts_with("triage_session="))
            .unwrap();
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
            assert!(session_cookie.contains(attr), "{session_cookie}");
        }
        let csrf_cookie = cookies
            .iter()
            .find(|c| c.starts_with("triage_csrf="))
            .unwrap();
        assert!(csrf_cookie.contains(&csrf) && !csrf_cookie.contains("HttpOnly"));
        assert_ne!(
            session, "test-manager-token",
            "the cookie holds a session token of its own"
        );

        let (status, me) = get_with(&server, "/api/v1/session", &session).await;
        assert_eq!(
            (status, me["name"].as_str(), me["role"].as_str()),
            (200, Some("manager"), Some("manager"))
        );
        let (status, _) = get_with(&server, "/api/v1/sla/report", &session).await;
        assert_eq!(status, 200);

        // A write with the cookie alone, or a wrong token, is refused; with it, done.
        let ticket =
            json!({"channel":"web","subject":"Drucker","body":"Der Drucker druckt nicht."});
        let (status, problem) =
            post_with(&server, "/api/v1/tickets", &session, None, ticket.clone()).await;
        assert_eq!(
            (status, problem["title"].as_str().is_some()),
            (403, true),
            "{problem}"
        );
        assert!(
            problem["detail"].as_str().unwrap().contains("X-CSRF-Token"),
            "{problem}"
        );
        let (status, _) = post_with(
            &server,
            "/api/v1/tickets",
            &session,
            Some("0123"),
            ticket.clone(),
        )
        .await;
        assert_eq!(status, 403);
        let (status, created) =
            post_with(&server, "/api/v1/tickets", &session, Some(&csrf), ticket).await;
        assert_eq!(status, 201, "{created}");
        // Who did it is the person, not the session.
        let number = created["number"].as_str().unwrap();
        let note = json!({"body":"Wir sehen nach.","internal":true});
        let path = format!("/api/v1/tickets/{number}/replies");
        let (status, _) = post_with(&server, &path, &session, Some(&csrf), note).await;
        assert_eq!(status, 200);
        let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{number}/events"))).await;
        let last = events.as_array().unwrap().last().unwrap();
        assert_eq!(last["actor"], "manager", "{events}");

        // A session does not renew itself by signing in with it.
        assert_eq!(sign_in(&server, &session).await.0, 401);
        // Behind a proxy that says the browser came over TLS, the cookies are Secure too.
        let tls = reqwest::Client::new()
            .post(server.url("/api/v1/session"))
            .header("X-Forwarded-Proto", "https")
            .json(&json!({ "token": "test-manager-token" }))
            .send()
            .await
            .unwrap();
        let secure: Vec<_> = tls
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert!(
            secure.len() == 2 && secure.iter().all(|c| c.ends_with("; Secure")),
            "{secure:?}"
        );
        assert!(cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");

        // Gateways do not sign in; unknown tokens neither; nobody signed in is a 204.
        assert_eq!(sign_in(&server, "test-gateway-token").await.0, 403);
        assert_eq!(sign_in(&server, "trg_unknown").await.0, 401);
        let anonymous = reqwest::Client::new()
            .get(server.url("/api/v1/session"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status().as_u16(), 204);

        // An agent's session may do what the agent's token may, no more.
        let (_, agent, _) = sign_in(&server, "test-agent-token").await;
        let (agent, _) = agent.unwrap();
        let (status, _) = get_with(&server, "/api/v1/sla/report", &agent).await;
        assert_eq!(status, 403);
        let (status, _) = get_with(&server, "/api/v1/queues/load", &agent).await;
        assert_eq!(status, 200);

        // Signing out revokes the session and clears both cookies.
        let resp = reqwest::Client::new()
            .delete(server.url("/api/v1/session"))
            .header(COOKIE, format!("triage_session={session}"))
            .header("X-CSRF-Token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 204);
        let cleared: Vec<_> = resp
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert!(
            cleared.iter().all(|c| c.contains("Max-Age=0")) && cleared.len() == 2,
            "{cleared:?}"
        );
        let (status, problem) = get_with(&server, "/api/v1/sla/report", &session).await;
        assert_eq!(status, 401, "{problem}");

        // A session ends after 12 hours; ended sessions are removed as new ones begin.
        server.state.desk.clock.advance(Duration::hours(13));
        let (status, problem) = get_with(&server, "/api/v1/queues/load", &agent).await;
        assert_eq!(status, 401);
        assert!(
            problem["detail"].as_str().unwrap().contains("expired"),
            "{problem}"
        );
        let store = &server.state.desk.store;
        let sessions = || async {
            let tokens = store.tokens().await.unwrap();
            tokens
                .iter()
                .filter(|t| t.name.starts_with("session:"))
                .count()
        };
        // The manager's (signed out), the one over TLS, the agent's.
        assert_eq!(sessions().await, 3);
        assert_eq!(sign_in(&server, "test-agent-token").await.0, 201);
        assert_eq!(sessions().await, 1, "only the new session is left");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_pages_come_from_the_binary_in_the_browsers_language() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let resp = c
            .get(server.url("/ui/"))
            .header(ACCEPT_LANGUAGE, "de-AT,de;q=0.9,en;q=0.5")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        let html = resp.text().await.unwrap();
        assert!(html.contains(r#"<html lang="de">"#), "{html}");
        let html = c
            .get(server.url("/ui/"))
            .header(ACCEPT_LANGUAGE, "en-GB")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains(r#"<html lang="en">"#));
        for (file, media) in [
            ("/ui/app.js", "text/javascript"),
            ("/ui/app.css", "text/css"),
            ("/ui/vendor/uPlot.iife.min.js", "text/javascript"),
            ("/ui/vendor/uPlot.LICENSE", "text/plain"),
        ] {
            let resp = c.get(server.url(file)).send().await.unwrap();
            assert_eq!(resp.status().as_u16(), 200, "{file}");
            assert!(
                resp.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with(media),
                "{file}"
            );
            assert!(!resp.bytes().await.unwrap().is_empty());
        }
        let missing = c.get(server.url("/ui/nothing.js")).send().await.unwrap();
        assert_eq!(missing.status().as_u16(), 404);
        assert_eq!(
            missing.headers()["content-type"],
            "application/problem+json"
        );
        let bare = c.get(server.url("/ui")).send().await.unwrap();
        assert_eq!(bare.status().as_u16(), 308);
        assert_eq!(bare.headers()["location"], "/ui/");
        server.stop().await;
    })
    .await;
}

fn queue<'a>(load: &'a Value, id: &str) -> &'a Value {
    load.as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == id)
        .unwrap_or_else(|| panic!("no queue {id}: {load}"))
}

#[tokio::test]
async fn the_queues_load_counts_waiting_tickets_and_who_can_take_them() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let c = client();
        let agents = [
            ("ann", json!({"name":"Ann","skills":["level-1"],"languages":["de"],"capacity":1,"presence":"available"})),
            ("ben", json!({"name":"Ben","skills":["level-1"],"languages":["en"],"capacity":4,"presence":"offline"})),
            ("eva", json!({"name":"Eva","skills":["billing"],"languages":["de"],"capacity":5,"presence":"available"})),
        ];
        for (id, body) in agents {
            let resp = c.put(server.url(&format!("/api/v1/agents/{id}"))).json(&body).send().await.unwrap();
            assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
        }
        for subject in ["Drucker druckt nicht", "Drucker im 2. Stock defekt", "Monitor defekt"] {
            let (status, _, body) = post_ticket(
                &server.base,
                &json!({"channel":"web","subject":subject,"body":"Seit heute früh, bitte um Hilfe.","from":{"email":"anna@alpen-logistik.example"}}),
                None,
            )
            .await;
            assert_eq!(status, 201, "{body}");
            assert_eq!(body["decision"]["queue"], "service-desk", "{body}");
        }
        // Ann takes one (capacity 1); the other two wait.
        let (_, load) = get_json(&server.url("/api/v1/queues/load")).await;
        let desk = queue(&load, "service-desk");
        assert_eq!((desk["open"].as_u64(), desk["overdue"].as_u64()), (Some(3), Some(0)), "{desk}");
        let s = &desk["staffing"];
        assert_eq!(s["skilled"], 2, "{desk}");
        assert_eq!(s["available"], 1, "{desk}");
        let in_shift = s["in_shift"].as_u64().unwrap();
        if in_shift == 1 {
            // Ann is in the queue's hours now: she holds one ticket of her one.
            for _ in 0..50 {
                let (_, load) = get_json(&server.url("/api/v1/queues/load")).await;
                if queue(&load, "service-desk")["unassigned"] == 2 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            let (_, load) = get_json(&server.url("/api/v1/queues/load")).await;
            let desk = queue(&load, "service-desk");
            assert_eq!(desk["unassigned"], 2, "{desk}");
            assert_eq!((desk["staffing"]["capacity"].as_u64(), desk["staffing"]["held"].as_u64()), (Some(1), Some(1)));
            assert_eq!(desk["load_pct"].as_f64(), Some(100.0), "{desk}");
        } else {
            assert_eq!(desk["unassigned"], 3, "{desk}");
            assert_eq!(desk["load_pct"], Value::Null, "{desk}");
        }
        let billing = queue(&load, "billing");
        assert_eq!((billing["open"].as_u64(), billing["staffing"]["skilled"].as_u64()), (Some(0), Some(1)));
        // A week later every clock of them is past due.
        server.state.desk.clock.advance(Duration::days(7));
        let (_, load) = get_json(&server.url("/api/v1/queues/load")).await;
        assert_eq!(queue(&load, "service-desk")["overdue"], 3);
        server.stop().await;
    })
    .await;
}

fn row<'a>(report: &'a Value, group: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == group)
        .unwrap_or_else(|| panic!("no row {group}: {report}"))
}

fn handled(r: &Value) -> [u64; 5] {
    [
        "tickets",
        "automated",
        "suggested",
        "no_article",
        "by_rules",
    ]
    .map(|k| r[k].as_u64().unwrap())
}

#[tokio::test]
async fn the_automation_report_counts_what_the_faq_did_and_lists_what_no_article_fits() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let tickets = [
            // Answered automatically (commercial customer, the password article).
            (
                "anna@alpen-logistik.example",
                "Passwort vergessen",
                "Ich habe mein Passwort vergessen und kann mich nicht anmelden.",
            ),
            // A hospital: only suggested to an agent.
            (
                "station@lkh-nord.example",
                "Passwort vergessen",
                "Ich habe mein Passwort vergessen und kann mich nicht anmelden.",
            ),
            // Same category, a need no article covers.
            (
                "anna@alpen-logistik.example",
                "Excel friert ein",
                "Excel friert beim Öffnen großer Dateien ein und reagiert nicht mehr.",
            ),
            // The rules keep incidents with people.
            (
                "anna@alpen-logistik.example",
                "Drucker druckt nicht",
                "Der Drucker im 2. Stock druckt nicht, Fehler 49.",
            ),
        ];
        let mut numbers = Vec::new();
        for (from, subject, body) in tickets {
            let (status, _, t) = post_ticket(
                &server.base,
                &json!({"channel":"email","subject":subject,"body":body,"from":{"email":from}}),
                None,
            )
            .await;
            assert_eq!(status, 201, "{t}");
            numbers.push((
                t["number"].as_str().unwrap().to_owned(),
                t["decision"]["category"].as_str().unwrap().to_owned(),
                t["faq"]["mode"].as_str().unwrap().to_owned(),
            ));
        }
        assert_eq!(
            numbers.iter().map(|n| n.2.as_str()).collect::<Vec<_>>(),
            ["automated", "suggested", "human", "human"],
            "{numbers:?}"
        );
        let (status, report) = get_json(&server.url("/api/v1/automation/report")).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["group_by"], "category");
        assert_eq!(
            handled(row(&report, &numbers[0].1)),
            [2, 1, 1, 0, 0],
            "{report}"
        );
        assert_eq!(row(&report, &numbers[0].1)["automated_pct"], 50.0);
        assert_eq!(
            handled(row(&report, &numbers[2].1)),
            [1, 0, 0, 1, 0],
            "{report}"
        );
        assert_eq!(
            handled(row(&report, &numbers[3].1)),
            [1, 0, 0, 0, 1],
            "{report}"
        );
        let unanswered = report["unanswered"].as_array().unwrap();
        assert_eq!(unanswered.len(), 1, "{report}");
        assert_eq!(unanswered[0]["ticket"], numbers[2].0.as_str());
        assert_eq!(unanswered[0]["subject"], "Excel friert ein");
        assert!(
            unanswered[0]["reason"]
                .as_str()
                .unwrap()
                .contains("never mentions"),
            "{report}"
        );

        let (_, by_segment) =
            get_json(&server.url("/api/v1/automation/report?group_by=segment")).await;
        assert_eq!(
            handled(row(&by_segment, "commercial")),
            [3, 1, 0, 1, 1],
            "{by_segment}"
        );
        assert_eq!(
            handled(row(&by_segment, "business-critical")),
            [1, 0, 1, 0, 0],
            "{by_segment}"
        );
        let (status, problem) =
            get_json(&server.url("/api/v1/automation/report?group_by=queue")).await;
        assert_eq!(status, 422, "{problem}");
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("category, segment or channel"));

        // Kept rows written before the FAQ's handling was kept are filled in again at start.
        server.stop().await;
        forget_kept_clocks(db).await;
        let server = TestServer::start(db).await;
        let (_, again) = get_json(&server.url("/api/v1/automation/report")).await;
        assert_eq!(again["rows"], report["rows"]);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn demo_data_writes_a_month_through_the_workflows_only_into_an_empty_database() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let desk = &server.state.desk;
        let now = desk.clock.now();
        let opts = triage::demo::DemoOptions {
            days: 10,
            per_weekday: 12,
            seed: 7,
        };
        let summary = triage::demo::write(desk, now, opts).await.unwrap();
        assert!(summary.tickets >= 60, "{summary:?}");
        assert_eq!(
            u64::from(summary.tickets),
            desk.store.count().await.unwrap()
        );
        assert!(
            summary.answered_automatically > 0 && summary.replies > 0 && summary.resolved > 0,
            "{summary:?}"
        );
        assert_eq!(summary.agents, 6);

        let (_, report) = get_json(&server.url("/api/v1/automation/report?group_by=channel")).await;
        let total: u64 = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["tickets"].as_u64().unwrap())
            .sum();
        assert_eq!(total, u64::from(summary.tickets), "{report}");
        let automated: u64 = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["automated"].as_u64().unwrap())
            .sum();
        // Those answered and then not helped went to people: still answered automatically.
        assert_eq!(automated, u64::from(summary.answered_automatically));
        // Every ticket's history runs forward in time (an agent answers after the verdict on
        // an automatic answer, not before), and no call without an address was answered by
        // a machine.
        for n in 1..=summary.tickets {
            let number = triage::store::ticket_number(i64::from(n));
            let (_, events) =
                get_json(&server.url(&format!("/api/v1/tickets/{number}/events"))).await;
            let times: Vec<String> = events
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["created_at"].as_str().unwrap_or("").to_owned())
                .filter(|t| !t.is_empty())
                .collect();
            let parsed: Vec<chrono::DateTime<chrono::Utc>> =
                times.iter().map(|t| t.parse().unwrap()).collect();
            assert!(
                parsed.windows(2).all(|w| w[0] <= w[1]),
                "{number}: {events}"
            );
            let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{number}"))).await;
            if t["channel"] == "phone" && t["from"]["email"].is_null() {
                assert_ne!(t["status"], "answered-automatically", "{t}");
            }
        }
        let (_, sla) = get_json(&server.url("/api/v1/sla/report?group_by=segment")).await;
        let met: u64 = sla
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["first_response"]["met"].as_u64().unwrap())
            .sum();
        assert!(met > 0, "{sla}");
        let (_, agents) = get_json(&server.url("/api/v1/agents")).await;
        assert_eq!(agents.as_array().unwrap().len(), 6);

        // The same seed writes the same month; a second run refuses a database with tickets.
        match triage::demo::write(desk, now, opts).await {
            Err(triage::demo::DemoError::NotEmpty(n)) => assert_eq!(n, u64::from(summary.tickets)),
            other => panic!("expected a refusal, got {other:?}"),
        }
        server.stop().await;
    })
    .await;
}
