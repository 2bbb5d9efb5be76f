//! `triage bench`: durable ticket intake over HTTP measured against a raw insert loop of the
//! same rows through the store on the same database, in the same run.
//!
//! Three phases: (1) raw — `Store::create_ticket` from `concurrency` tasks, no HTTP and no
//! classification; (2) HTTP saturation — the same number of clients posting to a real server
//! as fast as answers come; (3) fixed rate — requests started on a fixed schedule, latency
//! measured from the scheduled start, so a stalled server is charged for the requests it
//! delayed (no coordinated omission); (4) mail — the same tickets as realistic 20 KB
//! e-mails (text and HTML alternative, a PDF attachment) through `POST /api/v1/intake/mail`
//! by the same number of clients, each to a committed ticket.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::api::{self, ApiConfig, AppState};
use crate::intake::jsonl::TicketInput;
use crate::model::Ticket;
use crate::rules::CompiledRules;
use crate::store::{NewTicket, Store};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub db_url: String,
    pub seconds: u64,
    pub concurrency: usize,
    pub rate: u64,
    /// The rules directory, for its FAQ articles: intake answers from them as in service.
    pub rules_dir: std::path::PathBuf,
    /// Serve from this `triage` binary in a process of its own (`serve`, no worker), so that
    /// the load generator's CPU is not the server's; none: in this process.
    pub external: Option<std::path::PathBuf>,
}

/// The measured figures.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub raw_per_s: f64,
    pub http_per_s: f64,
    pub fixed_rate: u64,
    pub fixed_achieved_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: usize,
    pub mail_per_s: f64,
    pub mail_bytes: usize,
    /// CPU milliseconds and bytes written per ticket in each phase (raw, saturation, fixed
    /// rate, mail), where `/proc` tells: this process (server and load generator), the
    /// server apart, and the local PostgreSQL.
    pub per_ticket: [Option<PerTicket>; 4],
}

/// CPU time a phase used per ticket, and what it wrote to storage.
#[derive(Debug, Clone, Copy)]
pub struct PerTicket {
    /// This process: the load generator, and the server unless it runs apart.
    pub own: f64,
    /// The server's own process, when it runs apart (`--external`).
    pub server: Option<f64>,
    /// The PostgreSQL server's processes on this machine; none for SQLite (in-process).
    pub postgres: Option<f64>,
    /// Kilobytes the watched processes sent to storage (the kernel's `write_bytes`: pages
    /// dirtied in files, so a log page rewritten before it reaches the disk counts once).
    /// On SQLite nearly all of it is the WAL and its checkpoints: the pages a ticket's rows
    /// and index entries touch, which is what a commit's flush and a checkpoint's copy cost.
    pub written_kb: Option<f64>,
}

/// What to read CPU time of besides this process.
#[derive(Debug, Clone, Copy)]
struct Watched {
    postgres: bool,
    /// The external server's process id.
    server: Option<u32>,
}

/// CPU seconds used so far by this process, the external server and, with `postgres`, by
/// every process of the local PostgreSQL server, and the bytes all of them wrote to
/// storage, from `/proc` (Linux; `None` elsewhere).
#[derive(Debug, Clone, Copy)]
struct Totals {
    own: f64,
    server: Option<f64>,
    postgres: Option<f64>,
    written: Option<f64>,
}

impl Totals {
    fn now(w: Watched) -> Option<Totals> {
        let proc = std::path::Path::new("/proc");
        let own = proc.join("self");
        let server = w.server.map(|pid| proc.join(pid.to_string()));
        let postgres = w.postgres.then(postgres_processes).flatten();
        let sum = |f: fn(&std::path::Path) -> Option<f64>, ps: &[std::path::PathBuf]| {
            ps.iter().filter_map(|p| f(p)).sum::<f64>()
        };
        let mut all: Vec<_> = std::iter::once(own.clone()).chain(server.clone()).collect();
        all.extend(postgres.iter().flatten().cloned());
        Some(Totals {
            own: cpu_seconds(&own.join("stat"))?.1,
            server: server.and_then(|p| Some(cpu_seconds(&p.join("stat"))?.1)),
            postgres: postgres.map(|ps| sum(|p| Some(cpu_seconds(&p.join("stat"))?.1), &ps)),
            written: written_bytes(&own).map(|_| sum(written_bytes, &all)),
        })
    }

