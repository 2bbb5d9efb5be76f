//! Durability as an operator meets it: `triage serve` killed with SIGKILL in the middle of
//! concurrent intake, started again on the same database, and every ticket it acknowledged
//! (201) is there exactly once — on SQLite and on PostgreSQL.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{backends, free_port, TestDb};
use triage::model::Role;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(db: &str, port: u16, dir: &std::path::Path) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "serve",
            "--db",
            db,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--no-worker",
        ])
        .arg("--rules")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("triage serve starts");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await {
            if r.status().is_success() {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("triage serve did not become ready");
}

#[tokio::test]
async fn acknowledged_tickets_survive_a_kill_exactly_once() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let store = triage::store::Store::open(&db.url).await.unwrap();
        store
            .add_token(
                "crash-gw",
                Role::Gateway,
                "crash-gateway-token",
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        drop(store);
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut server = start(&db.url, port, dir.path()).await;

        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/api/v1/tickets");
        let mut tasks = Vec::new();
        for w in 0..8 {
            let (client, url, acked) = (client.clone(), url.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0..400 {
                    let id = format!("crash-{w}-{n}");
                    let body = serde_json::json!({"channel": "web", "subject": "Drucker",
                        "body": format!("Der Drucker druckt nicht ({id})."), "external_id": id});
                    match client
                        .post(&url)
                        .bearer_auth("crash-gateway-token")
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(r) if r.status().as_u16() == 201 => acked.lock().unwrap().push(id),
                        Ok(_) => {}
                        // The server is gone: this client stops.
                        Err(_) => return,
                    }
                }
            }));
        }
        // SIGKILL at a moment that varies from run to run, while requests are in flight.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        tokio::time::sleep(Duration::from_millis(300 + u64::from(nanos % 700))).await;
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        for t in tasks {
            let _ = t.await;
        }
        let acked = acked.lock().unwrap().clone();
        assert!(
            !acked.is_empty(),
            "no ticket was acknowledged before the kill"
        );

        // Started again on the same database: every acknowledged ticket, once.
        let server = start(&db.url, port, dir.path()).await;
        let store = triage::store::Store::open(&db.url).await.unwrap();
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        for id in &acked {
            let n = entity::tickets::Entity::find()
                .filter(entity::tickets::Column::ExternalId.eq(id.as_str()))
                .count(store.connection())
                .await
                .unwrap();
            assert_eq!(
                n, 1,
                "{backend:?}: ticket {id} was acknowledged, stored {n} times"
            );
        }
        // And the service takes tickets again.
        let r = client
            .post(&url)
            .bearer_auth("crash-gateway-token")
            .json(&serde_json::json!({"channel": "web", "subject": "Nach dem Neustart", "body": "Geht wieder?"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        drop(server);
        drop(store);
        db.drop_db().await;
    }
}
