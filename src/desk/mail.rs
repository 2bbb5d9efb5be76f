//! One raw e-mail from a mail server: a new ticket, a reply on its ticket (by
//! In-Reply-To/References, or by the `[T-000123]` tag when the sender is on that ticket), a
//! bounce of our mail, or a repeat of a message already stored.

use sha2::{Digest, Sha256};

use super::conversation;
use super::intake::{intake, Intake, MailIntake};
use super::{Actor, Ctx, DeskError};
use crate::intake::mail::{self, Mail};
use crate::model::{Channel, Sender, Ticket};
use crate::store::{self, Created, InboundMail, NewEvent, NewMessage, StoreError, TicketRecord};

/// What became of a delivered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new ticket.
    Created,
    /// A reply on its ticket.
    Appended,
    /// This Message-ID was delivered before.
    Duplicate,
    /// A bounce of our mail, on its ticket.
    Bounce,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Appended => "appended",
            Outcome::Duplicate => "duplicate",
            Outcome::Bounce => "bounce",
        }
    }
}

/// A delivered message's outcome, the Message-ID it is stored under (made up if it had
/// none) and its ticket.
#[derive(Debug)]
pub struct Delivered {
    pub outcome: Outcome,
    pub message_id: String,
    pub ticket: TicketRecord,
}

fn meta(m: &Mail) -> serde_json::Value {
    serde_json::json!({
        "from": m.from,
        "reply_to": m.reply_to,
        "to": m.to,
        "cc": m.cc,
        "date": m.date,
        "refers_to": m.refers_to,
        "automatic": m.automatic,
        "spam_flag": m.spam_flag,
        "spam_score": m.spam_score,
        "authentication": m.authentication,
        "attachments": m.attachments.iter().map(|a| serde_json::json!({
            "name": a.name, "content_type": a.content_type, "size": a.size, "note": a.note,
        })).collect::<Vec<_>>(),
    })
}

/// The text of a mail as stored: attachments over a limit are named in it, so an agent
/// sees what is missing. Takes the body, so a large mail's text is not copied again.
pub fn body_with_notes(body: String, attachments: &[mail::Attachment]) -> String {
    let mut body = if body.trim().is_empty() {
        "(no text)".to_owned()
    } else {
        body
    };
    for a in attachments.iter().filter(|a| a.content.is_none()) {
        body.push_str(&format!(
            "\n\n[attachment {} ({}, {} bytes) {}]",
            a.name,
            a.content_type,
            a.size,
            a.note.as_deref().unwrap_or("not stored")
        ));
    }
    body
}

/// The most of a mail's text its ticket and message hold. A 50 MB text is read by nobody
/// as a ticket, and through the database driver each stored value is copied several times:
/// beyond this, the text is cut with a note, and the whole mail is kept as received (its
/// raw bytes, stored in parts, at `GET /api/v1/tickets/{key}/mail/{message_id}`).
pub const TEXT_MAX: usize = 256 * 1024;

/// A mail's text as stored: at most [`TEXT_MAX`] bytes, cut at a character boundary, with
/// a note where the raw mail has the rest.
pub fn stored_text(mut body: String, message_id: &str) -> String {
    if body.len() <= TEXT_MAX {
        return body;
    }
    let all = body.len();
    body.truncate(crate::model::floor_char_boundary(&body, TEXT_MAX));
    body.shrink_to_fit();
    body.push_str(&format!(
        "\n\n[the text goes on: {all} bytes in all; the whole mail is kept as received, \
         message <{message_id}>]"
    ));
    body
}

/// Why a parsed message is no customer request at all (a picture, a JSON document or
/// random bytes piped in, which an MTA dresses in a few headers): nobody to answer and
/// nothing said, or nothing said and nothing attached.
fn no_request(m: &Mail) -> Option<&'static str> {
    let subject = m.subject.trim();
    let said = readable(&m.body) || (!subject.is_empty() && subject != "(no subject)");
    match (m.from.is_some(), said, m.attachments.is_empty()) {
        (false, false, _) => {
            Some("the message has neither a sender address nor any text: no request to answer")
        }
        (true, false, true) => {
            Some("the message has no subject, no text and no attachment: no request to answer")
        }
        _ => None,
    }
}

