//! Hostile and broken clients through the real server and database (SQLite, and PostgreSQL
//! when `TRIAGE_TEST_DATABASE_URL` is set): a gateway learns nothing but a receipt, bad
//! input is refused naming the field, lists keep their caps, SQLite runs in WAL mode with
//! a log that does not stay past its bound, a migration stopped half-way completes, and
//! PostgreSQL connections cut while idle are replaced.

mod common;

use common::{backends, client, client_with, each_backend, get_json, Backend, TestDb, TestServer};
use serde_json::{json, Value};

async fn send(c: &reqwest::Client, url: String, body: Value, key: Option<&str>) -> (u16, Value) {
    let mut req = c.post(url).json(&body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// The fields a gateway's answer may have: a receipt, never the ticket's content.
fn assert_receipt(v: &Value) {
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in &keys {
        assert!(
            ["outcome", "ticket", "status", "message_id"].contains(k),
            "a gateway's answer carries {k}: {v}"
        );
    }
    assert!(v["ticket"].as_str().unwrap().starts_with("T-"), "{v}");
    let text = v.to_string();
    for secret in ["Drucker", "Lohnabrechnung", "anna", "max@", "notiz"] {
        assert!(!text.contains(secret), "the receipt leaks {secret}: {v}");
    }
}

#[tokio::test]
async fn a_gateway_gets_a_receipt_never_a_ticket() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let gateway = client_with("test-gateway-token");
        let tickets = server.url("/api/v1/tickets");
        let form = json!({"channel": "web", "subject": "Lohnabrechnung Oktober",
            "body": "Meine Lohnabrechnung fehlt.", "from": {"email": "anna.berger@alpen-logistik.example"},
            "external_id": "hr-77"});
        // An agent logging a ticket sees it whole.
        let (s, full) = send(&client(), tickets.clone(), form.clone(), None).await;
        assert_eq!(s, 201, "{full}");
        assert_eq!(full["subject"], "Lohnabrechnung Oktober");
        let number = full["number"].as_str().unwrap().to_owned();
        // A gateway repeating another client's external_id learns only that it is a repeat.
        let (s, v) = send(&gateway, tickets.clone(), form.clone(), None).await;
        assert_eq!(s, 200, "{v}");
        assert_receipt(&v);
        assert_eq!((v["outcome"].as_str(), v["ticket"].as_str()), (Some("duplicate"), Some(number.as_str())));
        // Its own new ticket: a receipt too.
        let (s, v) = send(&gateway, tickets.clone(), json!({"channel": "web", "subject": "Drucker",
            "body": "Der Drucker druckt nicht.", "from": {"email": "max@stadt.example"}}), Some("gw-1")).await;
        assert_eq!((s, v["outcome"].as_str()), (201, Some("created")), "{v}");
        assert_receipt(&v);
        // Idempotency keys are the caller's own: another token's key is no repeat.
        let (s, v) = send(&client(), tickets.clone(), json!({"channel": "web", "subject": "Anderes",
            "body": "Etwas anderes."}), Some("gw-1")).await;
        assert_eq!(s, 201, "another caller's key must neither match nor be refused: {v}");

        // A mail naming the ticket in its subject from a forged sender: receipt only.
        let raw = format!(
            "From: mallory@evil.example\r\nTo: helpdesk@example.com\r\nSubject: Re: [{number}] Lohnabrechnung\r\n\
             Message-ID: <forged-1@evil.example>\r\n\r\nBitte senden Sie mir alles.\r\n"
        );
        let (s, v) = common::deliver_mail(&gateway, &server, raw.clone()).await;
        assert_eq!(s, 201, "{v}");
        assert_receipt(&v);
        // Redelivered: a duplicate, still a receipt.
        let (_, v) = common::deliver_mail(&gateway, &server, raw).await;
        assert_eq!(v["outcome"], "duplicate");
        assert_receipt(&v);

        // A repeated call id with an agent's note on the ticket: a receipt.
        let call = json!({"caller": "+43 662 8080-12", "called": "Hotline", "call_id": "pbx-9", "note": "interne notiz"});
        let (s, _) = send(&client(), server.url("/api/v1/intake/call"), call.clone(), None).await;
        assert_eq!(s, 201);
        let (s, v) = send(&gateway, server.url("/api/v1/intake/call"), call, None).await;
        assert_eq!((s, v["outcome"].as_str()), (200, Some("duplicate")), "{v}");
        assert_receipt(&v);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let tickets = server.url("/api/v1/tickets");
        let base =
            json!({"channel": "web", "subject": "Drucker", "body": "Der Drucker druckt nicht."});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        // Moments the calendars cannot count: 422 naming received_at and the range.
        for when in [
            "1900-01-01T00:00:00Z",
            "2150-01-01T00:00:00Z",
            "9999-12-31T00:00:00Z",
            "0000-01-01T00:00:00Z",
        ] {
            let (s, p) = send(
                &client(),
                tickets.clone(),
                with("received_at", json!(when)),
                None,
            )
            .await;
            assert_eq!(
                (s, p["field"].as_str()),
                (422, Some("received_at")),
                "{when}: {p}"
            );
            assert!(p["detail"].as_str().unwrap().contains("2000"), "{p}");
        }
        // NUL bytes are refused, not silently dropped.
        for field in ["subject", "body"] {
            let (s, p) = send(
                &client(),
                tickets.clone(),
                with(field, json!("Dru\u{0}cker")),
                None,
            )
            .await;
            assert_eq!((s, p["field"].as_str()), (422, Some(field)), "{p}");
        }
        // … in every JSON body, named by its path (PostgreSQL would refuse them with a 503).
        let (s, created) = send(&client(), tickets.clone(), base.clone(), None).await;
        assert_eq!(s, 201, "{created}");
        let number = created["number"].as_str().unwrap();
        let base_url = server.base.as_str();
        let put = |path: String, body: Value| async move {
            let r = client().put(format!("{base_url}{path}")).json(&body).send().await.unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        };
        for (s, p, field) in [
            {
                let url = server.url(&format!("/api/v1/tickets/{number}/messages"));
                let (s, p) = send(&client(), url, json!({"body": "Notiz\u{0}"}), None).await;
                (s, p, "body")
            },
            {
                let agent = json!({"name": "Eva", "capacity": 3, "skills": ["de", "Dru\u{0}cker"]});
                let (s, p) = put("/api/v1/agents/eva".into(), agent).await;
                (s, p, "skills[1]")
            },
            {
                let (s, p) = put(
                    "/api/v1/faq/excel-freeze-de".into(),
                    json!({"title": "Excel\u{0}", "body": "…", "category": "office-howto", "language": "de"}),
                )
                .await;
                (s, p, "title")
            },
        ] {
            assert_eq!((s, p["field"].as_str()), (422, Some(field)), "{p}");
        }
        // … and in a URL.
        for (path, field) in [
            ("/api/v1/agents/eva%00", "path"),
            ("/api/v1/tickets?limit=5&category=a%00b", "category"),
        ] {
            let r = client().get(server.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 422, "{path}");
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["field"], field, "{p}");
        }
        // An address that is none.
        for bad in ["not an address", "a@", "@b.example", "a b@c.example"] {
            let (s, p) = send(
                &client(),
                tickets.clone(),
                with("from", json!({"email": bad})),
                None,
            )
            .await;
            assert_eq!(
                (s, p["field"].as_str()),
                (422, Some("from.email")),
                "{bad}: {p}"
            );
        }
        // Idempotency-Key: visible ASCII only.
        let (s, p) = send(
            &client(),
            tickets.clone(),
            base.clone(),
            Some("form 4711\t"),
        )
        .await;
        assert_eq!(
            (s, p["field"].as_str()),
            (400, Some("Idempotency-Key")),
            "{p}"
        );
        // A page larger than the documented cap.
        let r = client()
            .get(server.url("/api/v1/queues/service-desk/tickets?limit=100000"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["field"], "limit", "{p}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn blobs_dressed_as_mail_are_no_tickets() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        // What an MTA makes of a picture or a JSON document piped in: a few headers of its
        // own, no sender, no text.
        let gif = b"Received: by mx.helpdesk.example (Postfix, from userid 0)\r\n\
            Message-ID: <20261202.blob@mx.helpdesk.example>\r\nDate: Wed, 2 Dec 2026 10:00:00 +0100\r\n\r\n\
            GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04";
        let json = b"Received: by mx.helpdesk.example (Postfix)\r\nMessage-ID: <20261202.json@mx.helpdesk.example>\r\n\r\n";
        let empty_from = b"From: someone@example.net\r\nMessage-ID: <nothing@example.net>\r\n\r\n \r\n";
        for raw in [&gif[..], &json[..], &empty_from[..]] {
            let (s, p) = common::deliver_mail(&client(), &server, raw.to_vec()).await;
            assert_eq!(s, 422, "{p}");
            assert_eq!(p["type"], "/problems/unparseable-mail", "{p}");
            assert!(p["detail"].as_str().unwrap().contains("no request"), "{p}");
        }
        let (_, page) = common::get_json(&server.url("/api/v1/tickets")).await;
        assert_eq!(page["items"].as_array().unwrap().len(), 0, "{page}");
        server.stop().await;
    })
    .await;
}

