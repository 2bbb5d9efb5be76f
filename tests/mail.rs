//! E-mail intake through the real HTTP server and database (SQLite always, PostgreSQL when
//! `TRIAGE_TEST_DATABASE_URL` is set), with the shipped rules and FAQ articles.

mod common;

use common::{client, each_backend, get_json, post, TestServer};
use serde_json::{json, Value};

/// One text a statement answers in its column `v`.
async fn sql_text(server: &TestServer, sql: &str) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let c = server.state.desk.store.connection();
    let row = c
        .query_one(Statement::from_string(c.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<String>("", "v").unwrap()
}

/// A stored mail's bytes as `GET /tickets/{number}/mail/{id}` returns them, with the status.
async fn raw_mail(server: &TestServer, number: &str, id: &str) -> (u16, Vec<u8>) {
    let resp = client()
        .get(server.url(&format!("/api/v1/tickets/{number}/mail/{id}")))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

/// POSTs a raw message; returns status and body.
async fn deliver(server: &TestServer, raw: &str) -> (u16, Value) {
    common::deliver_mail(&client(), server, raw.to_owned()).await
}

fn mail(from: &str, id: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: helpdesk@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{id}>\r\nDate: Tue, 24 Nov 2026 09:15:00 +0100\r\n{extra}\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

const PASSWORD_DE: &str = "Guten Morgen, ich habe mein Passwort vergessen und kann mich nicht mehr anmelden. Wie kann ich es zurücksetzen?";

async fn outbox(server: &TestServer, ticket: &str) -> Vec<Value> {
    let (s, v) = get_json(&server.url(&format!("/api/v1/mail/outbox?ticket={ticket}"))).await;
    assert_eq!(s, 200, "{v}");
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn a_password_mail_is_answered_by_mail_and_the_reply_threads_into_its_ticket() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let raw = mail(
            "Anna Berger <Anna.Berger@alpen-logistik.example>",
            "m1@alpen-logistik.example",
            "Passwort vergessen",
            "",
            PASSWORD_DE,
        );
        let (s, v) = deliver(&server, &raw).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["outcome"], "created");
        let t = &v["ticket"];
        assert_eq!(t["channel"], "email");
        assert_eq!(t["from"]["email"], "anna.berger@alpen-logistik.example");
        assert_eq!(t["from"]["name"], "Anna Berger");
        assert_eq!(t["decision"]["segment"], "commercial", "{t}");
        assert_eq!(t["status"], "answered-automatically", "{t}");
        let number = t["number"].as_str().unwrap().to_owned();

        // The answer is queued as a mail: tagged subject, threaded, marked automatic.
        let out = outbox(&server, &number).await;
        assert_eq!(out.len(), 1, "{out:?}");
        let o = &out[0];
        assert_eq!(o["recipient"], "anna.berger@alpen-logistik.example");
        assert_eq!(o["subject"], format!("[{number}] Re: Passwort vergessen"));
        assert_eq!(o["automatic"], true);
        assert_eq!(o["status"], "pending");
        let ours = o["message_id"].as_str().unwrap().to_owned();
        assert!(ours.ends_with("@example.com"), "{ours}");

        // Redelivery of the same message: one message, 200.
        let (s, v) = deliver(&server, &raw).await;
        assert_eq!((s, v["outcome"].as_str()), (200, Some("duplicate")), "{v}");
        assert_eq!(v["ticket"]["number"], number.as_str());

        // The customer answers our mail: it lands on the ticket, and says the answer did
        // not help, so the ticket goes to people.
        let reply = mail(
            "anna.berger@alpen-logistik.example",
            "m2@alpen-logistik.example",
            &format!("Re: [{number}] Re: Passwort vergessen"),
            &format!(
                "In-Reply-To: <{ours}>\r\nReferences: <m1@alpen-logistik.example> <{ours}>\r\n"
            ),
            "Das hat leider nicht funktioniert.",
        );
        let (s, v) = deliver(&server, &reply).await;
        assert_eq!((s, v["outcome"].as_str()), (200, Some("appended")), "{v}");
        assert_eq!(v["ticket"]["number"], number.as_str());
        assert_eq!(v["ticket"]["status"], "open", "{v}");
        let kinds = common::event_kinds(&server, &number).await;
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        assert!(kinds.contains(&"faq.not_helped"), "{kinds:?}");
        assert!(kinds.contains(&"customer_message"), "{kinds:?}");

        // An agent's reply goes out by mail too, with the ticket tag, threaded on the
        // customer's last mail, and not marked automatic.
        let (s, v) = post(
            server.url(&format!("/api/v1/tickets/{number}/replies")),
            json!({"body": "Ich habe Ihr Konto entsperrt."}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let out = outbox(&server, &number).await;
        assert_eq!(out.len(), 2);
        let agent = &out[0];
        assert_eq!(agent["automatic"], false);
        assert_eq!(
            agent["subject"],
            format!("[{number}] Re: Passwort vergessen")
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_ticket_tag_threads_only_for_people_on_the_ticket() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (_, v) = deliver(
            &server,
            &mail(
                "max@alpen-logistik.example",
                "a1@x",
                "Drucker druckt nicht",
                "Cc: Eva <eva@alpen-logistik.example>\r\n",
                "Der Drucker im 2. Stock druckt nicht.",
            ),
        )
        .await;
        let number = v["ticket"]["number"].as_str().unwrap().to_owned();
        // The requester and someone copied on the first mail thread by the tag alone.
        for (from, id) in [
            ("max@alpen-logistik.example", "a2@x"),
            ("eva@alpen-logistik.example", "a3@x"),
        ] {
            let (s, v) = deliver(
                &server,
                &mail(
                    from,
                    id,
                    &format!("AW: [{number}] Drucker"),
                    "",
                    "Noch immer nicht.",
                ),
            )
            .await;
            assert_eq!(
                (s, v["outcome"].as_str()),
                (200, Some("appended")),
                "{from}: {v}"
            );
            assert_eq!(v["ticket"]["number"], number.as_str());
        }
        // A stranger naming the ticket gets a new ticket that links to it.
        let (s, v) = deliver(
            &server,
            &mail(
                "someone@elsewhere.example",
                "a4@x",
                &format!("[{number}] Drucker"),
                "",
                "Ich habe das gleiche Problem.",
            ),
        )
        .await;
        assert_eq!((s, v["outcome"].as_str()), (201, Some("created")), "{v}");
        let other = v["ticket"]["number"].as_str().unwrap().to_owned();
        assert_ne!(other, number);
        let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{other}/events"))).await;
        let link = events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "linked")
            .expect("linked event");
        assert_eq!(link["data"]["ticket"], number.as_str());
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn machines_and_spam_never_get_an_automatic_answer() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let robots = [
            (
                "anna.berger@alpen-logistik.example",
                "Auto-Submitted: auto-replied\r\n",
            ),
            ("anna.berger@alpen-logistik.example", "Precedence: bulk\r\n"),
            (
                "anna.berger@alpen-logistik.example",
                "List-Id: <it.lists.alpen-logistik.example>\r\n",
            ),
            (
                "anna.berger@alpen-logistik.example",
                "List-Unsubscribe: <mailto:leave@lists.example>\r\n",
            ),
            ("anna.berger@alpen-logistik.example", "X-Autoreply: yes\r\n"),
            (
                "anna.berger@alpen-logistik.example",
                "X-Autorespond: yes\r\n",
            ),
            ("noreply@alpen-logistik.example", ""),
            ("MAILER-DAEMON@alpen-logistik.example", ""),
            (
                "anna.berger@alpen-logistik.example",
                "X-Auto-Response-Suppress: All\r\n",
            ),
        ];
        for (i, (from, header)) in robots.iter().enumerate() {
            let (s, v) = deliver(
                &server,
                &mail(
                    from,
                    &format!("r{i}@x"),
                    "Passwort vergessen",
                    header,
                    PASSWORD_DE,
                ),
            )
            .await;
            assert_eq!(s, 201, "{header}: {v}");
            let t = &v["ticket"];
            // Noise: kept, out of the agents' queues, without a service level.
            assert_eq!(t["status"], "noise", "{header}{from}: {t}");
            assert_eq!(t["decision"]["queue"], "review", "{header}{from}");
            assert!(
                t["decision"]["trace"]["queue"]["why"]
                    .as_str()
                    .unwrap()
                    .contains("no person wrote it"),
                "{}",
                t["decision"]["trace"]["queue"]
            );
            assert!(
                t["sla"]["clocks"].as_array().is_none_or(|c| c.is_empty()),
                "{}",
                t["sla"]
            );
            assert_ne!(t["faq"]["mode"], "automated", "{header}");
            assert!(
                t["faq"]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("no person wrote it"),
                "{header}{from}: {}",
                t["faq"]
            );
            let number = t["number"].as_str().unwrap();
            assert!(outbox(&server, number).await.is_empty(), "{header}");
        }
        // Spam: kept, in the review queue, for people only, with the reason.
        for (i, (from, header, body)) in [
            (
                "anna.berger@alpen-logistik.example",
                "X-Spam-Flag: YES\r\n",
                PASSWORD_DE,
            ),
            (
                "anna.berger@alpen-logistik.example",
                "X-Spam-Score: 7.5\r\n",
                PASSWORD_DE,
            ),
            ("seo@mailinator.com", "", PASSWORD_DE),
            (
                "offers@agency.example",
                "",
                "We sell cheap backlinks for your shop.",
            ),
        ]
        .iter()
        .enumerate()
        {
            let (s, v) = deliver(
                &server,
                &mail(from, &format!("s{i}@x"), "Passwort vergessen", header, body),
            )
            .await;
            assert_eq!(s, 201, "{v}");
            let d = &v["ticket"]["decision"];
            assert_eq!(d["queue"], "review", "{from}{header}: {d}");
            assert_eq!(d["automation"], "human");
            assert_eq!(d["trace"]["queue"]["by"], "mail");
            assert!(
                d["trace"]["queue"]["at"]
                    .as_str()
                    .unwrap()
                    .contains("mail.toml:"),
                "{d}"
            );
            assert_ne!(v["ticket"]["status"], "answered-automatically");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn automatic_answers_per_sender_are_limited() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let limit = server.state.rules().mail.auto_replies_per_hour as usize;
        let mut answered = 0;
        for i in 0..limit + 2 {
            let (s, v) = deliver(
                &server,
                &mail(
                    "anna.berger@alpen-logistik.example",
                    &format!("l{i}@x"),
                    "Passwort vergessen",
                    "",
                    PASSWORD_DE,
                ),
            )
            .await;
            assert_eq!(s, 201, "{v}");
            if v["ticket"]["status"] == "answered-automatically" {
                answered += 1;
            } else {
                assert!(
                    v["ticket"]["faq"]["reason"]
                        .as_str()
                        .unwrap()
                        .contains("in the last hour"),
                    "{}",
                    v["ticket"]["faq"]
                );
            }
        }
        assert_eq!(answered, limit);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_bounce_of_our_mail_lands_on_its_ticket_and_marks_the_mail() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (_, v) = deliver(&server, &mail("anna.berger@alpen-logistik.example", "b1@x", "Passwort vergessen", "", PASSWORD_DE)).await;
        let number = v["ticket"]["number"].as_str().unwrap().to_owned();
        let ours = outbox(&server, &number).await[0]["message_id"].as_str().unwrap().to_owned();
        let bounce = format!(
            "From: MAILER-DAEMON@mx.alpen-logistik.example\r\nTo: helpdesk@example.com\r\n\
             Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce1@mx>\r\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
             --B\r\nContent-Type: text/plain\r\n\r\nThe mail system: user unknown.\r\n\
             --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; anna.berger@alpen-logistik.example\r\nStatus: 5.1.1\r\n\
             --B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{ours}>\r\nSubject: [{number}] Re: Passwort vergessen\r\n\r\n--B--\r\n"
        );
        let (s, v) = deliver(&server, &bounce).await;
        assert_eq!((s, v["outcome"].as_str()), (200, Some("bounce")), "{v}");
        assert_eq!(v["ticket"]["number"], number.as_str());
        let out = outbox(&server, &number).await;
        assert_eq!(out[0]["status"], "bounced", "{out:?}");
        // A bounce nobody asked for (not of our mail) is a ticket, never answered.
        let stray = bounce.replace(&ours, "unknown@elsewhere").replace("bounce1@mx", "bounce2@mx");
        let (s, v) = deliver(&server, &stray).await;
        assert_eq!(s, 201, "{v}");
        assert_ne!(v["ticket"]["status"], "answered-automatically");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn attachments_are_stored_within_limits_and_the_raw_mail_is_kept() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let big = "QUJD".repeat(4 * 1024 * 1024); // 12 MiB decoded: over the 10 MiB limit
        let raw = format!(
            "From: =?ISO-8859-1?Q?J=FCrgen?= <juergen@alpen-logistik.example>\r\n\
             Subject: =?ISO-8859-1?Q?Rechnung_f=FCr_M=E4rz?=\r\nMessage-ID: <att1@x>\r\n\
             Content-Type: multipart/mixed; boundary=\"X\"\r\n\r\n\
             --X\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
             Anbei die Rechnung f=FCr M=E4rz.\r\n\
             --X\r\nContent-Type: application/pdf; name=\"rechnung.pdf\"\r\nContent-Disposition: attachment; filename=\"rechnung.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
             --X\r\nContent-Type: application/zip; name=\"scan.zip\"\r\nContent-Disposition: attachment; filename=\"scan.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{big}\r\n--X--\r\n"
        );
        let (s, v) = deliver(&server, &raw).await;
        assert_eq!(s, 201, "{v}");
        let t = &v["ticket"];
        assert_eq!(t["subject"], "Rechnung für März");
        assert!(t["body"].as_str().unwrap().starts_with("Anbei die Rechnung für März."), "{t}");
        assert!(t["body"].as_str().unwrap().contains("scan.zip"), "the note names the missing attachment");
        let number = t["number"].as_str().unwrap();
        let (_, list) = get_json(&server.url(&format!("/api/v1/tickets/{number}/attachments"))).await;
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0]["name"].as_str(), list[0]["stored"].as_bool()), (Some("rechnung.pdf"), Some(true)));
        assert_eq!((list[1]["name"].as_str(), list[1]["stored"].as_bool()), (Some("scan.zip"), Some(false)));
        let pdf = client()
            .get(server.url(&format!("/api/v1/tickets/{number}/attachments/{}", list[0]["id"])))
            .send()
            .await
            .unwrap();
        assert_eq!(pdf.headers()["content-type"], "application/pdf");
        assert_eq!(pdf.bytes().await.unwrap().as_ref(), b"%PDF-1.4\n");
        let gone = client()
            .get(server.url(&format!("/api/v1/tickets/{number}/attachments/{}", list[1]["id"])))
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status().as_u16(), 410);
        let (status, stored) = raw_mail(&server, number, "att1@x").await;
        assert_eq!(status, 200);
        assert_eq!(stored, raw.as_bytes());
        // The id as the message list shows it, in angle brackets (percent-encoded).
        let (status, bracketed) = raw_mail(&server, number, "%3Catt1@x%3E").await;
        assert_eq!(status, 200);
        assert_eq!(bracketed, raw.as_bytes());
        if db.backend == common::Backend::Postgres {
            // Compressed with lz4, where PostgreSQL has it, not pglz (CPU at intake).
            let methods = sql_text(
                &server,
                "SELECT (SELECT string_agg(DISTINCT pg_column_compression(raw), ',') FROM mail_raw) \
                 || ' ' || (SELECT string_agg(DISTINCT pg_column_compression(bytes), ',') FROM mail_raw_parts) \
                 || ' ' || (SELECT COUNT(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) AS v",
            )
            .await;
            let expected = if methods.ends_with(" 1") { "lz4 lz4 1" } else { "pglz pglz 0" };
            assert_eq!(methods, expected);
        }
        server.stop().await;
    })
    .await;
}

