//! `GET /platform/insights`: whether the platform delivers, in the product brief's terms — the
//! findings first (sentences with their numbers), then adoption, efficiency, quality and
//! satisfaction, with runs per week as a server-rendered SVG bar chart (readable without
//! hovering: every bar carries its number).

use axum::extract::{Query, State};
use axum::response::Html;
use lever_service::insights::{self, InsightsQuery};
use minijinja::context;
use serde::Deserialize;

use crate::pages::platform::require_platform;
use crate::session::Viewer;
use crate::{WebError, WebState, render};

/// The page's filters.
#[derive(Debug, Deserialize)]
pub(crate) struct InsightsFilter {
    /// The window: this many days up to now (default 28).
    days: Option<i64>,
    template: Option<String>,
    team: Option<String>,
}

/// One bar of the runs-per-week chart, laid out for the SVG.
#[derive(Debug, serde::Serialize)]
struct Bar {
    x: i64,
    y: i64,
    height: i64,
    runs: usize,
    label: String,
}

const CHART_HEIGHT: i64 = 120;
const BAR_WIDTH: i64 = 36;
const GAP: i64 = 12;

/// `GET /platform/insights`.
pub(crate) async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Query(filter): Query<InsightsFilter>,
) -> Result<Html<String>, WebError> {
    require_platform(&viewer)?;
    let days = filter.days.unwrap_or(28).clamp(1, 3650);
    // Exclusive: just after now, so what happened this millisecond is counted.
    let to = state.app.approvals.now() + 1;
    let blank = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let query = InsightsQuery {
        from: Some(to - days * 86_400_000),
        to: Some(to),
        template: blank(filter.template),
        team: blank(filter.team),
    };
    let insights = insights::compute(&state.app, &query)
        .await
        .map_err(WebError::Service)?;
    let most = insights
        .adoption
        .per_week
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(1);
    let bars: Vec<Bar> = insights
        .adoption
        .per_week
        .iter()
        .enumerate()
        .map(|(i, (week, runs))| {
            let height = (*runs as i64 * CHART_HEIGHT) / most as i64;
            Bar {
                x: i as i64 * (BAR_WIDTH + GAP),
                y: CHART_HEIGHT - height + 16,
                height,
                runs: *runs,
                label: lever_identity::format_rfc3339(*week)[5..10].to_string(),
            }
        })
        .collect();
    let chart_width = (bars.len() as i64 * (BAR_WIDTH + GAP)).max(BAR_WIDTH + GAP);
    // The filters pick from what exists: the catalog's templates and the configured teams.
    let templates: Vec<(String, String)> = state
        .app
        .catalog
        .search(&lever_catalog::Search::default())
        .await
        .map_err(|e| WebError::Service(e.into()))?
        .into_iter()
        .map(|t| (t.name.clone(), t.title.unwrap_or(t.name)))
        .collect();
    let config = state.app.identity.config();
    let mut teams: Vec<String> = config.users.iter().filter_map(|u| u.team.clone()).collect();
    teams.sort();
    teams.dedup();
    render::page(
        &state,
        Some(&viewer),
        "insights.html",
        context! {
            section => "insights",
            days,
            template => query.template,
            team => query.team,
            templates,
            teams,
            insights => minijinja::Value::from_serialize(&insights),
            bars => minijinja::Value::from_serialize(&bars),
            chart_width,
            chart_height => CHART_HEIGHT + 40,
            bar_width => BAR_WIDTH,
        },
    )
}
