//! Rules versions through HTTP: what each instance runs, reloads (accepted and refused),
//! and every version ever loaded resolving a ticket's `file:line` after the files changed.

mod common;

use std::path::Path;

use common::*;

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

/// The shipped rules with a printer category whose rule comes before `incident` and whose
/// policy comes before the segment-wide ones.
fn printer_candidate() -> tempfile::TempDir {
    let dir = shipped_copy();
    let edit = |file: &str, f: &dyn Fn(String) -> String| {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, f(text)).unwrap();
    };
    edit("catalogue.toml", &|t| {
        format!("{t}\n[category.printer]\nqueue = \"service-desk\"\n")
    });
    edit("classification.toml", &|t| {
        t.replacen(
            "[[rule]]\nid = \"incident\"",
            "[[rule]]\nid = \"printer\"\nwhen.keywords = [\"drucker\", \"printer\", \"toner\"]\nset = { category = \"printer\" }\n\n[[rule]]\nid = \"incident\"",
            1,
        )
    });
    edit("sla.toml", &|t| {
        t.replacen(
            "[[policy]]\nid = \"security-team\"",
            "[[policy]]\nid = \"printer\"\nwhen = { category = \"printer\" }\nfirst-response = \"2h\"\n\n[[policy]]\nid = \"security-team\"",
            1,
        )
    });
    dir
}

/// Six tickets of a hand-made history: three about printers, three about other things.
const HISTORY: &[(&str, &str, &str, &str, &str)] = &[
    (
        "email",
        "Drucker druckt nicht mehr",
        "Der Drucker im 2. Stock zeigt seit heute früh Fehler E05.",
        "amt@seewalchen.gv.example",
        "2026-11-23T09:00:00+01:00",
    ),
    (
        "email",
        "Printer jams",
        "The printer on floor 3 jams every second page.",
        "it@northwind.example",
        "2026-11-23T10:00:00+01:00",
    ),
    (
        "web",
        "Toner",
        "Bitte um neuen Toner für den Kopierer im Sekretariat.",
        "amt@seewalchen.gv.example",
        "2026-11-24T11:00:00+01:00",
    ),
    (
        "email",
        "Passwort vergessen",
        "Ich habe mein Passwort vergessen.",
        "anna.berger@alpen-logistik.example",
        "2026-11-24T12:00:00+01:00",
    ),
    (
        "email",
        "Rechnung falsch",
        "Die Rechnung 2026-113 ist doppelt verrechnet.",
        "buchhaltung@alpen-logistik.example",
        "2026-11-25T09:30:00+01:00",
    ),
    (
        "email",
        "Outlook stürzt ab",
        "Outlook stürzt beim Öffnen von Anhängen ab.",
        "amt@seewalchen.gv.example",
        "2026-11-25T14:00:00+01:00",
    ),
];