/// A mail of several MiB: its ticket and message hold the beginning of the text with a note,
/// the whole mail comes back byte for byte from its stored parts, and the decision is made.
#[tokio::test]
async fn a_very_large_mail_is_kept_whole_and_its_ticket_stays_small() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let line = "Der Drucker im zweiten Stock druckt nur leere Seiten, Zeile für Zeile.\r\n";
        let raw = mail(
            "anna.berger@alpen-logistik.example",
            "huge@alpen",
            "Drucker Protokoll",
            "",
            &format!("{}Ende des Protokolls.", line.repeat(45_000)),
        );
        assert!(raw.len() > 3 << 20);
        let (s, v) = deliver(&server, &raw).await;
        assert_eq!(s, 201, "{v}");
        let number = v["ticket"]["number"].as_str().unwrap().to_owned();
        let body = v["ticket"]["body"].as_str().unwrap();
        assert!(body.len() < 300 * 1024, "{}", body.len());
        assert!(body.starts_with("Der Drucker im zweiten Stock"));
        assert!(
            body.contains("[the text goes on:") && body.contains("<huge@alpen>"),
            "{}",
            &body[body.len() - 200..]
        );
        assert!(!body.contains("Ende des Protokolls"));
        let (_, page) = get_json(&server.url(&format!("/api/v1/tickets/{number}/messages"))).await;
        assert_eq!(page["items"][0]["body"].as_str(), Some(body), "{page}");
        let (status, bytes) = raw_mail(&server, &number, "huge@alpen").await;
        assert_eq!(status, 200);
        assert_eq!(bytes.len(), raw.len());
        assert!(
            bytes == raw.as_bytes(),
            "the stored mail differs from the one sent"
        );
        // Redelivered: recognised, nothing stored twice.
        let (s, v) = deliver(&server, &raw).await;
        assert_eq!((s, v["outcome"].as_str()), (200, Some("duplicate")), "{v}");
        server.stop().await;
    })
    .await;
}

