//! The store: tickets, messages, events, organisations and idempotency keys through sea-orm,
//! on SQLite (embedded default) or PostgreSQL. The only module that talks SQL. This file
//! holds the connection and migrations; `tickets` reads and changes tickets, `writer` is
//! intake's group commit, `locks` the row locks and leases of background work.
//!
//! Correctness with several processes on one PostgreSQL rests on the database, not on the
//! processes: ticket numbers come from the table's identity column, a repeated
//! `Idempotency-Key` or `external_id` is caught by a unique constraint, and every update
//! checks and bumps the ticket's `version`.

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, SqlErr,
    Statement,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use migration::{Migrator, MigratorTrait};

mod agents;
mod faq;
mod leads;
mod locks;
mod mail;
mod organisations;
mod privacy;
mod report;
mod report_days;
mod rules;
mod sla;
mod tickets;
mod tokens;
mod writer;

pub use agents::{AgentLoad, AgentRecord, Assigned, QueueCount};
pub use entity::events::Model as EventRecord;
pub use entity::tickets::Model as TicketRecord;
pub use faq::{article_of, FaqArticleRecord, FaqOutcome};
pub use leads::{fields_of, missing_of, LeadRecord, LeadTicket, NewLead};
pub use mail::{AttachmentRecord, InboundMail, MessageRecord, OutboundMail, OutboxRecord, Sent};
pub use privacy::{Erased, ERASED};
pub use rules::{LoadBy, RulesInstanceRecord, RulesLoadRecord, StoredFileRef, StoredVersion};
pub use sla::{
    AlarmPlan, Delivery, NewNotification, NotificationFilter, NotificationRecord, SlaColumns,
};
pub use tickets::{
    clock_state, reclassified_data, reclassified_event, tags_of, ticket_of, Changes, Created,
    Cursor, HistoryRow, NewEvent, NewMessage, NewTicket, TicketFilter, TicketUpdate,
};
pub use tokens::{new_token, token_hash, TokenRecord};

/// What can go wrong in the store, in terms the API can map to statuses.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("no ticket {0}")]
    NotFound(String),
    #[error("ticket {id} was changed concurrently (expected version {expected})")]
    Conflict { id: Uuid, expected: i32 },
    #[error("Idempotency-Key \"{0}\" was already used for a different request")]
    IdempotencyMismatch(String),
    #[error("{0}")]
    Duplicate(String),
    /// An agent who cannot take a ticket now (offline, at capacity).
    #[error("{0}")]
    Unavailable(String),
    /// A stored value that cannot be read back (a JSON column another program broke).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the database schema is newer than this binary (unknown migrations: {}); upgrade triage before starting it on this database", .0.join(", "))]
    SchemaTooNew(Vec<String>),
}

pub use crate::model::{parse_ticket_number, ticket_number, TICKET_NUMBER};

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    intake: mpsc::Sender<writer::Job>,
    /// The newest ended day whose days this process has looked through for counting.
    days_walked: std::sync::Arc<std::sync::Mutex<Option<i64>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("db", &self.db).finish()
    }
}

/// Whether a PostgreSQL URL (or the environment) says how to use TLS.
fn names_tls(url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .any(|p| p.starts_with("sslmode=") || p.starts_with("ssl-mode="))
        || std::env::var_os("PGSSLMODE").is_some()
}

/// A host name that is this machine: `localhost`, a loopback address, or a Unix socket's
/// directory.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether the database at `url` runs on this machine and so takes its cores too: SQLite
/// (its work runs on threads of this process), or a PostgreSQL reached on a loopback address
/// or a Unix socket.
pub fn shares_this_machine(url: &str) -> bool {
    if url.starts_with("sqlite:") {
        return true;
    }
    use std::str::FromStr;
    sea_orm::sqlx::postgres::PgConnectOptions::from_str(url)
        .is_ok_and(|o| is_loopback(o.get_host()))
}

