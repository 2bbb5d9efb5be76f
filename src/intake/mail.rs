//! Raw RFC 5322 messages, as an MTA delivers them, into plain data: who, what, which
//! conversation, what came attached, and whether a machine sent it.
//!
//! Parsing is mail-parser's (encoded words, charsets, transfer encodings, the part tree,
//! HTML to text); this module decides what a helpdesk needs from the result. It never
//! fails on a message that has headers: whatever it could not read stays in the raw bytes,
//! which are stored beside the ticket.

use chrono::{DateTime, Utc};
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use crate::model::clean_text;

/// Size limits for stored attachments; larger ones are kept as a note, never the whole
/// mail refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest single attachment stored, in bytes.
    pub attachment: usize,
    /// Most attachment bytes stored per message.
    pub message: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            attachment: 10 << 20,
            message: 25 << 20,
        }
    }
}

/// A name and address from a header.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mailbox {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub address: String,
}

/// One attachment or inline image. `content` is `None` when it was over a size limit; then
/// `note` says which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub size: usize,
    pub inline: bool,
    pub content: Option<Vec<u8>>,
    pub note: Option<String>,
}

/// What a message says about being sent by a machine, as far as it matters for answering.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Automatic {
    /// The header (or sender) that shows it, e.g. `Auto-Submitted: auto-replied`.
    pub reason: String,
    /// A delivery status notification (a bounce).
    pub bounce: bool,
}

/// A parsed message.
#[derive(Clone, Debug, PartialEq)]
pub struct Mail {
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub subject: String,
    pub body: String,
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub date: Option<DateTime<Utc>>,
    /// Message-IDs this one answers: In-Reply-To, then References (newest first).
    pub refers_to: Vec<String>,
    /// Message-IDs of the original message(s) a bounce reports on.
    pub bounced: Vec<String>,
    pub automatic: Option<Automatic>,
    /// `X-Spam-Flag: YES` or `X-Spam-Status: Yes…`.
    pub spam_flag: bool,
    /// `X-Spam-Score` (or `score=` in `X-Spam-Status`).
    pub spam_score: Option<f64>,
    pub attachments: Vec<Attachment>,
    /// `Authentication-Results` (RFC 8601), topmost first: what the receiving mail servers
    /// found out about the sender.
    pub authentication: Vec<AuthResults>,
}

/// One `Authentication-Results` header: who checked, and the result of each method.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuthResults {
    /// The checking server's id (its host name, usually).
    pub authserv_id: String,
    pub dmarc: Option<String>,
    pub dkim: Option<String>,
    pub spf: Option<String>,
}

impl AuthResults {
    /// Parses a header value such as `mx.example; spf=pass smtp.mailfrom=a.example;
    /// dkim=pass header.d=a.example; dmarc=pass header.from=a.example`. Comments in
    /// parentheses are dropped; the first result of a method counts.
    pub fn parse(value: &str) -> Option<AuthResults> {
        let mut plain = String::with_capacity(value.len());
        let mut depth = 0usize;
        for c in value.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                c if depth == 0 => plain.push(c),
                _ => {}
            }
        }
        let mut parts = plain.split(';');
        let id = parts
            .next()?
            .split_whitespace()
            .next()?
            .to_ascii_lowercase();
        let mut r = AuthResults {
            authserv_id: id,
            ..AuthResults::default()
        };
        for part in parts {
            let Some((method, result)) = part
                .split_whitespace()
                .next()
                .and_then(|t| t.split_once('='))
            else {
                continue;
            };
            let result = Some(result.to_ascii_lowercase());
            match method.to_ascii_lowercase().as_str() {
                "dmarc" if r.dmarc.is_none() => r.dmarc = result,
                "dkim" if r.dkim.is_none() => r.dkim = result,
                "spf" if r.spf.is_none() => r.spf = result,
                _ => {}
            }
        }
        Some(r)
    }

    /// Whether the sender's domain is authenticated: DMARC passed, or, where no DMARC result
    /// is given, DKIM or SPF did.
    pub fn passed(&self) -> bool {
        match self.dmarc.as_deref() {
            Some(d) => d == "pass",
            None => self.dkim.as_deref() == Some("pass") || self.spf.as_deref() == Some("pass"),
        }
    }

    /// The results in one line, for traces: `dmarc=pass dkim=pass spf=none (by mx.example)`.
    pub fn summary(&self) -> String {
        let mut out = Vec::new();
        for (m, r) in [
            ("dmarc", &self.dmarc),
            ("dkim", &self.dkim),
            ("spf", &self.spf),
        ] {
            if let Some(r) = r {
                out.push(format!("{m}={r}"));
            }
        }
        format!("{} (by {})", out.join(" "), self.authserv_id)
    }
}

