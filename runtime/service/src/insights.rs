//! The platform's adoption, efficiency, quality and satisfaction over a window, and what they
//! mean (`lever-insights`).

use std::collections::HashMap;

use serde::Deserialize;
use utoipa::IntoParams;

use crate::{ServiceError, Services};

pub use lever_insights::Insights;

/// The default window: the last 28 days.
const DEFAULT_WINDOW_MS: i64 = 28 * 86_400_000;

/// The latest instant a window may name: the end of year 9999, in ms since the epoch.
const LATEST_MS: i64 = 253_402_300_799_999;

/// Which insights: a window and optional narrowing (the query of `GET /api/v1/insights`).
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

/// Computes the insights of `query`.
pub async fn compute(
    services: &Services,
    query: &InsightsQuery,
) -> Result<lever_insights::Insights, ServiceError> {
    // The window's end is exclusive: by default it lies just after now, so what happened in
    // this very millisecond (an answer just given) is in it.
    for (name, value) in [("from", query.from), ("to", query.to)] {
        if let Some(ms) = value
            && !(0..=LATEST_MS).contains(&ms)
        {
            return Err(ServiceError::invalid(
                "invalid-window",
                format!(
                    "`{name}` is {ms}; give milliseconds since the epoch from 0 to {LATEST_MS} (9999-12-31)"
                ),
            ));
        }
    }
    let to = query.to.unwrap_or_else(|| services.approvals.now() + 1);
    let from = query
        .from
        .unwrap_or(to.saturating_sub(DEFAULT_WINDOW_MS).max(0));
    if from >= to {
        return Err(ServiceError::invalid(
            "invalid-window",
            format!(
                "`from` ({from}) must be before `to` ({to}); both are milliseconds since the epoch"
            ),
        ));
    }
    let config = services.identity.config();
    // Adoption is counted among developers: users whose groups let them run templates, the
    // platform team and those who only approve left out.
    let users: HashMap<String, Option<String>> = config
        .users
        .iter()
        .filter(|u| {
            config
                .principal(&u.id)
                .is_some_and(|p| !p.runs.is_empty() && !p.is_platform())
        })
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
    for record in services.catalog.search(&Default::default()).await? {
        let entry = services.catalog.get(&record.name).await?;
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
    Ok(lever_insights::compute(&services.store, &inputs).await?)
}

/// Longest NPS comment kept (bytes).
pub const MAX_NPS_COMMENT: usize = 2000;

/// Records `principal`'s answer to "how likely are you to recommend Lever?" (0 to 10), with an
/// optional comment.
pub async fn answer_nps(
    services: &Services,
    principal: &lever_identity::Principal,
    score: i64,
    comment: &str,
) -> Result<(), ServiceError> {
    if !(0..=10).contains(&score) {
        return Err(ServiceError::invalid(
            "invalid-score",
            format!("`score` is {score}; answer 0 (not at all likely) to 10 (extremely likely)"),
        ));
    }
    if comment.len() > MAX_NPS_COMMENT {
        return Err(ServiceError::invalid(
            "comment-too-long",
            format!("`comment` is limited to {MAX_NPS_COMMENT} bytes"),
        ));
    }
    services
        .store
        .record_nps(&principal.id, score, comment.trim())
        .await?;
    Ok(())
}

/// How often a user is asked the NPS question: every 90 days.
const NPS_EVERY_MS: i64 = 90 * 86_400_000;

/// How many of their own runs must have finished before a user is asked: an opinion of
/// Lever needs some use of it.
pub const NPS_AFTER_RUNS: usize = 3;

/// Whether to ask `principal` "would you recommend Lever?" now: once they have finished
/// [`NPS_AFTER_RUNS`] runs, and at most once a quarter.
pub async fn should_ask_nps(
    services: &Services,
    principal: &lever_identity::Principal,
) -> Result<bool, ServiceError> {
    let last = services.store.last_nps_answer(&principal.id).await?;
    if last.is_some_and(|at| services.approvals.now() - at <= NPS_EVERY_MS) {
        return Ok(false);
    }
    let finished = services
        .store
        .runs_of(&principal.id, 50)
        .await?
        .iter()
        .filter(|r| r.status.is_final())
        .count();
    Ok(finished >= NPS_AFTER_RUNS)
}