    /// Per ticket since `self`, for `n` tickets.
    fn per_ticket(self, w: Watched, n: usize) -> Option<PerTicket> {
        let now = Totals::now(w)?;
        let n = n.max(1) as f64;
        let per = |b: Option<f64>, a: Option<f64>| b.zip(a).map(|(b, a)| (b - a) * 1e3 / n);
        Some(PerTicket {
            own: (now.own - self.own) * 1e3 / n,
            server: per(now.server, self.server),
            postgres: per(now.postgres, self.postgres),
            written_kb: per(now.written, self.written).map(|b| b / 1024e3),
        })
    }
}

/// `triage serve` in a process of its own on `db_url`, listening on a free port of the
/// loopback; killed when dropped.
struct ExternalServer {
    child: std::process::Child,
    _data: tempfile::TempDir,
}

impl Drop for ExternalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ExternalServer {
    async fn start(
        exe: &std::path::Path,
        config: &BenchConfig,
    ) -> anyhow::Result<(ExternalServer, String)> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let data = tempfile::tempdir()?;
        let child = std::process::Command::new(exe)
            .arg("serve")
            .args([
                "--db",
                &config.db_url,
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--rules")
            .arg(&config.rules_dir)
            .arg("--data-dir")
            .arg(data.path())
            .arg("--no-worker")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()?;
        let mut server = ExternalServer { child, _data: data };
        let base = format!("http://127.0.0.1:{port}");
        let ready = format!("{base}/readyz");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!("the external server ended before it was ready: {status}");
            }
            if let Ok(r) = client.get(&ready).send().await {
                if r.status().is_success() {
                    return Ok((server, base));
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the external server did not get ready in 60 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A process's name and user + system CPU seconds from its `stat` (ticks of USER_HZ, which
/// Linux reports as 100 a second).
fn cpu_seconds(stat: &std::path::Path) -> Option<(String, f64)> {
    let s = std::fs::read_to_string(stat).ok()?;
    let (head, rest) = s.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some((name, ticks / 100.0))
}

/// The bytes a process has sent to storage so far, from its `io` (readable for a process of
/// the same user, or by root).
fn written_bytes(process: &std::path::Path) -> Option<f64> {
    let s = std::fs::read_to_string(process.join("io")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))?
        .trim()
        .parse()
        .ok()
}

/// The `/proc` directories of the local PostgreSQL server's processes; none if it has none.
fn postgres_processes() -> Option<Vec<std::path::PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        if cpu_seconds(&entry.path().join("stat")).is_some_and(|(name, _)| name == "postgres") {
            found.push(entry.path());
        }
    }
    (!found.is_empty()).then_some(found)
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "raw store inserts:        {:>8.0} tickets/s",
            self.raw_per_s
        )?;
        writeln!(
            f,
            "HTTP POST /tickets:       {:>8.0} tickets/s ({:.0}% of raw)",
            self.http_per_s,
            100.0 * self.http_per_s / self.raw_per_s
        )?;
        writeln!(
            f,
            "fixed rate {:>5}/s:       {:>8.0} done/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} errors",
            self.fixed_rate, self.fixed_achieved_per_s, self.p50_ms, self.p99_ms, self.max_ms, self.errors
        )?;
        writeln!(
            f,
            "HTTP POST /intake/mail:   {:>8.0} mails/s of {} KB ({:.0}% of POST /tickets, {:.0}% of raw)",
            self.mail_per_s,
            self.mail_bytes / 1024,
            100.0 * self.mail_per_s / self.http_per_s,
            100.0 * self.mail_per_s / self.raw_per_s
        )?;
        for (phase, cpu) in ["raw inserts", "HTTP POST /tickets", "fixed rate", "mail"]
            .iter()
            .zip(&self.per_ticket)
        {
            if let Some(c) = cpu {
                let pg = c
                    .postgres
                    .map_or(String::new(), |p| format!(" + {p:.2} ms PostgreSQL"));
                let line = match c.server {
                    Some(s) => format!(
                        "{s:.2} ms triage server{pg} = {:.2} ms (load generator apart: {:.2} ms)",
                        s + c.postgres.unwrap_or(0.0),
                        c.own
                    ),
                    None => format!(
                        "{:.2} ms triage (server and load generator){pg} = {:.2} ms",
                        c.own,
                        c.own + c.postgres.unwrap_or(0.0)
                    ),
                };
                let written = c
                    .written_kb
                    .map_or(String::new(), |kb| format!("; {kb:.1} KB written"));
                writeln!(f, "CPU per ticket, {phase:<19} {line}{written}")?;
            }
        }
        Ok(())
    }
}