impl Mail {
    /// Where answers go: Reply-To, else From.
    pub fn reply_address(&self) -> Option<&str> {
        self.reply_to
            .as_ref()
            .or(self.from.as_ref())
            .map(|m| m.address.as_str())
    }
}

/// A message with nothing to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MailError(pub String);

/// Senders that are machines by their local part.
const ROBOT_SENDERS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
    "bounce",
    "bounces",
];

/// Parses one message. Fails only when the bytes have no header at all.
pub fn parse(raw: &[u8], limits: &Limits) -> Result<Mail, MailError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(MailError("the message is empty".into()));
    }
    let no_header = || MailError("not an RFC 5322 message: no header could be read".into());
    // The MIME parser has checks that stop a debug build on some malformed part trees
    // (found by fuzzing); such a message keeps its headers, and the rest is its text.
    let (msg, whole_body) = match parse_bytes(raw) {
        Ok(msg) => (msg.ok_or_else(no_header)?, None),
        Err(()) => {
            let split = body_start(raw);
            let msg = parse_bytes(&raw[..split])
                .ok()
                .flatten()
                .ok_or_else(no_header)?;
            (
                msg,
                Some(String::from_utf8_lossy(&raw[split..]).into_owned()),
            )
        }
    };
    if msg.headers().is_empty() {
        return Err(MailError(
            "not an RFC 5322 message: no header could be read".into(),
        ));
    }
    let from = first(msg.from())
        .or_else(|| first(msg.sender()))
        .or_else(|| {
            msg.return_address().map(|a| Mailbox {
                name: None,
                address: clean_text(a.trim()).to_lowercase(),
            })
        });
    let subject = msg
        .subject()
        .map(|s| clean_text(s).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "(no subject)".to_owned());
    let mut refers_to = ids(msg.in_reply_to());
    let mut references = ids(msg.references());
    references.reverse();
    for r in references {
        if !refers_to.contains(&r) {
            refers_to.push(r);
        }
    }
    let (spam_flag, spam_score) = spam(&msg);
    let automatic = automatic(&msg, from.as_ref());
    let bounced = if automatic.as_ref().is_some_and(|a| a.bounce) {
        bounced_ids(&msg)
    } else {
        Vec::new()
    };
    Ok(Mail {
        message_id: msg.message_id().map(clean_id).filter(|s| !s.is_empty()),
        subject,
        body: clean_text(whole_body.as_deref().unwrap_or(&body(&msg)).trim()),
        reply_to: first(msg.reply_to()),
        from,
        to: all(msg.to()),
        cc: all(msg.cc()),
        date: msg
            .date()
            .filter(|d| d.is_valid())
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        refers_to,
        bounced,
        automatic,
        spam_flag,
        spam_score,
        attachments: attachments(&msg, limits),
        authentication: msg
            .headers_raw()
            .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
            .filter_map(|(_, value)| AuthResults::parse(&value.replace(['\r', '\n'], " ")))
            .collect(),
    })
}

