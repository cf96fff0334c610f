//! `GET /metrics`: Lever's metrics in the Prometheus text format (`lever-metrics`), with the
//! unfinished runs per status read from the database at each scrape. Open when the server
//! listens on loopback; otherwise the scraper sends a bearer token of a platform user.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

/// Renders the metrics; `open` says whether the listener is loopback.
pub(crate) async fn metrics(
    State((state, open)): State<(AppState, bool)>,
    request: Request,
) -> Result<Response, ApiError> {
    if !open {
        let header = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let principal = state.identity.authenticate(header).await?;
        crate::auth::require_platform(&principal, "reading /metrics")?;
    }
    for (status, count) in state.store.unfinished_by_status().await? {
        lever_metrics::runs_in_status(&status, count.max(0) as u64);
    }
    let Some(text) = lever_metrics::render() else {
        return Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not recorded in this process\n",
        )
            .into_response());
    };
    let mut response = text.into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// Middleware: counts and times every request by the route pattern it matched (never the
/// raw path, whose ids would make a series per run).
pub(crate) async fn record(request: Request, next: axum::middleware::Next) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().as_str().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    lever_metrics::http_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
