//! Sends the outbound mail queue over SMTP (lettre): STARTTLS or implicit TLS and
//! authentication as the relay URL says, threading headers so the customer's mail client
//! keeps the conversation together, and `Auto-Submitted: auto-replied` on automatic
//! answers so that other robots do not answer them.

use chrono::{DateTime, Utc};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::rules::CompiledRules;
use crate::store::{OutboxRecord, Sent};

/// Attempts before a mail is given up (dead letter).
pub const MAX_ATTEMPTS: i32 = 8;
/// Wait before the second attempt; doubles with every further one.
pub const FIRST_RETRY_SECS: i64 = 30;

/// An SMTP relay.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mailer")
    }
}

impl Mailer {
    /// From a relay URL: `smtp://host:25` (plain), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://user:password@host:465` (implicit TLS).
    pub fn from_url(url: &str, timeout: std::time::Duration) -> Result<Mailer, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::SmtpUrl(e.to_string()))?
            .timeout(Some(timeout))
            .build();
        Ok(Mailer { transport })
    }

    /// Sends one queued mail; the outcome says whether and when to try again.
    pub async fn send(&self, rules: &CompiledRules, m: &OutboxRecord, now: DateTime<Utc>) -> Sent {
        let message = match render(rules, m) {
            Ok(msg) => msg,
            // Nothing a retry could change.
            Err(e) => {
                return Sent::Failed {
                    error: e.to_string(),
                    retry_at: None,
                }
            }
        };
        match self.transport.send(message).await {
            Ok(_) => Sent::Sent,
            Err(e) => Sent::Failed {
                retry_at: if e.is_permanent() {
                    None
                } else {
                    retry_time(m.attempts, now)
                },
                error: e.to_string(),
            },
        }
    }
}

/// When to try again after `attempts` failed ones, or never.
pub fn retry_time(attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let factor = 1i64 << (attempts.clamp(1, 20) - 1);
    Some(now + chrono::Duration::seconds(FIRST_RETRY_SECS * factor))
}

/// `Auto-Submitted` (RFC 3834).
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-replied".into())
    }
}

/// Asks Exchange and Outlook not to answer with their own automatic replies.
#[derive(Clone)]
struct SuppressAutoResponse;

impl Header for SuppressAutoResponse {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(SuppressAutoResponse)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".into())
    }
}

fn bracket(id: &str) -> String {
    format!("<{id}>")
}

