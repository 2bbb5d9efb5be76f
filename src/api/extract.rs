//! What handlers take from a request, each refusing bad input with a problem document: the
//! JSON body (415 without a JSON type, 400 when it is not JSON, 413 over the limit, 422
//! naming the field), query strings, `If-Match`, `Idempotency-Key`, and the caller.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::auth::Caller;
use super::error::ApiError;
use crate::desk::{intake::MAX_KEY_LEN, Expected};
use crate::model::Role;

/// A JSON body, decoded with the path of a wrong field in the error.
pub struct ApiJson<T>(pub T);

/// A JSON body and its bytes (for the request hash behind `Idempotency-Key`).
pub struct JsonWithBytes<T>(pub T, pub Bytes);

/// The request body, or 413 (saying `too_large`) over the route's limit, else 400.
pub async fn body_bytes<S: Send + Sync>(
    req: Request,
    state: &S,
    too_large: &str,
) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|r| {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "payload-too-large", too_large)
        } else {
            ApiError::new(status, "bad-request", r.body_text())
        }
    })
}

/// Whether the request says its body is of `mime` (or, for JSON, any `+json` type).
pub fn content_type_is(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let got = v.split(';').next().unwrap_or("").trim();
            got.eq_ignore_ascii_case(mime) || (mime == "application/json" && got.ends_with("+json"))
        })
}

/// The path of the first text in a JSON document that holds a NUL character, which no
/// text column stores faithfully (PostgreSQL refuses it): such a request is refused rather
/// than altered. Only a body that spells `\u0000` somewhere is walked.
fn nul_text(body: &[u8]) -> Option<String> {
    fn walk(v: &serde_json::Value, path: &mut String) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(fields) => fields.iter().any(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                let found = k.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let spelled = body
        .windows(6)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && &w[2..] == b"0000");
    if !spelled {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut path = String::new();
    walk(&value, &mut path).then_some(path)
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if let Some(field) = nul_text(body) {
        let detail = format!("{field} contains a NUL byte (\\u0000)");
        return Err(ApiError::invalid_field(field, detail));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let mut field = if path == "." { String::new() } else { path };
                // A missing field is reported at the object that lacks it: name the field.
                let text = inner.to_string();
                if let Some(name) = text
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split_once('`'))
                    .map(|(name, _)| name)
                {
                    field = if field.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{field}.{name}")
                    };
                    return ApiError::invalid_field(field.clone(), format!("{field} is required"));
                }
                let detail = if field.is_empty() {
                    inner.to_string()
                } else {
                    format!("{field}: {inner}")
                };
                ApiError::invalid_field(field, with_time_hint(detail))
            }
            _ => ApiError::bad_request(format!("the body is not valid JSON: {inner}")),
        }
    })
}

async fn json_body<T: DeserializeOwned, S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<(T, Bytes), ApiError> {
    let is_json = content_type_is(req.headers(), "application/json");
    let body = body_bytes(
        req,
        state,
        "the request body is larger than the configured limit",
    )
    .await?;
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "send the body as Content-Type: application/json",
        ));
    }
    Ok((decode(&body)?, body))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        json_body(req, state).await.map(|(v, _)| ApiJson(v))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonWithBytes<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        json_body(req, state)
            .await
            .map(|(v, b)| JsonWithBytes(v, b))
    }
}

/// A query string; an unknown or malformed parameter is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(q)| ApiQuery(q))
            .map_err(|r| ApiError::bad_request(with_time_hint(r.body_text())))
    }
}

/// `If-Match` of a change: the ticket versions (`ETag`s) the caller saw.
pub struct IfMatch(pub Expected);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get(header::IF_MATCH) else {
            return Ok(IfMatch(Expected(None)));
        };
        let v = v
            .to_str()
            .map_err(|_| ApiError::bad_request("If-Match must be ASCII"))?;
        let tags = v
            .split(',')
            .map(|t| {
                t.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .to_owned()
            })
            .collect();
        Ok(IfMatch(Expected(Some(tags))))
    }
}

/// `Idempotency-Key`: makes a retried create safe.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(v) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        let key = std::str::from_utf8(v.as_bytes())
            .ok()
            .filter(|k| {
                (1..=MAX_KEY_LEN).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or_else(|| {
                let mut e = ApiError::bad_request(format!(
                    "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
                ));
                e.field = Some("Idempotency-Key".into());
                e
            })?;
        Ok(IdempotencyKey(Some(key.to_owned())))
    }
}

/// The authenticated caller; none in demo mode.
pub struct Who(pub Option<Caller>);

impl Who {
    /// Name and role, as the workflows take them.
    pub fn identity(&self) -> Option<(&str, Role)> {
        self.0.as_ref().map(|c| (c.name.as_str(), c.role))
    }

    /// A gateway hands requests in and gets receipts back, never ticket content.
    pub fn is_gateway(&self) -> bool {
        self.0.as_ref().is_some_and(|c| c.role == Role::Gateway)
    }

    /// An `Idempotency-Key` in the caller's own namespace: one client's key never matches,
    /// nor reveals, another's. Keys have no white space, so the last space separates.
    pub fn scoped_key(&self, key: &str) -> String {
        let name = self.0.as_ref().map_or("", |c| c.name.as_str());
        format!("{name} {key}")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Who(parts.extensions.get::<Caller>().cloned()))
    }
}

/// A page size between 1 and `max` (default `default`), else 422 on `limit`.
pub fn page_size(limit: Option<u64>, default: u64, max: u64) -> Result<u64, ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("limit must be between 1 and {max}"),
        ));
    }
    Ok(limit)
}

/// A moment given with any offset, as the desk takes it: in UTC.
pub fn utc(
    t: Option<chrono::DateTime<chrono::FixedOffset>>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    t.map(|t| t.to_utc())
}

/// Whether the caller asked for CSV (`Accept: text/csv`).
pub fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

/// A CSV answer.
pub fn csv(body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
}

/// A time that did not parse says what a time looks like here (chrono's messages do not).
pub fn with_time_hint(detail: String) -> String {
    const CHRONO: [&str; 5] = [
        "input contains invalid characters",
        "premature end of input",
        "trailing input",
        "input is out of range",
        "input is not enough for unique date and time",
    ];
    if CHRONO.iter().any(|m| detail.contains(m)) {
        format!("{detail} (a time is RFC 3339 with its offset, e.g. 2026-12-07T09:30:00+01:00)")
    } else {
        detail
    }
}