fn parse_bytes(bytes: &[u8]) -> Result<Option<Message<'_>>, ()> {
    std::panic::catch_unwind(|| MessageParser::default().parse(bytes)).map_err(|_| ())
}

/// Where the body starts: after the first empty line (CRLF or bare LF).
fn body_start(raw: &[u8]) -> usize {
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(raw.len()),
    }
}

fn mailbox(a: &mail_parser::Addr) -> Option<Mailbox> {
    let address = clean_text(a.address()?.trim()).to_lowercase();
    if address.is_empty() {
        return None;
    }
    Some(Mailbox {
        name: a
            .name()
            .map(|n| clean_text(n.trim()))
            .filter(|n| !n.is_empty()),
        address,
    })
}

fn first(a: Option<&Address>) -> Option<Mailbox> {
    a?.iter().find_map(mailbox)
}

fn all(a: Option<&Address>) -> Vec<Mailbox> {
    a.map(|a| a.iter().filter_map(mailbox).collect())
        .unwrap_or_default()
}

/// A Message-ID without its angle brackets, as it is stored.
pub fn clean_id(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

fn ids(v: &HeaderValue) -> Vec<String> {
    let list: Vec<&str> = match v {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(l) => l.iter().map(|s| s.as_ref()).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
        .map(clean_id)
        .filter(|s| !s.is_empty())
        .collect()
}

fn text_header<'a>(msg: &'a Message<'a>, name: &'a str) -> Option<&'a str> {
    msg.header_raw(name).map(str::trim)
}

/// Why a message must not get an automatic answer (RFC 3834 and common practice).
fn automatic(msg: &Message, from: Option<&Mailbox>) -> Option<Automatic> {
    let bounce = msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let reason = |r: String| {
        Some(Automatic {
            reason: clean_text(&r),
            bounce,
        })
    };
    if bounce {
        return reason("Content-Type: multipart/report (delivery status notification)".into());
    }
    if let Some(v) = text_header(msg, "Auto-Submitted") {
        if !v.eq_ignore_ascii_case("no") && !v.is_empty() {
            return reason(format!("Auto-Submitted: {v}"));
        }
    }
    if let Some(v) = text_header(msg, "Precedence") {
        let l = v.to_ascii_lowercase();
        if ["bulk", "junk", "list"].contains(&l.as_str()) {
            return reason(format!("Precedence: {v}"));
        }
    }
    for h in [
        "List-Id",
        "List-Unsubscribe",
        "X-Autoreply",
        "X-Autorespond",
        "X-Autoresponder",
    ] {
        if msg.header_raw(h).is_some() {
            return reason(format!("{h} header"));
        }
    }
    // Exchange marks what it generates itself (out-of-office, delivery and read reports)
    // with the kinds of automatic answer it should not provoke.
    if let Some(v) = text_header(msg, "X-Auto-Response-Suppress") {
        if !v.is_empty() && !v.eq_ignore_ascii_case("none") {
            return reason(format!("X-Auto-Response-Suppress: {v}"));
        }
    }
    if let Some(f) = from {
        let local = f.address.split('@').next().unwrap_or("");
        if ROBOT_SENDERS.contains(&local) {
            return reason(format!("sender {}", f.address));
        }
    }
    if let Some(subject) = msg.subject() {
        let lower = subject.trim().to_lowercase();
        if let Some(p) = OUT_OF_OFFICE.iter().find(|p| lower.starts_with(*p)) {
            return reason(format!("subject begins \"{p}\" (an out-of-office reply)"));
        }
    }
    None
}

/// How German and English mailers begin the subject of an out-of-office reply (lower case).
const OUT_OF_OFFICE: &[&str] = &[
    "automatische antwort",
    "abwesenheitsnotiz",
    "abwesend:",
    "abwesenheit:",
    "nicht im büro",
    "out of office",
    "out of the office",
    "automatic reply",
    "auto-reply",
    "autoreply",
    "auto reply",
    "auto:",
];

