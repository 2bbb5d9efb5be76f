//! The `triage` binary as a user runs it: rules check and classify, on the shipped rules and
//! on broken copies of them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn triage(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TRIAGE_RULES")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start triage");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A copy of the shipped rules in a fresh temporary directory, with `edit` applied.
fn broken_copy(name: &str, edit: impl Fn(&Path)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("triage-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    edit(&dir);
    dir
}

#[test]
fn shipped_rules_check_clean() {
    let out = triage(&["rules", "check", "rules"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("rules: ok"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(text(&out.stderr), "", "shipped rules must have no warnings");
}

#[test]
fn rules_check_lists_every_error_with_file_and_line() {
    let dir = broken_copy("errors", |dir| {
        let path = dir.join("classification.toml");
        let mut rules = std::fs::read_to_string(&path).unwrap();
        rules.push_str(
            "\n[[rule]]\nid = \"typo\"\nset = { category = \"pasword-reset\" }\n\n[[rule]]\nid = \"bad-regex\"\nwhen.subject = \"([a-z\"\nset = { priority = \"P1\" }\n",
        );
        std::fs::write(&path, rules).unwrap();
    });
    let out = triage(&["rules", "check", dir.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let lines = std::fs::read_to_string(dir.join("classification.toml")).unwrap();
    let line_of = |needle: &str| lines.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let file = dir.join("classification.toml");
    let expect_typo = format!("{}:{}:", file.display(), line_of("pasword-reset"));
    let expect_regex = format!("{}:{}:", file.display(), line_of("([a-z"));
    assert!(err.contains(&expect_typo), "{err}");
    assert!(err.contains("unknown category \"pasword-reset\""), "{err}");
    assert!(err.contains(&expect_regex), "{err}");
    assert!(err.contains("rules rejected with 2 errors"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rules_check_of_a_missing_directory_fails_clearly() {
    let out = triage(&["rules", "check", "no/such/dir"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no/such/dir: error: cannot read"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn classify_writes_one_decision_per_line_in_order() {
    let input = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tickets.jsonl"),
    )
    .unwrap();
    let out = triage(&["classify"], &input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let decisions: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(decisions.len(), input.lines().count());
    for (i, d) in decisions.iter().enumerate() {
        assert_eq!(d["line"], i + 1);
        assert!(d["rules_version"].as_str().unwrap().starts_with("sha256:"));
    }
    // The hospital's night-time outage mail.
    let kis = &decisions[1];
    assert_eq!(kis["segment"], "business-critical");
    assert_eq!(kis["category"], "outage");
    assert_eq!(kis["priority"], "P1");
    assert_eq!(kis["time_window"], "24x7");
    assert_eq!(kis["within_window"], true);
    assert_eq!(kis["automation"], "human");
    assert_eq!(kis["queue"], "major-incident");
    assert_eq!(kis["organisation"], "LKH Nord");
    assert_eq!(kis["trace"]["segment"]["by"], "customer");
    assert_eq!(kis["trace"]["category"]["rule"], "outage");
    // A commercial customer's billing call in the evening: phone is served in office hours.
    let call = &decisions[2];
    assert_eq!(call["category"], "billing");
    assert_eq!(call["time_window"], "business-hours");
    assert_eq!(call["within_window"], false);
    assert_eq!(call["trace"]["time_window"]["by"], "channel");
    // An English VPN download question may be answered automatically.
    let vpn = &decisions[3];
    assert_eq!(vpn["category"], "software-download");
    assert_eq!(vpn["automation"], "automated");
    assert_eq!(vpn["language"], "en");
}

#[test]
fn a_bad_line_yields_an_error_object_and_processing_continues() {
    let input = concat!(
        "{\"channel\":\"web\",\"subject\":\"Passwort vergessen\"}\n",
        "{\"channel\":\"fax\",\"subject\":\"x\"}\n",
        "not json\n",
        "{\"channel\":\"email\",\"subject\":\"Rechnung\",\"received_at\":\"yesterday\"}\n",
        "{\"channel\":\"email\",\"subject\":\"Rechnung doppelt\"}\n",
    );
    let out = triage(&["classify"], input);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["category"], "password-reset");
    for (i, field) in [(1, "fax"), (2, "expected"), (3, "received_at")] {
        assert_eq!(lines[i]["line"], i + 1);
        let err = lines[i]["error"].as_str().unwrap();
        assert!(err.starts_with(&format!("line {}:", i + 1)), "{err}");
        assert!(err.contains(field), "{err}");
    }
    assert_eq!(lines[4]["category"], "billing");
}

#[test]
fn classify_refuses_to_start_on_broken_rules() {
    let dir = broken_copy("start", |dir| {
        std::fs::write(dir.join("zz.toml"), "[segment.vip]\nwindow = \"24x7\"\n").unwrap();
    });
    let out = triage(
        &["classify", "--rules", dir.to_str().unwrap()],
        "{\"channel\":\"web\",\"subject\":\"x\"}\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).contains("zz.toml:1:1: error: [segment.vip]: unknown segment"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn export_and_erase_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let out_file = dir.path().join("anna.json");
    let out = triage(
        &[
            "export",
            "--email",
            "Anna@Example.NET",
            "--db",
            &db,
            "--out",
            out_file.to_str().unwrap(),
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(doc["email"], "anna@example.net");
    assert_eq!(doc["tickets"], serde_json::json!([]));
    let out = triage(&["erase", "--email", "anna@example.net", "--db", &db], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["removed"]["tickets"], 0);
    let out = triage(&["erase", "--email", "not an address", "--db", &db], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is not an e-mail address"),
        "{}",
        text(&out.stderr)
    );
}

/// What `--help` offers, README documents: every option of every subcommand, and how to
/// get `triage` on the PATH.
#[test]
fn readme_documents_every_option_the_help_lists() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains("cargo install --path ."),
        "README says how to install triage"
    );
    let commands: &[&[&str]] = &[
        &["serve"],
        &["worker"],
        &["bench"],
        &["classify"],
        &["migrate"],
        &["erase"],
        &["export"],
        &["rules", "check"],
        &["mail", "ingest"],
        &["faq", "import"],
        &["faq", "eval"],
        &["token", "create"],
    ];
    let mut missing = Vec::new();
    for cmd in commands {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = triage(&args, "");
        assert!(out.status.success(), "{cmd:?}: {}", text(&out.stderr));
        let help = text(&out.stdout);
        for word in help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']') {
            let Some(flag) = word.strip_prefix("--") else {
                continue;
            };
            let flag: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if flag.is_empty() || flag == "help" || flag == "version" {
                continue;
            }
            if !readme.contains(&format!("--{flag}")) {
                missing.push(format!("{} --{flag}", cmd.join(" ")));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "options README does not mention: {missing:?}"
    );
    let rules = text(&triage(&["rules", "--help"], "").stdout);
    assert!(!rules.to_lowercase().contains("inspect"), "{rules}");
}

/// The shipped rules with a printer category, its rule and its policy added at the end, as a
/// new service manager would: `keywords` are the printer rule's keywords.
fn printer_example(name: &str, keywords: &str) -> PathBuf {
    broken_copy(name, |dir| {
        let append = |file: &str, text: &str| {
            let path = dir.join(file);
            let mut rules = std::fs::read_to_string(&path).unwrap();
            rules.push_str(text);
            std::fs::write(&path, rules).unwrap();
        };
        append(
            "catalogue.toml",
            "\n[category.printer]\ndescription = \"Printers and toner\"\nqueue = \"service-desk\"\n",
        );
        append(
            "classification.toml",
            &format!("\n[[rule]]\nid = \"printer\"\nwhen.keywords = [{keywords}]\nset = {{ category = \"printer\" }}\n"),
        );
        append(
            "sla.toml",
            "\n[[policy]]\nid = \"printer\"\nwhen = { category = \"printer\" }\nfirst-response = \"2h\"\nresolution = \"1d\"\n",
        );
    })
}

#[test]
fn rules_check_names_rules_and_policies_that_can_never_apply() {
    let dir = printer_example("printer", "\"drucker\", \"printer\", \"toner\"");
    let out = triage(&["rules", "check", dir.to_str().unwrap()], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let line_in = |dir: &Path, file: &str, needle: &str| {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // The block that starts at the last `[[…]]` before the needle's line.
        let at = lines.iter().rposition(|l| l.contains(needle)).unwrap();
        let start = lines[..=at]
            .iter()
            .rposition(|l| l.starts_with("[["))
            .unwrap();
        format!("{}:{}", dir.join(file).display(), start + 1)
    };
    let rule = line_in(&dir, "classification.toml", "id = \"printer\"");
    let incident = line_in(&dir, "classification.toml", "id = \"incident\"");
    assert!(
        err.contains(&format!("{rule}:1: warning: keywords \"drucker\", \"printer\" of rule \"printer\" never decide its category: earlier rule \"incident\" ({incident}) takes every ticket with them (by \"*drucker\", \"printer*\")")),
        "{err}"
    );
    let policy = line_in(&dir, "sla.toml", "id = \"printer\"");
    // Each ticket it matches is taken by the first earlier policy that matches it: phone
    // calls by phone-callback, the rest by the segment-wide policies at the end.
    let warning = err
        .lines()
        .find(|l| {
            l.starts_with(&format!(
                "{policy}:1: warning: policy \"printer\" can never apply: earlier policies "
            ))
        })
        .unwrap_or_else(|| panic!("{err}"));
    for earlier in ["critical", "phone-callback", "commercial", "administrative"] {
        let at = line_in(&dir, "sla.toml", &format!("id = \"{earlier}\""));
        assert!(
            warning.contains(&format!("\"{earlier}\" ({at})")),
            "{warning}"
        );
    }
    assert!(!warning.contains("quote-follow-up"), "{warning}");
    std::fs::remove_dir_all(&dir).unwrap();

    // Every keyword taken: the rule never changes anything and no ticket is a printer ticket.
    let dir = printer_example("printer-all", "\"drucker\", \"printer\"");
    let out = triage(&["rules", "check", dir.to_str().unwrap()], "");
    let err = text(&out.stderr);
    let rule = line_in(&dir, "classification.toml", "id = \"printer\"");
    assert!(
        err.contains(&format!(
            "{rule}:1: warning: rule \"printer\" can never change a decision"
        )),
        "{err}"
    );
    let category = {
        let text = std::fs::read_to_string(dir.join("catalogue.toml")).unwrap();
        let n = text
            .lines()
            .position(|l| l == "[category.printer]")
            .unwrap();
        format!("{}:{}", dir.join("catalogue.toml").display(), n + 1)
    };
    assert!(
        err.contains(&format!(
            "{category}:1: warning: category \"printer\" is never decided"
        )),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn classify_with_sla_counts_due_times_in_the_policys_calendar() {
    let input = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tickets.jsonl"),
    )
    .unwrap();
    let first_two: String = input.lines().take(2).map(|l| format!("{l}\n")).collect();
    let out = triage(&["classify", "--sla"], &first_two);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let d: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sla_toml = std::fs::read_to_string("rules/sla.toml").unwrap();
    let at = |id: &str| {
        let n = sla_toml
            .lines()
            .position(|l| l == format!("id = \"{id}\""))
            .unwrap();
        format!("rules/sla.toml:{n}")
    };
    // Monday 07:45 in Vienna, Alpen Logistik's contract: 2 h and 24 h in the extended
    // window (07:00-20:00): 09:45, and Tuesday 18:45 (12 h 15 min on Monday, 11 h 45 min on Tuesday).
    assert_eq!(d[0]["sla"]["policy"], "alpen-logistik-contract");
    assert_eq!(d[0]["sla"]["policy_at"], at("alpen-logistik-contract"));
    assert_eq!(d[0]["sla"]["calendar"], "extended");
    assert_eq!(d[0]["sla"]["first_response_due"], "2026-11-23T08:45:00Z");
    assert_eq!(d[0]["sla"]["resolution_due"], "2026-11-24T17:45:00Z");
    // The hospital's outage at 02:14 at night: 15 min and 4 h round the clock.
    assert_eq!(d[1]["sla"]["policy"], "critical-outage");
    assert_eq!(d[1]["sla"]["calendar"], "always");
    assert_eq!(d[1]["sla"]["first_response_due"], "2026-11-24T01:29:00Z");
    assert_eq!(d[1]["sla"]["resolution_due"], "2026-11-24T05:14:00Z");
    let plain = triage(&["classify"], &first_two);
    assert!(!text(&plain.stdout).contains("\"sla\""));
}
