//! The dashboard in a real browser: Debian's Chromium, driven by `playwright-core`
//! (`tests/ui/dashboard.mjs`), against the real server on a database seeded with the demo
//! month, on SQLite and PostgreSQL. The script compares every page with the API's
//! answers. Needs `node`, Chromium and `npm ci --prefix tests/ui`; `.ci/run` installs
//! them, and under `CI=true` their absence fails the test. With `TRIAGE_SCREENSHOTS=DIR`
//! the script also saves a screenshot of each page there (README's come from this).

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// Chromium, or what is missing.
fn tools() -> Result<PathBuf, Vec<&'static str>> {
    let mut missing = Vec::new();
    let chromium = std::env::var_os("CHROMIUM").map(PathBuf::from).or_else(|| {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    });
    if chromium.is_none() {
        missing.push("chromium (Debian's chromium package)");
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        missing.push("node");
    }
    if !ui_dir().join("node_modules/playwright-core").exists() {
        missing.push("playwright-core (npm ci --prefix tests/ui)");
    }
    match chromium {
        Some(c) if missing.is_empty() => Ok(c),
        _ => Err(missing),
    }
}

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

#[tokio::test]
async fn the_dashboard_shows_the_apis_figures_in_chromium() {
    let chromium = match tools() {
        Ok(c) => c,
        Err(missing) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true needs for the browser test: {}",
                missing.join(", ")
            );
            eprintln!("skipped: the browser test needs {}", missing.join(", "));
            return;
        }
    };
    each_backend(async |db| {
        // Started as `triage serve` starts: the rules version is recorded, so the rules
        // page can show the files in force and try a change of them.
        let rules = Path::new("rules");
        let server = TestServer::start_from_dir(db, rules, "browser-test").await;
        let desk = &server.state.desk;
        let opts = triage::demo::DemoOptions {
            days: 35,
            per_weekday: 16,
            seed: 11,
        };
        let summary = triage::demo::write(desk, desk.clock.now(), opts)
            .await
            .expect("demo data written");
        assert!(summary.tickets > 300, "{summary:?}");
        let mut script = tokio::process::Command::new("node");
        script
            .arg("dashboard.mjs")
            .current_dir(ui_dir())
            .env("BASE", &server.base)
            .env("MANAGER_TOKEN", "test-manager-token")
            .env("AGENT_TOKEN", "test-agent-token")
            .env("CHROMIUM", &chromium)
            .kill_on_drop(true);
        if let Some(dir) = std::env::var_os("TRIAGE_SCREENSHOTS") {
            script.env(
                "SCREENSHOTS",
                Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
            );
        }
        let out = tokio::time::timeout(std::time::Duration::from_secs(240), script.output())
            .await
            .expect("the browser run ends within 4 minutes")
            .expect("node runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("{stdout}");
        assert!(
            out.status.success(),
            "the dashboard script failed on {:?}:\n{stdout}\n{stderr}",
            db.backend
        );
        assert!(stdout.contains("checks passed"), "{stdout}");
        server.stop().await;
    })
    .await;
}