/// A realistic e-mail for a sample ticket: Received trail, text and HTML alternatives, and
/// a 14 KB PDF attachment (base64), about 20 KB in all; `n` makes its Message-ID unique.
pub fn sample_mail(v: &serde_json::Value, n: usize) -> String {
    let from = v["from"]["email"]
        .as_str()
        .unwrap_or("customer@example.net");
    let subject = v["subject"].as_str().unwrap_or("Anfrage");
    let body = v["body"].as_str().unwrap_or("");
    let pdf: Vec<u8> = (0..14 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(pdf)
    };
    let b64: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    let html = format!(
        "<html><body><p>{}</p><p>Mit freundlichen Gr&uuml;&szlig;en</p></body></html>",
        body.replace('\n', "<br>")
    );
    format!(
        "Received: from mx1.example.net (mx1.example.net [192.0.2.10]) by mx.helpdesk.example with ESMTPS id 4Xb{n}; Tue, 24 Nov 2026 09:15:00 +0100\r\n\
         Received: from client.example.net (unknown [198.51.100.7]) by mx1.example.net; Tue, 24 Nov 2026 09:14:59 +0100\r\n\
         From: {from}\r\nTo: helpdesk@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <bench-{n}-{}@example.net>\r\nDate: Tue, 24 Nov 2026 09:14:58 +0100\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
         --outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n\r\nMit freundlichen Grüßen\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--alt--\r\n\
         --outer\r\nContent-Type: application/pdf; name=\"Screenshot.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"Screenshot.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--outer--\r\n",
        std::process::id(),
        b64.join("\r\n")
    )
}

/// Realistic tickets to send: the shipped examples, cycled.
pub fn sample_tickets(jsonl: &str) -> Vec<serde_json::Value> {
    jsonl
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|mut v| {
            if let Some(o) = v.as_object_mut() {
                o.remove("received_at");
            }
            v
        })
        .collect()
}

fn to_ticket(v: &serde_json::Value) -> Option<Ticket> {
    TicketInput::parse(&v.to_string())
        .ok()?
        .into_ticket(Utc::now())
        .ok()
}

/// The sample tickets classified, with their clocks started at `now`: rows ready for the
/// store, decided as intake decides them.
pub fn decided_tickets(
    rules: &CompiledRules,
    samples: &[serde_json::Value],
    now: chrono::DateTime<Utc>,
) -> Vec<NewTicket> {
    samples
        .iter()
        .filter_map(to_ticket)
        .map(|t| crate::desk::intake::decide(rules, t, now))
        .collect()
}

