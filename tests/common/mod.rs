//! Test harness: a real server on an ephemeral port over a real database — a fresh SQLite
//! file, and a fresh PostgreSQL database when `TRIAGE_TEST_DATABASE_URL` is set.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, Database};
use tokio::sync::oneshot;
use triage::api::{self, ApiConfig, AppState};
use triage::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends to run every test against: SQLite always, PostgreSQL when configured
/// (required when `CI=true`).
pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if std::env::var("TRIAGE_TEST_DATABASE_URL").is_ok() {
        b.push(Backend::Postgres);
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true requires TRIAGE_TEST_DATABASE_URL (PostgreSQL)"
        );
    }
    b
}

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("triage.db").display()
                );
                TestDb {
                    url,
                    backend,
                    pg: None,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = std::env::var("TRIAGE_TEST_DATABASE_URL").unwrap();
                let name = format!("triage_t_{}", uuid::Uuid::new_v4().simple());
                let conn = Database::connect(&admin)
                    .await
                    .expect("PostgreSQL reachable");
                conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                let (base, _) = admin.rsplit_once('/').unwrap();
                TestDb {
                    url: format!("{base}/{name}"),
                    backend,
                    pg: Some((admin, name)),
                    _dir: None,
                }
            }
        }
    }

    /// Drops a PostgreSQL test database (SQLite files go with the temporary directory).
    pub async fn drop_db(self) {
        if let Some((admin, name)) = &self.pg {
            if let Ok(conn) = Database::connect(admin).await {
                let _ = conn
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                let _ = conn.close().await;
            }
        }
    }
}

/// A copy of the shipped rules in a temporary directory.
pub fn shipped_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

/// A copy of the shipped rules with `sla.toml` replaced, in a temporary directory (so that a
/// `triage worker` process can read it too).
pub fn rules_with_sla(sla: &str) -> (tempfile::TempDir, triage::rules::CompiledRules) {
    let dir = shipped_copy();
    std::fs::write(dir.path().join("sla.toml"), sla).unwrap();
    let rules = triage::rules::load_dir(dir.path())
        .unwrap_or_else(|e| panic!("test rules rejected: {e}"))
        .rules;
    (dir, rules)
}

pub fn shipped_rules() -> triage::rules::CompiledRules {
    triage::rules::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
        .unwrap()
        .rules
}

/// A running server.
pub struct TestServer {
    pub base: String,
    pub state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn start(db: &TestDb) -> TestServer {
        TestServer::start_with(db, ApiConfig::default()).await
    }

    pub async fn start_with(db: &TestDb, config: ApiConfig) -> TestServer {
        TestServer::start_with_rules(db, config, shipped_rules()).await
    }

    pub async fn start_with_rules(
        db: &TestDb,
        config: ApiConfig,
        rules: triage::rules::CompiledRules,
    ) -> TestServer {
        let store = open_with_tokens(db).await;
        TestServer::serve(Arc::new(AppState::new(store, rules, config))).await
    }

    /// A server that loads its rules from `dir`, reports them as `instance` and records
    /// the version at start, as `triage serve` does.
    pub async fn start_from_dir(db: &TestDb, dir: &Path, instance: &str) -> TestServer {
        let rules = triage::rules::load_dir(dir)
            .unwrap_or_else(|e| panic!("test rules rejected: {e}"))
            .rules;
        let store = open_with_tokens(db).await;
        let handle = triage::desk::RulesHandle::from_dir(rules, dir.to_path_buf(), instance);
        triage::desk::rules::record_start(&store, &handle, chrono::Utc::now())
            .await
            .expect("rules version recorded");
        let desk = triage::desk::Desk::new(store, handle, triage::clock::Clock::system());
        TestServer::serve(Arc::new(AppState::with_desk(desk, ApiConfig::default()))).await
    }