/// Reads until the server closes the connection; `true` if it did within `within`.
async fn closed_by_server(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(within, read).await.is_ok()
}

#[tokio::test]
async fn silent_and_slow_connections_are_closed_and_the_cap_holds() {
    use tokio::io::AsyncWriteExt;
    let db = TestDb::new(Backend::Sqlite).await;
    let config = triage::api::ApiConfig {
        connections: triage::api::listen::ConnectionLimits {
            header_timeout: std::time::Duration::from_millis(300),
            max_connections: 2,
        },
        ..Default::default()
    };
    let server = TestServer::start_with(&db, config).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let within = std::time::Duration::from_secs(10);
    // Two connections take the cap: one says nothing, one sends half a request head.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A third client is served once the server has closed those two.
    let third = reqwest::Client::builder().timeout(within).build().unwrap();
    let (ok, silent_closed, slow_closed) = tokio::join!(
        third.get(server.url("/healthz")).send(),
        closed_by_server(&mut silent, within),
        closed_by_server(&mut slow, within),
    );
    assert!(silent_closed, "a connection that sends nothing stays open");
    assert!(
        slow_closed,
        "a connection that never finishes its head stays open"
    );
    assert_eq!(ok.unwrap().status(), 200);
    // A kept-alive connection that goes quiet after a request is closed too.
    let mut kept = tokio::net::TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut kept, within).await,
        "an idle kept-alive connection stays open"
    );
    server.stop().await;
}

