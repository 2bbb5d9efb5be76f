//! The JSON form of a ticket used by `triage classify` (one object per line) and by the API.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

use crate::model::{Channel, Sender, Ticket};

/// A ticket as clients send it (`triage classify` lines and `POST /api/v1/tickets`);
/// `received_at` defaults to the moment it is read.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketInput {
    pub channel: Channel,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub from: Sender,
    /// RFC 3339 with offset.
    pub received_at: Option<DateTime<FixedOffset>>,
    /// The sending system's own id; a repeat with the same id returns the existing ticket.
    pub external_id: Option<String>,
}

/// Why a ticket could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("invalid ticket JSON: {0}")]
    Json(String),
    #[error("subject and body are both empty")]
    Empty,
    /// A NUL byte, which no text column stores faithfully: refused rather than dropped.
    #[error("{0} contains a NUL byte (\\u0000)")]
    Nul(&'static str),
    #[error("from.email: \"{0}\" is not an e-mail address")]
    Address(String),
}

impl InputError {
    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            InputError::Json(_) => "",
            InputError::Empty => "subject",
            InputError::Nul(f) => f,
            InputError::Address(_) => "from.email",
        }
    }
}

/// Whether `s` has the shape of an address: one `@` between a local part and a domain, no
/// white space or control characters. Deliverability is the mail server's to judge.
pub fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !local.contains('@')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl TicketInput {
    /// Parses one JSON object; errors name the offending field (`received_at: …`).
    pub fn parse(text: &str) -> Result<TicketInput, InputError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                InputError::Json(inner.to_string())
            } else {
                InputError::Json(format!("{path}: {inner}"))
            }
        })
    }

    /// The ticket, with `now` standing in for a missing arrival time.
    pub fn into_ticket(self, now: DateTime<Utc>) -> Result<Ticket, InputError> {
        if self.subject.trim().is_empty() && self.body.trim().is_empty() {
            return Err(InputError::Empty);
        }
        let fields = [
            ("subject", Some(&self.subject)),
            ("body", Some(&self.body)),
            ("from.email", self.from.email.as_ref()),
            ("from.name", self.from.name.as_ref()),
            ("from.phone", self.from.phone.as_ref()),
        ];
        if let Some((field, _)) = fields
            .iter()
            .find(|(_, v)| v.is_some_and(|v| v.contains('\0')))
        {
            return Err(InputError::Nul(field));
        }
        if let Some(e) = self.from.email.as_deref().filter(|e| !is_address(e.trim())) {
            return Err(InputError::Address(e.to_owned()));
        }
        Ok(Ticket {
            channel: self.channel,
            subject: self.subject,
            body: self.body,
            from: crate::model::Sender {
                email: self.from.email.map(|e| e.trim().to_owned()),
                name: self.from.name,
                phone: self.from.phone,
            },
            received_at: self.received_at.map_or(now, |t| t.with_timezone(&Utc)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn arrival_keeps_its_instant_and_defaults_to_now() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let t = TicketInput::parse(
            r#"{"channel":"web","subject":"x","received_at":"2026-11-23T09:00:00+01:00"}"#,
        )
        .unwrap()
        .into_ticket(now)
        .unwrap();
        assert_eq!(
            t.received_at,
            Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap()
        );
        let t = TicketInput::parse(r#"{"channel":"phone","body":"y"}"#)
            .unwrap()
            .into_ticket(now)
            .unwrap();
        assert_eq!(t.received_at, now);
    }

    #[test]
    fn bad_input_names_the_problem() {
        let e = TicketInput::parse(r#"{"channel":"fax","subject":"x"}"#).unwrap_err();
        assert!(
            e.to_string().contains("channel: unknown variant `fax`"),
            "{e}"
        );
        let e = TicketInput::parse(r#"{"channel":"web","received_at":"yesterday"}"#).unwrap_err();
        assert!(e.to_string().contains("received_at: "), "{e}");
        let e = TicketInput::parse(r#"{"channel":"web","subjekt":"x"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `subjekt`"), "{e}");
        let e = TicketInput::parse(r#"{"channel":"web","subject":" "}"#)
            .unwrap()
            .into_ticket(Utc::now())
            .unwrap_err();
        assert_eq!(e, InputError::Empty);
    }

    #[test]
    fn nul_bytes_and_non_addresses_are_refused_naming_the_field() {
        let e = TicketInput::parse("{\"channel\":\"web\",\"body\":\"a\\u0000b\"}")
            .unwrap()
            .into_ticket(Utc::now())
            .unwrap_err();
        assert_eq!(e.field(), "body");
        for bad in ["x", "a@", "@b.example", "a b@c.example", "a@b@c"] {
            assert!(!is_address(bad), "{bad}");
        }
        for good in [
            "anna@alpen-logistik.example",
            "o'brien+x@mail.example.co.uk",
        ] {
            assert!(is_address(good), "{good}");
        }
    }
}
