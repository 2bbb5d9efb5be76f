//! A person's data through the real server and database (SQLite, and PostgreSQL when
//! `TRIAGE_TEST_DATABASE_URL` is set): exported whole, erased on request until no table
//! holds a trace of the address or the text, and removed by retention once closed long
//! enough — exactly once with several workers.

mod common;

use common::{client, each_backend, get_json, post, rules_with_sla, TestServer};
use sea_orm::{ConnectionTrait, EntityTrait, Statement};
use serde_json::{json, Value};

const ANNA: &str = "anna.berger@alpen-logistik.example";
const SECRET: &str = "Rolltor der Lagerhalle 7";

async fn deliver(server: &TestServer, raw: &str) -> Value {
    let (s, v) = common::deliver_mail(&client(), server, raw.to_owned()).await;
    assert!((200..300).contains(&s), "{s}: {v}");
    v
}

fn anna_mail(id: &str, extra: &str) -> String {
    format!(
        "From: Anna Berger <{ANNA}>\r\nTo: helpdesk@example.com\r\nSubject: Tor klemmt\r\n\
         Message-ID: <{id}>\r\n{extra}MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDas {SECRET} klemmt seit Montag.\r\n\
         --b\r\nContent-Type: text/plain; name=\"foto.txt\"\r\n\
         Content-Disposition: attachment; filename=\"foto.txt\"\r\n\r\n{SECRET}, Foto\r\n--b--\r\n"
    )
}