/// Runs all three phases.
pub async fn run(
    config: &BenchConfig,
    rules: CompiledRules,
    samples: Vec<serde_json::Value>,
) -> anyhow::Result<BenchReport> {
    anyhow::ensure!(!samples.is_empty(), "no sample tickets");
    let store = Store::open(&config.db_url).await?;
    let duration = Duration::from_secs(config.seconds);
    let mut watched = Watched {
        postgres: config.db_url.starts_with("postgres"),
        server: None,
    };
    let mut per_ticket = [None; 4];

    // 1. Raw: the same rows through the store, no HTTP, no classification, no clocks to
    // compute (they are computed once here).
    let now = Utc::now();
    let decided = decided_tickets(&rules, &samples, now);
    let decided = Arc::new(decided);
    let cpu = Totals::now(watched);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..config.concurrency {
        let (store, decided) = (store.clone(), decided.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while start.elapsed() < duration {
                let t = decided[(w + n) % decided.len()].clone();
                store.create_ticket_unbatched(t, Utc::now()).await?;
                n += 1;
            }
            Ok::<usize, anyhow::Error>(n)
        }));
    }
    let mut raw = 0;
    for t in tasks {
        raw += t.await??;
    }
    let raw_per_s = raw as f64 / start.elapsed().as_secs_f64();
    per_ticket[0] = cpu.and_then(|c| c.per_ticket(watched, raw));

    // A real server on an ephemeral port: in this process, or in one of its own.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (url, server, external) = match &config.external {
        Some(exe) => {
            let (external, base) = ExternalServer::start(exe, config).await?;
            watched.server = Some(external.child.id());
            (format!("{base}/api/v1/tickets"), None, Some(external))
        }
        None => {
            let state = Arc::new(AppState::new(store.clone(), rules, ApiConfig::default()));
            state.init_faq(&config.rules_dir).await?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}/api/v1/tickets", listener.local_addr()?);
            let server = tokio::spawn(api::serve(listener, state, async move {
                let _ = stop_rx.await;
            }));
            (url, Some(server), None)
        }
    };
    // Intake as a mail gateway or web form does it: with a gateway token.
    let token = crate::store::new_token();
    let name = format!("bench-{}", uuid::Uuid::new_v4().simple());
    store
        .add_token(&name, crate::model::Role::Gateway, &token, Utc::now())
        .await?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse()?,
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(config.concurrency.max(64))
        .default_headers(headers)
        .build()?;
    let samples = Arc::new(samples);

    // 2. Saturation.
    let cpu = Totals::now(watched);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..config.concurrency {
        let (client, url, samples) = (client.clone(), url.clone(), samples.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while start.elapsed() < duration {
                let body = &samples[(w + n) % samples.len()];
                let resp = client.post(&url).json(body).send().await?;
                anyhow::ensure!(resp.status().as_u16() == 201, "status {}", resp.status());
                n += 1;
            }
            Ok(n)
        }));
    }
    let mut http = 0;
    for t in tasks {
        http += t.await??;
    }
    let http_per_s = http as f64 / start.elapsed().as_secs_f64();
    per_ticket[1] = cpu.and_then(|c| c.per_ticket(watched, http));

    // 3. Fixed rate, latency from the scheduled start.
    let total = (config.rate * config.seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / config.rate as f64);
    let cpu = Totals::now(watched);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (client, url, samples) = (client.clone(), url.clone(), samples.clone());
        tasks.push(tokio::spawn(async move {
            let ok = match client
                .post(&url)
                .json(&samples[i % samples.len()])
                .send()
                .await
            {
                Ok(r) => r.status().as_u16() == 201,
                Err(_) => false,
            };
            (due.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for t in tasks {
        let (lat, ok) = t.await?;
        latencies.push(lat);
        errors += (!ok) as usize;
    }
    let elapsed = start.elapsed().as_secs_f64();
    per_ticket[2] = cpu.and_then(|c| c.per_ticket(watched, total - errors));
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1000.0
    };
    // 4. Mail: realistic messages through the mail endpoint, as many clients.
    let mail_url = url.replace("/api/v1/tickets", "/api/v1/intake/mail");
    let mail_bytes = sample_mail(&samples[0], 0).len();
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cpu = Totals::now(watched);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..config.concurrency {
        let (client, url, samples, counter) = (
            client.clone(),
            mail_url.clone(),
            samples.clone(),
            counter.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while start.elapsed() < duration {
                let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let raw = sample_mail(&samples[i % samples.len()], i);
                let resp = client
                    .post(&url)
                    .header("Content-Type", "message/rfc822")
                    .body(raw)
                    .send()
                    .await?;
                anyhow::ensure!(resp.status().as_u16() == 201, "status {}", resp.status());
                n += 1;
            }
            Ok(n)
        }));
    }
    let mut mails = 0;
    for t in tasks {
        mails += t.await??;
    }
    let mail_per_s = mails as f64 / start.elapsed().as_secs_f64();
    per_ticket[3] = cpu.and_then(|c| c.per_ticket(watched, mails));
    let report = BenchReport {
        mail_per_s,
        mail_bytes,
        raw_per_s,
        http_per_s,
        fixed_rate: config.rate,
        fixed_achieved_per_s: total as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: latencies.last().map_or(0.0, |l| l.as_secs_f64() * 1000.0),
        errors,
        per_ticket,
    };
    let _ = stop_tx.send(());
    if let Some(server) = server {
        server.await??;
    }
    drop(external);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_from_a_processes_stat_line_whatever_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let stat = dir.path().join("stat");
        // `comm` may hold spaces and parentheses; utime and stime are fields 14 and 15.
        std::fs::write(
            &stat,
            "4242 (postgres: a (b) c) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 50 0 0 20 0 1 0 5 0 0",
        )
        .unwrap();
        assert_eq!(
            cpu_seconds(&stat),
            Some(("postgres: a (b) c".to_owned(), 3.0))
        );
        std::fs::write(&stat, "4242 (x) S 1").unwrap();
        assert_eq!(cpu_seconds(&stat), None);
    }

    #[test]
    fn bytes_written_are_read_from_a_processes_io() {
        let dir = tempfile::tempdir().unwrap();
        // `wchar` counts every write, sockets too; `write_bytes` only what goes to storage.
        std::fs::write(
            dir.path().join("io"),
            "rchar: 10\nwchar: 99999\nsyscr: 1\nsyscw: 2\nread_bytes: 0\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n",
        )
        .unwrap();
        assert_eq!(written_bytes(dir.path()), Some(8192.0));
        std::fs::write(dir.path().join("io"), "rchar: 10\n").unwrap();
        assert_eq!(written_bytes(dir.path()), None);
    }
}