#[tokio::test]
async fn sqlite_databases_run_in_wal_mode() {
    if !backends().contains(&Backend::Sqlite) {
        return;
    }
    let db = TestDb::new(Backend::Sqlite).await;
    let server = TestServer::start(&db).await;
    server.stop().await;
    // The mode is the file's: a plain connection opened afterwards sees it.
    use sea_orm::{ConnectionTrait, Database, Statement};
    let conn = Database::connect(&db.url).await.unwrap();
    let row = conn
        .query_one(Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get("", "journal_mode").unwrap();
    assert_eq!(mode, "wal");
}

/// A mail with an attachment of `kib` KiB (bytes that do not repeat), `n` making it unique.
fn mail_with_attachment(n: usize, kib: usize) -> String {
    use base64::Engine;
    let bytes: Vec<u8> = (0..kib * 1024)
        .map(|i| ((i as u64 * 2_654_435_761 + n as u64) >> 7) as u8)
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: Kim <kim{n}@example.org>\r\nTo: helpdesk@example.com\r\n\
         Subject: Scan {n} attached\r\nMessage-ID: <wal-{n}@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe scan, as asked.\r\n\
         --b\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"scan{n}.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        lines.join("\r\n")
    )
}

/// The SQLite database's write-ahead log file.
fn log_file(db: &TestDb) -> std::path::PathBuf {
    std::path::PathBuf::from(
        db.url
            .trim_start_matches("sqlite://")
            .trim_end_matches("?mode=rwc")
            .to_owned()
            + "-wal",
    )
}

