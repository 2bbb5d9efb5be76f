//! FAQ endpoints: managers' CRUD of articles with their statistics, and the customer's
//! feedback on an automatic answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::extract::{page_size, utc, ApiJson, ApiQuery, IfMatch, Who};
use super::views::{ArticleView, TicketResponse, TicketView};
use super::AppState;
use crate::desk::{self, conversation, faq};
use crate::faq::Article;
use crate::store::StoreError;

/// An article as a manager writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    /// `de` or `en`.
    #[schema(pattern = "^(de|en)$")]
    pub language: String,
    #[schema(min_length = 1)]
    pub category: String,
    #[schema(min_length = 1)]
    pub title: String,
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Markdown; automatic answers send it as plain text and HTML.
    #[schema(min_length = 1)]
    pub body: String,
}

/// All articles with their statistics.
#[utoipa::path(get, path = "/api/v1/faq", tag = "faq", responses((status = 200, body = Vec<ArticleView>)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Vec<ArticleView>>, ApiError> {
    let articles = state.desk.store.articles().await?;
    Ok(Json(articles.into_iter().map(ArticleView::from).collect()))
}

/// One article.
#[utoipa::path(get, path = "/api/v1/faq/{id}", tag = "faq",
    params(("id" = String, Path)),
    responses((status = 200, body = ArticleView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ArticleView>, ApiError> {
    match state.desk.store.article(&id).await {
        Ok(a) => Ok(Json(a.into())),
        Err(StoreError::NotFound(_)) => Err(ApiError::not_found(format!("no FAQ article {id}"))),
        Err(e) => Err(e.into()),
    }
}

/// Creates or replaces an article; the index follows at once (other processes within
/// seconds).
#[utoipa::path(put, path = "/api/v1/faq/{id}", tag = "faq",
    params(("id" = String, Path)),
    request_body = ArticleInput,
    responses((status = 200, body = ArticleView), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ArticleInput>,
) -> Result<Json<ArticleView>, ApiError> {
    let article = Article {
        id,
        language: input.language,
        category: input.category,
        title: input.title,
        questions: input.questions,
        keywords: input.keywords,
        body: input.body,
    };
    let cx = state.ctx();
    let stored = faq::put_article(&cx, &state.desk.faq, article).await?;
    Ok(Json(stored.into()))
}

/// Removes an article.
#[utoipa::path(delete, path = "/api/v1/faq/{id}", tag = "faq",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    faq::delete_article(&state.ctx(), &state.desk.faq, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The customer's verdict on an automatic answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackInput {
    pub helped: bool,
}

/// Feedback on an automatic answer: helped → resolved; not helped → back to the ticket's
/// queue at once, its first-response clock counted from the original arrival.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/feedback", tag = "faq",
    params(("key" = String, Path, description = "UUID or number")),
    request_body = FeedbackInput,
    responses(
        (status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not answered automatically, or feedback given before", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match is stale", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn feedback(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    who: Who,
    IfMatch(expected): IfMatch,
    ApiJson(input): ApiJson<FeedbackInput>,
) -> Result<TicketResponse, ApiError> {
    let cx = state.ctx();
    let actor = desk::actor(&cx, who.identity(), None, "actor", "customer").await?;
    let record = conversation::feedback(&cx, &key, &expected, &actor, input.helped).await?;
    TicketResponse::new(record, &cx)
}

/// Per caller, how many FAQ self-service requests it made in the current minute: a web
/// form's backend may search as people type, but one token cannot turn the search into a
/// way to read the whole FAQ at machine speed. Per process, like the token cache.
pub struct RateLimit {
    per_minute: u32,
    windows: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, u32)>>,
}

impl RateLimit {
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            windows: Default::default(),
        }
    }

    /// Counts one request of the caller; over the limit, 429 with the seconds to wait.
    fn check(&self, who: &Who) -> Result<(), ApiError> {
        let caller = who.identity().map_or("", |(name, _)| name);
        let now = std::time::Instant::now();
        let minute = std::time::Duration::from_secs(60);
        let mut windows = match self.windows.lock() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < minute);
        }
        let (start, n) = windows.entry(caller.to_owned()).or_insert((now, 0));
        if now.duration_since(*start) >= minute {
            *start = now;
            *n = 0;
        }
        if *n >= self.per_minute {
            let wait = minute.saturating_sub(now.duration_since(*start)).as_secs() + 1;
            return Err(ApiError::too_many_requests(
                format!(
                    "at most {} FAQ self-service requests a minute per token; try again in {wait} s",
                    self.per_minute
                ),
                wait,
            ));
        }
        *n += 1;
        Ok(())
    }
}

/// What a web form's backend asks while a person types.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The person's question (subject and text as typed).
    #[param(min_length = 1)]
    pub q: String,
    /// `de` or `en`; detected from `q` when absent (German when too short to tell).
    #[param(pattern = "^(de|en)$")]
    pub lang: Option<String>,
    /// How many articles, 1 to 10 (default 3).
    #[param(minimum = 1, maximum = 10)]
    pub limit: Option<u64>,
}

