//! `GET /api/v1/insights`: the platform's adoption, efficiency, quality and satisfaction over a
//! window, and what they mean (`lever-insights`); `POST /api/v1/nps`: a user's answer to
//! "would you recommend Lever?" (0-10).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use lever_identity::Principal;
use lever_service::insights::InsightsQuery;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::require_platform;
use crate::openapi::schemas::{ErrorBody, InsightsView};
use crate::{ApiError, AppState};
use utoipa::ToSchema;

/// The insights the platform team reads: platform role.
#[utoipa::path(
    get, path = "/api/v1/insights", tag = "platform",
    params(InsightsQuery),
    responses(
        (status = 200, description = "Adoption, efficiency, quality and satisfaction over the window, and what they mean", body = InsightsView),
        (status = 403, description = "Insights need the platform role", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<InsightsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    require_platform(&principal, "reading the platform insights")?;
    let Query(query) = query?;
    Ok(Json(json!(
        lever_service::insights::compute(&state, &query).await?
    )))
}

/// Body of `POST /api/v1/nps`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NpsAnswer {
    /// 0 (not at all likely) to 10 (extremely likely).
    #[schema(minimum = 0, maximum = 10)]
    score: i64,
    /// Why, optionally.
    #[serde(default)]
    comment: String,
}

/// Records the caller's answer to "how likely are you to recommend Lever?".
#[utoipa::path(
    post, path = "/api/v1/nps", tag = "platform",
    request_body = NpsAnswer,
    responses((status = 204, description = "Recorded"))
)]
pub(crate) async fn answer_nps(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    body: Result<Json<NpsAnswer>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(answer) = body?;
    if !(0..=10).contains(&answer.score) {
        return Err(ApiError::bad_request(
            "invalid-score",
            format!(
                "`score` is {}; answer 0 (not at all likely) to 10 (extremely likely)",
                answer.score
            ),
        ));
    }
    if answer.comment.len() > 2000 {
        return Err(ApiError::bad_request(
            "comment-too-long",
            "`comment` is limited to 2000 bytes",
        ));
    }
    state
        .store
        .record_nps(&principal.id, answer.score, answer.comment.trim())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