/// Whether a body is text a person wrote: not empty, and no more than one in ten of its
/// characters control characters or undecodable bytes (a picture read as text is mostly
/// those).
fn readable(body: &str) -> bool {
    let body = body.trim();
    let (mut all, mut junk) = (0usize, 0usize);
    for c in body.chars() {
        all += 1;
        junk += usize::from(c == '\u{fffd}' || (c.is_control() && !c.is_whitespace()));
    }
    all > 0 && junk * 10 <= all
}

/// The ticket a new mail becomes: its subject, its text with notes on attachments not
/// stored, its sender. Pure, for intake and for fuzzing the path from bytes to decision.
pub fn new_ticket(parsed: &Mail, body: String, now: chrono::DateTime<chrono::Utc>) -> Ticket {
    Ticket {
        channel: Channel::Email,
        subject: parsed.subject.clone(),
        body,
        from: Sender {
            email: parsed.from.as_ref().map(|f| f.address.clone()),
            name: parsed.from.as_ref().and_then(|f| f.name.clone()),
            phone: None,
        },
        received_at: now,
    }
}

/// Whether a parsed message is a request at all, and why not (see [`deliver`]).
pub fn is_request(parsed: &Mail) -> Result<(), DeskError> {
    match no_request(parsed) {
        Some(why) => Err(DeskError::Unparseable(why.into())),
        None => Ok(()),
    }
}

/// Mails up to this size are parsed on the request's own thread (a 20 KB mail takes
/// under 0.1 ms, less than handing it to another thread and back costs); larger ones on a
/// blocking thread: a 50 MiB mail takes about a second of CPU, which must not stall the
/// requests sharing this runtime thread.
const PARSED_INLINE: usize = 64 << 10;

/// Parses a mail. A message the parser fails on (it panics) is refused like one that is
/// no mail, so the MTA bounces it instead of retrying it forever.
async fn parse_guarded(raw: Vec<u8>, limits: mail::Limits) -> Result<(Vec<u8>, Mail), DeskError> {
    let inline = raw.len() <= PARSED_INLINE;
    let parse = move || {
        let parsed = std::panic::catch_unwind(|| mail::parse(&raw, &limits));
        (raw, parsed)
    };
    let parsed = if inline {
        Ok(parse())
    } else {
        tokio::task::spawn_blocking(parse).await
    };
    match parsed {
        Ok((raw, Ok(Ok(mail)))) => Ok((raw, mail)),
        Ok((_, Ok(Err(e)))) => Err(DeskError::Unparseable(e.0)),
        Ok((_, Err(_))) => {
            tracing::error!("the mail parser failed on a message");
            Err(DeskError::Unparseable(
                "the message cannot be processed: the mail parser failed on it".into(),
            ))
        }
        Err(_) => Err(DeskError::Busy("the service is shutting down".into())),
    }
}

