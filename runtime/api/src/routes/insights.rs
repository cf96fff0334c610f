//! `GET /api/v1/insights`: the platform's adoption, efficiency, quality and satisfaction over a
//! window, and what they mean (`lever-insights`); `POST /api/v1/nps`: a user's answer to
//! "would you recommend Lever?" (0-10).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use lever_identity::Principal;
use lever_service::insights::{Insights, InsightsQuery};
use serde::Deserialize;

use crate::auth::require_platform;
use crate::openapi::schemas::ErrorBody;
use crate::{ApiError, AppState};
use utoipa::ToSchema;

/// The insights the platform team reads: platform role.
#[utoipa::path(
    get, path = "/api/v1/insights", tag = "platform",
    params(InsightsQuery),
    responses(
        (status = 200, description = "Adoption, efficiency, quality and satisfaction over the window, and what they mean", body = Insights),
        (status = 403, description = "Insights need the platform role", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<InsightsQuery>, QueryRejection>,
) -> Result<Json<Insights>, ApiError> {
    require_platform(&principal, "reading the platform insights")?;
    let Query(query) = query?;
    Ok(Json(
        lever_service::insights::compute(&state, &query).await?,
    ))
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
    lever_service::insights::answer_nps(&state, &principal, answer.score, &answer.comment).await?;
    Ok(StatusCode::NO_CONTENT)
}
