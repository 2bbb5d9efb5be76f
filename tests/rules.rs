//! Rules versions through HTTP: what each instance runs, reloads (accepted and refused),
//! and every version ever loaded resolving a ticket's `file:line` after the files changed.

mod common;

use std::path::Path;

use common::*;

/// A copy of the shipped rules in a temporary directory.
fn shipped_copy() -> tempfile::TempDir {
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

async fn get(c: &reqwest::Client, url: String) -> (u16, serde_json::Value) {
    let resp = c.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

async fn reload(server: &TestServer) -> (u16, String, serde_json::Value) {
    let resp = client()
        .post(server.url("/api/v1/rules/reload"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, resp.json().await.unwrap())
}

#[tokio::test]
async fn rules_versions_survive_restarts_and_resolve_old_tickets_file_and_line() {
    each_backend(async |db| {
        let dir = shipped_copy();
        let classification = dir.path().join("classification.toml");
        let original = std::fs::read_to_string(&classification).unwrap();
        let a = TestServer::start_from_dir(db, dir.path(), "desk-a").await;
        let c = client();

        let (status, rules) = get(&c, a.url("/api/v1/rules")).await;
        assert_eq!(status, 200, "{rules}");
        let v1 = rules["version"].as_str().unwrap().to_owned();
        assert!(v1.starts_with("sha256:"));
        assert_eq!(rules["instance"], "desk-a");
        assert!(rules["loaded_at"].as_str().is_some());
        let name = classification.display().to_string();
        assert!(
            rules["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == name.as_str() && f["bytes"] == original.len()),
            "{rules}"
        );
        assert_eq!(rules["all_same_version"], true);
        assert_eq!(rules["instances"][0]["instance"], "desk-a");
        assert_eq!(rules["instances"][0]["alive"], true);
        assert_eq!(rules["recent_loads"][0]["trigger"], "start");

        // Agents and gateways do not see the rules administration.
        for token in ["test-agent-token", "test-gateway-token"] {
            let (status, _) = get(&client_with(token), a.url("/api/v1/rules")).await;
            assert_eq!(status, 403);
        }

        // A ticket decided under v1, with the file:line of the rule that set its category.
        let (status, _, t) = post_ticket(
            &a.base,
            &serde_json::json!({"channel": "email", "subject": "Passwort vergessen",
                "body": "Ich habe mein Passwort vergessen.",
                "from": {"email": "anna.berger@alpen-logistik.example"}}),
            None,
        )
        .await;
        assert_eq!(status, 201, "{t}");
        assert_eq!(t["decision"]["rules_version"], v1.as_str());
        let at = t["decision"]["trace"]["category"]["at"]
            .as_str()
            .unwrap()
            .to_owned();
        let rule = t["decision"]["trace"]["category"]["rule"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(at.starts_with(&format!("{name}:")), "{at}");

        // The file changes: lines move, so the old file:line points elsewhere today.
        std::fs::write(
            &classification,
            format!("# moved down by three lines\n#\n#\n{original}"),
        )
        .unwrap();
        let (status, _, r) = reload(&a).await;
        assert_eq!(status, 200, "{r}");
        assert_eq!(r["changed"], true);
        let v2 = r["version"].as_str().unwrap().to_owned();
        assert_ne!(v1, v2);
        let (_, r) = reload(&a).await.into_body();
        assert_eq!(r["changed"], false);

        // A broken file is refused with its file:line, recorded, and v2 stays.
        std::fs::write(
            &classification,
            format!(
                "{original}\n[[rule]]\nid = \"typo\"\nset = {{ category = \"pasword-reset\" }}\n"
            ),
        )
        .unwrap();
        let (status, kind, problem) = reload(&a).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(kind, "application/problem+json");
        assert_eq!(problem["type"], "/problems/rules-rejected");
        let line = original.lines().count() + 4;
        assert!(
            problem["errors"][0]
                .as_str()
                .unwrap()
                .starts_with(&format!("{name}:{line}:")),
            "{problem}"
        );
        let (_, rules) = get(&c, a.url("/api/v1/rules")).await;
        assert_eq!(rules["version"], v2.as_str());
        assert!(rules["last_reload_error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown category \"pasword-reset\""));
        let refused = &rules["recent_loads"][0];
        assert_eq!(refused["trigger"], "api");
        assert_eq!(refused["token"], "admin");
        assert!(refused["version"].is_null());
        assert!(refused["error"].as_str().unwrap().contains("pasword-reset"));
        a.stop().await;

        // Another instance starts later with yet another version; the first one's last
        // heartbeat is recent, so the two disagree.
        std::fs::write(&classification, format!("# v3\n{original}")).unwrap();
        let b = TestServer::start_from_dir(db, dir.path(), "desk-b").await;
        let (_, rules) = get(&c, b.url("/api/v1/rules")).await;
        let v3 = rules["version"].as_str().unwrap().to_owned();
        assert_ne!(v3, v2);
        assert_eq!(rules["all_same_version"], false, "{rules}");
        let by_instance = |name: &str| {
            rules["instances"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["instance"] == name)
                .cloned()
                .unwrap()
        };
        assert_eq!(by_instance("desk-a")["version"], v2.as_str());
        assert!(by_instance("desk-a")["last_reload_error"]["message"].is_string());
        assert_eq!(by_instance("desk-b")["version"], v3.as_str());

        // The old ticket's version and file:line resolve to the text it was decided by.
        let (status, v) = get(&c, b.url(&format!("/api/v1/rules/versions/{v1}?at={at}"))).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["version"], v1.as_str());
        assert_eq!(v["first_loaded_by"], "desk-a");
        let file = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name.as_str())
            .unwrap();
        assert_eq!(file["text"], original.as_str());
        let excerpt = v["excerpt"]["text"].as_str().unwrap();
        assert!(
            excerpt.starts_with("[[rule]]") && excerpt.contains(&format!("id = \"{rule}\"")),
            "{excerpt}"
        );
        // Today's file has other lines there.
        let today = std::fs::read_to_string(&classification).unwrap();
        let n: usize = at.rsplit(':').next().unwrap().parse().unwrap();
        assert_ne!(today.lines().nth(n - 1), Some("[[rule]]"));
        let (status, v) = get(&c, b.url("/api/v1/rules/versions/sha256:0000000000000000")).await;
        assert_eq!(status, 404, "{v}");

        // Readiness and metrics name the version.
        let (_, ready) = get(&c, b.url("/readyz")).await;
        assert_eq!(ready["rules_version"], v3.as_str());
        assert_eq!(ready["instance"], "desk-b");
        let metrics = c
            .get(b.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains(&format!("triage_rules_version_info{{version=\"{v3}\"}} 1")),
            "{metrics}"
        );
        b.stop().await;
    })
    .await;
}

trait IntoBody {
    fn into_body(self) -> (u16, serde_json::Value);
}

impl IntoBody for (u16, String, serde_json::Value) {
    fn into_body(self) -> (u16, serde_json::Value) {
        (self.0, self.2)
    }
}
