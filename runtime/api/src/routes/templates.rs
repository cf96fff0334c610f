//! The template catalog: apply, search, show, validate, preview.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use lever_catalog::Search;
use serde::Deserialize;
use serde_json::Value;

use axum::Extension;
use lever_identity::Principal;
use lever_service::templates;

use crate::openapi::schemas::{ErrorBody, TemplateBundle};
use crate::{ApiError, AppState};
use lever_catalog::Preview;
use lever_service::templates::{TemplateApplied, TemplateList, TemplateView, Validation};
use utoipa::{IntoParams, ToSchema};

/// Query of an apply.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ApplyQuery {
    /// For a bundle holding several templates: the path of the one to apply.
    template: Option<String>,
}

/// Applies a template — YAML or JSON, or a tar, tar.gz or zip bundle of the template with its
/// files (skeletons): 201 for a new version, 200 when unchanged.
#[utoipa::path(
    post, path = "/api/v1/templates", tag = "templates",
    params(ApplyQuery),
    request_body(
        description = "The template: a Backstage `Template` or a Lever template, as YAML or JSON; or a bundle of it with the files its fetch steps read (told apart by their first bytes, whatever the content type)",
        content(
            (String = "application/yaml"),
            (TemplateBundle = "application/x-tar"),
            (TemplateBundle = "application/gzip"),
            (TemplateBundle = "application/zip"),
        )
    ),
    responses(
        (status = 201, description = "A new version", body = TemplateApplied),
        (status = 200, description = "The latest version already has this source and these files", body = TemplateApplied),
        (status = 403, description = "Publishing templates needs the platform role", body = ErrorBody),
    )
)]
pub(crate) async fn apply(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<ApplyQuery>, QueryRejection>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<TemplateApplied>), ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid-query", e.body_text()))?;
    let (applied, created) =
        templates::apply(&state, &principal, &body, query.template.as_deref()).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(applied)))
}

/// Query of the search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// Words in the name, title or description.
    q: Option<String>,
    /// A tag.
    tag: Option<String>,
    /// An owner (`group:payments`).
    owner: Option<String>,
}

/// Searches the latest versions by words, tag and owner.
#[utoipa::path(
    get, path = "/api/v1/templates", tag = "templates",
    params(SearchQuery),
    responses((status = 200, description = "The latest version of each template found", body = TemplateList))
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<TemplateList>, ApiError> {
    let Query(query) = query?;
    let search = Search {
        q: query.q,
        tag: query.tag,
        owner: query.owner,
    };
    Ok(Json(templates::search(&state, &search).await?))
}

/// Metadata and form pages of the latest version.
#[utoipa::path(
    get, path = "/api/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path, description = "The template")),
    responses(
        (status = 200, description = "The latest version's metadata, form pages and steps", body = TemplateView),
        (status = 404, description = "No such template", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<TemplateView>, ApiError> {
    Ok(Json(templates::show(&state, &name).await?))
}

/// Body of validate and preview.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ParametersBody {
    /// The form's answers.
    #[serde(default)]
    parameters: Value,
}

/// 200 with the parameters (defaults filled) when valid; 422 with the errors per field when not.
#[utoipa::path(
    post, path = "/api/v1/templates/{name}/validate", tag = "templates",
    params(("name" = String, Path, description = "The template")),
    request_body = ParametersBody,
    responses(
        (status = 200, description = "Valid: the parameters with the form's defaults filled in", body = Validation),
        (status = 422, description = "Invalid: the errors per field", body = Validation),
        (status = 404, description = "No such template", body = ErrorBody),
    )
)]
pub(crate) async fn validate(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<ParametersBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Validation>), ApiError> {
    let Json(body) = body?;
    let validation = templates::validate(&state, &name, &body.parameters).await?;
    let status = if validation.valid {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, Json(validation)))
}

/// What a run would do: steps with rendered inputs and plans, cost, approval route.
#[utoipa::path(
    post, path = "/api/v1/templates/{name}/preview", tag = "templates",
    params(("name" = String, Path, description = "The template")),
    request_body = ParametersBody,
    responses(
        (status = 200, description = "Each step with its rendered input and plan, the resources and their monthly cost, and the approval route with its reasons", body = Preview),
        (status = 403, description = "The caller may not run this template", body = ErrorBody),
        (status = 404, description = "No such template", body = ErrorBody),
    )
)]
pub(crate) async fn preview(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<ParametersBody>, JsonRejection>,
) -> Result<Json<Preview>, ApiError> {
    let Json(body) = body?;
    let (preview, _) = templates::route(&state, &principal, &name, &body.parameters).await?;
    Ok(Json(preview))
}