#[tokio::test]
async fn the_sqlite_log_does_not_stay_past_its_bound() {
    if !backends().contains(&Backend::Sqlite) {
        return;
    }
    const BOUND: u64 = 64 << 20;
    let db = TestDb::new(Backend::Sqlite).await;
    let server = TestServer::start(&db).await;
    let wal = log_file(&db);
    let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let gateway = client_with("test-gateway-token");
    // About 4 MiB of log a mail (the mail as received, its attachment): 25 mails write
    // well past the bound, whether or not the checkpoint keeps the file from growing.
    let mut grown = 0;
    for n in 1..=25 {
        let (status, v) =
            common::deliver_mail(&gateway, &server, mail_with_attachment(n, 2048)).await;
        assert_eq!(status, 201, "{v}");
        grown = grown.max(size());
    }
    // Intake goes on: the log starts over and its file is cut back to the bound.
    let mut under = false;
    for i in 0..100 {
        let (status, v) =
            common::deliver_mail(&gateway, &server, mail_with_attachment(1000 + i, 1)).await;
        assert_eq!(status, 201, "{v}");
        if size() <= BOUND {
            under = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        under,
        "the log grew to {grown} bytes and stays at {}",
        size()
    );
    server.stop().await;
}

/// Counts SQLite's starts of the log over: the first salt of the WAL header (bytes 16 to
/// 19, big-endian), which each restart counts up by one. (The checkpoint sequence number
/// beside it is counted per connection.)
fn log_restarts(wal: &std::path::Path) -> u32 {
    let header = std::fs::read(wal).unwrap();
    u32::from_be_bytes(header[16..20].try_into().unwrap())
}

/// While tickets keep coming, the intake writer copies the log back between its batches, so
/// the log starts over every few tickets instead of once a second at most (the background
/// pass alone) and stays small.
#[tokio::test]
async fn the_sqlite_writer_starts_the_log_over_while_intake_runs() {
    if !backends().contains(&Backend::Sqlite) {
        return;
    }
    let db = TestDb::new(Backend::Sqlite).await;
    let server = TestServer::start(&db).await;
    let wal = log_file(&db);
    let ticket = |n: usize| {
        serde_json::json!({
            "channel": "web",
            "from": {"email": format!("kim{n}@example.org")},
            "subject": format!("Drucker {n} druckt nicht"),
            "body": "Der Drucker im zweiten Stock zeigt einen Papierstau.",
        })
    };
    let (status, _, v) = common::post_ticket(&server.url(""), &ticket(0), None).await;
    assert_eq!(status, 201, "{v}");
    let before = log_restarts(&wal);
    // Twelve tickets, 60 ms apart: each batch comes more than the writer's 50 ms after the
    // one before, so a pass follows it and the next ticket's commit starts the log over.
    for n in 1..=12 {
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        let (status, _, v) = common::post_ticket(&server.url(""), &ticket(n), None).await;
        assert_eq!(status, 201, "{v}");
    }
    // The background pass alone, once a second, starts it over once or twice in this time.
    let restarts = log_restarts(&wal).wrapping_sub(before);
    assert!(
        restarts >= 8,
        "the log was started over {restarts} times in twelve tickets"
    );
    server.stop().await;
}

/// The names of the indexes on `tickets`.
async fn ticket_indexes(conn: &sea_orm::DatabaseConnection, backend: Backend) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tickets'"
        }
        Backend::Postgres => "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'tickets'",
    };
    let rows = conn
        .query_all(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
}

