//! What a form's repository pickers offer (Backstage's autocomplete): the owners, repositories
//! and branches a git provider's binding sees, through its adapter's `list-*` functions.

use lever_identity::Principal;
use serde_json::json;

use crate::{Kind, ServiceError, Services};

/// One listing a picker asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    /// Organisations or groups.
    Owners,
    /// Repositories, as full names; only `owner`'s when given.
    Repositories {
        /// The organisation or group.
        owner: Option<String>,
    },
    /// A repository's branches.
    Branches {
        /// `owner/name`.
        full_name: String,
    },
}

/// The binding key and host of the git-provider binding whose adapter is `provider` (`github`,
/// `gitlab`), the one serving `host` when given; none when no such binding exists.
fn binding_of(services: &Services, provider: &str, host: Option<&str>) -> Option<Option<String>> {
    let bindings = services.catalog.capabilities().bindings();
    bindings
        .iter()
        .filter(|(key, _)| *key == "git-provider" || key.starts_with("git-provider/"))
        .filter(|(_, b)| b.adapter.split('@').next() == Some(provider))
        .find(|(_, b)| host.is_none_or(|h| b.hosts.iter().any(|x| x.eq_ignore_ascii_case(h))))
        .map(|(_, b)| {
            host.map(str::to_string)
                .or_else(|| b.hosts.first().cloned())
        })
}

/// Whether a git-provider binding uses adapter `provider`.
pub fn is_bound(services: &Services, provider: &str) -> bool {
    binding_of(services, provider, None).is_some()
}

/// `listing` through the git-provider binding of adapter `provider` (and `host`), for
/// `principal`: the names the binding's credentials see, sorted.
pub async fn list(
    services: &Services,
    principal: &Principal,
    provider: &str,
    host: Option<&str>,
    listing: &Listing,
) -> Result<Vec<String>, ServiceError> {
    let Some(route) = binding_of(services, provider, host) else {
        return Err(ServiceError::invalid(
            "unsupported-provider",
            format!("Unsupported provider: {provider}"),
        ));
    };
    let (function, input) = match listing {
        Listing::Owners => ("list-owners", json!({})),
        Listing::Repositories { owner } => ("list-repositories", json!({ "owner": owner })),
        Listing::Branches { full_name } => ("list-branches", json!({ "full_name": full_name })),
    };
    let scope = lever_capabilities::Scope {
        context: lever_sandbox::CallContext {
            run_id: "picker".into(),
            step_id: function.into(),
            attempt: 1,
            requester: principal.id.clone(),
            ..Default::default()
        },
        log: lever_sandbox::LogBook::new(16 * 1024),
        host: route,
        owner: None,
        template: None,
    };
    let answer = services
        .catalog
        .capabilities()
        .call(&scope, "git-provider", function, input)
        .await
        .map_err(|e| {
            let kind = match e.kind {
                "invalid-input" => Kind::Invalid,
                "not-found" => Kind::NotFound,
                "denied" => Kind::Forbidden,
                _ => Kind::Unavailable,
            };
            ServiceError::new(
                kind,
                "provider-listing",
                format!("{provider}: {}", e.message),
            )
        })?;
    let mut names: Vec<String> = serde_json::from_value(answer).map_err(|e| {
        ServiceError::new(
            Kind::Unavailable,
            "provider-listing",
            format!("{provider} answered {function} with something else than names: {e}"),
        )
    })?;
    names.sort();
    names.dedup();
    Ok(names)
}
