//! `GET /api/v1/resources`: the resource inventory (`docs/resources.md`) — what Lever created,
//! for which team, by which run, what it costs and where its credentials are — and
//! `GET /api/v1/resources/{id}`. Every signed-in user may list it (it holds references, never
//! values); each entry says whether the caller may read its credentials.

use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use lever_identity::Principal;
use lever_service::resources::{self, ResourceList, ResourceView};
use lever_store::ResourceFilter;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::openapi::schemas::ErrorBody;
use crate::{ApiError, AppState};
use lever_service::resources::Reconciled;

/// Query of `GET /api/v1/resources`: each narrows the list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceQuery {
    /// The owning team.
    team: Option<String>,
    /// The kind (`postgresql-database`).
    kind: Option<String>,
    /// The environment.
    environment: Option<String>,
    /// The template of the run that created it.
    template: Option<String>,
    /// `creating`, `live`, `destroyed`, `orphaned` or `drifted`.
    state: Option<String>,
    /// At most this many, newest first (default 200, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

/// Lists the resource inventory.
#[utoipa::path(
    get, path = "/api/v1/resources", tag = "resources",
    params(ResourceQuery),
    responses(
        (status = 200, description = "Each resource with its owner, kind, environment, cost, state, the run that made it and its credentials references", body = ResourceList),
        (status = 400, description = "A filter is not valid (an unknown state, an unknown query key)", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ResourceQuery>, QueryRejection>,
) -> Result<Json<ResourceList>, ApiError> {
    let Query(query) = query?;
    let filter = ResourceFilter {
        owner: query.team,
        kind: query.kind,
        environment: query.environment,
        template: query.template,
        state: query.state,
    };
    let resources = resources::list(&state, &principal, filter, query.limit.unwrap_or(200)).await?;
    Ok(Json(ResourceList { resources }))
}

/// One resource of the inventory.
#[utoipa::path(
    get, path = "/api/v1/resources/{id}", tag = "resources",
    params(("id" = String, Path, description = "The resource")),
    responses(
        (status = 200, description = "The resource", body = ResourceView),
        (status = 404, description = "No such resource", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ResourceView>, ApiError> {
    let resource = resources::get(&state, &id).await?;
    Ok(Json(resources::view(&principal, &resource)))
}

/// Asks each live resource's provider whether it still has it, now (the server also does so
/// every hour): the gone are marked `drifted`. Platform role.
#[utoipa::path(
    post, path = "/api/v1/resources/reconcile", tag = "resources",
    responses(
        (status = 200, description = "How many were checked, and the ids of those now drifted and of those whose provider did not answer", body = Reconciled),
        (status = 403, description = "Reconciling needs the platform role", body = ErrorBody),
    )
)]
pub(crate) async fn reconcile(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Reconciled>, ApiError> {
    Ok(Json(resources::reconcile(&state, &principal).await?))
}