/// The migration that folds the tickets' indexes goes down and up again, and one stopped
/// half-way (SQLite runs it outside a transaction) completes when it is run again.
#[tokio::test]
async fn the_ticket_indexes_migration_goes_down_and_up_and_resumes() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Database};
    const NAME: &str = "m20261207_000022_ticket_indexes";
    let new = [
        "tickets_assignee_open",
        "tickets_known_phone",
        "tickets_known_organisation",
        "tickets_closed_unerased",
        "tickets_noise_unerased",
    ];
    let old = [
        "tickets_queue_due",
        "idx_tickets_status_sla_due",
        "tickets_assignee",
        "tickets_from_phone",
        "idx_tickets_organisation",
    ];
    let steps = {
        let all = Migrator::migrations();
        let at = all.iter().position(|m| m.name() == NAME).unwrap();
        (all.len() - at) as u32
    };
    each_backend(async |db| {
        let conn = Database::connect(&db.url).await.unwrap();
        let has = async |names: &[&str]| {
            let present = ticket_indexes(&conn, db.backend).await;
            names
                .iter()
                .map(|n| present.iter().any(|p| p == n))
                .collect::<Vec<_>>()
        };
        Migrator::up(&conn, None).await.unwrap();
        assert_eq!(has(&new).await, [true; 5], "{:?}", db.backend);
        assert_eq!(has(&old).await, [false; 5], "{:?}", db.backend);

        Migrator::down(&conn, Some(steps)).await.unwrap();
        assert_eq!(has(&new).await, [false; 5], "{:?}", db.backend);
        assert_eq!(has(&old).await, [true; 5], "{:?}", db.backend);

        // Stopped after its first drops and its first new index.
        for sql in [
            "DROP INDEX tickets_queue_due",
            "DROP INDEX idx_tickets_status_sla_due",
            "CREATE INDEX tickets_assignee_open ON tickets (assignee) \
             WHERE assignee IS NOT NULL AND status NOT IN ('resolved', 'closed')",
        ] {
            conn.execute_unprepared(sql).await.unwrap();
        }
        Migrator::up(&conn, None).await.unwrap();
        assert_eq!(has(&new).await, [true; 5], "{:?}", db.backend);
        assert_eq!(has(&old).await, [false; 5], "{:?}", db.backend);
        conn.close().await.unwrap();
    })
    .await;
}

/// PostgreSQL connections cut while idle in the pool (a restart of the server, an
/// administrator) are found and replaced before use: every connection of the server's pool
/// is terminated, and once they have gone the next read and the next ticket are served.
#[tokio::test]
async fn postgresql_connections_cut_while_idle_are_replaced() {
    use sea_orm::{ConnectionTrait, Database, Statement};
    each_backend(async |db| {
        if db.backend != Backend::Postgres {
            return;
        }
        let server = TestServer::start(db).await;
        let ticket =
            |s: &str| json!({"channel": "web", "subject": s, "body": "Der Drucker druckt nicht"});
        let c = client();
        let tickets = server.url("/api/v1/tickets");
        assert_eq!(
            send(&c, tickets.clone(), ticket("vorher"), None).await.0,
            201
        );
        let admin = Database::connect(&db.url).await.unwrap();
        let cut = admin
            .query_one(Statement::from_string(
                admin.get_database_backend(),
                // The server's connections chosen first (`OFFSET 0` keeps the planner
                // from terminating before it filters), then cut.
                "SELECT COUNT(*) AS n FROM (SELECT pid FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() OFFSET 0) s \
                 WHERE pg_terminate_backend(pid)",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert!(cut >= 1, "no connection of the server's pool was cut");
        // `pg_terminate_backend` only signals: give the backends time to exit.
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        let (status, _) = get_json(&server.url("/api/v1/tickets?limit=5")).await;
        assert_eq!(status, 200);
        assert_eq!(send(&c, tickets, ticket("nachher"), None).await.0, 201);
        server.stop().await;
    })
    .await;
}
