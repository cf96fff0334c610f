//! `GET /api/v1/insights`: the platform's adoption, efficiency, quality and satisfaction over a
//! window, and what they mean (`lever-insights`); `POST /api/v1/nps`: a user's answer to
//! "would you recommend Lever?" (0-10).

use std::collections::HashMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use lever_identity::Principal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::require_platform;
use crate::openapi::schemas::{ErrorBody, InsightsView};
use crate::{ApiError, AppState};
use utoipa::{IntoParams, ToSchema};

/// The default window: the last 28 days.
const DEFAULT_WINDOW_MS: i64 = 28 * 86_400_000;

/// The latest instant a window may name: the end of year 9999, in ms since the epoch.
const LATEST_MS: i64 = 253_402_300_799_999;

/// Query of `GET /api/v1/insights`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InsightsQuery {
    /// Window start, ms since the epoch (default: 28 days before `to`).
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub from: Option<i64>,
    /// Window end, ms, exclusive (default: just after now).
    #[param(minimum = 0, maximum = 253_402_300_799_999_i64)]
    pub to: Option<i64>,
    /// Only this template's runs.
    pub template: Option<String>,
    /// Only runs requested by this team's members.
    pub team: Option<String>,
}

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
    Ok(Json(json!(insights(&state, &query).await?)))
}

/// Computes the insights of `query` (the web UI's insights page calls this too).
pub async fn insights(
    state: &AppState,
    query: &InsightsQuery,
) -> Result<lever_insights::Insights, ApiError> {
    // The window's end is exclusive: by default it lies just after now, so what happened in
    // this very millisecond (an answer just given) is in it.
    for (name, value) in [("from", query.from), ("to", query.to)] {
        if let Some(ms) = value
            && !(0..=LATEST_MS).contains(&ms)
        {
            return Err(ApiError::bad_request(
                "invalid-window",
                format!(
                    "`{name}` is {ms}; give milliseconds since the epoch from 0 to {LATEST_MS} (9999-12-31)"
                ),
            ));
        }
    }
    let to = query.to.unwrap_or_else(|| state.approvals.now() + 1);
    let from = query
        .from
        .unwrap_or(to.saturating_sub(DEFAULT_WINDOW_MS).max(0));
    if from >= to {
        return Err(ApiError::bad_request(
            "invalid-window",
            format!(
                "`from` ({from}) must be before `to` ({to}); both are milliseconds since the epoch"
            ),
        ));
    }
    let config = state.identity.config();
    let users: HashMap<String, Option<String>> = config
        .users
        .iter()
        .map(|u| (u.id.clone(), u.team.clone()))
        .collect();
    let team: Option<Vec<String>> = query.team.as_ref().map(|team| {
        users
            .iter()
            .filter(|(_, t)| t.as_deref() == Some(team.as_str()))
            .map(|(id, _)| id.clone())
            .collect()
    });
    let mut published = Vec::new();
    for record in state.catalog.search(&Default::default()).await? {
        let entry = state.catalog.get(&record.name).await?;
        let annotation = entry
            .parsed
            .template
            .annotations
            .get(lever_insights::BASELINE_ANNOTATION)
            .cloned();
        published.push(lever_insights::PublishedTemplate {
            title: record.title.clone().unwrap_or_else(|| record.name.clone()),
            name: record.name.clone(),
            // An unreadable baseline counts as none; `template validate` names it.
            baseline: annotation.and_then(|text| {
                lever_insights::parse_baseline(&text)
                    .ok()
                    .map(|ms| (ms, text))
            }),
        });
    }
    let inputs = lever_insights::Inputs {
        from,
        to,
        template: query.template.as_deref(),
        requesters: team.as_deref(),
        users: &users,
        published: &published,
    };
    Ok(lever_insights::compute(&state.store, &inputs).await?)
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
