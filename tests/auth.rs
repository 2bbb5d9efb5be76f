//! Bearer tokens and roles through the real server and database: every endpoint × every
//! role, 401 and 403 as problem documents, nothing revealed to the wrong role, tokens
//! stored only as hashes, and the token commands of the CLI.

mod common;

use common::{client, client_with, each_backend, post_ticket, TestServer, TOKENS};
use reqwest::Method;
use serde_json::{json, Value};
use triage::model::Role;

/// Every endpoint, and who may call it.
fn endpoints(ticket: &str) -> Vec<(Method, String, Option<Value>, &'static [Role])> {
    use Role::*;
    const ALL: &[Role] = &[Gateway, Agent, Manager, Admin];
    const PEOPLE: &[Role] = &[Agent, Manager, Admin];
    const MANAGERS: &[Role] = &[Manager, Admin];
    let t = |p: &str| format!("/api/v1/tickets/{ticket}{p}");
    let article = json!({"language":"de","category":"office-howto","title":"Pivot",
        "questions":["Wie erstelle ich eine Pivot-Tabelle?"],"keywords":[],"body":"Einfügen → PivotTable."});
    vec![
        (
            Method::POST,
            "/api/v1/tickets".into(),
            Some(json!({"channel":"web","subject":"Drucker","body":"kaputt"})),
            ALL,
        ),
        (Method::POST, "/api/v1/intake/mail".into(), None, ALL),
        (
            Method::POST,
            "/api/v1/intake/call".into(),
            Some(json!({"caller":"+43 662 8080 12","called":"hotline"})),
            ALL,
        ),
        (Method::GET, "/api/v1/tickets".into(), None, PEOPLE),
        (Method::GET, t(""), None, PEOPLE),
        (Method::GET, t("/events"), None, PEOPLE),
        (Method::GET, t("/attachments"), None, PEOPLE),
        (Method::POST, t("/reclassify"), None, PEOPLE),
        (
            Method::POST,
            t("/replies"),
            Some(json!({"body":"Wir sehen nach.","internal":true})),
            PEOPLE,
        ),
        (
            Method::POST,
            t("/messages"),
            Some(json!({"body":"Noch da?"})),
            PEOPLE,
        ),
        (
            Method::POST,
            t("/status"),
            Some(json!({"status":"open"})),
            PEOPLE,
        ),
        (
            Method::POST,
            t("/feedback"),
            Some(json!({"helped":true})),
            PEOPLE,
        ),
        (Method::GET, "/api/v1/notifications".into(), None, PEOPLE),
        (Method::GET, "/api/v1/faq".into(), None, PEOPLE),
        (
            Method::GET,
            "/api/v1/faq/search?q=Passwort%20vergessen".into(),
            None,
            ALL,
        ),
        (
            Method::POST,
            "/api/v1/faq/password-reset-de/deflections".into(),
            None,
            ALL,
        ),
        (
            Method::GET,
            "/api/v1/faq/password-reset-de".into(),
            None,
            PEOPLE,
        ),
        (
            Method::PUT,
            "/api/v1/faq/pivot-de".into(),
            Some(article),
            MANAGERS,
        ),
        (
            Method::DELETE,
            "/api/v1/faq/pivot-de".into(),
            None,
            MANAGERS,
        ),
        (Method::GET, "/api/v1/sla/report".into(), None, MANAGERS),
        (
            Method::GET,
            "/api/v1/sla/report/series".into(),
            None,
            MANAGERS,
        ),
        (
            Method::GET,
            "/api/v1/automation/report".into(),
            None,
            MANAGERS,
        ),
        (Method::GET, "/api/v1/queues/load".into(), None, PEOPLE),
        (Method::GET, "/api/v1/mail/outbox".into(), None, MANAGERS),
        (
            Method::POST,
            "/api/v1/mail/outbox/1/retry".into(),
            None,
            MANAGERS,
        ),
        (Method::GET, t("/messages"), None, PEOPLE),
        (
            Method::GET,
            "/api/v1/privacy/export?email=nobody@example.net".into(),
            None,
            &[Admin],
        ),
        (
            Method::POST,
            "/api/v1/privacy/erase".into(),
            Some(json!({"email":"nobody@example.net"})),
            &[Admin],
        ),
        (
            Method::PUT,
            "/api/v1/agents/eva".into(),
            Some(json!({"name":"Eva","capacity":3,"presence":"available"})),
            MANAGERS,
        ),
        (Method::GET, "/api/v1/agents".into(), None, PEOPLE),
        (
            Method::POST,
            "/api/v1/agents/agent/presence".into(),
            Some(json!({"presence":"away"})),
            PEOPLE,
        ),
        (Method::GET, "/api/v1/queues".into(), None, PEOPLE),
        (
            Method::GET,
            "/api/v1/queues/service-desk/tickets".into(),
            None,
            PEOPLE,
        ),
        (
            Method::GET,
            "/api/v1/agents/me/tickets".into(),
            None,
            PEOPLE,
        ),
        (Method::POST, t("/claim"), None, PEOPLE),
        (
            Method::POST,
            t("/assign"),
            Some(json!({"agent":"eva"})),
            PEOPLE,
        ),
        (
            Method::POST,
            t("/transfer"),
            Some(json!({"queue":"security","reason":"Phishing"})),
            PEOPLE,
        ),
    ]
}

