//! `POST /v2/tasks`, `GET /v2/tasks`, `GET /v2/tasks/{id}` and the task controls: a run
//! submitted, listed, read, cancelled and retried through the same use cases as `/api/v1`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use lever_identity::Principal;
use lever_service::portal_templates::Portal;
use lever_service::runs::{self, Control, Submission};
use lever_store::{RunOrder, RunPageFilter, RunRecord, RunStatus};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::Failure;
use crate::task::{self, STATUSES, not_a_task};
use crate::{Backstage, secrets};

/// `POST /v2/tasks`'s body, as Backstage's `ScaffolderScaffoldOptions`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScaffoldOptions {
    template_ref: String,
    values: Map<String, Value>,
    #[serde(default)]
    secrets: Option<Map<String, Value>>,
}

/// The template a ref names in Lever's catalog: `template:default/NAME` (kind and namespace
/// may be left out, as Backstage's `parseEntityRef` allows).
pub(crate) fn template_name(reference: &str) -> Result<String, Failure> {
    let (kind, rest) = match reference.split_once(':') {
        Some((kind, rest)) => (kind, rest),
        None => ("template", reference),
    };
    let (namespace, name) = rest.split_once('/').unwrap_or(("default", rest));
    if !kind.eq_ignore_ascii_case("template") {
        return Err(Failure::input(format!(
            "`{reference}` is not a template ref: use template:default/NAME"
        )));
    }
    if namespace != "default" || name.is_empty() {
        return Err(Failure::not_found(format!(
            "no template {reference}: Lever's templates are in the `default` namespace"
        )));
    }
    Ok(name.to_string())
}

/// Lever's field errors as the `errors` of Backstage's 400, in the shape of the jsonschema
/// errors Backstage answers with.
pub(crate) fn validation_errors(details: Option<&Value>) -> Value {
    let errors: Vec<Value> = details
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let field = e["field"].as_str().unwrap_or("");
            let message = e["message"].as_str().unwrap_or("is not valid");
            let path: Vec<&str> = field.split('.').filter(|p| !p.is_empty()).collect();
            let property = if field.is_empty() {
                "instance".to_string()
            } else {
                format!("instance.{field}")
            };
            json!({
                "path": path,
                "property": property,
                "message": message,
                "schema": {},
                "instance": {},
                "name": "lever",
                "argument": field,
                "stack": format!("{property} {message}"),
            })
        })
        .collect();
    json!({ "errors": errors })
}

pub(crate) async fn create(
    State(state): State<Backstage>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Result<Json<ScaffoldOptions>, JsonRejection>,
) -> Result<Response, Failure> {
    let Json(body) = body.map_err(|e| Failure::input(format!("Malformed request: {e}")))?;
    let mut name = template_name(&body.template_ref)?;
    // A portal's template is recorded as a version of Lever's before anything is checked, so
    // the run pins what the portal served: read as the caller, with their own Backstage token.
    if let Some(portal) = Portal::of(&state.services) {
        let entity = portal
            .entity(&principal, crate::bearer(&headers), "default", &name)
            .await?;
        name = portal.adopt(&principal, &entity).await?;
    }
    let parameters = Value::Object(body.values);
    let environment = parameters["environment"]
        .as_str()
        .unwrap_or("dev")
        .to_string();
    let document = template_document(&state, &name).await?;
    let submission = Submission {
        environment,
        idempotency_key: None,
        secrets: match secrets::given(body.secrets, Some(&document)) {
            Ok(given) => given,
            Err(refused) => return Ok(*refused),
        },
    };
    let submitted =
        match runs::submit_template(&state.services, &principal, &name, parameters, submission)
            .await
        {
            Ok(submitted) => submitted,
            Err(e) if e.code == "invalid-parameters" => {
                return Ok((
                    StatusCode::BAD_REQUEST,
                    Json(validation_errors(e.details.as_ref())),
                )
                    .into_response());
            }
            Err(e) => return Err(e.into()),
        };
    Ok((StatusCode::CREATED, Json(json!({"id": submitted.run.id}))).into_response())
}

/// The latest version of template `name` as its YAML document: unknown, 404.
async fn template_document(
    state: &Backstage,
    name: &str,
) -> Result<std::sync::Arc<Value>, Failure> {
    let entry = state.services.catalog.get(name).await?;
    state
        .documents
        .get(&state.services, name, entry.record.version)
        .await
}

/// The run `id` as a task for `principal`: not found when they may not see it or it is not a
/// template run.
pub(crate) async fn visible_task(
    state: &Backstage,
    principal: &Principal,
    id: &str,
) -> Result<RunRecord, Failure> {
    let run = lever_service::visibility::visible_run(&state.services, principal, id)
        .await
        .map_err(|e| match e.kind {
            // Backstage's words for a task it does not have (or one the caller may not see).
            lever_service::Kind::NotFound => not_a_task(id),
            _ => Failure::from(e),
        })?;
    if run.template.is_none() {
        return Err(not_a_task(id));
    }
    Ok(run)
}