/// Why a mail cannot be sent, whatever a retry would do.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("invalid sender address {address}: {why}")]
    Sender { address: String, why: String },
    #[error("invalid recipient {address}: {why}")]
    Recipient { address: String, why: String },
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// The RFC 5322 message for a queued mail.
pub fn render(rules: &CompiledRules, m: &OutboxRecord) -> Result<Message, MailError> {
    let from: Mailbox = format!("{} <{}>", rules.mail.name, rules.mail.address)
        .parse()
        .or_else(|_| rules.mail.address.parse())
        .map_err(|e: lettre::address::AddressError| MailError::Sender {
            address: rules.mail.address.clone(),
            why: e.to_string(),
        })?;
    let to: Mailbox = m
        .recipient
        .parse()
        .map_err(|e: lettre::address::AddressError| MailError::Recipient {
            address: m.recipient.clone(),
            why: e.to_string(),
        })?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(bracket(&m.message_id)))
        .date(m.created_at.into());
    if let Some(r) = &m.in_reply_to {
        b = b.in_reply_to(bracket(r));
    }
    if let Some(refs) = &m.references {
        let list: Vec<String> = refs.split_whitespace().map(bracket).collect();
        if !list.is_empty() {
            b = b.references(list.join(" "));
        }
    }
    if m.automatic {
        b = b.header(AutoSubmitted).header(SuppressAutoResponse);
    }
    // Through `singlepart`/`multipart`, so the mail carries `MIME-Version: 1.0` (RFC 2045).
    let built = match &m.body_html {
        Some(html) => b.multipart(MultiPart::alternative_plain_html(
            m.body.clone(),
            html.clone(),
        )),
        None => b.singlepart(SinglePart::plain(m.body.clone())),
    };
    built.map_err(|e| MailError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(automatic: bool) -> OutboxRecord {
        let now = Utc::now();
        OutboxRecord {
            id: 1,
            ticket_id: uuid::Uuid::nil(),
            message_id: "abc@example.com".into(),
            recipient: "anna.berger@alpen-logistik.example".into(),
            subject: "[T-000007] Re: Passwort vergessen".into(),
            body: "Guten Tag,\n\nÖffnen Sie das Portal.".into(),
            in_reply_to: Some("m1@alpen".into()),
            references: Some("m0@alpen m1@alpen".into()),
            automatic,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            lease_until: None,
            last_error: None,
            created_at: now,
            sent_at: None,
            body_html: None,
        }
    }

    #[test]
    fn rendered_mail_threads_and_marks_automatic_answers() {
        let rules =
            crate::rules::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
                .unwrap()
                .rules;
        let raw = render(&rules, &record(true)).unwrap().formatted();
        let parsed = crate::intake::mail::parse(&raw, &Default::default()).unwrap();
        assert_eq!(parsed.message_id.as_deref(), Some("abc@example.com"));
        assert_eq!(parsed.subject, "[T-000007] Re: Passwort vergessen");
        assert_eq!(parsed.refers_to, ["m1@alpen", "m0@alpen"]);
        assert_eq!(parsed.body, "Guten Tag,\n\nÖffnen Sie das Portal.");
        assert_eq!(parsed.from.unwrap().address, rules.mail.address);
        // Our own answers are recognised as automatic if they ever come back.
        assert!(parsed.automatic.unwrap().reason.contains("Auto-Submitted"));
        let agent = render(&rules, &record(false)).unwrap().formatted();
        let parsed = crate::intake::mail::parse(&agent, &Default::default()).unwrap();
        assert!(parsed.automatic.is_none());
    }

    /// Every outbound mail, text only or with its HTML alternative, declares MIME
    /// (RFC 2045) and its charset, and the alternative parts arrive as written.
    #[test]
    fn outbound_mail_is_mime_with_a_charset_and_the_html_alternative() {
        let rules =
            crate::rules::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"))
                .unwrap()
                .rules;
        for html in [
            None,
            Some("<p>Öffnen Sie <strong>das Portal</strong>.</p>".to_owned()),
        ] {
            let mut m = record(true);
            m.body_html = html.clone();
            let raw = String::from_utf8(render(&rules, &m).unwrap().formatted()).unwrap();
            let (head, _) = raw.split_once("\r\n\r\n").unwrap();
            assert!(head.lines().any(|l| l == "MIME-Version: 1.0"), "{head}");
            assert!(raw.contains("charset=utf-8"), "{raw}");
            let parsed = mail_parser::MessageParser::default()
                .parse(raw.as_bytes())
                .unwrap();
            let text = parsed.body_text(0).unwrap().replace("\r\n", "\n");
            assert_eq!(text.trim(), "Guten Tag,\n\nÖffnen Sie das Portal.");
            match &html {
                Some(h) => {
                    assert!(head.contains("multipart/alternative"), "{head}");
                    assert_eq!(parsed.body_html(0).unwrap().trim(), h);
                }
                None => assert!(head.contains("Content-Type: text/plain"), "{head}"),
            }
        }
    }

    #[test]
    fn retries_back_off_then_give_up() {
        let now = Utc::now();
        assert_eq!(
            retry_time(1, now),
            Some(now + chrono::Duration::seconds(30))
        );
        assert_eq!(
            retry_time(3, now),
            Some(now + chrono::Duration::seconds(120))
        );
        assert_eq!(retry_time(MAX_ATTEMPTS, now), None);
    }
}
