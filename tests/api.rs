//! The HTTP API against a real server and a real database (SQLite always, PostgreSQL when
//! `TRIAGE_TEST_DATABASE_URL` is set).

mod common;

use chrono::{SecondsFormat, Timelike};
use common::{client, each_backend, get_json, post_ticket, TestServer};
use serde_json::{json, Value};
use triage::api::ApiConfig;

fn password_mail() -> Value {
    json!({
        "channel": "email",
        "subject": "Passwort vergessen",
        "body": "Guten Morgen, ich habe mein Passwort vergessen und kann mich nicht anmelden.",
        "from": {"email": "anna.berger@alpen-logistik.example", "name": "Anna Berger"},
        "received_at": "2026-11-23T07:45:00+01:00"
    })
}

fn assert_problem(status: u16, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status"], expected, "{body}");
    assert!(
        body["type"].as_str().unwrap().starts_with("/problems/"),
        "{body}"
    );
    assert!(!body["detail"].as_str().unwrap().is_empty(), "{body}");
    assert!(body["request_id"].is_string(), "{body}");
}

#[tokio::test]
async fn create_returns_201_with_location_decision_and_trace() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (status, headers, body) = post_ticket(&server.base, &password_mail(), None).await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().unwrap();
        assert_eq!(
            headers["location"],
            format!("/api/v1/tickets/{id}").as_str()
        );
        assert!(headers.contains_key("x-request-id"));
        assert_eq!(body["number"], "T-000001");
        // A forgotten password at a commercial customer is answered from the FAQ.
        assert_eq!(body["status"], "answered-automatically");
        assert_eq!(body["faq"]["mode"], "automated");
        assert_eq!(body["faq"]["article"], "password-reset-de");
        assert_eq!(body["organisation"], "Alpen Logistik GmbH");
        let d = &body["decision"];
        assert_eq!(d["segment"], "commercial");
        assert_eq!(d["category"], "password-reset");
        assert_eq!(d["automation"], "automated");
        assert_eq!(d["trace"]["category"]["rule"], "password-reset");
        assert_eq!(d["trace"]["segment"]["by"], "customer");
        assert_eq!(body["received_at"], "2026-11-23T06:45:00Z");

        let (status, by_id) = get_json(&server.url(headers["location"].to_str().unwrap())).await;
        assert_eq!(status, 200);
        assert_eq!(by_id["id"], body["id"]);
        let (status, by_number) = get_json(&server.url("/api/v1/tickets/T-000001")).await;
        assert_eq!(status, 200);
        assert_eq!(by_number["id"], body["id"]);

        let (status, events) = get_json(&server.url("/api/v1/tickets/T-000001/events")).await;
        assert_eq!(status, 200);
        assert_eq!(events[0]["kind"], "created");
        assert_eq!(events[0]["actor"], "rules");
        assert_eq!(events[0]["data"]["category"], "password-reset");
        server.stop().await;
    })
    .await;
}

