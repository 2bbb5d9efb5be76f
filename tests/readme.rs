//! README's walkthrough, run as a newcomer runs it: `triage serve` started from a fresh
//! directory with its defaults (embedded SQLite, shipped rules), the admin token taken from
//! its first-start line, then every block marked `<!-- walkthrough -->` pasted in order
//! into bash. Any curl answer of 400 or above, or any failing command, fails the test.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The shell blocks that follow a `<!-- walkthrough -->` line, in order.
fn walkthrough_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- walkthrough -->" {
            continue;
        }
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "a walkthrough marker must precede a code block"
        );
        let block: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        blocks.push(block.join("\n"));
    }
    blocks
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_walkthrough_runs_as_written_against_a_fresh_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = walkthrough_blocks(&readme);
    assert_eq!(
        blocks.len(),
        2,
        "Quick start's try-it block and the HTTP walkthrough"
    );

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bin = Path::new(env!("CARGO_BIN_EXE_triage"));
    let mut child = Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--rules"])
        .arg(root.join("rules"))
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("triage serve starts");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut token = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(t) = line.strip_prefix("export TRIAGE_TOKEN=") {
            token = t.split_whitespace().next().map(str::to_owned);
        }
        if line.starts_with("triage listening on") || Instant::now() > deadline {
            assert!(
                !line.contains("rules rules"),
                "the start-up line names the rules directory once: {line}"
            );
            break;
        }
    }
    let token = token.expect("a first start prints the admin token");

    // curl fails on an HTTP error; the server's address replaces README's default.
    let script = format!(
        "curl() {{ command curl --fail-with-body --show-error --max-time 30 \"$@\"; }}\n{}\n",
        blocks
            .join("\n")
            .replace("localhost:8080", &format!("127.0.0.1:{port}"))
    );
    let path = std::env::var("PATH").unwrap_or_default();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("TRIAGE_TOKEN", &token)
        .env(
            "PATH",
            format!("{}:{path}", bin.parent().unwrap().display()),
        )
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the walkthrough failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // What README promises along the way.
    for promise in [
        "\"status\":\"answered-automatically\"",
        "\"direction\":\"note\"",
        "etag: \"1\"",
    ] {
        assert!(
            stdout.to_lowercase().contains(&promise.to_lowercase()),
            "the walkthrough's output lacks {promise}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("\"by\":\"agent\""),
        "the transfer's reason in the trace:\n{stdout}"
    );
    drop(server);
}
