//! Route table. Everything under `/api/v1` needs a principal but the OpenAPI document;
//! `/healthz`, `/readyz` and the one-click link page do not.

pub(crate) mod approvals;
mod audit;
pub(crate) mod bindings;
mod health;
mod identity;
mod inbox;
pub(crate) mod insights;
mod links;
pub(crate) mod metrics;
pub(crate) mod plugins;
mod policies;
mod replays;
pub(crate) mod resources;
pub(crate) mod runs;
pub(crate) mod secrets;
mod slack;
pub(crate) mod templates;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{AppState, MAX_BUNDLE_BYTES, MAX_PLUGIN_BYTES, openapi};

/// The `/api/v1` routes with their OpenAPI description: each `routes!` registers the
/// handlers at the path and methods their `#[utoipa::path]` names, so the router and the
/// document cannot disagree.
pub(crate) fn api() -> OpenApiRouter<AppState> {
    // Secret names may hold `/`: axum matches them with a wildcard, which OpenAPI writes as a
    // plain parameter.
    let (secret_schemas, secret_paths, secret_methods) =
        routes!(secrets::put, secrets::delete, secrets::get);
    let (plugin_schemas, plugin_paths, plugin_methods) = routes!(plugins::publish, plugins::list);
    let (template_schemas, template_paths, template_methods) =
        routes!(templates::apply, templates::search);
    let mut api = OpenApiRouter::with_openapi(openapi::base())
        .routes((
            plugin_schemas,
            plugin_paths,
            plugin_methods.layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES)),
        ))
        .routes(routes!(plugins::versions))
        .routes(routes!(runs::create, runs::list))
        .routes(routes!(runs::show))
        .routes(routes!(runs::events))
        .routes(routes!(runs::retry))
        .routes(routes!(runs::cancel))
        .routes(routes!(runs::abort))
        .routes(routes!(runs::resubmit))
        .routes(routes!(runs::rate, runs::ratings))
        .routes(routes!(runs::retry_step))
        .routes(routes!(runs::skip_step))
        .routes(routes!(replays::replay))
        .routes(routes!(bindings::list))
        .routes(routes!(resources::list))
        .routes(routes!(resources::reconcile))
        .routes(routes!(resources::show))
        .routes((
            template_schemas,
            template_paths,
            template_methods.layer(DefaultBodyLimit::max(MAX_BUNDLE_BYTES)),
        ))
        .routes(routes!(templates::show))
        .routes(routes!(templates::validate))
        .routes(routes!(templates::preview))
        .routes(routes!(approvals::list))
        .routes(routes!(approvals::show))
        .routes(routes!(approvals::approve))
        .routes(routes!(approvals::reject))
        .routes(routes!(approvals::notifications))
        .routes(routes!(inbox::show))
        .routes(routes!(inbox::mark_read))
        .routes(routes!(policies::list))
        .routes(routes!(policies::evaluate))
        .routes(routes!(policies::put, policies::show))
        .routes(routes!(audit::list))
        .routes(routes!(audit::verify))
        .routes(routes!(identity::me))
        .routes(routes!(identity::create, identity::list))
        .routes(routes!(identity::revoke))
        .routes(routes!(identity::advance_clock))
        .routes(routes!(identity::insights))
        .routes(routes!(insights::show))
        .routes(routes!(insights::answer_nps))
        .route("/api/v1/secrets/{*name}", secret_methods);
    let document = api.get_openapi_mut();
    document.paths.paths.extend(secret_paths.paths);
    document
        .components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(secret_schemas);
    api
}

/// The whole router: the API behind the bearer check, its OpenAPI document, and the routes
/// that authenticate otherwise (health probes, one-click links, Slack's signed callbacks).
pub(crate) fn router(state: AppState) -> Router<AppState> {
    let (api, _) = api().split_for_parts();
    let api = api
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            crate::auth::require_principal,
        ))
        // Outside the authentication, so that its time is in the header too.
        .route_layer(axum::middleware::from_fn(crate::timing::server_timing));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/approve/{token}", get(links::show).post(links::confirm))
        .route("/slack/interactions", post(slack::interactions))
        // Open like any API description: it holds no data, and clients are generated from it.
        .route(
            "/api/v1/openapi.json",
            get(|| async { Json(crate::openapi_document()) }),
        )
        .merge(api)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// The (path, method) pairs the router serves, read from its own route table (axum shows
    /// it only through `Debug`: each route id with its method router, and each id's path).
    fn served() -> BTreeSet<(String, String)> {
        let (router, _) = super::api().split_for_parts();
        let table = format!("{router:?}");
        let paths_at = table
            .find("paths: {")
            .expect("the route table lists its paths");
        let mut paths = BTreeMap::new();
        for entry in table[paths_at + 8..].split("RouteId(").skip(1) {
            let (id, rest) = entry.split_once("): \"").expect("RouteId(n): \"path\"");
            let path = rest.split('"').next().expect("a quoted path");
            paths.insert(id.to_string(), path.replace("{*", "{"));
            if rest
                .split('"')
                .nth(1)
                .is_some_and(|after| after.starts_with('}'))
            {
                break;
            }
        }
        let mut served = BTreeSet::new();
        for entry in table[..paths_at].split("RouteId(").skip(1) {
            let (id, methods) = entry.split_once(')').expect("RouteId(n)");
            for method in [
                "get", "head", "delete", "options", "patch", "post", "put", "trace",
            ] {
                let field = format!("{method}: ");
                let Some(at) = methods.find(&field) else {
                    continue;
                };
                if !methods[at + field.len()..].starts_with("None") {
                    served.insert((paths[id].clone(), method.to_string()));
                }
            }
        }
        served
    }

    #[test]
    fn the_openapi_document_lists_every_route_and_method_the_router_serves() {
        let (_, document) = super::api().split_for_parts();
        let document = super::openapi::finish(document);
        let mut described = BTreeSet::new();
        for (path, item) in &document.paths.paths {
            for (method, operation) in [
                ("get", &item.get),
                ("put", &item.put),
                ("post", &item.post),
                ("delete", &item.delete),
                ("patch", &item.patch),
            ] {
                if operation.is_some() {
                    described.insert((path.clone(), method.to_string()));
                }
            }
        }
        let served = served();
        // axum answers HEAD with the GET handler; the document need not say so.
        let served: BTreeSet<_> = served.into_iter().filter(|(_, m)| m != "head").collect();
        assert!(served.len() > 40, "the route table was read: {served:?}");
        assert_eq!(
            served.difference(&described).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "served but not in the OpenAPI document"
        );
        assert_eq!(
            described.difference(&served).collect::<Vec<_>>(),
            Vec::<&(String, String)>::new(),
            "in the OpenAPI document but not served"
        );
    }
}
