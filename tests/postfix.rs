//! The mail gateway as a system administrator sets it up: a real Postfix (Debian's) with
//! README's transport lines, mail delivered to it over SMTP, and `triage mail ingest` as its
//! pipe(8) command. Accepted mail becomes a ticket; while triage is down, and while the
//! gateway's token is refused, the mail stays in Postfix's queue (never bounced) and is
//! delivered exactly once after `postqueue -f`.
//!
//! Postfix runs as a private instance (its own config, queue and port in a temporary
//! directory), which needs root, the `postfix` package and README's `triage` user; `.ci/run`
//! provides all three, and under `CI=true` their absence fails the test.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{backends, client, free_port, TestDb, TestServer};

/// What the machine lacks for this test, if anything.
fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    let uid = Command::new("id").arg("-u").output().map(|o| o.stdout);
    if uid.ok().as_deref().map(|u| u.trim_ascii()) != Some(b"0".as_slice()) {
        missing.push("root (Postfix's master runs as root)".to_string());
    }
    if !Path::new("/usr/sbin/postfix").exists() {
        missing.push("Debian's postfix package".to_string());
    }
    if user_id("triage").is_none() {
        missing.push("README's `triage` user (useradd --system … triage)".to_string());
    }
    missing
}

fn user_id(name: &str) -> Option<u32> {
    let out = Command::new("id").args(["-u", name]).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// README's Postfix section, as the lines a test instance needs: the master.cf service (with
/// the binary, URL and token file of this test) and the main.cf settings with their maps.
struct ReadmeSetup {
    master_cf: String,
    maps: Vec<(String, String)>,
    main_cf: Vec<String>,
}

fn readme_setup(binary: &Path, url: &str, token_file: &Path, dir: &Path) -> ReadmeSetup {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = "cat >> /etc/postfix/master.cf <<'CONF'\n";
    let at = readme.find(start).expect("README's master.cf lines") + start.len();
    let end = at + readme[at..].find("\nCONF\n").expect("README's CONF end");
    let master_cf = readme[at..end]
        .replace("/usr/local/bin/triage", &binary.display().to_string())
        .replace("http://127.0.0.1:8080", url)
        .replace(
            "/etc/triage-gateway.token",
            &token_file.display().to_string(),
        );
    let etc = format!("{}/", dir.display());
    let maps_re = regex::Regex::new(r"(?m)^echo '([^']*)' *> */etc/postfix/(\S+)$").unwrap();
    let maps: Vec<(String, String)> = maps_re
        .captures_iter(&readme)
        .map(|c| (c[2].to_string(), c[1].to_string()))
        .collect();
    assert!(maps.len() >= 2, "README's transport and recipient maps");
    let settings_re =
        regex::Regex::new(r"'((?:transport_maps|local_recipient_maps) = [^']*)'").unwrap();
    let main_cf: Vec<String> = settings_re
        .captures_iter(&readme)
        .map(|c| c[1].replace("/etc/postfix/", &etc))
        .collect();
    assert_eq!(main_cf.len(), 2, "README's postconf -e lines");
    ReadmeSetup {
        master_cf,
        maps,
        main_cf,
    }
}

/// A private Postfix instance; stopped when dropped.
struct Postfix {
    dir: PathBuf,
    smtp: u16,
}

impl Postfix {
    fn start(dir: &Path, setup: &ReadmeSetup) -> Postfix {
        let smtp = free_port();
        let d = dir.display();
        let main_cf = format!(
            "compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/lib
maillog_file_prefixes = {d}
maillog_file = {d}/maillog
myhostname = mx.example.com
mydomain = example.com
myorigin = example.com
mydestination = example.com
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
# Deferred mail waits for `postqueue -f`, not for a timer.
minimal_backoff_time = 3600s
maximal_backoff_time = 7200s
queue_run_delay = 3600s
{}
",
            setup.main_cf.join("\n")
        );
        std::fs::write(dir.join("main.cf"), main_cf).unwrap();
        let master_cf = format!(
            "127.0.0.1:{smtp} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
{}
",
            setup.master_cf
        );
        std::fs::write(dir.join("master.cf"), master_cf).unwrap();
        for (name, line) in &setup.maps {
            std::fs::write(dir.join(name), format!("{line}\n")).unwrap();
            run(Command::new("postmap")
                .arg("-c")
                .arg(dir)
                .arg(dir.join(name)));
        }
        // The queue belongs to root, Postfix's own data to its mail owner.
        std::fs::create_dir(dir.join("spool")).unwrap();
        std::fs::create_dir(dir.join("lib")).unwrap();
        run(Command::new("chown")
            .arg("postfix:postfix")
            .arg(dir.join("lib")));
        run(Command::new("postfix").arg("-c").arg(dir).arg("start"));
        let pf = Postfix {
            dir: dir.to_path_buf(),
            smtp,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", smtp)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Postfix's smtpd did not start: {}",
                pf.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        pf
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// Sends one message over SMTP, as a customer's mail server would.
    fn send(&self, from: &str, to: &str, message: &str) {
        let stream = TcpStream::connect(("127.0.0.1", self.smtp)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        let mut expect = |code: &str| loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            assert!(line.starts_with(code), "SMTP: wanted {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        };
        expect("220");
        for (cmd, code) in [
            ("EHLO client.example".to_string(), "250"),
            (format!("MAIL FROM:<{from}>"), "250"),
            (format!("RCPT TO:<{to}>"), "250"),
            ("DATA".to_string(), "354"),
        ] {
            write!(w, "{cmd}\r\n").unwrap();
            expect(code);
        }
        for line in message.lines() {
            let line = if line.starts_with('.') {
                format!(".{line}")
            } else {
                line.to_string()
            };
            write!(w, "{line}\r\n").unwrap();
        }
        write!(w, ".\r\n").unwrap();
        expect("250");
        write!(w, "QUIT\r\n").unwrap();
        expect("221");
    }

    /// The queue, one JSON object per message (`postqueue -j`).
    fn queue(&self) -> Vec<serde_json::Value> {
        run(Command::new("postqueue").arg("-c").arg(&self.dir).arg("-j"))
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The deferral reason of the queued message to `to`, once Postfix has tried it.
    fn wait_deferred(&self, to: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            for m in self.queue() {
                for r in m["recipients"].as_array().into_iter().flatten() {
                    if r["address"] == to && m["queue_name"] == "deferred" {
                        if let Some(reason) = r["delay_reason"].as_str() {
                            return reason.to_string();
                        }
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "the mail to {to} was not deferred: {:?}\n{}",
                self.queue(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn flush(&self) {
        run(Command::new("postqueue").arg("-c").arg(&self.dir).arg("-f"));
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.dir)
            .arg("stop")
            .output();
    }
}

/// The address Postfix's pipe command is pointed at: forwards to the triage server when
/// open, refuses connections when closed (triage down).
struct Door {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Door {
    fn new() -> Door {
        Door {
            port: free_port(),
            task: None,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn open(&mut self, to: SocketAddr) {
        self.close().await;
        // The port was ours a moment ago: connections of then may linger in TIME_WAIT.
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let mut tries = 0;
        let listener = loop {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            match socket.bind(addr).and_then(|()| socket.listen(64)) {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    eprintln!("door: {e}, again");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("the door cannot open on {addr}: {e}"),
            }
        };
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    /// Stops listening, and waits until the listener is gone.
    async fn close(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

fn message(subject: &str) -> String {
    format!(
        "From: Anna Berger <anna@alpen-logistik.example>\n\
         To: helpdesk@example.com\n\
         Subject: {subject}\n\
         Date: Wed, 02 Dec 2026 09:15:00 +0100\n\
         MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\n\
         \n\
         Guten Morgen, der Drucker im 2. Stock druckt nur leere Seiten.\n\
         .Eine Zeile mit Punkt am Anfang.\n\
         Danke, Anna\n"
    )
}

/// The tickets whose subject is `subject`.
async fn tickets_with_subject(server: &TestServer, subject: &str) -> Vec<serde_json::Value> {
    let page: serde_json::Value = client()
        .get(server.url("/api/v1/tickets?limit=500"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["subject"] == subject)
        .cloned()
        .collect()
}

async fn wait_ticket(server: &TestServer, subject: &str, pf: &Postfix) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = tickets_with_subject(server, subject).await;
        if !found.is_empty() {
            // Give a second delivery (there must be none) the time to happen.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let found = tickets_with_subject(server, subject).await;
            assert_eq!(found.len(), 1, "exactly one ticket for {subject:?}");
            return found[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "no ticket for {subject:?}; queue {:?}\n{}",
            pf.queue(),
            pf.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn queued_to(pf: &Postfix, to: &str) -> usize {
    pf.queue()
        .iter()
        .filter(|m| {
            m["recipients"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["address"] == to)
        })
        .count()
}

const HELPDESK: &str = "helpdesk@example.com";
const CUSTOMER: &str = "anna@alpen-logistik.example";

/// Sends a mail that triage cannot take now: it stays deferred, with `reason` in the
/// deferral, and no ticket exists.
async fn held(pf: &Postfix, server: &TestServer, subject: &str, reason: &str) {
    pf.send(CUSTOMER, HELPDESK, &message(subject));
    let said = pf.wait_deferred(HELPDESK);
    assert!(said.contains(reason), "deferral reason: {said}");
    assert!(tickets_with_subject(server, subject).await.is_empty());
}

/// After the cause is mended, `postqueue -f` delivers the held mail: one ticket, an
/// empty queue.
async fn delivered_once(pf: &Postfix, server: &TestServer, subject: &str) {
    pf.flush();
    wait_ticket(server, subject, pf).await;
    assert_eq!(queued_to(pf, HELPDESK), 0, "{:?}", pf.queue());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_delivers_through_readme_transport_and_keeps_mail_while_triage_cannot_take_it() {
    let missing = missing_prerequisites();
    if !missing.is_empty() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs for the Postfix test: {}",
            missing.join(", ")
        );
        eprintln!("skipped: the Postfix test needs {}", missing.join(", "));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The transport's user must reach the binary and its token file.
    run(Command::new("chmod").arg("755").arg(d));
    let binary = d.join("triage");
    std::fs::copy(env!("CARGO_BIN_EXE_triage"), &binary).unwrap();
    let token_file = d.join("gateway.token");
    let write_token = |token: &str| {
        std::fs::write(&token_file, format!("{token}\n")).unwrap();
        std::os::unix::fs::chown(&token_file, user_id("triage"), None).unwrap();
        run(Command::new("chmod").arg("600").arg(&token_file));
    };
    write_token("test-gateway-token");
    let mut door = Door::new();
    let setup = readme_setup(&binary, &door.url(), &token_file, d);
    let pf = Postfix::start(d, &setup);
    let (helpdesk, customer) = (HELPDESK, CUSTOMER);

    for backend in backends() {
        let db = TestDb::new(backend).await;
        let server = TestServer::start(&db).await;
        let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
        let tag = format!("{backend:?}");

        // Accepted: SMTP in, a ticket out, nothing left in the queue.
        door.open(addr).await;
        let subject = format!("Drucker druckt leere Seiten ({tag})");
        pf.send(customer, helpdesk, &message(&subject));
        let ticket = wait_ticket(&server, &subject, &pf).await;
        assert_eq!(ticket["from"]["email"], customer);
        assert_eq!(ticket["channel"], "email");
        assert!(
            ticket["body"]
                .as_str()
                .unwrap()
                .contains(".Eine Zeile mit Punkt"),
            "SMTP dot-stuffing undone on the way: {}",
            ticket["body"]
        );
        assert_eq!(queued_to(&pf, helpdesk), 0);

        // triage down: deferred, not bounced; once after it is back and the queue is flushed.
        door.close().await;
        let subject = format!("Während der Wartung geschickt ({tag})");
        held(&pf, &server, &subject, "triage mail ingest").await;
        door.open(addr).await;
        delivered_once(&pf, &server, &subject).await;

        // A refused token (a rotation done in the wrong order): kept queued, said loudly.
        write_token("a-token-that-was-revoked");
        let subject = format!("Nach der Tokenrotation ({tag})");
        held(
            &pf,
            &server,
            &subject,
            "configuration error, the message stays queued",
        )
        .await;
        assert!(
            !pf.log().contains(&format!("to=<{customer}>")),
            "nothing went back to the customer: {}",
            pf.log()
        );
        write_token("test-gateway-token");
        delivered_once(&pf, &server, &subject).await;

        door.close().await;
        server.stop().await;
        db.drop_db().await;
    }
    drop(pf);
}
