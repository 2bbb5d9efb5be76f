//! The `triage` command line: parses arguments, calls the library, maps errors to exit codes.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};

use triage::classify::classify;
use triage::intake::jsonl::TicketInput;
use triage::rules;

#[derive(Parser)]
#[command(
    name = "triage",
    version,
    about = "Helpdesk triage: segment, window, automation, queue — with reasons"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate or inspect rules files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Classify tickets read as JSON lines on stdin; writes one decision per line to stdout.
    ///
    /// Input per line: {"channel","subject","body","from":{"email","name","phone"},
    /// "received_at"} with received_at in RFC 3339 (default: now). A line that cannot be
    /// read yields {"line":N,"error":"…"} and processing continues; the exit code is then 1.
    Classify {
        /// Rules directory.
        #[arg(long, env = "TRIAGE_RULES", default_value = "rules")]
        rules: PathBuf,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Check a rules directory: exit 0 when valid (warnings printed), 1 with every error.
    Check {
        /// Rules directory.
        #[arg(default_value = "rules", env = "TRIAGE_RULES")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rules {
            command: RulesCommand::Check { dir },
        } => rules_check(&dir),
        Command::Classify { rules } => classify_lines(&rules),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(dir: &std::path::Path) -> anyhow::Result<rules::Loaded> {
    let loaded = rules::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    Ok(loaded)
}

fn rules_check(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let loaded = load(dir)?;
    let r = &loaded.rules;
    println!(
        "{}: ok ({} rules, {} categories, {} queues, {} customers, {} warnings) version {}",
        dir.display(),
        r.rules.len(),
        r.categories.len(),
        r.queues.len(),
        r.customers.len(),
        loaded.warnings.len(),
        r.version
    );
    Ok(ExitCode::SUCCESS)
}

fn classify_lines(dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let rules = load(dir)?.rules;
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    for (n, line) in stdin.lines().enumerate() {
        let line_no = n + 1;
        let line = line.with_context(|| format!("reading line {line_no} of stdin"))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = TicketInput::parse(&line).and_then(|input| {
            let external_id = input.external_id.clone();
            input.into_ticket(Utc::now()).map(|t| (t, external_id))
        });
        let value = match parsed {
            Ok((ticket, external_id)) => {
                let decision = classify(&rules, &ticket);
                let mut v = serde_json::json!({ "line": line_no });
                if let Some(id) = external_id {
                    v["external_id"] = id.into();
                }
                merge(&mut v, serde_json::to_value(&decision)?);
                v
            }
            Err(e) => {
                failed = true;
                serde_json::json!({ "line": line_no, "error": format!("line {line_no}: {e}") })
            }
        };
        serde_json::to_writer(&mut out, &value)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    if let (Some(a), serde_json::Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}
