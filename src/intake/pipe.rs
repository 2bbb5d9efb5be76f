//! `triage mail ingest`: hands one message from an MTA pipe to the service, and tells the
//! MTA what to do with it in its own terms (sysexits): delivered, or try again later, or
//! give up and bounce it.
//!
//! Only a message triage itself judged unacceptable is bounced. Everything else that goes
//! wrong — the service down, a refused token, a URL that is no triage intake, a proxy's
//! error page — keeps the mail queued (75) and says why on stderr, which the MTA logs: a
//! gateway misconfigured during a token rotation must not return every customer's mail.

/// `sysexits.h` codes an MTA understands.
pub mod sysexits {
    pub const OK: u8 = 0;
    /// triage refused the message itself: the MTA bounces it to the sender.
    pub const DATAERR: u8 = 65;
    /// Not delivered now: the MTA keeps it and retries.
    pub const TEMPFAIL: u8 = 75;
}

/// Prefix of the stderr line for a gateway that is set up wrongly.
pub const CONFIG_ERROR: &str = "configuration error, the message stays queued:";

/// What the service's answer means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// triage's own problem document refusing this message (too large, not a request).
    Refused,
    /// The service cannot take it now (unreachable, 5xx, 429, timeout).
    Later,
    /// The gateway is set up wrongly (token, URL): queued until someone mends it.
    Misconfigured,
}

impl Outcome {
    /// The answer's status and whether its body is triage's own problem document
    /// (`application/problem+json` with a `/problems/…` type), or `None` unreachable.
    pub fn of(status: Option<u16>, triage_problem: bool) -> Outcome {
        match status {
            None => Outcome::Later,
            Some(200..=299) => Outcome::Delivered,
            Some(413 | 422) if triage_problem => Outcome::Refused,
            Some(408 | 429) | Some(500..=599) => Outcome::Later,
            Some(_) => Outcome::Misconfigured,
        }
    }

    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Delivered => sysexits::OK,
            Outcome::Refused => sysexits::DATAERR,
            Outcome::Later | Outcome::Misconfigured => sysexits::TEMPFAIL,
        }
    }
}

/// Posts `raw` to the intake endpoint at `url` (the service's base URL or the endpoint
/// itself); returns the exit code and a line for the MTA's log (and, for a bounce, the
/// sender).
pub async fn deliver(
    url: &str,
    token: Option<&str>,
    raw: Vec<u8>,
    timeout: std::time::Duration,
) -> (u8, String) {
    let (outcome, line) = post(url, token, raw, timeout).await;
    let line = match outcome {
        Outcome::Misconfigured => format!("{CONFIG_ERROR} {line}"),
        Outcome::Later => format!("{line}; the message stays queued"),
        _ => line,
    };
    (outcome.exit_code(), line)
}

async fn post(
    url: &str,
    token: Option<&str>,
    raw: Vec<u8>,
    timeout: std::time::Duration,
) -> (Outcome, String) {
    // The URL as given is checked, so a mistake is named as the administrator wrote it.
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {}
        Ok(u) => {
            return (
                Outcome::Misconfigured,
                format!(
                    "--url {url:?} has the scheme {:?}; it takes http:// or https:// (e.g. http://127.0.0.1:8080)",
                    u.scheme()
                ),
            )
        }
        Err(e) => {
            return (
                Outcome::Misconfigured,
                format!("--url {url:?} is no URL ({e}); e.g. http://127.0.0.1:8080"),
            )
        }
    }
    let base = url.trim_end_matches('/');
    let url = &if base.ends_with("/api/v1/intake/mail") {
        url.to_owned()
    } else {
        format!("{base}/api/v1/intake/mail")
    };
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => return (Outcome::Later, format!("cannot start an HTTP client: {e}")),
    };
    let mut req = client
        .post(url.as_str())
        .header(reqwest::header::CONTENT_TYPE, "message/rfc822")
        .body(raw);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            return (
                Outcome::Later,
                format!("triage at {url} cannot be reached: {e}"),
            )
        }
    };
    let status = resp.status().as_u16();
    let problem = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let ours = problem
        && body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/"));
    let outcome = Outcome::of(Some(status), ours);
    let detail = body["detail"]
        .as_str()
        .or_else(|| body["title"].as_str())
        .unwrap_or("no detail");
    let line = match outcome {
        Outcome::Delivered => format!(
            "{} {} ({})",
            body["outcome"].as_str().unwrap_or("delivered"),
            // A gateway's receipt names the number; a fuller token's answer the ticket.
            body["ticket"]
                .as_str()
                .or_else(|| body["ticket"]["number"].as_str())
                .unwrap_or("?"),
            body["message_id"].as_str().unwrap_or("")
        ),
        Outcome::Misconfigured => match status {
            401 | 403 => format!(
                "HTTP {status}: the gateway's token is refused ({detail}); check --token-file and the token's role (gateway)"
            ),
            _ if !ours => format!(
                "HTTP {status} from {url}, which is no triage mail intake ({detail}); check --url"
            ),
            _ => format!("HTTP {status} from {url}: {detail}; check --url"),
        },
        Outcome::Refused | Outcome::Later => format!("HTTP {status}: {detail}"),
    };
    (outcome, line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_triages_own_refusal_bounces() {
        assert_eq!(Outcome::of(Some(201), false).exit_code(), 0);
        assert_eq!(Outcome::of(Some(200), true).exit_code(), 0);
        assert_eq!(Outcome::of(None, false), Outcome::Later);
        assert_eq!(Outcome::of(Some(503), false), Outcome::Later);
        assert_eq!(Outcome::of(Some(429), true), Outcome::Later);
        assert_eq!(Outcome::of(Some(408), true), Outcome::Later);
        assert_eq!(Outcome::of(Some(422), true).exit_code(), 65);
        assert_eq!(Outcome::of(Some(413), true).exit_code(), 65);
        // The same statuses from something that is not triage (a proxy, another service).
        assert_eq!(Outcome::of(Some(422), false), Outcome::Misconfigured);
        assert_eq!(Outcome::of(Some(413), false), Outcome::Misconfigured);
        for status in [400, 401, 403, 404, 405, 415] {
            assert_eq!(Outcome::of(Some(status), true).exit_code(), 75, "{status}");
        }
    }
}
