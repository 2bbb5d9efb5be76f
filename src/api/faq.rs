//! FAQ endpoints: managers' CRUD of articles with their statistics, and the customer's
//! feedback on an automatic answer.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clocks::{json_body, status_change};
use super::error::{ApiError, Problem};
use super::tickets::{apply_clock_changes, ClockChange, IfMatch, TicketResponse, TicketView};
use super::AppState;
use crate::faq::Article;
use crate::sla::ClockEvent;
use crate::store::{self, FaqArticleRecord, FaqOutcome, TicketRecord};

/// An article with how its automatic answers fared.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleView {
    pub id: String,
    pub language: String,
    pub category: String,
    pub title: String,
    pub questions: Vec<String>,
    pub keywords: Vec<String>,
    pub body: String,
    /// Automatic answers sent with this article.
    pub sent: i64,
    pub helped: i64,
    pub not_helped: i64,
    /// helped / (helped + not helped): requests the article settled without a person.
    pub deflection_rate: Option<f64>,
    pub updated_at: DateTime<Utc>,
}

impl From<FaqArticleRecord> for ArticleView {
    fn from(r: FaqArticleRecord) -> Self {
        let a = store::article_of(&r);
        let judged = r.helped + r.not_helped;
        ArticleView {
            id: a.id,
            language: a.language,
            category: a.category,
            title: a.title,
            questions: a.questions,
            keywords: a.keywords,
            body: a.body,
            sent: r.sent,
            helped: r.helped,
            not_helped: r.not_helped,
            deflection_rate: (judged > 0).then(|| r.helped as f64 / judged as f64),
            updated_at: r.updated_at,
        }
    }
}

/// An article as a manager writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    /// `de` or `en`.
    pub language: String,
    pub category: String,
    pub title: String,
    #[serde(default)]
    pub questions: Vec<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub body: String,
}

/// All articles with their statistics.
#[utoipa::path(get, path = "/api/v1/faq", tag = "faq", responses((status = 200, body = Vec<ArticleView>)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Vec<ArticleView>>, ApiError> {
    Ok(Json(
        state
            .store
            .articles()
            .await?
            .into_iter()
            .map(ArticleView::from)
            .collect(),
    ))
}

/// One article.
#[utoipa::path(get, path = "/api/v1/faq/{id}", tag = "faq",
    params(("id" = String, Path)),
    responses((status = 200, body = ArticleView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ArticleView>, ApiError> {
    match state.store.article(&id).await {
        Ok(a) => Ok(Json(a.into())),
        Err(store::StoreError::NotFound(_)) => {
            Err(ApiError::not_found(format!("no FAQ article {id}")))
        }
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
    body: Result<Json<ArticleInput>, JsonRejection>,
) -> Result<Json<ArticleView>, ApiError> {
    let input = json_body(body)?;
    let article = Article {
        id: id.clone(),
        language: input.language,
        category: input.category,
        title: input.title,
        questions: input.questions,
        keywords: input.keywords,
        body: input.body,
    };
    if let Some((field, message)) = article.problem() {
        return Err(ApiError::invalid_field(field, message));
    }
    if !state
        .rules()
        .categories
        .contains_key(article.category.as_str())
    {
        return Err(ApiError::invalid_field(
            "category",
            format!("unknown category \"{}\"", article.category),
        ));
    }
    state.store.upsert_articles(&[article], Utc::now()).await?;
    state.refresh_faq().await?;
    Ok(Json(state.store.article(&id).await?.into()))
}

/// Removes an article.
#[utoipa::path(delete, path = "/api/v1/faq/{id}", tag = "faq",
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_article(&id).await? {
        return Err(ApiError::not_found(format!("no FAQ article {id}")));
    }
    state.refresh_faq().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The customer's verdict on an automatic answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackInput {
    pub helped: bool,
}

/// The article an automatically answered ticket was answered with.
fn answered_with(record: &TicketRecord) -> Option<String> {
    if record.status != "answered-automatically" {
        return None;
    }
    record.faq.as_ref()?["article"].as_str().map(str::to_owned)
}

/// The changes of "did not help": the automatic answer no longer counts as the first
/// response (its clock runs from the original arrival) and the ticket goes to its queue.
pub(super) async fn not_helped(
    state: &AppState,
    record: &TicketRecord,
    actor: &str,
) -> Result<Vec<ClockChange>, ApiError> {
    let Some(article) = answered_with(record) else {
        return Ok(Vec::new());
    };
    state
        .store
        .count_faq_outcome(&article, FaqOutcome::NotHelped)
        .await?;
    metrics::counter!("triage_faq_feedback_total", "article" => article.clone(), "helped" => "false")
        .increment(1);
    Ok(vec![
        ClockChange {
            event: ClockEvent::AnswerRejected,
            kind: "faq.not_helped",
            actor: actor.to_owned(),
            data: serde_json::json!({ "article": article }),
            status: None,
            message: None,
        },
        status_change(state, "open", actor)?,
    ])
}

/// Feedback on an automatic answer: helped → resolved; not helped → back to the ticket's
/// queue at once, its first-response clock counted from the original arrival.
#[utoipa::path(post, path = "/api/v1/tickets/{key}/feedback", tag = "faq",
    params(("key" = String, Path, description = "UUID or number")),
    request_body = FeedbackInput,
    responses(
        (status = 200, body = TicketView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not answered automatically", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn feedback(
    State(state): State<Arc<AppState>>,
    Path(key): Path<String>,
    if_match: IfMatch,
    body: Result<Json<FeedbackInput>, JsonRejection>,
) -> Result<TicketResponse, ApiError> {
    let input = json_body(body)?;
    let record = state.store.get(&key).await?;
    if_match.check(&record)?;
    let Some(article) = answered_with(&record) else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "ticket {} was not answered automatically (status {}); feedback is for automatic answers",
                store::ticket_number(record.seq),
                record.status
            ),
        ));
    };
    let actor = record
        .from_email
        .clone()
        .unwrap_or_else(|| "customer".into());
    let changes = if input.helped {
        state
            .store
            .count_faq_outcome(&article, FaqOutcome::Helped)
            .await?;
        metrics::counter!("triage_faq_feedback_total", "article" => article.clone(), "helped" => "true")
            .increment(1);
        let mut resolved = status_change(&state, "resolved", &actor)?;
        resolved.kind = "faq.helped";
        vec![resolved]
    } else {
        not_helped(&state, &record, &actor).await?
    };
    Ok(TicketResponse(
        apply_clock_changes(&state, &record, changes).await?,
    ))
}