pub(crate) async fn show(
    State(state): State<Backstage>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Failure> {
    let run = visible_task(&state, &principal, &id).await?;
    Ok(Json(
        task::serialize(&state.services, &state.documents, &run).await?,
    ))
}

/// `GET /v2/tasks`'s query: `createdBy` and `status` repeatable, `order` as
/// `asc|desc:FIELD`, `limit`, `offset`.
fn list_filter(state: &Backstage, query: &str) -> Result<RunPageFilter, Failure> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| Failure::input(format!("the query is not valid: {e}")))?;
    let mut filter = RunPageFilter {
        limit: 1000,
        ..RunPageFilter::default()
    };
    let mut requesters: Option<Vec<String>> = None;
    for (key, value) in pairs {
        match key.as_str() {
            "createdBy" => {
                // A ref that maps to no Lever user created nothing here.
                let user = state.services.identity.lever_user(&value).unwrap_or(value);
                requesters.get_or_insert_with(Vec::new).push(user);
            }
            "status" => {
                let (_, statuses) = STATUSES
                    .iter()
                    .find(|(name, _)| *name == value)
                    .ok_or_else(|| {
                        Failure::input(format!(
                            "Invalid status \"{value}\": one of open, processing, completed, failed, cancelled"
                        ))
                    })?;
                filter.statuses.extend(statuses.iter().copied());
            }
            "order" => {
                let (direction, field) = value
                    .split_once(':')
                    .filter(|(d, _)| *d == "asc" || *d == "desc")
                    .ok_or_else(|| {
                        Failure::input(format!(
                            "Invalid order parameter \"{value}\", expected \"<asc or desc>:<field name>\""
                        ))
                    })?;
                let column = match field {
                    "created_at" => RunOrder::CreatedAt,
                    "status" => RunOrder::Status,
                    "created_by" => RunOrder::Requester,
                    other => {
                        return Err(Failure::input(format!("Invalid order field \"{other}\"")));
                    }
                };
                filter.order.push((column, direction == "desc"));
            }
            "limit" | "offset" => {
                let number: i64 = value.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    Failure::input(format!("{key} must be a whole number, not \"{value}\""))
                })?;
                if key == "limit" {
                    filter.limit = number.min(1000);
                } else {
                    filter.offset = number;
                }
            }
            _ => {}
        }
    }
    filter.requesters = requesters;
    Ok(filter)
}

pub(crate) async fn list(
    State(state): State<Backstage>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Failure> {
    let filter = list_filter(&state, query.as_deref().unwrap_or(""))?;
    let (runs, total) = runs::page(&state.services, &principal, filter).await?;
    let mut tasks = Vec::with_capacity(runs.len());
    for run in &runs {
        tasks.push(task::serialize(&state.services, &state.documents, run).await?);
    }
    Ok(Json(json!({"tasks": tasks, "totalTasks": total})))
}

pub(crate) async fn cancel(
    State(state): State<Backstage>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Failure> {
    let run = visible_task(&state, &principal, &id).await?;
    // Cancelling what has finished changes nothing, as in Backstage.
    if !run.status.is_final() {
        runs::control(&state.services, &principal, &id, Control::Cancel).await?;
    }
    Ok(Json(json!({"status": "cancelled"})))
}

/// `POST /v2/tasks/{id}/retry`'s body.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RetryBody {
    #[serde(default)]
    secrets: Option<Map<String, Value>>,
}

pub(crate) async fn retry(
    State(state): State<Backstage>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    body: Option<Json<RetryBody>>,
) -> Result<Response, Failure> {
    let run = visible_task(&state, &principal, &id).await?;
    if !matches!(
        run.status,
        RunStatus::Failed | RunStatus::RolledBack | RunStatus::RollbackFailed
    ) {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            format!(
                "Task with taskId {id} cannot be retried: it is {}; only a failed task retries",
                task::status(run.status)
            ),
        ));
    }
    let given = body.and_then(|Json(b)| b.secrets);
    if given.as_ref().is_some_and(|g| !g.is_empty()) {
        let (Some(name), Some(version)) = (&run.template, run.template_version) else {
            return Err(not_a_task(&id));
        };
        let document = state.documents.get(&state.services, name, version).await?;
        let secrets = match secrets::given(given, Some(&document)) {
            Ok(given) => given,
            Err(refused) => return Ok(*refused),
        };
        runs::give_secrets(&state.services, &principal, &id, &secrets).await?;
    }
    runs::control(&state.services, &principal, &id, Control::Retry).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id}))).into_response())
}