/// The articles that may answer a question, best first.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SearchAnswer {
    /// The language searched in.
    pub language: String,
    pub results: Vec<SearchHit>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SearchHit {
    pub article: String,
    pub title: String,
    /// The article's answer (Markdown).
    pub body: String,
    /// For the best article: the share of right answers measured at its evidence (the same
    /// confidence that decides automatic answers); the others are ranked, not measured.
    pub confidence: Option<f64>,
    /// The search score relative to the best article's (1 for the best).
    pub relative_score: f64,
    /// For the best article: the question's words it never mentions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// Self-service before a ticket exists: the articles that may answer a question, with
/// their text and the confidence of the best (gateways and up; rate-limited per token).
#[utoipa::path(get, path = "/api/v1/faq/search", tag = "faq",
    params(SearchParams),
    responses(
        (status = 200, body = SearchAnswer),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests of this token this minute", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn search(
    State(state): State<Arc<AppState>>,
    who: Who,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> Result<Json<SearchAnswer>, ApiError> {
    state.search_limit.check(&who)?;
    if p.q.trim().is_empty() {
        return Err(ApiError::invalid_field("q", "q is empty"));
    }
    let limit = page_size(p.limit, 3, 10)? as usize;
    let language = match p.lang.as_deref() {
        Some(l @ ("de" | "en")) => l.to_owned(),
        Some(other) => {
            return Err(ApiError::invalid_field(
                "lang",
                format!("lang \"{other}\" is not supported (de or en)"),
            ))
        }
        None => {
            let rules = state.desk.rules.current();
            rules
                .language
                .detect("", &p.q)
                .map_or_else(|| rules.defaults.language.0.to_string(), |l| l.to_string())
        }
    };
    let index = state.desk.faq.current();
    let hits = index.search(&language, &p.q, limit);
    let results = hits
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let a = index.article(&h.article)?;
            Some(SearchHit {
                article: h.article.clone(),
                title: h.title.clone(),
                body: a.body.clone(),
                confidence: (i == 0).then_some(h.confidence),
                relative_score: f64::from(h.relative_score),
                missing: h
                    .evidence
                    .as_ref()
                    .map(|e| e.missing.clone())
                    .unwrap_or_default(),
            })
        })
        .collect();
    Ok(Json(SearchAnswer { language, results }))
}

/// Records that a person read this article among a search's results and did not submit
/// the form: a request settled before it became a ticket (gateways and up).
#[utoipa::path(post, path = "/api/v1/faq/{id}/deflections", tag = "faq",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Counted"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests of this token this minute", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deflect(
    State(state): State<Arc<AppState>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.search_limit.check(&who)?;
    if state.desk.store.count_deflection(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no FAQ article {id}")))
    }
}

/// Period and grouping of the automation report.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AutomationParams {
    /// Tickets created at or after (RFC 3339); default: 30 days before `to`.
    pub from: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Tickets created before (RFC 3339); default: now.
    pub to: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// `category` (default), `segment` or `channel`.
    pub group_by: Option<String>,
}

/// A question left to people because no article fits it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct UnansweredView {
    pub ticket: String,
    pub category: String,
    pub language: String,
    pub subject: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Why the FAQ did not answer or suggest.
    pub reason: Option<String>,
}

/// The automation report.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AutomationView {
    pub from: chrono::DateTime<chrono::Utc>,
    pub to: chrono::DateTime<chrono::Utc>,
    pub group_by: &'static str,
    pub rows: Vec<desk::report::AutomationRow>,
    /// The newest questions (up to 200) no article fits, newest first: where new articles
    /// are needed.
    pub unanswered: Vec<UnansweredView>,
}

/// Per category, segment or channel: how many tickets were answered automatically,
/// suggested to an agent, or left to people (no article fits, or the rules say so); and the
/// questions no article fits. Counted from the figures kept with every ticket.
#[utoipa::path(get, path = "/api/v1/automation/report", tag = "faq", params(AutomationParams),
    responses(
        (status = 200, body = AutomationView),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn automation(
    State(state): State<Arc<AppState>>,
    ApiQuery(p): ApiQuery<AutomationParams>,
) -> Result<Json<AutomationView>, ApiError> {
    let cx = state.ctx();
    let a = desk::report::automation(&cx, utc(p.from), utc(p.to), p.group_by.as_deref()).await?;
    Ok(Json(AutomationView {
        from: a.from,
        to: a.to,
        group_by: a.group,
        rows: a.rows,
        unanswered: a
            .unanswered
            .into_iter()
            .map(|t| UnansweredView {
                ticket: crate::model::ticket_number(t.seq),
                reason: t
                    .faq
                    .as_ref()
                    .and_then(|f| f.get("reason"))
                    .and_then(|r| r.as_str())
                    .map(str::to_owned),
                category: t.category,
                language: t.language,
                subject: t.subject,
                created_at: t.created_at,
            })
            .collect(),
    }))
}