/// Every row of every table as text (binary columns decoded), after checking that the
/// database has no table this list does not know.
async fn every_row(server: &TestServer) -> String {
    use entity::*;
    let conn = server.state.desk.store.connection();
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Sqlite => {
            "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        _ => "SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema()",
    };
    let mut tables: Vec<String> = conn
        .query_all(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "t").unwrap())
        .filter(|t| t != "seaql_migrations")
        .collect();
    tables.sort();
    let known = [
        "agents",
        "api_tokens",
        "attachments",
        "events",
        "faq_articles",
        "idempotency_keys",
        "leads",
        "mail_outbox",
        "mail_raw",
        "mail_raw_parts",
        "messages",
        "notifications",
        "organisations",
        "rules_files",
        "rules_instances",
        "rules_loads",
        "rules_versions",
        "sla_clocks",
        "sla_days",
        "sla_days_changed",
        "tickets",
    ];
    assert_eq!(tables, known, "a table the erasure check does not read");
    let mut out = String::new();
    // Each table's rows in their Debug form; binary columns also decoded as text below.
    macro_rules! rows {
        ($($entity:ident),+) => {$(
            for r in $entity::Entity::find().all(conn).await.unwrap() {
                out.push_str(&format!("{r:?}\n"));
            }
        )+};
    }
    rows!(
        agents,
        api_tokens,
        attachments,
        events,
        faq_articles,
        idempotency_keys,
        leads,
        mail_outbox,
        messages,
        notifications,
        organisations,
        rules_files,
        rules_instances,
        rules_loads,
        rules_versions,
        sla_clocks,
        sla_days_changed,
        tickets
    );
    for d in sla_days::Entity::find().all(conn).await.unwrap() {
        out.push_str(&String::from_utf8_lossy(&d.data));
        out.push('\n');
    }
    for a in attachments::Entity::find().all(conn).await.unwrap() {
        out.push_str(&String::from_utf8_lossy(
            a.content.as_deref().unwrap_or_default(),
        ));
        out.push('\n');
    }
    for m in mail_raw::Entity::find().all(conn).await.unwrap() {
        out.push_str(&m.message_id);
        out.push_str(&String::from_utf8_lossy(&m.raw));
        out.push('\n');
    }
    for p in mail_raw_parts::Entity::find().all(conn).await.unwrap() {
        out.push_str(&p.message_id);
        out.push_str(&String::from_utf8_lossy(&p.bytes));
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn a_person_is_exported_whole_and_erased_without_a_trace() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        // Anna's own ticket by mail (with an attachment), a reply we mail her, her answer.
        let first = deliver(&server, &anna_mail("anna-1@alpen", "")).await;
        let number = first["ticket"]["number"].as_str().unwrap().to_owned();
        let (s, _) = post(
            server.url(&format!("/api/v1/tickets/{number}/replies")),
            json!({"body": "Wir schicken einen Techniker."}),
        )
        .await;
        assert_eq!(s, 200);
        deliver(&server, &anna_mail("anna-2@alpen", "In-Reply-To: <anna-1@alpen>\r\n")).await;
        // A long mail of hers, stored in parts: the last part names the secret too.
        let filler = "Protokoll der Messungen am Tor, Zeile für Zeile.\r\n".repeat(50_000);
        let long = anna_mail("anna-long@alpen", "In-Reply-To: <anna-1@alpen>\r\n")
            .replace("klemmt seit Montag.", &format!("klemmt.\r\n{filler}Nochmals: {SECRET}."));
        assert!(long.len() > 2 << 20);
        deliver(&server, &long).await;
        // Bernd's ticket, on which Anna answers too (copied on his mail).
        let bernd = deliver(
            &server,
            "From: bernd@alpen-logistik.example\r\nCc: anna.berger@alpen-logistik.example\r\nSubject: Stapler\r\n\
             Message-ID: <bernd-1@alpen>\r\n\r\nDer Stapler ist kaputt.\r\n",
        )
        .await;
        let bernds = bernd["ticket"]["number"].as_str().unwrap().to_owned();
        deliver(&server, &anna_mail("anna-3@alpen", "In-Reply-To: <bernd-1@alpen>\r\n")).await;
        // She attended a webinar: a lead whose fields name her, completed later.
        let (s, lead) = post(
            server.url("/api/v1/events"),
            json!({"id": "hub-anna", "kind": "webinar-attended", "contact": {"email": ANNA},
                   "fields": {"need": format!("Steuerung für {SECRET}"), "decision-maker": "Anna Berger"}}),
        )
        .await;
        assert_eq!(s, 201, "{lead}");
        let leads_number = lead["ticket"].as_str().unwrap().to_owned();
        let (s, l) = post(
            server.url(&format!("/api/v1/tickets/{leads_number}/lead")),
            json!({"fields": {"time-frame": "Q1", "budget": "Anna Berger klärt das"}}),
        )
        .await;
        assert_eq!(s, 200, "{l}");

        let (s, export) =
            get_json(&server.url(&format!("/api/v1/privacy/export?email={ANNA}"))).await;
        assert_eq!(s, 200, "{export}");
        assert_eq!(export["tickets"].as_array().unwrap().len(), 2, "{export}");
        let lead = export["tickets"].as_array().unwrap().iter().find(|t| t["number"] == leads_number.as_str()).unwrap();
        assert_eq!(lead["lead"]["fields"]["decision-maker"], "Anna Berger", "{lead}");
        let t = export["tickets"].as_array().unwrap().iter().find(|t| t["number"] == number.as_str()).unwrap();
        assert_eq!(t["number"], number.as_str());
        assert!(t["body"].as_str().unwrap().contains(SECRET));
        assert_eq!(t["messages"].as_array().unwrap().len(), 4);
        // The export holds the long mail whole, from all its parts.
        let raw_long = t["raw_mails"].as_array().unwrap().iter().find(|r| r["message_id"] == "anna-long@alpen").unwrap();
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, raw_long["raw_base64"].as_str().unwrap()).unwrap();
        assert_eq!(bytes, long.as_bytes());
        assert!(!t["raw_mails"].as_array().unwrap().is_empty());
        assert!(!t["attachments"].as_array().unwrap().is_empty());
        assert_eq!(export["messages_on_other_tickets"].as_array().unwrap().len(), 1);
        assert_eq!(export["mail_sent_to_them"].as_array().unwrap().len(), 1);
        let before = every_row(&server).await;
        assert!(before.to_lowercase().contains(ANNA) && before.contains(SECRET));

        let (s, erased) =
            post(server.url("/api/v1/privacy/erase"), json!({"email": ANNA.to_uppercase()})).await;
        assert_eq!(s, 200, "{erased}");
        let removed = &erased["removed"];
        assert_eq!(removed["tickets"], 2, "{erased}");
        assert!(removed["messages"].as_u64().unwrap() >= 5, "{erased}");
        assert!(removed["raw_mails"].as_u64().unwrap() >= 4, "{erased}");
        assert!(removed["attachments"].as_u64().unwrap() >= 4, "{erased}");

        let after = every_row(&server).await;
        for trace in [ANNA, SECRET, "Anna Berger", "Techniker"] {
            assert!(
                !after.to_lowercase().contains(&trace.to_lowercase()),
                "{trace} is still stored:\n{}",
                after
                    .lines()
                    .filter(|l| l.to_lowercase().contains(&trace.to_lowercase()))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        // The decision and clocks stay for the reports; Bernd's own words stay.
        let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{number}"))).await;
        assert_eq!(t["subject"], "[erased]");
        assert!(t["decision"]["segment"].is_string() && t["sla"]["policy"].is_string(), "{t}");
        let (_, b) = get_json(&server.url(&format!("/api/v1/tickets/{bernds}"))).await;
        assert_eq!(b["body"], "Der Stapler ist kaputt.");
        let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{number}/events"))).await;
        let e = events.as_array().unwrap().iter().find(|e| e["kind"] == "privacy.erased").unwrap();
        assert_eq!(e["actor"], "admin");
        // Not an address: 422 naming it.
        let (s, p) = post(server.url("/api/v1/privacy/erase"), json!({"email": "anna"})).await;
        assert_eq!((s, p["field"].as_str()), (422, Some("email")), "{p}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn retention_removes_closed_tickets_once_with_two_workers() {
    each_backend(async |db| {
        let (dir, _) = rules_with_sla(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/sla.toml"),
            )
            .unwrap(),
        );
        std::fs::write(
            dir.path().join("privacy.toml"),
            "[privacy]\nerase-closed-after-days = 30\n",
        )
        .unwrap();
        let rules = triage::rules::load_dir(dir.path()).unwrap().rules;
        assert_eq!(rules.privacy.erase_closed_after_days, Some(30));
        let server = TestServer::start_with_rules(db, Default::default(), rules.clone()).await;
        let mut numbers = Vec::new();
        for i in 0..3 {
            let v = deliver(&server, &anna_mail(&format!("ret-{i}@alpen"), "")).await;
            numbers.push(v["ticket"]["number"].as_str().unwrap().to_owned());
        }
        // Two are closed; one stays open.
        for n in &numbers[..2] {
            let (s, _) = post(
                server.url(&format!("/api/v1/tickets/{n}/status")),
                json!({"status": "closed"}),
            )
            .await;
            assert_eq!(s, 200);
        }
        let store = &server.state.desk.store;
        let config = triage::worker::WorkerConfig::default();
        let http = triage::worker::http_client(&config);
        // Not yet: 29 days later.
        let soon = chrono::Utc::now() + chrono::Duration::days(29);
        let r = triage::worker::round(store, &rules, &config, &http, None, soon)
            .await
            .unwrap();
        assert_eq!(r.erased, 0);
        // 31 days later, two workers at once: each closed ticket erased once.
        let later = chrono::Utc::now() + chrono::Duration::days(31);
        let other = triage::store::Store::open(&db.url).await.unwrap();
        let (a, b) = tokio::join!(
            triage::worker::round(store, &rules, &config, &http, None, later),
            triage::worker::round(&other, &rules, &config, &http, None, later),
        );
        assert_eq!(a.unwrap().erased + b.unwrap().erased, 2);
        for (n, erased) in numbers.iter().zip([true, true, false]) {
            let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{n}"))).await;
            assert_eq!(t["subject"] == "[erased]", erased, "{t}");
            let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{n}/events"))).await;
            let count = events
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "privacy.retention")
                .count();
            assert_eq!(count, usize::from(erased));
        }
        server.stop().await;
    })
    .await;
}