/// The answer to a create is built from what was written, not read back: it must read as
/// the ticket does afterwards, times included (PostgreSQL keeps microseconds).
#[tokio::test]
async fn a_created_ticket_reads_back_as_it_was_answered() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        // Received a moment ago, to the nanosecond, and for a person: its clocks run.
        let received = chrono::Utc::now().with_nanosecond(123_456_789).unwrap();
        let mut mail = password_mail();
        mail["received_at"] = json!(received.to_rfc3339_opts(SecondsFormat::Nanos, true));
        mail["subject"] = json!("Drucker im 2. OG druckt nicht");
        mail["body"] = json!("Seit heute früh druckt der Drucker im 2. OG gar nichts mehr.");
        let (status, headers, created) = post_ticket(&server.base, &mail, None).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(
            created["received_at"],
            received.to_rfc3339_opts(SecondsFormat::Micros, true)
        );
        assert!(created["sla"]["due_at"].is_string(), "{created}");
        let (status, read) = get_json(&server.url(headers["location"].to_str().unwrap())).await;
        assert_eq!(status, 200);
        assert_eq!(read, created);
        // Answered from the FAQ (README's example): its scores are floats, which must read
        // back as written. Compared as text: a float parser that is one bit off reads both
        // texts as the same number.
        let readme = json!({"channel": "email", "subject": "Passwort vergessen",
            "body": "Ich habe mein Passwort vergessen und kann mich nicht anmelden.",
            "from": {"email": "anna@alpen-logistik.example"}});
        let resp = client()
            .post(server.url("/api/v1/tickets"))
            .json(&readme)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let answered = resp.text().await.unwrap();
        let read = client()
            .get(server.url(&location))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let scores = |text: &str| -> Vec<String> {
            text.split("\"relative_score\":")
                .skip(1)
                .map(|s| s.split([',', '}']).next().unwrap().to_owned())
                .collect()
        };
        assert_eq!(scores(&answered).len(), 3, "{answered}");
        assert_eq!(scores(&read), scores(&answered));
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_repeated_idempotency_key_returns_the_first_ticket() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (s1, _, first) = post_ticket(&server.base, &password_mail(), Some("gw-1")).await;
        let (s2, h2, again) = post_ticket(&server.base, &password_mail(), Some("gw-1")).await;
        assert_eq!((s1, s2), (201, 200));
        assert_eq!(first["id"], again["id"]);
        assert_eq!(
            h2["location"],
            format!("/api/v1/tickets/{}", first["id"].as_str().unwrap()).as_str()
        );
        // The same key with another request is refused, not silently answered.
        let mut other = password_mail();
        other["subject"] = json!("Etwas anderes");
        let (s3, _, problem) = post_ticket(&server.base, &other, Some("gw-1")).await;
        assert_problem(s3, &problem, 422);
        assert_eq!(problem["field"], "Idempotency-Key");
        let (_, page) = get_json(&server.url("/api/v1/tickets")).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_repeats_make_exactly_one_ticket() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let base = server.base.clone();
            tasks.push(tokio::spawn(async move {
                post_ticket(&base, &password_mail(), Some("same-key")).await
            }));
        }
        let mut created = 0;
        let mut ids = std::collections::HashSet::new();
        for t in tasks {
            let (status, _, body) = t.await.unwrap();
            assert!(status == 201 || status == 200, "{status} {body}");
            created += (status == 201) as usize;
            ids.insert(body["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(created, 1);
        assert_eq!(ids.len(), 1);
        assert_eq!(server.state.desk.store.count().await.unwrap(), 1);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_repeated_external_id_returns_the_first_ticket() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let mut t = password_mail();
        t["external_id"] = json!("webform-8812");
        let (s1, _, a) = post_ticket(&server.base, &t, None).await;
        let (s2, _, b) = post_ticket(&server.base, &t, None).await;
        assert_eq!((s1, s2), (201, 200));
        assert_eq!(a["id"], b["id"]);
        assert_eq!(b["external_id"], "webform-8812");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn list_filters_by_decision_fields_channel_and_time() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let tickets = [
            json!({"channel":"email","subject":"Rechnung doppelt","body":"Die Rechnung 2026-1187 wurde doppelt abgebucht."}),
            json!({"channel":"phone","subject":"Anruf","body":"Drucker im 2. Stock druckt nicht","from":{"phone":"0662 8080 12"}}),
            json!({"channel":"web","subject":"Where can I download the VPN client?","body":"I need the installer for my laptop."}),
        ];
        for t in &tickets {
            assert_eq!(post_ticket(&server.base, t, None).await.0, 201);
        }
        let count = |q: &'static str| {
            let url = server.url(&format!("/api/v1/tickets?{q}"));
            async move {
                let (status, page) = get_json(&url).await;
                assert_eq!(status, 200, "{q}: {page}");
                page["items"].as_array().unwrap().len()
            }
        };
        assert_eq!(count("segment=commercial").await, 2); // the invoice, and the call from a commercial customer
        assert_eq!(count("category=billing").await, 1);
        assert_eq!(count("channel=phone").await, 1);
        assert_eq!(count("queue=service-desk").await, 2);
        // The VPN question is answered from the FAQ; the other two wait for people.
        assert_eq!(count("status=open").await, 2);
        assert_eq!(count("status=answered-automatically").await, 1);
        assert_eq!(count("organisation=Alpen%20Logistik%20GmbH").await, 1);
        assert_eq!(count("channel=web&category=software-download").await, 1);
        assert_eq!(count("created_from=2000-01-01T00:00:00Z").await, 3);
        assert_eq!(count("created_to=2000-01-01T00:00:00%2B01:00").await, 0);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn cursor_pages_are_stable_while_tickets_arrive() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        for i in 0..7 {
            let t = json!({"channel":"web","subject":format!("Frage {i}"),"body":"Eine Frage zum Konto"});
            assert_eq!(post_ticket(&server.base, &t, None).await.0, 201);
        }
        let (_, p1) = get_json(&server.url("/api/v1/tickets?limit=3")).await;
        let numbers = |p: &Value| -> Vec<String> {
            p["items"].as_array().unwrap().iter().map(|t| t["number"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(numbers(&p1), ["T-000007", "T-000006", "T-000005"]);
        // A new ticket arrives between pages: it must not shift or repeat anything.
        let t = json!({"channel":"web","subject":"Neu","body":"neu"});
        assert_eq!(post_ticket(&server.base, &t, None).await.0, 201);
        let cursor = p1["next_cursor"].as_str().unwrap();
        let (_, p2) = get_json(&server.url(&format!("/api/v1/tickets?limit=3&cursor={cursor}"))).await;
        assert_eq!(numbers(&p2), ["T-000004", "T-000003", "T-000002"]);
        let cursor = p2["next_cursor"].as_str().unwrap();
        let (_, p3) = get_json(&server.url(&format!("/api/v1/tickets?limit=3&cursor={cursor}"))).await;
        assert_eq!(numbers(&p3), ["T-000001"]);
        assert!(p3["next_cursor"].is_null());
        // Ids are time-ordered (UUID version 7): newest first by number is newest first by
        // id, so a ticket's index entries land beside its predecessor's.
        let ids: Vec<&str> = [&p1, &p2, &p3]
            .iter()
            .flat_map(|p| p["items"].as_array().unwrap())
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 7);
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
        assert!(ids.iter().all(|id| id.as_bytes()[14] == b'7'), "{ids:?}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn every_error_is_a_problem_document_naming_what_is_wrong() {
    each_backend(async |db| {
        let config = ApiConfig {
            body_limit: 2048,
            ..ApiConfig::default()
        };
        let server = TestServer::start_with(db, config).await;
        let c = client();
        let post_raw = |body: &'static str, ctype: &'static str| {
            let req = c
                .post(server.url("/api/v1/tickets"))
                .header("content-type", ctype)
                .body(body);
            async move {
                let r = req.send().await.unwrap();
                assert_eq!(r.headers()["content-type"], "application/problem+json");
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (s, p) = post_raw("{not json", "application/json").await;
        assert_problem(s, &p, 400);
        let (s, p) = post_raw(r#"{"channel":"fax","subject":"x"}"#, "application/json").await;
        assert_problem(s, &p, 422);
        assert_eq!(p["field"], "channel");
        let (s, p) = post_raw(
            r#"{"channel":"web","subject":"x","received_at":"gestern"}"#,
            "application/json",
        )
        .await;
        assert_problem(s, &p, 422);
        assert_eq!(p["field"], "received_at");
        let (s, p) = post_raw(r#"{"channel":"web","subjekt":"x"}"#, "application/json").await;
        assert_problem(s, &p, 422);
        assert!(p["detail"].as_str().unwrap().contains("subjekt"), "{p}");
        let (s, p) = post_raw(
            r#"{"channel":"web","subject":"  ","body":""}"#,
            "application/json",
        )
        .await;
        assert_problem(s, &p, 422);
        let (s, p) = post_raw(r#"{"channel":"web","subject":"x"}"#, "text/plain").await;
        assert_problem(s, &p, 415);
        let big: &'static str = Box::leak(
            format!(
                r#"{{"channel":"web","subject":"x","body":"{}"}}"#,
                "a".repeat(4096)
            )
            .into_boxed_str(),
        );
        let (s, p) = post_raw(big, "application/json").await;
        assert_problem(s, &p, 413);

        let (s, p) = get_json(&server.url("/api/v1/tickets/T-999999")).await;
        assert_problem(s, &p, 404);
        let (s, p) =
            get_json(&server.url("/api/v1/tickets/00000000-0000-0000-0000-000000000000/events"))
                .await;
        assert_problem(s, &p, 404);
        let (s, p) = get_json(&server.url("/api/v1/tickets/not-a-ticket")).await;
        assert_problem(s, &p, 404);
        let (s, p) = get_json(&server.url("/api/v1/tickets?segmnt=commercial")).await;
        assert_problem(s, &p, 400);
        assert!(p["detail"].as_str().unwrap().contains("segmnt"), "{p}");
        let (s, p) = get_json(&server.url("/api/v1/tickets?segment=vip")).await;
        assert_problem(s, &p, 422);
        assert_eq!(p["field"], "segment");
        let (s, p) = get_json(&server.url("/api/v1/tickets?limit=0")).await;
        assert_problem(s, &p, 422);
        let (s, p) = get_json(&server.url("/api/v1/tickets?cursor=zzz")).await;
        assert_problem(s, &p, 422);
        let (s, p) = get_json(&server.url("/api/v1/nothing-here")).await;
        assert_problem(s, &p, 404);
        let r = c
            .delete(server.url("/api/v1/tickets"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let long_key = "k".repeat(300);
        let r = c
            .post(server.url("/api/v1/tickets"))
            .header("Idempotency-Key", long_key)
            .json(&password_mail())
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        assert_problem(s, &r.json().await.unwrap(), 400);
        // Nothing above created a ticket.
        assert_eq!(server.state.desk.store.count().await.unwrap(), 0);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn reclassify_applies_the_current_rules_and_records_the_change() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let t = json!({"channel":"web","subject":"Toner leer","body":"Der Toner im Büro ist leer, bitte neuen bestellen."});
        let (_, _, created) = post_ticket(&server.base, &t, None).await;
        assert_eq!(created["decision"]["category"], "general");
        // The service manager adds a rule for toner; the running service takes the new rules.
        let dir = tempfile::tempdir().unwrap();
        let rules_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        for entry in std::fs::read_dir(&rules_dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
            }
        }
        std::fs::write(
            dir.path().join("zz-local.toml"),
            "[[rule]]\nid = \"toner\"\nwhen.keywords = \"toner\"\nset = { category = \"incident\", priority = \"P4\" }\n",
        )
        .unwrap();
        server.state.set_rules(triage::rules::load_dir(dir.path()).unwrap().rules);

        let url = server.url(&format!("/api/v1/tickets/{}/reclassify", created["number"].as_str().unwrap()));
        let r = client().post(url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let after: Value = r.json().await.unwrap();
        assert_eq!(after["decision"]["category"], "incident");
        assert_eq!(after["decision"]["priority"], "P4");
        assert_eq!(after["version"], 2);
        assert_ne!(after["decision"]["rules_version"], created["decision"]["rules_version"]);
        let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{}/events", created["id"].as_str().unwrap()))).await;
        let re = &events[1];
        assert_eq!(re["kind"], "reclassified");
        assert_eq!(re["data"]["changes"]["category"], json!({"from": "general", "to": "incident"}));
        assert_eq!(re["data"]["changes"]["priority"], json!({"from": "P3", "to": "P4"}));
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_stale_update_is_refused_not_lost() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (_, _, created) = post_ticket(&server.base, &password_mail(), None).await;
        let store = &server.state.desk.store;
        let record = store.get(created["id"].as_str().unwrap()).await.unwrap();
        let ticket = triage::store::ticket_of(&record).unwrap();
        let decision = triage::classify::classify(&server.state.rules(), &ticket);
        let now = chrono::Utc::now();
        store
            .update_decision(&record, &decision, Default::default(), "agent-a", now)
            .await
            .unwrap();
        // A second writer still holding version 1 must not overwrite version 2.
        let err = store
            .update_decision(&record, &decision, Default::default(), "agent-b", now)
            .await
            .unwrap_err();
        assert!(
            matches!(err, triage::store::StoreError::Conflict { expected: 1, .. }),
            "{err}"
        );
        assert_eq!(store.get(&record.id.to_string()).await.unwrap().version, 2);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn tickets_survive_a_restart_and_numbering_continues() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (_, _, first) = post_ticket(&server.base, &password_mail(), None).await;
        server.stop().await;

        let server = TestServer::start(db).await;
        let (status, again) = get_json(&server.url(&format!(
            "/api/v1/tickets/{}",
            first["id"].as_str().unwrap()
        )))
        .await;
        assert_eq!(status, 200);
        assert_eq!(again["subject"], "Passwort vergessen");
        assert_eq!(again["decision"], first["decision"]);
        let (_, _, second) = post_ticket(&server.base, &password_mail(), None).await;
        assert_eq!(second["number"], "T-000002");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_never_collide() {
    each_backend(async |db| {
        let a = TestServer::start(db).await;
        let b = TestServer::start(db).await;
        let mut tasks = Vec::new();
        for i in 0..40 {
            let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
            tasks.push(tokio::spawn(async move {
                let t = json!({"channel":"web","subject":format!("Anfrage {i}"),"body":"Bitte um Rückruf"});
                post_ticket(&base, &t, None).await
            }));
        }
        // And one key sent to both instances at once.
        for i in 0..10 {
            let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
            tasks.push(tokio::spawn(async move { post_ticket(&base, &password_mail(), Some("both")).await }));
        }
        let mut numbers = std::collections::HashSet::new();
        let mut created = 0;
        for t in tasks {
            let (status, _, body) = t.await.unwrap();
            assert!(status == 201 || status == 200, "{status} {body}");
            if status == 201 {
                created += 1;
                assert!(numbers.insert(body["number"].as_str().unwrap().to_owned()), "duplicate number {body}");
            }
        }
        assert_eq!(created, 41);
        assert_eq!(a.state.desk.store.count().await.unwrap(), 41);
        a.stop().await;
        b.stop().await;
    })
    .await;
}

#[tokio::test]
async fn health_readiness_openapi_and_metrics() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (s, h) = get_json(&server.url("/healthz")).await;
        assert_eq!((s, h["status"].as_str()), (200, Some("ok")));
        let (s, r) = get_json(&server.url("/readyz")).await;
        assert_eq!(s, 200);
        assert!(r["rules_version"].as_str().unwrap().starts_with("sha256:"));
        let (s, doc) = get_json(&server.url("/openapi.json")).await;
        assert_eq!(s, 200);
        assert_eq!(doc["openapi"], "3.1.0");
        for path in ["/api/v1/tickets", "/api/v1/tickets/{key}", "/api/v1/tickets/{key}/events", "/api/v1/tickets/{key}/reclassify"] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        assert!(doc["components"]["schemas"]["Problem"].is_object());
        for path in ["/api/v1/intake/mail", "/api/v1/intake/call", "/api/v1/mail/outbox"] {
            assert!(doc["paths"][path].is_object(), "{path} missing");
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        assert_eq!(doc["security"], json!([{"bearer": []}]));
        // The documented request is the one the parser reads, with the fixed vocabulary.
        assert_eq!(doc["components"]["schemas"]["Channel"]["enum"], json!(["email", "web", "phone"]));
        assert_eq!(doc["components"]["schemas"]["TicketInput"]["required"], json!(["channel"]));
        post_ticket(&server.base, &password_mail(), None).await;
        let text = client().get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(text.contains("triage_http_requests_total{route=\"/api/v1/tickets\",method=\"POST\",status=\"201\"}"), "{text}");
        assert!(text.contains("triage_http_request_duration_seconds_bucket"), "{text}");
        assert!(text.contains("triage_tickets_created_total{segment=\"commercial\",channel=\"email\",automation=\"automated\"}"), "{text}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_database_newer_than_the_binary_is_refused() {
    each_backend(async |db| {
        let store = triage::store::Store::open(&db.url).await.unwrap();
        use sea_orm::ConnectionTrait;
        store
            .connection()
            .execute_unprepared("INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20990101_000001_from_the_future', 0)")
            .await
            .unwrap();
        let err = triage::store::Store::open(&db.url).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("newer than this binary") && msg.contains("m20990101_000001_from_the_future"), "{msg}");
        store.connection().clone().close().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn nul_characters_are_refused_naming_the_field_and_nothing_is_stored() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let body = json!({"channel": "web", "subject": "Drucker kaputt",
            "body": "geht nicht", "from": {"name": "Max\u{0}"}});
        let (status, _, p) = post_ticket(&server.base, &body, None).await;
        assert_eq!(
            (status, p["field"].as_str()),
            (422, Some("from.name")),
            "{p}"
        );
        assert_eq!(server.state.desk.store.count().await.unwrap(), 0);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn stale_views_are_refused_with_412_and_only_one_of_two_agents_wins() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (_, _, t) = post_ticket(
            &server.base,
            &json!({"channel":"web","subject":"Drucker","body":"kaputt"}),
            None,
        )
        .await;
        let url = server.url(&format!(
            "/api/v1/tickets/{}",
            t["number"].as_str().unwrap()
        ));
        let resp = client().get(&url).send().await.unwrap();
        let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(etag, "\"1\"");
        let change = |tag: String, body: Value, path: &'static str| {
            let url = format!("{url}{path}");
            async move {
                let r = client()
                    .post(url)
                    .header("If-Match", tag)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let etag = r
                    .headers()
                    .get("etag")
                    .map(|v| v.to_str().unwrap().to_owned());
                (status, etag, r.json::<Value>().await.unwrap())
            }
        };
        // A view that is not current: 412, nothing changed.
        let (s, _, v) = change(
            "\"7\"".into(),
            json!({"status":"pending-customer"}),
            "/status",
        )
        .await;
        assert_eq!(s, 412, "{v}");
        assert_eq!(v["type"], "/problems/precondition-failed");
        // The current view: accepted, with the next version as its ETag.
        let (s, next, v) = change(
            etag.clone(),
            json!({"status":"pending-customer"}),
            "/status",
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(next.as_deref(), Some("\"2\""));
        // Two agents answer on the same view at once: exactly one wins, the other gets 412.
        let tag = next.unwrap();
        let reply = json!({"body":"Ich kümmere mich darum."});
        let (a, b) = tokio::join!(
            change(tag.clone(), reply.clone(), "/replies"),
            change(tag.clone(), json!({"body":"Ich übernehme."}), "/replies")
        );
        let mut statuses = [a.0, b.0];
        statuses.sort();
        assert_eq!(statuses, [200, 412], "{a:?} {b:?}");
        let (_, events) = get_json(&server.url(&format!(
            "/api/v1/tickets/{}/events",
            t["number"].as_str().unwrap()
        )))
        .await;
        let replies = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "reply")
            .count();
        assert_eq!(replies, 1);
        server.stop().await;
    })
    .await;
}

/// Every schema the document refers to is in it: a client generator (or a fuzzer) resolves
/// each `$ref`.
#[tokio::test]
async fn the_openapi_document_resolves_every_reference() {
    let db = common::TestDb::new(common::Backend::Sqlite).await;
    let server = TestServer::start(&db).await;
    let (s, doc) = get_json(&server.url("/openapi.json")).await;
    assert_eq!(s, 200);
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut missing = Vec::new();
    for (i, _) in text.match_indices("#/components/schemas/") {
        let rest = &text[i + "#/components/schemas/".len()..];
        let name = &rest[..rest.find('"').unwrap()];
        if !schemas.contains_key(name) {
            missing.push(name.to_owned());
        }
    }
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "unresolvable: {missing:?}");
    // Open endpoints need no token; every other operation documents 401 and 403.
    assert_eq!(doc["paths"]["/healthz"]["get"]["security"], json!([{}]));
    let claim = &doc["paths"]["/api/v1/tickets/{key}/claim"]["post"]["responses"];
    assert!(
        claim.get("401").is_some() && claim.get("403").is_some(),
        "{claim}"
    );
    server.stop().await;
}