/// The same new mail delivered twice at once (an MTA retrying while the first delivery is
/// still being written): one ticket, one message, and one of the two answers says
/// `duplicate` with that ticket.
#[tokio::test]
async fn a_new_mail_delivered_twice_at_once_is_one_ticket() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let raw = mail(
            "max.huber@stadt.example",
            "twice-at-once@stadt.example",
            "Drucker im 2. Stock",
            "",
            "Der Drucker im zweiten Stock druckt nur leere Seiten.",
        );
        let ((sa, a), (sb, b)) = tokio::join!(deliver(&server, &raw), deliver(&server, &raw));
        let mut outcomes = vec![
            (sa, a["outcome"].as_str().unwrap().to_owned()),
            (sb, b["outcome"].as_str().unwrap().to_owned()),
        ];
        outcomes.sort();
        assert_eq!(
            outcomes,
            [(200, "duplicate".to_owned()), (201, "created".to_owned())],
            "{a} {b}"
        );
        let number = a["ticket"]["number"].as_str().unwrap();
        assert_eq!(b["ticket"]["number"].as_str(), Some(number), "{a} {b}");
        let (_, list) = get_json(&server.url("/api/v1/tickets?limit=10")).await;
        assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
        let (_, page) = get_json(&server.url(&format!("/api/v1/tickets/{number}/messages"))).await;
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
        // Delivered once more later: still that one ticket.
        let (s, v) = deliver(&server, &raw).await;
        assert_eq!(
            (s, v["outcome"].as_str(), v["ticket"]["number"].as_str()),
            (200, Some("duplicate"), Some(number)),
            "{v}"
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn what_is_not_a_mail_is_refused_with_a_problem() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let (s, v) = deliver(&server, "").await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(
            v["type"].as_str().map(|t| t.ends_with("unparseable-mail")),
            Some(true),
            "{v}"
        );
        let resp = client()
            .post(server.url("/api/v1/intake/mail"))
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 415);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        server.stop().await;
    })
    .await;
}

