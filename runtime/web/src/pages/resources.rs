//! `GET /resources`: the resource inventory (`docs/resources.md`) — what Lever created, for
//! which team, by which run, at what cost, in what state — filtered by team, kind,
//! environment and state (the viewer's team by default), with a Reveal of the credentials for
//! those who may read them.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, Response};
use lever_service::{ServiceError, resources};
use lever_store::{ResourceFilter, resource_state};
use minijinja::context;
use serde::Deserialize;
use serde_json::Value;

use super::{checked_form, field};
use crate::session::Viewer;
use crate::{WebError, WebState, render};

/// The filters; an empty value is "any".
#[derive(Debug, Deserialize)]
pub(crate) struct ResourcesQuery {
    team: Option<String>,
    kind: Option<String>,
    environment: Option<String>,
    state: Option<String>,
}

fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// `GET /resources?team=&kind=&environment=&state=`.
pub(crate) async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Query(query): Query<ResourcesQuery>,
) -> Result<Html<String>, WebError> {
    // The viewer's team at first; `team=` (empty) shows every team's.
    let team = match query.team {
        None => viewer.principal.team.clone(),
        Some(t) => given(Some(t)),
    };
    let wanted_state = given(query.state);
    let filter = ResourceFilter {
        owner: team.clone(),
        kind: given(query.kind),
        environment: given(query.environment),
        template: None,
        state: wanted_state
            .clone()
            .filter(|s| resource_state::ALL.contains(&s.as_str())),
    };
    let kind = filter.kind.clone().unwrap_or_default();
    let environment = filter.environment.clone().unwrap_or_default();
    // The page reads each resource as the API answers it.
    let mut resources: Vec<Value> = resources::list(&state.app, &viewer.principal, filter, 500)
        .await?
        .into_iter()
        .map(|r| serde_json::to_value(r).expect("a resource view serialises"))
        .collect();
    // Each live resource's day-2 actions: the templates that act on its kind and that the
    // viewer may run, opened with the resource's name and environment filled in.
    let mut actions_by_kind: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for resource in &mut resources {
        let kind = resource["kind"].as_str().unwrap_or_default().to_string();
        if !actions_by_kind.contains_key(&kind) {
            let entries = state
                .app
                .catalog
                .acting_on(&kind)
                .await
                .map_err(ServiceError::from)?;
            let runnable = entries
                .iter()
                .filter(|e| {
                    let t = &e.parsed.template;
                    viewer
                        .principal
                        .can_run(t.owner.as_deref().unwrap_or(""), &t.tags)
                })
                .map(|e| {
                    serde_json::json!({"name": e.record.name, "title": e.record.title.clone().unwrap_or_else(|| e.record.name.clone())})
                })
                .collect();
            actions_by_kind.insert(kind.clone(), runnable);
        }
        let environment = resource["environment"].as_str().unwrap_or_default();
        let scope = resource["scope"].as_str().unwrap_or_default();
        let name = scope
            .strip_suffix(&format!("-{environment}"))
            .unwrap_or(scope)
            .to_string();
        let query =
            serde_urlencoded::to_string([("name", name.as_str()), ("environment", environment)])
                .unwrap_or_default();
        let live = resource["state"] == "live";
        let mine = resource["may_read_credentials"] == true;
        resource["actions"] = serde_json::json!(if live && mine {
            actions_by_kind[&kind]
                .iter()
                .map(|a| serde_json::json!({"title": a["title"], "href": format!("/templates/{}?{query}", a["name"].as_str().unwrap_or_default())}))
                .collect::<Vec<_>>()
        } else {
            Vec::new()
        });
    }
    let monthly_cents: i64 = resources
        .iter()
        .filter(|r| r["state"] == "live")
        .filter_map(|r| r["monthly_cost_cents"].as_i64())
        .sum();
    render::page(
        &state,
        Some(&viewer),
        "resources.html",
        context! {
            resources,
            monthly_cents,
            team => team.unwrap_or_default(),
            kind,
            environment,
            state => wanted_state.unwrap_or_default(),
            states => resource_state::ALL,
        },
    )
}

/// `POST /resources/{id}/reveal` with `name`: one of the resource's credentials, for those who
/// may read them (the same check and audit as the API's reveal).
pub(crate) async fn reveal(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let pairs = checked_form(&viewer, &headers, &body)?;
    let name = field(&pairs, "name").unwrap_or("").to_string();
    let resource = state
        .app
        .store
        .resource(&id)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| ServiceError::not_found(format!("no resource with id `{id}`")))?;
    if !resource
        .secrets
        .iter()
        .any(|s| s.strip_prefix("secret://") == Some(name.as_str()))
    {
        return Err(WebError::BadRequest(format!(
            "resource {id} has no secret `{name}`"
        )));
    }
    Ok(super::revealed(&state, &viewer, &name).await)
}
