//! The platform team's pages: plugins, templates, bindings, policies (with an evaluate box)
//! and the audit trail with its check. Each needs the platform role.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use lever_service::ServiceError;
use minijinja::context;
use serde_json::{Value, json};

use super::{checked_form, field};
use crate::session::Viewer;
use crate::{WebError, WebState, render};

/// 403 unless the viewer has the platform role.
pub(crate) fn require_platform(viewer: &Viewer) -> Result<(), WebError> {
    if viewer.principal.is_platform() {
        Ok(())
    } else {
        Err(WebError::Forbidden(format!(
            "the platform pages need the platform role; {} does not have it",
            viewer.principal.id
        )))
    }
}

fn api(e: lever_store::StoreError) -> WebError {
    WebError::Service(e.into())
}

/// `GET /platform`: plugins.
pub(crate) async fn plugins(
    State(state): State<WebState>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    require_platform(&viewer)?;
    let plugins: Vec<Value> = state
        .app
        .registry
        .list()
        .await
        .map_err(ServiceError::from)?
        .iter()
        .map(|record| {
            serde_json::to_value(lever_service::plugins::view(record))
                .expect("a plugin view serialises")
        })
        .collect();
    render::page(
        &state,
        Some(&viewer),
        "platform.html",
        context! { section => "plugins", plugins },
    )
}

/// `GET /platform/templates`.
pub(crate) async fn templates(
    State(state): State<WebState>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    require_platform(&viewer)?;
    let mut templates = Vec::new();
    for record in state.app.store.latest_templates().await.map_err(api)? {
        let entry = state
            .app
            .catalog
            .get_version(&record.name, record.version)
            .await
            .map_err(|e| WebError::Service(e.into()))?;
        let warnings = json!(entry.parsed.warnings);
        let availability = state
            .app
            .catalog
            .availability(&entry)
            .await
            .map_err(|e| WebError::Service(e.into()))?;
        let mut versions = Vec::new();
        for older in state
            .app
            .store
            .template_versions(&record.name)
            .await
            .map_err(api)?
        {
            versions.push(json!({"version": older.version, "created_at": older.created_at, "source": older.source}));
        }
        templates.push(json!({
            "name": record.name, "title": record.title, "version": record.version,
            "warnings": warnings, "versions": versions, "availability": availability,
        }));
    }
    render::page(
        &state,
        Some(&viewer),
        "platform.html",
        context! { section => "templates", templates },
    )
}

/// `GET /platform/bindings`.
pub(crate) async fn bindings(
    State(state): State<WebState>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    require_platform(&viewer)?;
    render::page(
        &state,
        Some(&viewer),
        "platform.html",
        context! { section => "bindings", bindings => lever_service::bindings::view(&state.app) },
    )
}

/// The sample when the catalog has no template to build one from.
const EMPTY_SAMPLE: &str = r#"{"environment": "production", "cost": {"monthly_usd": 150.0}}"#;

async fn policies_page(
    state: &WebState,
    viewer: &Viewer,
    input: &str,
    evaluation: Option<Value>,
    evaluation_error: Option<String>,
) -> Result<Html<String>, WebError> {
    let policies = lever_service::policies::in_force(&state.app).await?;
    render::page(
        state,
        Some(viewer),
        "platform.html",
        context! {
            section => "policies",
            policies,
            policy_version => state.app.approvals.policy_version(),
            sample => input,
            evaluation,
            evaluation_error,
        },
    )
}

/// `GET /platform/policies`.
pub(crate) async fn policies(
    State(state): State<WebState>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    require_platform(&viewer)?;
    // The input a real request would be routed on, so its field names are the policy's.
    let sample = lever_service::policies::sample(&state.app, &viewer.principal)
        .await?
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| EMPTY_SAMPLE.to_string());
    policies_page(&state, &viewer, &sample, None, None).await
}

/// `POST /platform/policies` with `input`: routes a sample request through the policies in
/// force.
pub(crate) async fn evaluate(
    State(state): State<WebState>,
    viewer: Viewer,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Html<String>, WebError> {
    require_platform(&viewer)?;
    let pairs = checked_form(&viewer, &headers, &body)?;
    let text = field(&pairs, "input").unwrap_or("").to_string();
    let input: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            return policies_page(
                &state,
                &viewer,
                &text,
                None,
                Some(format!("the input is not JSON: {e}")),
            )
            .await;
        }
    };
    match lever_service::policies::evaluate(&state.app, &input) {
        Ok(evaluation) => {
            let evaluation = serde_json::to_value(evaluation).unwrap_or_default();
            policies_page(&state, &viewer, &text, Some(evaluation), None).await
        }
        Err(e) => policies_page(&state, &viewer, &text, None, Some(e.to_string())).await,
    }
}

/// `GET /platform/audit`: the newest 200 entries and the chain check.
pub(crate) async fn audit(
    State(state): State<WebState>,
    viewer: Viewer,
) -> Result<Html<String>, WebError> {
    require_platform(&viewer)?;
    let mut entries = lever_service::audit::entries(&state.app, &viewer.principal, None)
        .await?
        .entries;
    entries.reverse();
    entries.truncate(200);
    let verification = lever_service::audit::verify(&state.app, &viewer.principal).await?;
    render::page(
        &state,
        Some(&viewer),
        "platform.html",
        context! {
            section => "audit",
            audit => minijinja::Value::from_serialize(&entries),
            verification => minijinja::Value::from_serialize(&verification),
        },
    )
}
