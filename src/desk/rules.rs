//! The rules a process runs. Each version it loads is stored with its files' text before it
//! goes into force; a rejected reload is stored and leaves the running rules in place; a
//! heartbeat shows the instance alive; one overview tells which version every instance runs.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{DeskError, RulesHandle};
use crate::rules::CompiledRules;
use crate::store::{LoadBy, RulesLoadRecord, Store, StoredFileRef};

/// An instance whose heartbeat is older than this counts as gone.
pub const HEARTBEAT_LOST_SECS: i64 = 60;
/// How often a process reports that it is alive.
pub const HEARTBEAT_EVERY_SECS: u64 = 15;

/// What one process knows about its own rules.
#[derive(Clone, Debug, Default)]
pub struct RulesStatus {
    pub started_at: Option<DateTime<Utc>>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub last_error: Option<ReloadError>,
}

/// A reload that was refused: when, and every `file:line` error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReloadError {
    pub at: DateTime<Utc>,
    pub message: String,
}

/// What made a process load its rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Start,
    Signal,
    Api,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Signal => "signal",
            Trigger::Api => "api",
        }
    }
}

/// `host:pid`: unique among the processes sharing one database, readable in a listing.
pub fn default_instance_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Sets the `triage_rules_version_info` gauge of `version` (1 in force, 0 replaced).
pub fn version_gauge(version: &str, value: f64) {
    metrics::gauge!("triage_rules_version_info", "version" => version.to_owned()).set(value);
}

fn load_by<'a>(
    handle: &'a RulesHandle,
    trigger: Trigger,
    token: Option<&'a str>,
    at: DateTime<Utc>,
) -> LoadBy<'a> {
    LoadBy {
        instance: handle.instance(),
        trigger: trigger.as_str(),
        token,
        at,
    }
}

/// Stores `rules` as loaded by this instance (its files, once per content) and notes the
/// load in the handle's status and the version gauge; `replaces` is the version it follows.
async fn record(
    store: &Store,
    handle: &RulesHandle,
    rules: &CompiledRules,
    replaces: &str,
    by: LoadBy<'_>,
) -> Result<(), DeskError> {
    let started_at = handle.status().started_at.unwrap_or(by.at);
    store
        .record_rules_loaded(&rules.version, &rules.files, &by, started_at)
        .await?;
    if *replaces != *rules.version {
        version_gauge(replaces, 0.0);
    }
    version_gauge(&rules.version, 1.0);
    handle.update_status(|s| {
        s.started_at = Some(started_at);
        s.loaded_at = Some(by.at);
    });
    Ok(())
}

/// Stores `rules`, then puts them in force: a version that runs anywhere can always be
/// looked up.
pub async fn install(
    store: &Store,
    handle: &RulesHandle,
    rules: CompiledRules,
    trigger: Trigger,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Arc<CompiledRules>, DeskError> {
    let before = handle.current().version.clone();
    record(
        store,
        handle,
        &rules,
        &before,
        load_by(handle, trigger, token, now),
    )
    .await?;
    handle.set(rules);
    Ok(handle.current())
}

/// Records the rules already in force (a process that just started).
pub async fn record_start(
    store: &Store,
    handle: &RulesHandle,
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    let rules = handle.current();
    record(
        store,
        handle,
        &rules,
        &rules.version,
        load_by(handle, Trigger::Start, None, now),
    )
    .await
}

/// Reads the rules directory again. Valid: stored, then in force, with the warnings. Invalid:
/// the refusal is stored with every error and the running rules stay.
pub async fn reload(
    store: &Store,
    handle: &RulesHandle,
    trigger: Trigger,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Arc<CompiledRules>, Vec<String>), DeskError> {
    let Some(dir) = handle.dir().map(std::path::Path::to_path_buf) else {
        return Err(DeskError::Conflict(
            "this process was given its rules directly, not from a directory it could reload"
                .into(),
        ));
    };
    let loaded = tokio::task::spawn_blocking(move || crate::rules::load_dir(&dir))
        .await
        .map_err(|e| DeskError::Busy(format!("the rules could not be read: {e}")))?;
    match loaded {
        Ok(loaded) => {
            let warnings = loaded.warnings.iter().map(|w| w.to_string()).collect();
            let rules = install(store, handle, loaded.rules, trigger, token, now).await?;
            Ok((rules, warnings))
        }
        Err(e) => {
            let message = e.to_string();
            handle.update_status(|s| {
                s.last_error = Some(ReloadError {
                    at: now,
                    message: message.clone(),
                })
            });
            store
                .record_rules_rejected(&load_by(handle, trigger, token, now), &message)
                .await?;
            Err(DeskError::RulesRejected(e))
        }
    }
}

/// Reports this instance alive.
pub async fn heartbeat(
    store: &Store,
    handle: &RulesHandle,
    now: DateTime<Utc>,
) -> Result<(), DeskError> {
    Ok(store.rules_heartbeat(handle.instance(), now).await?)
}

/// One instance as the overview lists it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    pub instance: String,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub loaded_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    /// Reported within the last minute.
    pub alive: bool,
    pub last_reload_error: Option<ReloadError>,
}

