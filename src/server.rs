//! The life of a `triage serve` or `triage worker` process: open the store, load the rules
//! into the one handle the API, the worker and the reload on SIGHUP share, set up the FAQ
//! index, serve until SIGTERM or Ctrl-C, then finish what is in flight.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{self, ApiConfig, AppState};
use crate::clock::Clock;
use crate::desk::{Desk, RulesHandle};
use crate::rules;
use crate::store::Store;
use crate::worker::{self, WorkerConfig};

/// Why a process could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Rules(String),
    #[error("opening the database {url}: {source}")]
    Store {
        url: String,
        source: crate::store::StoreError,
    },
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("--demo turns off authentication and is only allowed on a loopback address, not {0}")]
    DemoNotLoopback(std::net::SocketAddr),
    #[error(transparent)]
    Faq(#[from] api::FaqInitError),
    #[error("demo data: {0}")]
    Demo(#[from] crate::demo::DemoError),
    #[error(transparent)]
    Db(#[from] crate::store::StoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What `triage serve` runs with.
pub struct ServeConfig {
    /// The name this process reports its rules under.
    pub instance: String,
    pub db: String,
    pub rules_dir: PathBuf,
    pub listen: String,
    pub data_dir: PathBuf,
    pub demo: bool,
    /// Write the demo month (`triage demo-data`) first when the database holds no tickets.
    pub demo_data: bool,
    pub api: ApiConfig,
    /// `None`: no worker in this process.
    pub worker: Option<WorkerConfig>,
}

/// Threads that serve requests, by default: one per core, less one when the database runs
/// on this machine, whose own threads (SQLite's connections, PostgreSQL's backends) then
/// need a core of their own. On 2 cores one request thread instead of two took 13–25 % off
/// the server's CPU per ticket at saturation (BENCHMARKS.md): fewer threads to wake and to
/// steal work between.
pub fn request_threads(cores: usize, database_here: bool) -> usize {
    if database_here {
        cores.saturating_sub(1).max(1)
    } else {
        cores.max(1)
    }
}

/// Loads a rules directory, printing its warnings.
pub fn load_rules(dir: &std::path::Path) -> Result<rules::Loaded, StartError> {
    let loaded = rules::load_dir(dir).map_err(|e| StartError::Rules(e.to_string()))?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    Ok(loaded)
}

async fn open_store(url: &str) -> Result<Store, StartError> {
    Store::open(url).await.map_err(|source| StartError::Store {
        url: url.to_owned(),
        source,
    })
}

/// Runs the HTTP service until SIGTERM or Ctrl-C.
pub async fn serve(config: ServeConfig) -> Result<(), StartError> {
    let clock = Clock::system();
    if let Some(files) = api::listen::raise_fd_limit() {
        tracing::info!(files, "open file limit");
    }
    let rules = load_rules(&config.rules_dir)?.rules;
    let store = open_store(&config.db).await?;
    let source = config.rules_dir.display().to_string();
    store
        .import_organisations(&rules.customers, &source, clock.now())
        .await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr()?;
    if config.demo && !addr.ip().is_loopback() {
        return Err(StartError::DemoNotLoopback(addr));
    }
    let version = rules.version.clone();
    let handle = RulesHandle::from_dir(rules, config.rules_dir.clone(), &config.instance);
    report_rules(&store, &handle, &clock).await?;
    // Each process keeps its own copy of the index, rebuilt from the database at start.
    let faq_dir = config
        .data_dir
        .join(format!("faq-index-{}", std::process::id()));
    let desk =
        Desk::new(store.clone(), handle.clone(), clock.clone()).with_faq_dir(faq_dir.clone());
    let state = Arc::new(AppState::with_desk(desk, config.api));
    state.init_faq(&config.rules_dir).await?;
    if config.demo_data {
        write_demo_data(&state.desk).await?;
    }
    let desk = state.desk.clone();
    tokio::spawn(async move {
        // Articles changed by another process (or `triage faq import`) reach this one.
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            if let Err(e) = desk.faq.refresh(&desk.store).await {
                tracing::warn!("FAQ index not refreshed: {e}");
            }
        }
    });
    if config.demo {
        let warning = format!(
            "WARNING: demo mode: NO AUTHENTICATION, anyone on this machine can use the API at http://{addr}"
        );
        eprintln!("{warning}");
        tracing::warn!("{warning}");
    } else if store.tokens().await?.is_empty() {
        // A fresh database: one admin token to start with, shown this once.
        let token = crate::store::new_token();
        store
            .add_token(
                "initial-admin",
                crate::model::Role::Admin,
                &token,
                clock.now(),
            )
            .await?;
        println!(
            "first start: admin token (shown once, stored only as a hash): {token}\n\
             export TRIAGE_TOKEN={token}   # then: curl -H \"Authorization: Bearer $TRIAGE_TOKEN\" …"
        );
    }
    println!(
        "triage listening on http://{addr} (database {}, rules {version} from the directory {})",
        config.db, source
    );
    tracing::info!(%addr, db = %config.db, rules = %source, %version, "listening");
    tokio::spawn(reload_on_sighup(
        store.clone(),
        handle.clone(),
        clock.clone(),
    ));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = config.worker.map(|w| {
        let mut stopped = stopped.clone();
        tokio::spawn(worker::run(store.clone(), handle.clone(), w, async move {
            let _ = stopped.changed().await;
        }))
    });
    api::serve(listener, state, shutdown_signal()).await?;
    let _ = stop.send(true);
    if let Some(w) = worker {
        let _ = w.await;
    }
    let _ = std::fs::remove_dir_all(&faq_dir);
    tracing::info!("stopped");
    Ok(())
}

/// Writes the demo month into an empty database and says what it wrote; a database with
/// tickets is left as it is.
pub async fn write_demo_data(desk: &Desk) -> Result<(), StartError> {
    let now = desk.clock.now();
    match crate::demo::write(desk, now, crate::demo::DemoOptions::default()).await {
        Ok(s) => {
            println!(
                "demo data: {} tickets over 30 days ({} answered automatically, {} replies, {} resolved), {} agents",
                s.tickets, s.answered_automatically, s.replies, s.resolved, s.agents
            );
            Ok(())
        }
        Err(crate::demo::DemoError::NotEmpty(n)) => {
            println!("demo data: not written, the database already holds {n} tickets");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs the background worker alone until SIGTERM or Ctrl-C.
pub async fn work(
    db: &str,
    rules_dir: PathBuf,
    instance: &str,
    config: WorkerConfig,
) -> Result<(), StartError> {
    let clock = Clock::system();
    let handle = RulesHandle::from_dir(load_rules(&rules_dir)?.rules, rules_dir.clone(), instance);
    let store = open_store(db).await?;
    report_rules(&store, &handle, &clock).await?;
    println!(
        "triage worker running (database {db}, rules from the directory {})",
        rules_dir.display()
    );
    tokio::spawn(reload_on_sighup(store.clone(), handle.clone(), clock));
    worker::run(store, handle, config, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Records the rules this process starts with and keeps reporting it alive.
async fn report_rules(
    store: &Store,
    handle: &RulesHandle,
    clock: &Clock,
) -> Result<(), StartError> {
    crate::desk::rules::record_start(store, handle, clock.now())
        .await
        .map_err(|e| StartError::Rules(format!("recording the rules version: {e}")))?;
    tokio::spawn(heartbeat(store.clone(), handle.clone(), clock.clone()));
    Ok(())
}

/// Reports this instance alive, so the rules overview can tell it from one that is gone.
async fn heartbeat(store: Store, handle: RulesHandle, clock: Clock) {
    let every = Duration::from_secs(crate::desk::rules::HEARTBEAT_EVERY_SECS);
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = crate::desk::rules::heartbeat(&store, &handle, clock.now()).await {
            tracing::warn!("rules heartbeat not recorded: {e}");
        }
    }
}

/// Reloads the rules on SIGHUP; an invalid directory is logged and recorded, and the running
/// rules stay.
async fn reload_on_sighup(store: Store, handle: RulesHandle, clock: Clock) {
    #[cfg(unix)]
    {
        use crate::desk::rules::{reload, Trigger};
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match reload(&store, &handle, Trigger::Signal, None, clock.now()).await {
                Ok((rules, warnings)) => {
                    for w in &warnings {
                        tracing::warn!("{w}");
                    }
                    tracing::info!(version = %rules.version, "rules reloaded");
                }
                Err(e) => tracing::error!("rules not reloaded, the running rules stay: {e}"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (store, handle, clock);
}

#[cfg(test)]
mod thread_tests {
    use super::request_threads;

    #[test]
    fn a_database_on_this_machine_keeps_a_core() {
        assert_eq!(request_threads(2, true), 1);
        assert_eq!(request_threads(8, true), 7);
        assert_eq!(request_threads(1, true), 1);
        assert_eq!(request_threads(2, false), 2);
        assert_eq!(request_threads(8, false), 8);
    }
}
