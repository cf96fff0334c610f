//! `GET /inbox`: the signed-in user's Lever inbox, newest first — approval requests with
//! their own approve and reject links, and what templates' `notifier.send` steps delivered
//! through `builtin:inbox`. Showing it marks what it shows read.

use axum::extract::State;
use axum::response::Html;
use minijinja::context;

use crate::session::Viewer;
use crate::{WebError, WebState, render};

/// `GET /inbox`.
pub(crate) async fn show(
    State(state): State<WebState>,
    mut viewer: Viewer,
) -> Result<Html<String>, WebError> {
    let inbox = lever_service::inbox::inbox(&state.app, &viewer.principal).await?;
    if let Some(newest) = inbox.entries.first() {
        lever_service::inbox::mark_read(&state.app, &viewer.principal, Some(newest.id)).await?;
        // The bell on this page already counts them as read.
        viewer.unread = 0;
    }
    render::page(
        &state,
        Some(&viewer),
        "inbox.html",
        context! { entries => inbox.entries },
    )
}