fn rules_diff(db: &TestDb, candidate: &Path) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .args([
            "rules",
            "diff",
            candidate.to_str().unwrap(),
            "--rules",
            "rules",
            "--db",
            &db.url,
            "--format",
            "json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TRIAGE_RULES")
        .env_remove("TRIAGE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The tickets named in a transition's examples.
fn examples(report: &serde_json::Value, field: &str, transition: &str) -> Vec<String> {
    report["fields"][field]["transitions"][transition]["examples"]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} transition {transition}: {report}"))
        .iter()
        .map(|e| e["ticket"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_rules_diff_moves_exactly_the_tickets_the_change_should() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        for (channel, subject, body, from, at) in HISTORY {
            let (status, _, t) = post_ticket(
                &server.base,
                &serde_json::json!({"channel": channel, "subject": subject, "body": body,
                    "from": {"email": from}, "received_at": at}),
                None,
            )
            .await;
            assert_eq!(status, 201, "{t}");
        }

        // A person moves the English printer mail to another queue: the diff keeps that
        // queue on both sides and counts it apart.
        let resp = client()
            .post(server.url("/api/v1/tickets/T-000002/transfer"))
            .json(&serde_json::json!({"queue": "user-admin", "reason": "Drucker im Labor"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

        // The same rules: nothing changes.
        let same = rules_diff(db, Path::new("rules"));
        assert_eq!(same["kept"]["queue_by_person"], 1, "{same}");
        assert_eq!(same["tickets"], 6);
        assert_eq!(same["changed"], 0, "{same}");
        assert_eq!(same["fields"], serde_json::json!({}));
        assert_eq!(same["current_version"], same["candidate_version"]);

        let candidate = printer_candidate();
        let report = rules_diff(db, candidate.path());
        assert_eq!(report["tickets"], 6);
        assert_eq!(report["changed"], 3, "{report}");
        assert_eq!(report["fields"]["category"]["changed"], 3);
        assert_eq!(examples(&report, "category", "incident → printer"), ["T-000001", "T-000002"]);
        assert_eq!(examples(&report, "category", "general → printer"), ["T-000003"]);
        let example = &report["fields"]["category"]["transitions"]["incident → printer"]["examples"][0];
        assert_eq!(example["current"]["rule"], "incident");
        assert!(example["current"]["at"].as_str().unwrap().contains("classification.toml:"));
        assert_eq!(example["candidate"]["rule"], "printer");
        assert!(example["candidate"]["at"].as_str().unwrap().starts_with(&candidate.path().display().to_string()));
        assert_eq!(report["fields"]["sla_policy"]["changed"], 3);
        assert_eq!(examples(&report, "sla_policy", "administrative → printer"), ["T-000001"]);
        assert_eq!(examples(&report, "sla_policy", "commercial → printer"), ["T-000002"]);
        assert_eq!(examples(&report, "sla_policy", "web-form → printer"), ["T-000003"]);
        for field in ["segment", "priority", "queue", "automation", "time_window", "faq", "tags"] {
            assert!(report["fields"].get(field).is_none(), "{field} changed: {report}");
        }
        assert_eq!(report["queues"]["current"], report["queues"]["candidate"]);
        assert_eq!(report["queues"]["candidate"]["user-admin"], 1, "{report}");
        assert_eq!(report["kept"]["queue_by_person"], 1);
        // The password mail got its automatic answer when it was posted, days after the
        // received_at it came with: a recorded first response, late on both sides (its
        // policy does not change).
        let fr = &report["attainment"]["commercial/email"]["first_response"];
        assert_eq!(fr["current_measured"], 1, "{}", report["attainment"]);
        assert_eq!(fr["candidate_measured"], 1);
        assert_eq!(fr["current_met"], 0);
        assert_eq!(fr["candidate_met"], 0);

        // A category no machine may answer any more: only the FAQ decision of its ticket
        // changes (the search found on the current side serves both).
        let manual = shipped_copy();
        let catalogue = manual.path().join("catalogue.toml");
        let text = std::fs::read_to_string(&catalogue).unwrap();
        let edited = text.replacen(
            "[category.password-reset]\ndescription = \"Forgotten password, locked account, MFA reset\"\nautomatable = true",
            "[category.password-reset]\ndescription = \"Forgotten password, locked account, MFA reset\"\nautomatable = false",
            1,
        );
        assert_ne!(edited, text);
        std::fs::write(&catalogue, edited).unwrap();
        let report = rules_diff(db, manual.path());
        assert_eq!(report["fields"]["faq"]["changed"], 1, "{report}");
        let moves = report["fields"]["faq"]["transitions"].as_object().unwrap();
        assert_eq!(moves.len(), 1, "{report}");
        let (transition, t) = moves.iter().next().unwrap();
        let (from, to) = transition.split_once(" → ").unwrap();
        assert_eq!(from, "automated password-reset-de", "{report}");
        assert!(!to.starts_with("automated"), "{transition}");
        assert_eq!(t["examples"][0]["ticket"], "T-000004");

        // The same through the API, with only the changed files in the body.
        let files: serde_json::Map<String, serde_json::Value> = ["catalogue.toml", "classification.toml", "sla.toml"]
            .iter()
            .map(|f| (f.to_string(), std::fs::read_to_string(candidate.path().join(f)).unwrap().into()))
            .collect();
        let resp = client()
            .post(server.url("/api/v1/rules/simulate"))
            .json(&serde_json::json!({ "files": files }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let api: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(api["changed"], 3, "{api}");
        assert_eq!(api["fields"]["category"]["changed"], 3);
        assert_eq!(examples(&api, "sla_policy", "web-form → printer"), ["T-000003"]);
        // A broken candidate is refused with its file:line; agents may not simulate.
        let resp = client()
            .post(server.url("/api/v1/rules/simulate"))
            .json(&serde_json::json!({ "files": { "classification.toml": "[[rule]]\nid = \"x\"\nset = { category = \"nope\" }\n" } }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422);
        let problem: serde_json::Value = resp.json().await.unwrap();
        assert!(problem["errors"][0].as_str().unwrap().starts_with("classification.toml:3:"), "{problem}");
        let resp = client_with("test-agent-token")
            .post(server.url("/api/v1/rules/simulate"))
            .json(&serde_json::json!({ "files": {} }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403);
        server.stop().await;
    })
    .await;
}