/// The SMTP sink of `tests/support/smtp_sink.py`, stopped when dropped.
struct Sink {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    /// Starts it; `None` when Python's smtpd is not there (outside CI only: CI must run it).
    fn start(args: &[&str]) -> Option<Sink> {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let child = std::process::Command::new("python3")
            .arg(script)
            .arg(dir.path())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var("CI").is_err(),
                    "CI needs python3 for the SMTP test: {e}"
                );
                eprintln!("skipped: no python3 ({e})");
                return None;
            }
        };
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Ok(port) = line.trim().parse() else {
            let _ = child.kill();
            assert!(
                std::env::var("CI").is_err(),
                "CI needs Python's smtpd for the SMTP test"
            );
            eprintln!("skipped: the SMTP sink did not start");
            return None;
        };
        Some(Sink { child, port, dir })
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn received(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn worker_round(
    server: &TestServer,
    sink: &Sink,
    at: chrono::DateTime<chrono::Utc>,
) -> triage::worker::Round {
    let config = triage::worker::WorkerConfig::default();
    let mailer =
        triage::worker::mail::Mailer::from_url(&sink.url(), std::time::Duration::from_secs(10))
            .unwrap();
    let http = triage::worker::http_client(&config);
    triage::worker::round(
        &server.state.desk.store,
        &server.state.rules(),
        &config,
        &http,
        Some(&mailer),
        at,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn answers_go_out_over_smtp_once_and_the_customers_reply_threads_back() {
    each_backend(async |db| {
        let Some(sink) = Sink::start(&[]) else { return };
        let server = TestServer::start(db).await;
        let mut numbers = Vec::new();
        for i in 0..5 {
            let (s, v) = deliver(
                &server,
                &mail(
                    &format!("user{i}@alpen-logistik.example"),
                    &format!("q{i}@alpen"),
                    "Passwort vergessen",
                    "",
                    PASSWORD_DE,
                ),
            )
            .await;
            assert_eq!(s, 201, "{v}");
            assert_eq!(v["ticket"]["status"], "answered-automatically");
            numbers.push(v["ticket"]["number"].as_str().unwrap().to_owned());
        }
        // Two workers at once: every mail is sent exactly once.
        let now = chrono::Utc::now();
        let (a, b) = tokio::join!(
            worker_round(&server, &sink, now),
            worker_round(&server, &sink, now)
        );
        assert_eq!(a.mail_sent + b.mail_sent, 5, "{a:?} {b:?}");
        let received = sink.received();
        assert_eq!(received.len(), 5);
        let again = worker_round(&server, &sink, now + chrono::Duration::hours(1)).await;
        assert_eq!(again.mail_sent, 0);

        // The first ticket's mail, as the customer's mail client gets it.
        let first = received
            .iter()
            .map(|raw| triage::intake::mail::parse(raw, &Default::default()).unwrap())
            .find(|m| m.subject.contains(&numbers[0]))
            .expect("the first ticket's answer was received");
        assert_eq!(
            first.subject,
            format!("[{}] Re: Passwort vergessen", numbers[0])
        );
        assert_eq!(first.refers_to, ["q0@alpen"]);
        assert!(
            first.body.contains(&numbers[0]),
            "the ticket number is in the text"
        );
        assert!(first.body.contains("Passwort"), "{}", first.body);
        assert!(first
            .automatic
            .as_ref()
            .unwrap()
            .reason
            .contains("Auto-Submitted"));
        let sent = outbox(&server, &numbers[0]).await;
        assert_eq!(sent[0]["status"], "sent");
        assert_eq!(sent[0]["message_id"].as_str(), first.message_id.as_deref());

        // The customer's client answers it (threading headers only, no tag needed).
        let ours = first.message_id.unwrap();
        let reply = mail(
            "user0@alpen-logistik.example",
            "q0-reply@alpen",
            "Re: Ihre Anfrage",
            &format!("In-Reply-To: <{ours}>\r\nReferences: <q0@alpen> <{ours}>\r\n"),
            "Danke, hat geklappt!",
        );
        let (s, v) = deliver(&server, &reply).await;
        assert_eq!((s, v["outcome"].as_str()), (200, Some("appended")), "{v}");
        assert_eq!(v["ticket"]["number"], numbers[0].as_str());
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn smtp_failures_are_retried_with_backoff_and_permanent_ones_give_up() {
    each_backend(async |db| {
        let Some(flaky) = Sink::start(&["--fail-first", "1"]) else {
            return;
        };
        let server = TestServer::start(db).await;
        let (_, v) = deliver(
            &server,
            &mail(
                "anna.berger@alpen-logistik.example",
                "f1@alpen",
                "Passwort vergessen",
                "",
                PASSWORD_DE,
            ),
        )
        .await;
        let number = v["ticket"]["number"].as_str().unwrap().to_owned();
        let now = chrono::Utc::now();
        let r = worker_round(&server, &flaky, now).await;
        assert_eq!((r.mail_sent, r.mail_failed), (0, 1));
        // Not due again before the backoff.
        let r = worker_round(&server, &flaky, now + chrono::Duration::seconds(10)).await;
        assert_eq!((r.mail_sent, r.mail_failed), (0, 0));
        let r = worker_round(&server, &flaky, now + chrono::Duration::seconds(31)).await;
        assert_eq!(r.mail_sent, 1);
        let o = &outbox(&server, &number).await[0];
        assert_eq!(
            (o["status"].as_str(), o["attempts"].as_i64()),
            (Some("sent"), Some(2)),
            "{o}"
        );
        assert_eq!(flaky.received().len(), 1);

        let Some(reject) = Sink::start(&["--reject"]) else {
            return;
        };
        let (_, v) = deliver(
            &server,
            &mail(
                "bernd@alpen-logistik.example",
                "f2@alpen",
                "Passwort vergessen",
                "",
                PASSWORD_DE,
            ),
        )
        .await;
        let number = v["ticket"]["number"].as_str().unwrap().to_owned();
        let r = worker_round(&server, &reject, chrono::Utc::now()).await;
        assert_eq!(r.mail_failed, 1);
        let o = &outbox(&server, &number).await[0];
        assert_eq!(o["status"], "dead", "{o}");
        assert!(o["last_error"].as_str().unwrap().contains("550"), "{o}");
        let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{number}/events"))).await;
        assert!(
            events
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "mail.dead"),
            "{events}"
        );
        // Mended (the relay accepts again): a manager sends it once more, and it goes out.
        let id = o["id"].as_i64().unwrap();
        let retry = server.url(&format!("/api/v1/mail/outbox/{id}/retry"));
        let (s, again) = post(retry.clone(), json!({})).await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(
            (again["status"].as_str(), again["attempts"].as_i64()),
            (Some("pending"), Some(0))
        );
        let (s, p) = post(retry, json!({})).await;
        assert_eq!(s, 409, "only dead mail is sent again: {p}");
        let r = worker_round(&server, &flaky, chrono::Utc::now()).await;
        assert_eq!(r.mail_sent, 1);
        assert_eq!(outbox(&server, &number).await[0]["status"], "sent");
        let (s, _) = post(server.url("/api/v1/mail/outbox/999999/retry"), json!({})).await;
        assert_eq!(s, 404);
        server.stop().await;
    })
    .await;
}

/// `triage mail ingest` as an MTA pipe runs it: the message on stdin, the exit code back.
async fn ingest(url: &str, token: &str, raw: &[u8]) -> (i32, String) {
    ingest_with(&["--url", url, "--token", token], raw).await
}

/// `triage mail ingest` with these arguments.
async fn ingest_with(args: &[&str], raw: &[u8]) -> (i32, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_triage"))
        .args(["mail", "ingest", "--timeout", "5"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(raw).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A server on a loopback port that answers every request with `response`; its URL.
async fn canned(response: &'static [u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(response).await;
        }
    });
    url
}

#[tokio::test]
async fn the_mta_pipe_exits_with_what_the_mta_should_do() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let raw = mail("anna.berger@alpen-logistik.example", "pipe1@alpen", "Drucker", "", "Der Drucker druckt nicht.");
        let (code, out) = ingest(&server.base, "test-gateway-token", raw.as_bytes()).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.starts_with("created T-"), "{out}");
        // Redelivered by the MTA: still delivered, one message.
        let (code, out) = ingest(&server.base, "test-gateway-token", raw.as_bytes()).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.starts_with("duplicate T-"), "{out}");
        // A wrong token (a rotation done in the wrong order): the mail stays queued and
        // stderr says why, it is not bounced to the customer.
        let (code, out) = ingest(&server.base, "not-a-token", raw.as_bytes()).await;
        assert_eq!(code, 75, "{out}");
        assert!(out.contains("configuration error") && out.contains("token"), "{out}");
        // A URL that leads to no mail intake (404): queued as well.
        let wrong = format!("{}/triage", server.base);
        let (code, out) = ingest(&wrong, "test-gateway-token", raw.as_bytes()).await;
        assert_eq!(code, 75, "{out}");
        assert!(out.contains("configuration error") && out.contains("404"), "{out}");
        // Not a message: 65, the MTA bounces it.
        let (code, out) = ingest(&server.base, "test-gateway-token", b"").await;
        assert_eq!(code, 65, "{out}");
        assert!(out.contains("422"), "{out}");
        // Nobody listening: 75, the MTA keeps it and retries.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let (code, out) = ingest(&dead, "test-gateway-token", raw.as_bytes()).await;
        assert_eq!(code, 75, "{out}");
        // A service in trouble (503): 75 too.
        let failing_url = canned(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\ncontent-length: 39\r\nconnection: close\r\n\r\n{\"title\":\"down\",\"detail\":\"maintenance\"}").await;
        let (code, out) = ingest(&failing_url, "test-gateway-token", raw.as_bytes()).await;
        assert_eq!(code, 75, "{out}");
        assert!(out.contains("maintenance"), "{out}");
        // The token from a file only the transport's user reads; a file that cannot be read
        // keeps the mail queued.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gateway.token");
        std::fs::write(&file, "test-gateway-token\n").unwrap();
        let other = mail("anna.berger@alpen-logistik.example", "pipe2@alpen", "Drucker", "", "Immer noch.");
        let (code, out) = ingest_with(&["--url", &server.base, "--token-file", file.to_str().unwrap()], other.as_bytes()).await;
        assert_eq!(code, 0, "{out}");
        let missing = dir.path().join("missing.token");
        let (code, out) = ingest_with(&["--url", &server.base, "--token-file", missing.to_str().unwrap()], other.as_bytes()).await;
        assert_eq!(code, 75, "{out}");
        assert!(out.contains("token file"), "{out}");
        // A URL without a scheme, or with a misspelt one, is a configuration error too: the
        // same rule, queued and said.
        let bare = server.base.trim_start_matches("http://").to_owned();
        let misspelt = server.base.replace("http://", "htp://");
        for url in [bare, misspelt] {
            let (code, out) = ingest(&url, "test-gateway-token", raw.as_bytes()).await;
            assert_eq!(code, 75, "{url}: {out}");
            assert!(out.contains("configuration error") && out.contains("http://"), "{out}");
        }
        // Another service's 4xx at the URL (not triage's problem document) bounces nothing.
        let other_url = canned(b"HTTP/1.1 422 Unprocessable\r\ncontent-type: text/html\r\ncontent-length: 9\r\nconnection: close\r\n\r\n<p>no</p>").await;
        let (code, out) = ingest(&other_url, "test-gateway-token", raw.as_bytes()).await;
        assert_eq!(code, 75, "{out}");
        assert!(out.contains("no triage mail intake"), "{out}");
        server.stop().await;
    })
    .await;
}

/// Every message of two real MIME corpora (`../shared/data/mime-stalwart`, the test
/// messages of the mail-parser crate incl. legacy German mail and Dovecot's malformed
/// ones; `../shared/data/mime-mikel`, the Ruby mail gem's fixtures: bounces, forwards,
/// broken headers, Asian charsets), delivered byte for byte: each becomes a ticket or a
/// message with a readable subject and body, or is refused with a problem document.
#[tokio::test]
async fn real_world_mime_corpora_go_through_intake() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let mut files = Vec::new();
    for corpus in ["mime-stalwart", "mime-mikel"] {
        let mut stack = vec![data.join(corpus)];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "eml") {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    if files.is_empty() {
        assert!(
            std::env::var("CI").is_err(),
            "CI needs the MIME corpora in ../shared/data"
        );
        eprintln!("skipped: no MIME corpora at {}", data.display());
        return;
    }
    assert!(files.len() >= 200, "{} messages", files.len());
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
        let (mut german, mut frogs, mut undecoded) = (0, 0, Vec::new());
        for path in &files {
            let raw = std::fs::read(path).unwrap();
            let name = path.strip_prefix(&data).unwrap().display().to_string();
            let resp = client()
                .post(server.url("/api/v1/intake/mail"))
                .header("Content-Type", "message/rfc822")
                .body(raw.clone())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{name}: no answer (did the server panic?): {e}"));
            let status = resp.status().as_u16();
            let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
            let v: Value = resp.json().await.unwrap();
            match status {
                200 | 201 => {
                    let outcome = v["outcome"].as_str().unwrap().to_owned();
                    let t = &v["ticket"];
                    let subject = t["subject"].as_str().unwrap();
                    assert!(!subject.trim().is_empty(), "{name}: empty subject");
                    assert!(!subject.contains("=?utf-8?") && !subject.contains("=?iso-8859-1?"), "{name}: undecoded subject {subject:?}");
                    assert!(!t["body"].as_str().unwrap().trim().is_empty(), "{name}: empty body");
                    if outcome == "created" {
                        let body = t["body"].as_str().unwrap();
                        if body.contains("Hasen") {
                            german += 1;
                            frogs += usize::from(body.contains("Frösche"));
                            if !body.contains("Frösche") {
                                undecoded.push(name.clone());
                            }
                        }
                        // The raw message is kept byte for byte.
                        let id = v["message_id"].as_str().unwrap();
                        let number = t["number"].as_str().unwrap();
                        let stored = client()
                            .get(server.url(&format!("/api/v1/tickets/{number}/mail/{}", urlencode(id))))
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(stored.status().as_u16(), 200, "{name}");
                        assert_eq!(stored.bytes().await.unwrap().as_ref(), raw.as_slice(), "{name}");
                    }
                    *outcomes.entry(outcome).or_default() += 1;
                }
                422 => {
                    assert_eq!(ctype, "application/problem+json", "{name}");
                    assert!(!v["detail"].as_str().unwrap().is_empty(), "{name}");
                    *outcomes.entry("refused".into()).or_default() += 1;
                }
                other => panic!("{name}: HTTP {other}: {v}"),
            }
        }
        eprintln!("{} messages: {outcomes:?}; German fable bodies {german}, with 'Frösche' decoded {frogs}", files.len());
        assert_eq!(outcomes.values().sum::<usize>(), files.len());
        // The legacy German messages (ISO-8859-1, quoted-printable, base64) decode.
        assert!(german >= 20, "{german}");
        // Every German body decodes its umlauts — also Latin-1 labelled UTF-8 or not
        // labelled at all — but one: its sender's UTF-7 encoder wrote wrong code points
        // into the body itself (its subject, encoded correctly, reads "Frösche").
        assert_eq!(undecoded, ["mime-stalwart/legacy/034.eml"], "{frogs} of {german}");
        assert!(outcomes.get("created").copied().unwrap_or(0) >= files.len() * 3 / 4, "{outcomes:?}");
        server.stop().await;
    })
    .await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn two_worker_processes_send_each_mail_once() {
    each_backend(async |db| {
        let Some(sink) = Sink::start(&[]) else { return };
        let server = TestServer::start(db).await;
        let mut numbers = Vec::new();
        for i in 0..8 {
            let (s, v) = deliver(
                &server,
                &mail(
                    &format!("p{i}@alpen-logistik.example"),
                    &format!("proc{i}@alpen"),
                    "Passwort vergessen",
                    "",
                    PASSWORD_DE,
                ),
            )
            .await;
            assert_eq!(s, 201, "{v}");
            numbers.push(v["ticket"]["number"].as_str().unwrap().to_owned());
        }
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let workers = common::Workers::start(&db.url, &rules, &["--smtp-url", &sink.url()]);
        for _ in 0..300 {
            if sink.received().len() >= numbers.len() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // Both run on for a while: nothing is sent again.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        drop(workers);
        let received: Vec<String> = sink
            .received()
            .iter()
            .map(|raw| {
                triage::intake::mail::parse(raw, &Default::default())
                    .unwrap()
                    .subject
            })
            .collect();
        assert_eq!(received.len(), numbers.len(), "{received:?}");
        for n in &numbers {
            assert_eq!(
                received.iter().filter(|s| s.contains(n.as_str())).count(),
                1,
                "{n}: {received:?}"
            );
            assert_eq!(outbox(&server, n).await[0]["status"], "sent");
        }
        server.stop().await;
    })
    .await;
}

/// A tag from an address on the ticket threads only where our mail server's
/// Authentication-Results pass: a forged From: with the requester's address and a failed
/// DMARC check becomes a ticket of its own, linked, with the reason.
#[tokio::test]
async fn a_subject_tag_threads_only_where_the_sender_is_authenticated() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let anna = "anna.berger@alpen-logistik.example";
        let (s, first) = deliver(&server, &mail(anna, "auth-0@alpen", "Lieferschein fehlt", "", "Der Lieferschein zu Auftrag 4711 fehlt.")).await;
        assert_eq!(s, 201, "{first}");
        let number = first["ticket"]["number"].as_str().unwrap().to_owned();
        let subject = format!("Re: [{number}] Lieferschein fehlt");
        let ar = |result: &str| {
            format!("Authentication-Results: mx.helpdesk.example; spf=pass smtp.mailfrom=alpen-logistik.example; dmarc={result} header.from=alpen-logistik.example\r\n")
        };
        // Forged: DMARC fails. A new ticket, linked, saying why.
        let (s, forged) = deliver(&server, &mail(anna, "auth-1@evil", &subject, &ar("fail"), "Bitte Kontodaten ändern.")).await;
        assert_eq!((s, forged["outcome"].as_str()), (201, Some("created")), "{forged}");
        let other = forged["ticket"]["number"].as_str().unwrap();
        assert_ne!(other, number);
        let (_, events) = get_json(&server.url(&format!("/api/v1/tickets/{other}/events"))).await;
        let linked = events.as_array().unwrap().iter().find(|e| e["kind"] == "linked").unwrap();
        let why = linked["data"]["why"].as_str().unwrap();
        assert!(why.contains("dmarc=fail") && why.contains("the sender is on it"), "{why}");
        // Authenticated: threaded, and the message says by what.
        let (s, real) = deliver(&server, &mail(anna, "auth-2@alpen", &subject, &ar("pass"), "Danke, gefunden.")).await;
        assert_eq!((s, real["outcome"].as_str()), (200, Some("appended")), "{real}");
        assert_eq!(real["ticket"]["number"], number.as_str());
        let record = server.state.desk.store.get(&number).await.unwrap();
        let (rows, _, _) = server.state.desk.store.conversation(record.id, None, 10).await.unwrap();
        let meta = rows.last().unwrap().mail.clone().unwrap();
        assert!(meta["threaded_by"].as_str().unwrap().contains("dmarc=pass"), "{meta}");
        server.stop().await;
    })
    .await;
}