fn spam(msg: &Message) -> (bool, Option<f64>) {
    let flag = text_header(msg, "X-Spam-Flag").is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let status = text_header(msg, "X-Spam-Status").unwrap_or("");
    let status_yes = status
        .get(..3)
        .is_some_and(|s| s.eq_ignore_ascii_case("yes"));
    let score = text_header(msg, "X-Spam-Score")
        .and_then(|v| v.parse::<f64>().ok())
        .or_else(|| {
            let rest = &status[status.find("score=")? + 6..];
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        });
    (flag || status_yes, score)
}

/// The Message-IDs of the original message inside a delivery status notification: from
/// an attached `message/rfc822` or `text/rfc822-headers` part.
fn bounced_ids(msg: &Message) -> Vec<String> {
    let mut out = Vec::new();
    for part in &msg.parts {
        let original = match &part.body {
            PartType::Message(m) => m.message_id().map(clean_id),
            PartType::Text(t)
                if part.content_type().is_some_and(|ct| {
                    ct.subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
                }) =>
            {
                MessageParser::default()
                    .parse(t.as_bytes())
                    .and_then(|m| m.message_id().map(clean_id))
            }
            _ => None,
        };
        if let Some(id) = original.filter(|s| !s.is_empty()) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

/// The readable text: every text body part (HTML ones converted), in order.
fn body(msg: &Message) -> String {
    let mut parts = Vec::new();
    for (i, part) in msg.text_bodies().enumerate() {
        let text = mislabelled(msg, part).or_else(|| msg.body_text(i).map(|t| t.into_owned()));
        if let Some(t) = text {
            let t = t.trim();
            if !t.is_empty() {
                parts.push(t.replace("\r\n", "\n"));
            }
        }
    }
    parts.join("\n\n")
}

/// A text part whose bytes do not fit its declared charset — Latin-1 text labelled UTF-8,
/// 8-bit text labelled 7-bit (US-ASCII, UTF-7) or not labelled at all, as old mailers
/// send — read again as Windows-1252, which is what such mail almost always is.
fn mislabelled(msg: &Message, part: &mail_parser::MessagePart) -> Option<String> {
    let (PartType::Text(decoded) | PartType::Html(decoded)) = &part.body else {
        return None;
    };
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .unwrap_or("us-ascii")
        .to_ascii_lowercase();
    let seven_bit = matches!(charset.as_str(), "us-ascii" | "ascii" | "utf-7");
    let unicode = seven_bit || charset == "utf-8" || charset == "utf8";
    if !unicode {
        return None;
    }
    let raw = msg
        .raw_message()
        .get(part.raw_body_offset() as usize..part.raw_end_offset() as usize)?;
    let encoding = part
        .content_transfer_encoding()
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(raw)?
        }
        "base64" => mail_parser::decoders::base64::base64_decode(raw)?,
        _ => raw.to_vec(),
    };
    let wrong = if seven_bit {
        bytes.iter().any(|b| *b >= 0x80)
    } else {
        decoded.contains('\u{FFFD}') && std::str::from_utf8(&bytes).is_err()
    };
    if !wrong {
        return None;
    }
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t.to_owned(),
        Err(_) => (mail_parser::decoders::charsets::map::charset_decoder(b"windows-1252")?)(&bytes),
    };
    Some(if matches!(part.body, PartType::Html(_)) {
        mail_parser::decoders::html::html_to_text(&text)
    } else {
        text
    })
}