    async fn serve(state: Arc<AppState>) -> TestServer {
        state
            .init_faq(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
            .await
            .expect("shipped FAQ articles load");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        let handle = tokio::spawn(api::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        TestServer {
            base,
            state,
            shutdown: Some(tx),
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.await.unwrap().unwrap();
    }
}

/// The test database with one token per role.
async fn open_with_tokens(db: &TestDb) -> Store {
    let store = Store::open(&db.url).await.expect("store opens");
    for (role, token) in TOKENS {
        // A second server on the same database finds them there.
        match store
            .add_token(role.as_str(), *role, token, chrono::Utc::now())
            .await
        {
            Ok(_) | Err(triage::store::StoreError::Duplicate(_)) => {}
            Err(e) => panic!("test token not stored: {e}"),
        }
    }
    store
}

/// One token per role in every test server's database.
pub const TOKENS: &[(triage::model::Role, &str)] = &[
    (triage::model::Role::Gateway, "test-gateway-token"),
    (triage::model::Role::Agent, "test-agent-token"),
    (triage::model::Role::Manager, "test-manager-token"),
    (triage::model::Role::Admin, "test-admin-token"),
];

/// A client that sends `token` with every request.
pub fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A client with the admin token: tests about what a feature does, not who may use it.
pub fn client() -> reqwest::Client {
    client_with("test-admin-token")
}

/// POSTs a ticket and returns status, headers and body.
pub async fn post_ticket(
    base: &str,
    body: &serde_json::Value,
    key: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut req = client().post(format!("{base}/api/v1/tickets")).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, headers, body)
}

/// GETs `url` as CSV (`Accept: text/csv`): the answer's media type must say so.
pub async fn get_csv(url: &str) -> String {
    let resp = client()
        .get(url)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    let media = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(media.starts_with("text/csv"), "{url}: {media}");
    resp.text().await.unwrap()
}

pub async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let resp = client().get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// Runs `f` once per backend, each time on a fresh database.
pub async fn each_backend(f: impl AsyncFn(&TestDb)) {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        f(&db).await;
        db.drop_db().await;
    }
}

/// POSTs a raw message to the mail intake as `c`; returns status and body.
pub async fn deliver_mail(
    c: &reqwest::Client,
    server: &TestServer,
    raw: impl Into<reqwest::Body>,
) -> (u16, serde_json::Value) {
    let resp = c
        .post(server.url("/api/v1/intake/mail"))
        .header("Content-Type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// POSTs JSON and returns status and body.
pub async fn post(url: String, body: serde_json::Value) -> (u16, serde_json::Value) {
    let resp = client().post(url).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// The latest clock of a metric in a ticket's `sla`.
pub fn clock<'a>(ticket: &'a serde_json::Value, metric: &str) -> &'a serde_json::Value {
    ticket["sla"]["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|c| c["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} clock in {ticket}"))
}

/// An RFC 3339 time of a JSON body.
pub fn time(v: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Two `triage worker` processes on one database, polling every 20 ms: background work that
/// must be done once however many workers run. Killed when dropped.
pub struct Workers(Vec<std::process::Child>);

impl Workers {
    pub fn start(db_url: &str, rules: &Path, extra: &[&str]) -> Workers {
        let spawn = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
                .args(["worker", "--db", db_url, "--rules"])
                .arg(rules)
                .args(["--worker-interval-ms", "20"])
                .args(extra)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("triage worker starts")
        };
        Workers(vec![spawn(), spawn()])
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for w in &mut self.0 {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// A loopback port nothing listens on at the moment.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The kinds of a ticket's events, oldest first.
pub async fn event_kinds(server: &TestServer, ticket: &str) -> Vec<String> {
    let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{ticket}/events"))).await;
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Empties `sla_clocks`, as in a database from before its rows were kept: the next store to
/// open it fills them in again.
pub async fn forget_kept_clocks(db: &TestDb) {
    use sea_orm::ConnectionTrait;
    let conn = sea_orm::Database::connect(&db.url).await.unwrap();
    conn.execute_unprepared("DELETE FROM sla_clocks")
        .await
        .unwrap();
    conn.close().await.unwrap();
}
