//! `triage serve` as an operator runs it: start-up output, SIGTERM, restart, bad rules.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `triage serve` in demo mode (no tokens; these tests are about its life cycle).
fn start(db: &str, rules: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--db",
            db,
            "--rules",
            rules,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TRIAGE_DEMO")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (child, base)
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    child.wait().unwrap()
}

#[tokio::test]
async fn sigterm_stops_cleanly_and_accepted_tickets_survive() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("triage.db").display()
    );
    let (mut child, base) = start(&db, "rules");
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v1/tickets"))
        .json(&serde_json::json!({"channel":"web","subject":"Wo ist meine Bestellung?","body":"Bestellnummer 45120"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let id = resp.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = terminate(&mut child);
    assert!(status.success(), "exit status {status}");

    let (mut child, base) = start(&db, "rules");
    let resp = reqwest::get(format!("{base}/api/v1/tickets/{id}"))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["decision"]["category"], "order-status");
    assert!(terminate(&mut child).success());
}

#[test]
fn an_invalid_rules_directory_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.toml"), "[defaults\n").unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("triage.db").display()
    );
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db", &db, "--rules"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.toml:1:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn the_first_start_prints_an_admin_token_and_the_api_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("triage.db").display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            &db,
            "--rules",
            "rules",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TRIAGE_DEMO")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut token, mut base) = (None, None);
    for _ in 0..3 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        if let Some(t) = line
            .trim()
            .strip_prefix("first start: admin token (shown once, stored only as a hash): ")
        {
            token = Some(t.to_owned());
        }
        if let Some(b) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            base = Some(b.to_owned());
            break;
        }
    }
    let (token, base) = (
        token.expect("a token line"),
        base.expect("a listening line"),
    );
    assert!(token.starts_with("trg_") && token.len() == 68, "{token}");
    let ticket = serde_json::json!({"channel":"web","subject":"Drucker","body":"druckt nicht"});
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{base}/api/v1/tickets"))
        .json(&ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"triage\"");
    let r = c
        .post(format!("{base}/api/v1/tickets"))
        .bearer_auth(&token)
        .json(&ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(terminate(&mut child).code(), Some(0));
    // Demo mode refuses anything but loopback.
    let out = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "serve",
            "--demo",
            "--listen",
            "0.0.0.0:0",
            "--db",
            &db,
            "--rules",
            "rules",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only allowed on a loopback address"));
}
