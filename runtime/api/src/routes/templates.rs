//! The template catalog: apply, search, show, validate, preview.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use lever_catalog::Search;
use serde::Deserialize;
use serde_json::{Value, json};

use axum::Extension;
use lever_identity::Principal;
use lever_service::templates;

use crate::auth::require_platform;
use crate::openapi::schemas::{
    ErrorBody, PreviewView, TemplateApplied, TemplateBundle, TemplateList, TemplateView, Validation,
};
use crate::{ApiError, AppState};
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
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_platform(&principal, "publishing templates")?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid-query", e.body_text()))?;
    let (entry, created) = if lever_templates::bundle::is_archive(&body) {
        let bundle = lever_templates::bundle::Bundle::read(&body, query.template.as_deref())
            .map_err(|e| ApiError::bad_request("invalid-bundle", e.to_string()))?;
        state.catalog.apply_bundle(&bundle).await?
    } else {
        let text = std::str::from_utf8(&body).map_err(|_| {
            ApiError::bad_request(
                "invalid-template",
                "the body is neither UTF-8 text (a YAML or JSON template) nor a tar, tar.gz or zip bundle",
            )
        })?;
        if text.trim().is_empty() {
            return Err(ApiError::bad_request(
                "empty-body",
                "send the template YAML or JSON as the request body, or a tar or zip bundle of it with its files",
            ));
        }
        state.catalog.apply(text).await?
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({
            "name": entry.record.name,
            "version": entry.record.version,
            "warnings": entry.parsed.warnings,
            "files": entry.record.bundle_paths.len(),
        })),
    ))
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
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query?;
    let found = state
        .catalog
        .search(&Search {
            q: query.q,
            tag: query.tag,
            owner: query.owner,
        })
        .await?;
    let templates: Vec<Value> = found
        .iter()
        .map(|t| json!({"name": t.name, "version": t.version, "title": t.title, "description": t.description, "owner": t.owner, "tags": t.tags}))
        .collect();
    Ok(Json(json!({ "templates": templates })))
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
) -> Result<Json<Value>, ApiError> {
    let entry = state.catalog.get(&name).await?;
    let t = &entry.parsed.template;
    let steps: Vec<Value> = t
        .steps
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name, "action": s.action}))
        .collect();
    Ok(Json(json!({
        "name": t.name,
        "version": entry.record.version,
        "title": t.title,
        "description": t.description,
        "owner": t.owner,
        "type": t.template_type,
        "tags": t.tags,
        "pages": t.pages,
        "steps": steps,
        "warnings": entry.parsed.warnings,
    })))
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
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body?;
    let (parameters, errors) = state.catalog.validate(&name, &body.parameters).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        Json(json!({"valid": errors.is_empty(), "parameters": parameters, "errors": errors})),
    ))
}

/// What a run would do: steps with rendered inputs and plans, cost, approval route.
#[utoipa::path(
    post, path = "/api/v1/templates/{name}/preview", tag = "templates",
    params(("name" = String, Path, description = "The template")),
    request_body = ParametersBody,
    responses(
        (status = 200, description = "Each step with its rendered input and plan, the resources and their monthly cost, and the approval route with its reasons", body = PreviewView),
        (status = 403, description = "The caller may not run this template", body = ErrorBody),
        (status = 404, description = "No such template", body = ErrorBody),
    )
)]
pub(crate) async fn preview(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    body: Result<Json<ParametersBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let (preview, _) = templates::route(&state, &principal, &name, &body.parameters).await?;
    Ok(Json(
        serde_json::to_value(preview).expect("preview serialises"),
    ))
}