/// One load or refused reload.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LoadView {
    pub at: DateTime<Utc>,
    pub instance: String,
    /// `start`, `signal` or `api`.
    pub trigger: String,
    /// The token's name for a reload through the API.
    pub token: Option<String>,
    /// None for a refused reload.
    pub version: Option<String>,
    pub error: Option<String>,
}

impl From<RulesLoadRecord> for LoadView {
    fn from(r: RulesLoadRecord) -> LoadView {
        LoadView {
            at: r.at,
            instance: r.instance,
            trigger: r.trigger,
            token: r.token_name,
            version: r.version,
            error: r.error,
        }
    }
}

/// What this instance runs, and what every instance sharing the database runs.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RulesOverview {
    pub instance: String,
    pub version: String,
    pub loaded_at: Option<DateTime<Utc>>,
    pub files: Vec<StoredFileRef>,
    pub last_reload_error: Option<ReloadError>,
    /// Whether every live instance runs the same version.
    pub all_same_version: bool,
    pub instances: Vec<InstanceView>,
    /// The latest loads and refused reloads of all instances, newest first.
    pub recent_loads: Vec<LoadView>,
    /// The SLA policies in force, in the order they are tried.
    pub policies: Vec<PolicyView>,
}

/// An SLA policy of the rules in force, named with where it is written.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyView {
    pub id: String,
    /// `file:line` of its `[[policy]]`.
    pub at: Option<String>,
    pub first_response_minutes: Option<u32>,
    pub next_reply_minutes: Option<u32>,
    pub resolution_minutes: Option<u32>,
    /// Follow up within this many minutes after our reply unless the customer answers.
    pub follow_up_minutes: Option<u32>,
    /// The calendar its clocks count in: a calendar's name, `window` (the ticket's time
    /// window's) or `customer` (the organisation's).
    pub calendar: String,
    /// The IANA time zone of a named calendar.
    pub zone: Option<String>,
}

fn policy_view(p: &crate::sla::Policy) -> PolicyView {
    use crate::sla::PolicyCalendar;
    PolicyView {
        id: p.id.to_string(),
        at: p.reason.at.as_deref().map(str::to_owned),
        first_response_minutes: p.targets[0],
        next_reply_minutes: p.targets[1],
        resolution_minutes: p.targets[2],
        follow_up_minutes: p.follow_up,
        calendar: match &p.calendar {
            PolicyCalendar::Window => "window".into(),
            PolicyCalendar::Named(c) => c.name().to_owned(),
            PolicyCalendar::Customer => "customer".into(),
        },
        zone: match &p.calendar {
            PolicyCalendar::Named(c) => Some(c.timezone().name().to_owned()),
            _ => None,
        },
    }
}

/// The overview at `now`.
pub async fn overview(
    store: &Store,
    handle: &RulesHandle,
    now: DateTime<Utc>,
) -> Result<RulesOverview, DeskError> {
    let rules = handle.current();
    let status = handle.status();
    let instances: Vec<InstanceView> = store
        .rules_instances()
        .await?
        .into_iter()
        .map(|i| InstanceView {
            alive: (now - i.heartbeat_at).num_seconds() <= HEARTBEAT_LOST_SECS,
            last_reload_error: match (i.last_error, i.last_error_at) {
                (Some(message), Some(at)) => Some(ReloadError { at, message }),
                _ => None,
            },
            instance: i.instance,
            version: i.version,
            started_at: i.started_at,
            loaded_at: i.loaded_at,
            heartbeat_at: i.heartbeat_at,
        })
        .collect();
    let mut live = instances.iter().filter(|i| i.alive).map(|i| &i.version);
    let first = live.next();
    let all_same_version = live.all(|v| Some(v) == first);
    Ok(RulesOverview {
        instance: handle.instance().to_owned(),
        version: rules.version.to_string(),
        loaded_at: status.loaded_at,
        files: rules.files.iter().map(StoredFileRef::from).collect(),
        last_reload_error: status.last_error,
        all_same_version,
        instances,
        recent_loads: store
            .rules_loads(None, 20)
            .await?
            .into_iter()
            .map(LoadView::from)
            .collect(),
        policies: rules.sla.policies.iter().map(policy_view).collect(),
    })
}