impl Store {
    /// Connects, refuses a schema newer than this binary, and runs pending migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let sqlite = url.starts_with("sqlite:");
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            // SQLite has one writer; a few connections let reads proceed beside it.
            .max_connections(if sqlite { 4 } else { 32 })
            .min_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(10))
            // A connection to a SQLite file cannot go stale between two uses, and the ping
            // before each use is a round trip to the connection's thread (10 % of intake
            // at saturation). A PostgreSQL connection can, after a restart: it is tested.
            .test_before_acquire(!sqlite);
        if sqlite {
            // WAL with synchronous=FULL, set explicitly (sqlx leaves the journal mode as the
            // file has it, a rollback journal for a new file): a committed ticket survives a
            // crash of the process or the machine, and readers never wait for the writer.
            // Checkpoints run between the intake writer's batches and in the background,
            // instead of inside whichever commit crosses the WAL size limit, so no request
            // waits for one in its own commit.
            opts.map_sqlx_sqlite_opts(|o| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                o.busy_timeout(std::time::Duration::from_secs(10))
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .pragma("wal_autocheckpoint", "0")
                    .pragma("journal_size_limit", writer::WAL_BOUND.to_string())
                    // A batch's multi-row inserts keep a statement journal (the pages
                    // before each statement, to undo one alone); in memory it is not a
                    // file created, written and deleted with every batch.
                    .pragma("temp_store", "memory")
            });
        } else if !names_tls(url) {
            // A PostgreSQL on this machine is reached without TLS unless the URL or
            // PGSSLMODE asks for it: the bytes never leave the host, and encrypting every
            // ticket's rows costs both sides CPU (sqlx would otherwise prefer TLS).
            opts.map_sqlx_postgres_opts(|o| {
                if is_loopback(o.get_host()) {
                    o.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable)
                } else {
                    o
                }
            });
        }
        let db = Database::connect(opts).await?;
        // SQLite has one writer anyway. PostgreSQL takes several transactions at once, but
        // more intake writers than this process has cores only make each batch smaller:
        // the same tickets in more statements and commits (on 2 cores, 2 writers instead of
        // 4 took 13-17 % off the CPU of a ticket at 1,000 requests/s).
        let writers = if sqlite {
            1
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
        };
        let wal = sqlite.then(writer::WalPast::default);
        let intake = writer::spawn_writers(db.clone(), writers, wal.clone());
        if let Some(past) = wal {
            tokio::spawn(writer::checkpoint_periodically(
                db.clone(),
                intake.downgrade(),
                past,
            ));
        }
        Ok(Store {
            db,
            intake,
            days_walked: Default::default(),
        })
    }

    /// Refuses a database that has migrations this binary does not know, then applies the
    /// missing ones.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let known: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let applied = self.applied_migrations().await?;
        let unknown: Vec<String> = applied.into_iter().filter(|a| !known.contains(a)).collect();
        if !unknown.is_empty() {
            return Err(StoreError::SchemaTooNew(unknown));
        }
        Migrator::up(&self.db, None).await?;
        self.backfill_clocks().await
    }

    async fn applied_migrations(&self) -> Result<Vec<String>, StoreError> {
        let backend = self.db.get_database_backend();
        let exists_sql = match backend {
            DbBackend::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'seaql_migrations'"
            }
            _ => "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'seaql_migrations'",
        };
        let row = self
            .db
            .query_one(Statement::from_string(backend, exists_sql))
            .await?;
        let exists = row
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0)
            > 0;
        if !exists {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query_all(Statement::from_string(
                backend,
                "SELECT version FROM seaql_migrations",
            ))
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String>("", "version").map_err(StoreError::from))
            .collect()
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// The connection, for benchmarks that measure the database alone.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// Whether an insert failed on a unique constraint: the sign that a concurrent repeat (or
/// another process) wrote the same row first.
pub(super) fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_round_trip() {
        assert_eq!(ticket_number(123), "T-000123");
        assert_eq!(ticket_number(12_345_678), "T-12345678");
        assert_eq!(parse_ticket_number("T-000123"), Some(123));
        assert_eq!(parse_ticket_number("t-7"), Some(7));
        assert_eq!(parse_ticket_number("42"), Some(42));
        assert_eq!(parse_ticket_number("T-"), None);
        assert_eq!(parse_ticket_number("T-0"), None);
        assert_eq!(parse_ticket_number("X-1"), None);
    }
}

#[cfg(test)]
mod tls_tests {
    use super::{is_loopback, names_tls, shares_this_machine};

    #[test]
    fn sqlite_and_a_local_postgresql_share_this_machine() {
        for url in [
            "sqlite://triage.db?mode=rwc",
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://triage@localhost/triage",
            "postgres:///triage?host=/run/postgresql",
        ] {
            assert!(shares_this_machine(url), "{url}");
        }
        for url in [
            "postgres://triage@db.example/triage",
            "postgres://triage@10.0.0.5:5432/triage",
        ] {
            assert!(!shares_this_machine(url), "{url}");
        }
    }

    #[test]
    fn only_this_machine_counts_as_loopback() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "/run/postgresql",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "db.example.org",
            "10.0.0.5",
            "192.168.1.1",
            "::2",
            "localhost.example.org",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn a_url_that_names_its_tls_mode_keeps_it() {
        assert!(names_tls("postgres://u@127.0.0.1/db?sslmode=require"));
        assert!(names_tls(
            "postgres://u@127.0.0.1/db?application_name=x&ssl-mode=verify-full"
        ));
        if std::env::var_os("PGSSLMODE").is_none() {
            assert!(!names_tls("postgres://u@127.0.0.1/db"));
            assert!(!names_tls(
                "postgres://u@127.0.0.1/db?application_name=sslmode"
            ));
        }
    }
}