fn attachments(msg: &Message, limits: &Limits) -> Vec<Attachment> {
    let mut out = Vec::new();
    let mut stored = 0usize;
    for (n, part) in msg.attachments().enumerate() {
        let (content, inline): (Vec<u8>, bool) = match &part.body {
            PartType::Binary(b) => (b.to_vec(), false),
            PartType::InlineBinary(b) => (b.to_vec(), true),
            PartType::Text(t) | PartType::Html(t) => (t.as_bytes().to_vec(), false),
            PartType::Message(m) => (m.raw_message().to_vec(), false),
            PartType::Multipart(_) => continue,
        };
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(s) => clean_text(&format!("{}/{}", ct.ctype(), s).to_lowercase()),
                None => clean_text(&ct.ctype().to_lowercase()),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let name = part
            .attachment_name()
            .map(clean_text)
            .unwrap_or_else(|| format!("attachment-{}", n + 1));
        let size = content.len();
        let note = if size > limits.attachment {
            Some(format!(
                "not stored: {size} bytes is over the limit of {} bytes per attachment",
                limits.attachment
            ))
        } else if stored + size > limits.message {
            Some(format!(
                "not stored: the message's attachments would exceed {} bytes",
                limits.message
            ))
        } else {
            None
        };
        if note.is_none() {
            stored += size;
        }
        out.push(Attachment {
            name,
            content_type,
            size,
            inline,
            content: if note.is_none() { Some(content) } else { None },
            note,
        });
    }
    out
}

