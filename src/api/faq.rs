//! FAQ endpoints: managers' CRUD of articles with their statistics, and the customer's
//! feedback on an automatic answer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::extract::{ApiJson, IfMatch, Who};
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
