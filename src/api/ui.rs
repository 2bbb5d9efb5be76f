//! The dashboard's pages under `/ui/`: static files compiled into the binary, nothing
//! fetched at run time. The page signs in through `/api/v1/session` and reads the same API
//! as every other client; the server only picks the language from `Accept-Language`.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::ApiError;

/// The files of `ui/`, by name, with their media types.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/app.css"),
    ),
    (
        "vendor/uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/vendor/uPlot.iife.min.js"),
    ),
    (
        "vendor/uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/vendor/uPlot.min.css"),
    ),
    (
        "vendor/uPlot.LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../ui/vendor/uPlot.LICENSE"),
    ),
];

const INDEX: &str = include_str!("../../ui/index.html");

/// What the page may load and do: only our own scripts, styles and API.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn headers(content_type: &str, cache: &'static str) -> [(header::HeaderName, HeaderValue); 5] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("text/plain")),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

/// `de` when the browser prefers German over English, else `en`.
pub fn language(accept: Option<&str>) -> &'static str {
    let mut best = ("en", -1.0_f32);
    for part in accept.unwrap_or_default().split(',') {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
            .unwrap_or(1.0);
        let lang = match tag.split('-').next() {
            Some("de") => "de",
            Some("en") => "en",
            _ => continue,
        };
        if q > best.1 {
            best = (lang, q);
        }
    }
    best.0
}

pub async fn root() -> Redirect {
    Redirect::permanent("/ui/")
}

/// The page, in the browser's language (the page switches it on request).
pub async fn index(request_headers: HeaderMap) -> Response {
    let accept = request_headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let html = INDEX.replace("{{lang}}", language(accept));
    let mut resp = (headers("text/html; charset=utf-8", "no-cache"), html).into_response();
    resp.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    resp
}

pub async fn asset(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, media, body)) => (headers(media, "public, max-age=300"), *body).into_response(),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("the dashboard has no file {file:?}"),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::language;

    #[test]
    fn the_page_speaks_german_only_when_the_browser_prefers_it() {
        assert_eq!(language(Some("de-DE,de;q=0.9,en;q=0.8")), "de");
        assert_eq!(language(Some("en-GB,de;q=0.9")), "en");
        assert_eq!(language(Some("fr,de;q=0.5,en;q=0.4")), "de");
        assert_eq!(language(Some("fr")), "en");
        assert_eq!(language(None), "en");
    }
}