/// Mail no person wrote never becomes work for agents: an out-of-office reply, a delivery
/// report about mail we never sent and a newsletter are kept as noise (searchable, with
/// the reason); an out-of-office answer to our mail is recorded on its ticket without
/// reopening it; noise is erased after `noise-kept-days`.
#[tokio::test]
async fn noise_is_kept_out_of_the_agents_queues_and_recorded_where_it_belongs() {
    each_backend(async |db| {
        let server = TestServer::start(db).await;
        let anna = "anna.berger@alpen-logistik.example";
        let noise = [
            mail(anna, "ooo1@x", "Automatische Antwort: Drucker", "", "Ich bin bis 7. Dezember nicht im Büro."),
            mail(anna, "ooo2@x", "Out of Office: printer", "", "I am out of the office until Monday."),
            String::from(
                "From: MAILER-DAEMON@mx.alpen-logistik.example\r\nTo: helpdesk@example.com\r\n\
                 Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@x>\r\n\
                 Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/plain\r\n\r\nYour message to x@y could not be delivered.\r\n\
                 --b\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; x@y\r\n\
                 Original-Envelope-Id: <never-ours@elsewhere>\r\nStatus: 5.1.1\r\n--b--\r\n"
            ),
            mail("news@shop.example", "nl1@x", "Unser Adventkalender", "List-Unsubscribe: <mailto:out@shop.example>\r\nPrecedence: bulk\r\n", "24 Angebote warten auf Sie."),
        ];
        let mut numbers = Vec::new();
        for raw in &noise {
            let (s, v) = deliver(&server, raw).await;
            assert_eq!(s, 201, "{v}");
            let t = &v["ticket"];
            assert_eq!(t["status"], "noise", "{t}");
            assert_eq!(t["decision"]["queue"], "review", "{t}");
            assert_eq!(t["decision"]["automation"], "human");
            numbers.push(t["number"].as_str().unwrap().to_owned());
        }
        // Searchable by status; none in the service desk's queue.
        let (_, page) = get_json(&server.url("/api/v1/tickets?status=noise")).await;
        assert_eq!(page["items"].as_array().unwrap().len(), noise.len(), "{page}");
        let (_, desk) = get_json(&server.url("/api/v1/queues/service-desk/tickets")).await;
        let in_desk = desk.to_string();
        assert!(numbers.iter().all(|n| !in_desk.contains(n.as_str())), "{desk}");

        // An out-of-office answer to our automatic answer: recorded on the ticket, which
        // stays answered, with no next-reply clock and no "not helped".
        let (s, v) = deliver(
            &server,
            &mail(anna, "m1@alpen-logistik.example", "Passwort vergessen", "", PASSWORD_DE),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let number = v["ticket"]["number"].as_str().unwrap().to_owned();
        assert_eq!(v["ticket"]["status"], "answered-automatically");
        let clocks_before = v["ticket"]["sla"]["clocks"].as_array().map_or(0, Vec::len);
        let ours = outbox(&server, &number).await[0]["message_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let ooo = mail(
            anna,
            "ooo3@alpen-logistik.example",
            &format!("Automatische Antwort: [{number}] Re: Passwort vergessen"),
            &format!("In-Reply-To: <{ours}>\r\nAuto-Submitted: auto-replied\r\n"),
            "Ich bin bis 7. Dezember nicht im Büro.",
        );
        let (s, v) = deliver(&server, &ooo).await;
        assert_eq!((s, v["outcome"].as_str()), (200, Some("appended")), "{v}");
        let t = &v["ticket"];
        assert_eq!(t["number"], number.as_str());
        assert_eq!(t["status"], "answered-automatically", "{t}");
        assert_eq!(t["sla"]["clocks"].as_array().map_or(0, Vec::len), clocks_before, "{}", t["sla"]);
        let kinds = common::event_kinds(&server, &number).await;
        let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
        assert!(kinds.contains(&"mail.automatic"), "{kinds:?}");
        assert!(!kinds.contains(&"faq.not_helped") && !kinds.contains(&"customer_message"), "{kinds:?}");
        let (_, msgs) = get_json(&server.url(&format!("/api/v1/tickets/{number}/messages"))).await;
        assert!(msgs.to_string().contains("\"automatic\""), "{msgs}");

        // Kept for noise-kept-days (30 in the shipped rules), then its content is erased.
        let store = &server.state.desk.store;
        let now = chrono::Utc::now();
        let early = store
            .erase_in_status("noise", now - chrono::Duration::days(30), 100, now)
            .await
            .unwrap();
        assert_eq!(early.tickets, 0);
        let later = store
            .erase_in_status("noise", now + chrono::Duration::days(1), 100, now)
            .await
            .unwrap();
        assert_eq!(later.tickets as usize, noise.len());
        let (_, t) = get_json(&server.url(&format!("/api/v1/tickets/{}", numbers[0]))).await;
        assert!(!t.to_string().contains("nicht im Büro"), "{t}");
        server.stop().await;
    })
    .await;
}