async fn call(
    c: &reqwest::Client,
    server: &TestServer,
    m: &Method,
    path: &str,
    body: &Option<Value>,
) -> (u16, String, Value) {
    let mut req = c.request(m.clone(), server.url(path));
    req = match body {
        Some(b) => req.json(b),
        None if path.ends_with("/intake/mail") => {
            req.header("Content-Type", "message/rfc822").body(
                "From: a@b.example\r\nSubject: x\r\nMessage-ID: <auth-matrix@x>\r\n\r\nhello\r\n",
            )
        }
        None => req,
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_endpoint_by_every_role() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (_, _, t) = post_ticket(
            &server.base,
            &json!({"channel":"web","subject":"Drucker","body":"kaputt"}),
            None,
        )
        .await;
        let number = t["number"].as_str().unwrap().to_owned();
        let anonymous = reqwest::Client::new();
        let wrong = client_with("trg_0000");
        for (method, path, body, allowed) in endpoints(&number) {
            for (who, c) in [("no token", &anonymous), ("unknown token", &wrong)] {
                let (s, ctype, v) = call(c, &server, &method, &path, &body).await;
                assert_eq!(s, 401, "{who} {method} {path}: {v}");
                assert_eq!(ctype, "application/problem+json");
                assert!(v["type"].as_str().unwrap().ends_with("unauthorized"), "{v}");
            }
            for (role, token) in TOKENS {
                let (s, ctype, v) = call(&client_with(token), &server, &method, &path, &body).await;
                if allowed.contains(role) {
                    assert!(s != 401 && s != 403, "{role} {method} {path}: {s} {v}");
                } else {
                    assert_eq!(s, 403, "{role} {method} {path}: {v}");
                    assert_eq!(ctype, "application/problem+json");
                    assert!(v["detail"].as_str().unwrap().contains(role.as_str()), "{v}");
                }
            }
        }
        // Public: health, readiness, metrics, the API description.
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
            let s = anonymous
                .get(server.url(path))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert_eq!(s, 200, "{path}");
        }
        // A gateway learns nothing about which tickets exist.
        let gw = client_with("test-gateway-token");
        for key in [number.as_str(), "T-999999"] {
            let (s, _, v) = call(
                &gw,
                &server,
                &Method::GET,
                &format!("/api/v1/tickets/{key}"),
                &None,
            )
            .await;
            assert_eq!(s, 403, "{key}: {v}");
            assert!(!v["detail"].as_str().unwrap().contains(key), "{v}");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn metrics_can_be_made_private() {
    each_backend(async |db| {
        let config = triage::api::ApiConfig {
            public_metrics: false,
            ..Default::default()
        };
        let server = TestServer::start_with(db, config).await;
        let anonymous = reqwest::Client::new();
        assert_eq!(
            anonymous
                .get(server.url("/metrics"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            401
        );
        let agent = client_with("test-agent-token");
        assert_eq!(
            agent
                .get(server.url("/metrics"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            403
        );
        assert_eq!(
            client()
                .get(server.url("/metrics"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            200
        );
        server.stop().await;
    })
    .await;
}

/// `triage token create|revoke|list` on the server's database.
async fn triage_token(db: &str, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("token")
        .args(args)
        .args(["--db", db])
        .env_remove("TRIAGE_DATABASE_URL")
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn tokens_from_the_cli_work_are_hashed_at_rest_and_revocable() {
    each_backend(async |db| {
        let config = triage::api::ApiConfig {
            token_cache: std::time::Duration::ZERO,
            ..Default::default()
        };
        let server = TestServer::start_with(db, config).await;
        let (code, token, err) =
            triage_token(&db.url, &["create", "--role", "agent", "--name", "eva"]).await;
        assert_eq!(code, 0, "{err}");
        assert!(token.starts_with("trg_"), "{token}");
        let (code, _, err) =
            triage_token(&db.url, &["create", "--role", "agent", "--name", "eva"]).await;
        assert_ne!(code, 0, "a second token of the same name");
        assert!(err.contains("eva"), "{err}");
        let (code, _, err) =
            triage_token(&db.url, &["create", "--role", "root", "--name", "x"]).await;
        assert_ne!(code, 0);
        assert!(err.contains("gateway, agent, manager, admin"), "{err}");

        let eva = client_with(&token);
        let (s, _, _) = call(&eva, &server, &Method::GET, "/api/v1/tickets", &None).await;
        assert_eq!(s, 200);
        let (s, _, _) = call(&eva, &server, &Method::GET, "/api/v1/sla/report", &None).await;
        assert_eq!(s, 403);
        // What she does is recorded under her token's name.
        let (_, _, t) = post_ticket(
            &server.base,
            &json!({"channel":"web","subject":"Drucker","body":"kaputt"}),
            None,
        )
        .await;
        let number = t["number"].as_str().unwrap();
        let (s, _, v) = call(
            &eva,
            &server,
            &Method::POST,
            &format!("/api/v1/tickets/{number}/replies"),
            &Some(json!({"body":"Ich sehe nach."})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let (s, _, v) = call(
            &eva,
            &server,
            &Method::POST,
            &format!("/api/v1/tickets/{number}/status"),
            &Some(json!({"status":"pending-customer"})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let (_, _, events) = call(
            &eva,
            &server,
            &Method::GET,
            &format!("/api/v1/tickets/{number}/events"),
            &None,
        )
        .await;
        let by: Vec<(&str, &str)> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
            .collect();
        assert!(by.contains(&("reply", "eva")), "{by:?}");
        assert!(
            by.iter()
                .any(|(k, a)| k.starts_with("status") && *a == "eva"),
            "{by:?}"
        );

        // At rest: the hash, never the token.
        use sea_orm::EntityTrait;
        let rows = entity::api_tokens::Entity::find()
            .all(server.state.desk.store.connection())
            .await
            .unwrap();
        let row = rows.iter().find(|r| r.name == "eva").unwrap();
        assert_eq!(row.hash, triage::store::token_hash(&token));
        for r in &rows {
            assert!(!format!("{r:?}").contains(&token));
        }
        let (_, list, _) = triage_token(&db.url, &["list"]).await;
        assert!(
            list.contains("eva\tagent") && !list.contains(&token),
            "{list}"
        );

        let (code, _, err) = triage_token(&db.url, &["revoke", "eva"]).await;
        assert_eq!(code, 0, "{err}");
        let (s, _, v) = call(&eva, &server, &Method::GET, "/api/v1/tickets", &None).await;
        assert_eq!(s, 401, "{v}");
        let (code, _, _) = triage_token(&db.url, &["revoke", "eva"]).await;
        assert_eq!(code, 1, "nothing left to revoke");
        server.stop().await;
    })
    .await;
}