/// A file of a stored version with its text.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct FileText {
    pub name: String,
    pub hash: String,
    pub bytes: usize,
    pub text: String,
}

/// The lines a `file:line` of a trace points at, in the version the ticket recorded.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Excerpt {
    pub at: String,
    pub file: String,
    pub line: usize,
    /// From that line to the end of its block (the next section or blank line).
    pub text: String,
}

/// A stored version: its files' text, its loads, and the excerpt `at` points to.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct VersionView {
    pub version: String,
    pub first_loaded_at: DateTime<Utc>,
    pub first_loaded_by: String,
    pub files: Vec<FileText>,
    pub loads: Vec<LoadView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<Excerpt>,
}

/// A stored version by its hash (`sha256:…`, the prefix optional), with the excerpt of a
/// trace's `file:line` when `at` is given.
pub async fn version(
    store: &Store,
    version: &str,
    at: Option<&str>,
) -> Result<VersionView, DeskError> {
    let wanted = if version.starts_with("sha256:") {
        version.to_owned()
    } else {
        format!("sha256:{version}")
    };
    let Some(v) = store.rules_version(&wanted).await? else {
        return Err(DeskError::NotFound(format!(
            "no rules version {wanted} was ever loaded here"
        )));
    };
    let files: Vec<FileText> = v
        .files
        .into_iter()
        .map(|(r, text)| FileText {
            name: r.name,
            hash: r.hash,
            bytes: r.bytes,
            text,
        })
        .collect();
    let excerpt = match at {
        Some(at) => Some(excerpt(&files, at)?),
        None => None,
    };
    Ok(VersionView {
        loads: store
            .rules_loads(Some(&wanted), 100)
            .await?
            .into_iter()
            .map(LoadView::from)
            .collect(),
        version: v.version,
        first_loaded_at: v.first_loaded_at,
        first_loaded_by: v.first_loaded_by,
        files,
        excerpt,
    })
}

/// The block at `file:line` among `files`.
fn excerpt(files: &[FileText], at: &str) -> Result<Excerpt, DeskError> {
    let bad = || {
        DeskError::invalid(
            "at",
            format!("\"{at}\" is not file:line (e.g. rules/sla.toml:78)"),
        )
    };
    let (name, line) = at.rsplit_once(':').ok_or_else(bad)?;
    let line: usize = line.parse().map_err(|_| bad())?;
    let file = files.iter().find(|f| f.name == name).ok_or_else(|| {
        DeskError::NotFound(format!(
            "this version has no file {name} (its files: {})",
            files
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let lines: Vec<&str> = file.text.lines().collect();
    if line == 0 || line > lines.len() {
        return Err(DeskError::NotFound(format!(
            "{name} has {} lines in this version, not {line}",
            lines.len()
        )));
    }
    let mut block = vec![lines[line - 1]];
    for l in &lines[line..] {
        if l.trim().is_empty() || l.starts_with('[') || block.len() >= 60 {
            break;
        }
        block.push(l);
    }
    Ok(Excerpt {
        at: at.to_owned(),
        file: name.to_owned(),
        line,
        text: block.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Vec<FileText> {
        vec![FileText {
            name: "rules/sla.toml".into(),
            hash: String::new(),
            bytes: text.len(),
            text: text.into(),
        }]
    }

    #[test]
    fn an_excerpt_is_the_block_from_its_line() {
        let f = file("[sla]\nwarn = [75]\n\n[[policy]]\nid = \"a\"\nfirst-response = \"1h\"\n[[policy]]\nid = \"b\"\n");
        let e = excerpt(&f, "rules/sla.toml:4").unwrap();
        assert_eq!(e.text, "[[policy]]\nid = \"a\"\nfirst-response = \"1h\"");
        assert!(matches!(
            excerpt(&f, "rules/sla.toml:99"),
            Err(DeskError::NotFound(_))
        ));
        assert!(matches!(
            excerpt(&f, "rules/other.toml:1"),
            Err(DeskError::NotFound(_))
        ));
        assert!(matches!(
            excerpt(&f, "sla.toml"),
            Err(DeskError::Invalid { .. })
        ));
    }
}