/// Takes one raw message; its bytes are kept as they are, without a copy.
pub async fn deliver(cx: &Ctx<'_>, raw: Vec<u8>) -> Result<Delivered, DeskError> {
    let (raw, mut parsed) = parse_guarded(raw, cx.rules.mail.limits).await?;
    is_request(&parsed)?;
    // Without a Message-ID, the hash of the bytes: a redelivery of the same bytes is
    // still recognised.
    let message_id = parsed.message_id.clone().unwrap_or_else(|| {
        let hash = crate::model::hex(&Sha256::digest(&raw)[..16]);
        format!("{hash}@no-message-id.invalid")
    });
    let done = |outcome, ticket| Delivered {
        outcome,
        message_id: message_id.clone(),
        ticket,
    };
    // The mail's text, its attachments and its bytes each move on once, not copied.
    let meta = meta(&parsed);
    let body = body_with_notes(
        stored_text(std::mem::take(&mut parsed.body), &message_id),
        &parsed.attachments,
    );
    let inbound = InboundMail {
        message_id: message_id.clone(),
        meta,
        raw,
        attachments: std::mem::take(&mut parsed.attachments),
    };
    // One lookup for both: a message stored before (a redelivery) and the messages it
    // answers (threading), the mail's own id first. A mail that refers to no message,
    // names no ticket and is no bounce can only become a new ticket; its redelivery is
    // found by the unique Message-ID as it is written, without a lookup first.
    let tag = mail::subject_tag(&parsed.subject);
    let bounce = parsed.automatic.as_ref().filter(|a| a.bounce);
    let may_thread = !parsed.refers_to.is_empty() || tag.is_some() || bounce.is_some();
    let thread = if may_thread {
        let ids: Vec<String> = std::iter::once(message_id.clone())
            .chain(parsed.refers_to.iter().cloned())
            .collect();
        match cx.store.ticket_of_message(&ids).await? {
            Some((record, id)) if id == message_id => {
                return Ok(done(Outcome::Duplicate, record));
            }
            other => other,
        }
    } else {
        None
    };
    if let Some(a) = bounce {
        if let Some((record, ids)) = cx.store.mark_bounced(&parsed.bounced, &a.reason).await? {
            let author = parsed.from.as_ref().map(|f| f.address.clone());
            let message = received("bounce", author, body, inbound);
            let event = mail_event(
                "mail.bounced",
                serde_json::json!({ "message_ids": ids, "reason": a.reason }),
            );
            let record = append(cx, record, message, Some(event)).await?;
            return Ok(done(Outcome::Bounce, record));
        }
    }
    let sender = parsed.from.as_ref().map(|f| f.address.clone());
    let mut links: Vec<(TicketRecord, String)> = Vec::new();
    let mut threaded_by = None;
    let existing = match thread {
        Some((record, id)) => {
            threaded_by = Some(format!("In-Reply-To/References name {id}"));
            Some(record)
        }
        None => match tag {
            Some(seq) => match cx.store.get(&seq.to_string()).await {
                Ok(record) => {
                    let on_ticket = match &sender {
                        Some(s) => cx.store.participants(&record).await?.contains(s),
                        None => false,
                    };
                    let trust = cx.rules.mail.tag_trust(&parsed.authentication);
                    if !on_ticket {
                        links.push((
                            record,
                            "its subject names it, but the sender is not on it".into(),
                        ));
                        None
                    } else if !trust.trusted {
                        let why = format!(
                            "its subject names it and the sender is on it, but {}",
                            trust.why
                        );
                        links.push((record, why));
                        None
                    } else {
                        threaded_by = Some(format!(
                            "subject tag from an address on the ticket; {}",
                            trust.why
                        ));
                        Some(record)
                    }
                }
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        },
    };
    let existing = match existing {
        Some(r) if r.status == "closed" => {
            links.push((r, "it is closed".into()));
            None
        }
        other => other,
    };
    if let Some(record) = existing {
        let mut inbound = inbound;
        if let (Some(obj), Some(by)) = (inbound.meta.as_object_mut(), threaded_by) {
            obj.insert("threaded_by".into(), by.into());
        }
        // An out-of-office answer to an agent's reply is recorded on the ticket, not taken
        // as the customer's word: no reopening, no next-reply clock, no "not helped".
        if let Some(a) = &parsed.automatic {
            let message = received("automatic", sender.clone(), body, inbound);
            let event = mail_event("mail.automatic", serde_json::json!({ "reason": a.reason }));
            let record = append(cx, record, message, Some(event)).await?;
            return Ok(done(Outcome::Appended, record));
        }
        let author = Some(sender.clone().unwrap_or_else(|| "customer".into()));
        let message = received("inbound", author, body, inbound);
        let record = append(cx, record, message, None).await?;
        return Ok(done(Outcome::Appended, record));
    }
    let mut references: Vec<String> = parsed.refers_to.iter().rev().cloned().collect();
    references.push(message_id.clone());
    let events = links
        .iter()
        .map(|(r, why)| {
            mail_event(
                "linked",
                serde_json::json!({
                    "ticket": store::ticket_number(r.seq),
                    "why": format!("the mail refers to {}; {why}", store::ticket_number(r.seq)),
                }),
            )
        })
        .collect();
    let spam = cx.rules.mail.spam(
        sender.as_deref(),
        parsed.spam_flag,
        parsed.spam_score,
        &parsed.subject,
        &body,
    );
    let ticket = new_ticket(&parsed, body, cx.now);
    let extra = Intake {
        mail: Some(MailIntake {
            inbound,
            withhold: parsed.automatic.as_ref().map(|a| a.reason.clone()),
            machine: parsed.automatic.is_some(),
            spam,
            reply_to: parsed.reply_address().map(str::to_owned),
            references,
            events,
        }),
        ..Intake::default()
    };
    Ok(match intake(cx, ticket, extra).await? {
        Created::New(r) => done(Outcome::Created, r),
        Created::Existing(r) => done(Outcome::Duplicate, r),
    })
}

/// Adds a message to a ticket: a customer's (which moves the clocks like any customer
/// message) or, with its event, a bounce (which moves none). Retries when another request
/// changed the ticket at the same moment: the mail server must not see a conflict.
/// A received mail as a message on a ticket.
fn received(
    direction: &str,
    author: Option<String>,
    body: String,
    inbound: InboundMail,
) -> NewMessage {
    NewMessage {
        direction: direction.into(),
        author,
        body,
        channel: Some("email".into()),
        mail: Some(inbound),
        ..Default::default()
    }
}

/// An event the mail gateway records.
fn mail_event(kind: &str, data: serde_json::Value) -> NewEvent {
    NewEvent {
        kind: kind.into(),
        actor: "mail".into(),
        data,
    }
}

async fn append(
    cx: &Ctx<'_>,
    mut record: TicketRecord,
    message: NewMessage,
    recorded: Option<NewEvent>,
) -> Result<TicketRecord, DeskError> {
    let author = message.author.clone().unwrap_or_else(|| "customer".into());
    let actor = Actor::named(author.clone());
    for _ in 0..5 {
        // A customer's message changes the ticket (reopens it, starts the next-reply
        // clock); a bounce or an automatic answer is only recorded, with its event.
        let result = match &recorded {
            None => {
                let changes =
                    conversation::customer_changes(cx, &record, &actor, &author, message.clone())
                        .await?;
                conversation::apply(cx, &record, changes).await
            }
            Some(event) => {
                let update = store::TicketUpdate {
                    message: Some(message.clone()),
                    events: vec![event.clone()],
                    ..Default::default()
                };
                cx.store
                    .update_ticket(&record, update, cx.now)
                    .await
                    .map_err(DeskError::from)
            }
        };
        match result {
            Ok(updated) => return Ok(updated),
            Err(DeskError::Store(StoreError::Conflict { .. })) => {
                record = cx.store.by_id(record.id).await?;
            }
            Err(e) => return Err(e),
        }
    }
    Err(DeskError::Busy(
        "the ticket kept changing; deliver the message again".into(),
    ))
}

/// Sends a mail the worker gave up on once more (after its cause was mended: the relay, the
/// recipient's address). Only dead mail: pending mail is on its way, sent mail went out.
pub async fn send_again(
    cx: &Ctx<'_>,
    id: i64,
    actor: &Actor,
) -> Result<crate::store::OutboxRecord, DeskError> {
    match cx.store.send_again(id, &actor.name, cx.now).await {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(DeskError::Conflict(format!(
            "outbound mail {id} is not dead: only mail the worker gave up on is sent again"
        ))),
        Err(StoreError::NotFound(_)) => Err(DeskError::NotFound(format!("no outbound mail {id}"))),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_at_a_character_boundary_with_a_note() {
        let short = "kurz".to_owned();
        assert_eq!(stored_text(short.clone(), "m@x"), short);
        // Two-byte characters across the limit: the cut never splits one.
        let long = "ü".repeat(TEXT_MAX);
        let cut = stored_text(long, "m@x");
        let text = cut.split("\n\n[the text goes on").next().unwrap();
        assert!(text.len() <= TEXT_MAX && text.chars().all(|c| c == 'ü'));
        assert!(cut.contains(&format!("{} bytes in all", 2 * TEXT_MAX)) && cut.contains("<m@x>"));
    }
}