/// The ticket number tag in a subject, `[T-000123]`, as its sequence number.
pub fn subject_tag(subject: &str) -> Option<i64> {
    let start = subject.find("[T-")?;
    let rest = &subject[start + 1..];
    let end = rest.find(']')?;
    crate::model::parse_ticket_number(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Mail {
        parse(s.as_bytes(), &Limits::default()).unwrap()
    }

    #[test]
    fn encoded_words_and_legacy_charsets_are_decoded() {
        let m = p(
            "From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <J.Mueller@Example.AT>\r\n\
             Subject: =?iso-8859-15?Q?Passwort_f=FCr_=A4-Konto?=\r\n\
             Message-ID: <abc@mx.example.at>\r\n\
             Content-Type: text/plain; charset=windows-1252\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n\
             Gr=FC=DFe =80 und =84Anf=FChrung=93\r\n",
        );
        assert_eq!(m.subject, "Passwort für €-Konto");
        let from = m.from.unwrap();
        assert_eq!(from.name.as_deref(), Some("Jürgen Müller"));
        assert_eq!(from.address, "j.mueller@example.at");
        assert_eq!(m.body, "Grüße € und „Anführung“");
        assert_eq!(m.message_id.as_deref(), Some("abc@mx.example.at"));
        assert!(m.automatic.is_none());
    }

    #[test]
    fn latin1_text_labelled_utf8_or_unlabelled_is_read_as_windows_1252() {
        let labelled = parse(
            b"From: a@b.example\nSubject: x\nContent-Type: text/plain; charset=UTF-8\n\
              Content-Transfer-Encoding: quoted-printable\n\nDie Fr=F6sche =80\n",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(labelled.body, "Die Frösche €");
        let bare = parse(
            b"From: a@b.example\nSubject: x\n\nGr\xfc\xdfe\n",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(bare.body, "Grüße");
        let utf8 = parse(
            "From: a@b.example\nSubject: x\nContent-Type: text/plain; charset=utf-8\n\nGrüße\n"
                .as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(utf8.body, "Grüße");
    }

    #[test]
    fn html_only_mail_becomes_readable_text_and_base64_is_decoded() {
        let m = p(
            "From: a@b.example\nSubject: x\nContent-Type: text/html; charset=utf-8\n\
             Content-Transfer-Encoding: base64\n\n\
             PHA+SGFsbG8gPGI+V2VsdDwvYj48L3A+PHA+WmVpbGUgMjwvcD4=\n",
        );
        assert!(m.body.contains("Hallo"), "{:?}", m.body);
        assert!(m.body.contains("Welt"));
        assert!(!m.body.contains('<'));
    }

    #[test]
    fn threading_headers_newest_first() {
        let m = p("From: a@b.example\nSubject: Re: x\nIn-Reply-To: <c@x>\n\
             References: <a@x> <b@x> <c@x>\n\nok\n");
        assert_eq!(m.refers_to, ["c@x", "b@x", "a@x"]);
        assert_eq!(subject_tag("Re: [T-000123] Drucker"), Some(123));
        assert_eq!(subject_tag("AW: Drucker [T-]"), None);
    }

    #[test]
    fn each_loop_signal_is_recognised() {
        for (header, needle) in [
            ("Auto-Submitted: auto-replied", "Auto-Submitted"),
            ("Precedence: bulk", "Precedence"),
            ("Precedence: list", "Precedence"),
            ("List-Id: <x.lists.example>", "List-Id"),
            ("List-Unsubscribe: <mailto:u@x>", "List-Unsubscribe"),
            ("X-Autoreply: yes", "X-Autoreply"),
            ("X-Autorespond: yes", "X-Autorespond"),
        ] {
            let m = p(&format!(
                "From: a@b.example\n{header}\nSubject: x\n\nbody\n"
            ));
            let a = m.automatic.expect(header);
            assert!(a.reason.contains(needle), "{header}: {}", a.reason);
        }
        assert!(
            p("From: a@b.example\nAuto-Submitted: no\nSubject: x\n\nb\n")
                .automatic
                .is_none()
        );
        let m = p("From: MAILER-DAEMON@mx.example\nSubject: x\n\nb\n");
        assert!(m.automatic.unwrap().reason.contains("mailer-daemon"));
        let m = p("From: noreply@shop.example\nSubject: x\n\nb\n");
        assert!(m.automatic.is_some());
    }

    #[test]
    fn a_bounce_names_the_original_message() {
        let m = p("From: MAILER-DAEMON@mx.example\nSubject: Undelivered\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n\
             --b\nContent-Type: text/plain\n\nCould not deliver.\n\
             --b\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n\
             --b\nContent-Type: text/rfc822-headers\n\n\
             Message-ID: <t-42.1@helpdesk.example>\nSubject: [T-000042] x\n\n--b--\n");
        let a = m.automatic.unwrap();
        assert!(a.bounce);
        assert_eq!(m.bounced, ["t-42.1@helpdesk.example"]);
    }

    #[test]
    fn attachments_over_a_limit_are_kept_as_a_note() {
        let big = "A".repeat(3000);
        let raw = format!(
            "From: a@b.example\nSubject: x\nContent-Type: multipart/mixed; boundary=\"b\"\n\n\
             --b\nContent-Type: text/plain\n\nsee attached\n\
             --b\nContent-Type: application/pdf; name=\"Rechnung März.pdf\"\n\
             Content-Disposition: attachment; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf\n\n{big}\n\
             --b\nContent-Type: image/png\nContent-Disposition: inline; filename=\"s.png\"\n\
             Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b--\n"
        );
        let m = parse(
            raw.as_bytes(),
            &Limits {
                attachment: 1000,
                message: 5000,
            },
        )
        .unwrap();
        assert_eq!(m.body, "see attached");
        assert_eq!(m.attachments.len(), 2);
        let pdf = &m.attachments[0];
        assert_eq!(pdf.name, "Rechnung März.pdf");
        assert_eq!(pdf.content_type, "application/pdf");
        assert!(pdf.content.is_none());
        assert!(pdf.note.as_deref().unwrap().contains("1000 bytes"));
        let png = &m.attachments[1];
        assert_eq!(png.content.as_deref(), Some(&b"\x89PNG\r\n\x1a\n"[..]));
        assert_eq!(png.size, 8);
    }

    #[test]
    fn spam_headers() {
        let m = p("From: a@b.example\nX-Spam-Flag: YES\nSubject: x\n\nb\n");
        assert!(m.spam_flag);
        let m =
            p("From: a@b.example\nX-Spam-Status: No, score=7.3 required=5.0\nSubject: x\n\nb\n");
        assert!(!m.spam_flag);
        assert_eq!(m.spam_score, Some(7.3));
    }

    const SEEDS: &[&str] = &[
        "From: =?ISO-8859-1?Q?J=FCrgen?= <j@x.example>\r\nSubject: =?utf-8?B?UGFzc3dvcnQ=?=\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; \
         charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n\
         --b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         JVBERi0xLjQK\r\n--b--\r\n",
        "From: MAILER-DAEMON@x\nContent-Type: multipart/report; boundary=\"r\"\n\n--r\n\
         Content-Type: message/rfc822\n\nMessage-ID: <a@b>\nSubject: x\n\nbody\n--r--\n",
        "Subject: x\nContent-Type: text/html; charset=utf-7\n\n<p>+AOQ-<b>x</p>\n",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Mutated and truncated messages: a mail or an error, never a panic, and never
        /// more stored than the limits allow.
        #[test]
        fn any_mutation_parses_or_fails_cleanly(
            seed in 0..SEEDS.len(),
            edits in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 0..12),
            cut in 0usize..500,
        ) {
            let mut raw = SEEDS[seed].as_bytes().to_vec();
            for (at, byte) in edits {
                if !raw.is_empty() {
                    let i = at % raw.len();
                    raw[i] = byte;
                }
            }
            raw.truncate(cut.max(1));
            let limits = Limits { attachment: 8, message: 16 };
            if let Ok(m) = parse(&raw, &limits) {
                proptest::prop_assert!(!m.subject.is_empty());
                proptest::prop_assert!(!m.body.contains('\0'));
                let stored: usize = m.attachments.iter().filter_map(|a| a.content.as_ref().map(Vec::len)).sum();
                proptest::prop_assert!(stored <= limits.message);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let _ = parse(&raw, &Limits::default());
        }
    }

    /// Found by `cargo fuzz`: a part tree that trips a check inside the MIME parser in
    /// debug builds. The mail keeps its subject, and its text is the rest of the message.
    #[test]
    fn a_part_tree_the_mime_parser_trips_over_still_becomes_a_mail() {
        let raw = include_bytes!("testdata/nested-parts.eml");
        let m = parse(raw, &Limits::default()).unwrap();
        assert_eq!(m.subject, "RFC 8621 Section 4.1.4 test");
        assert!(!m.body.is_empty());
    }

    #[test]
    fn bytes_without_headers_are_an_error() {
        assert!(parse(b"", &Limits::default()).is_err());
        assert!(parse(b"   \r\n", &Limits::default()).is_err());
    }

    #[test]
    fn authentication_results_are_read_topmost_first_with_comments_dropped() {
        let raw = "Authentication-Results: mx.helpdesk.example;\r\n\tdkim=pass (2048-bit key) header.d=alpen-logistik.example;\r\n\tspf=softfail smtp.mailfrom=x;\r\n\tdmarc=fail (p=reject) header.from=alpen-logistik.example\r\n\
                   Authentication-Results: relay.example; dmarc=pass\r\n\
                   From: a@alpen-logistik.example\r\nSubject: x\r\n\r\nhi\r\n";
        let m = parse(raw.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(m.authentication.len(), 2);
        let ours = &m.authentication[0];
        assert_eq!(ours.authserv_id, "mx.helpdesk.example");
        assert_eq!(
            (
                ours.dkim.as_deref(),
                ours.spf.as_deref(),
                ours.dmarc.as_deref()
            ),
            (Some("pass"), Some("softfail"), Some("fail"))
        );
        assert!(!ours.passed(), "DMARC decides where it was checked");
        assert!(m.authentication[1].passed());
        let spf_only = AuthResults::parse("mx; spf=pass smtp.mailfrom=a.example").unwrap();
        assert!(spf_only.passed());
        assert_eq!(spf_only.summary(), "spf=pass (by mx)");
    }
}
