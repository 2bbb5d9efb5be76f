//! `triage mail ingest`: hands one message from an MTA pipe to the service, and tells the
//! MTA what to do with it in its own terms (sysexits): delivered, try again later, or give
//! up and bounce it.

/// `sysexits.h` codes an MTA understands.
pub mod sysexits {
    pub const OK: u8 = 0;
    /// The message cannot be read: the MTA bounces it to the sender.
    pub const DATAERR: u8 = 65;
    /// The service cannot take it now: the MTA keeps it and retries.
    pub const TEMPFAIL: u8 = 75;
    /// The token is missing, wrong, or not allowed to deliver mail.
    pub const NOPERM: u8 = 77;
    /// The URL points at no intake endpoint.
    pub const CONFIG: u8 = 78;
}

/// The exit code for the service's answer, or `None` when it could not be reached.
pub fn exit_code(status: Option<u16>) -> u8 {
    match status {
        None => sysexits::TEMPFAIL,
        Some(200..=299) => sysexits::OK,
        Some(401 | 403) => sysexits::NOPERM,
        Some(404 | 405) => sysexits::CONFIG,
        // Too many requests, a timeout, or the service itself in trouble: later.
        Some(408 | 429) | Some(500..=599) => sysexits::TEMPFAIL,
        Some(_) => sysexits::DATAERR,
    }
}

/// Posts `raw` to the intake endpoint; returns the exit code and a line for the MTA's log
/// (and, for a bounce, the sender).
pub async fn deliver(
    url: &str,
    token: Option<&str>,
    raw: Vec<u8>,
    timeout: std::time::Duration,
) -> (u8, String) {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            return (
                sysexits::TEMPFAIL,
                format!("cannot start an HTTP client: {e}"),
            )
        }
    };
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "message/rfc822")
        .body(raw);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Err(e) => (
            exit_code(None),
            format!("triage at {url} cannot be reached, the message stays queued: {e}"),
        ),
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            let code = exit_code(Some(status));
            let line = if code == sysexits::OK {
                format!(
                    "{} {} ({})",
                    body["outcome"].as_str().unwrap_or("delivered"),
                    // A gateway's receipt names the number; a fuller token's answer the ticket.
                    body["ticket"]
                        .as_str()
                        .or_else(|| body["ticket"]["number"].as_str())
                        .unwrap_or("?"),
                    body["message_id"].as_str().unwrap_or("")
                )
            } else {
                format!(
                    "HTTP {status}: {}",
                    body["detail"]
                        .as_str()
                        .or_else(|| body["title"].as_str())
                        .unwrap_or("no detail")
                )
            };
            (code, line)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_an_mta_does_next() {
        assert_eq!(exit_code(Some(201)), 0);
        assert_eq!(exit_code(Some(200)), 0);
        assert_eq!(exit_code(None), 75);
        assert_eq!(exit_code(Some(503)), 75);
        assert_eq!(exit_code(Some(429)), 75);
        assert_eq!(exit_code(Some(422)), 65);
        assert_eq!(exit_code(Some(413)), 65);
        assert_eq!(exit_code(Some(401)), 77);
        assert_eq!(exit_code(Some(404)), 78);
    }
}
