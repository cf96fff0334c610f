//! Approval policies: publish a version (checked to compile and decide before it is stored),
//! list what is in force, read one, and evaluate an input against the policies in force.

use lever_identity::Principal;
use lever_store::PolicyRecord;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::access::require_platform;
use crate::{ServiceError, Services};

/// A published policy version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyPublished {
    /// The policy's name.
    pub name: String,
    /// Its version now (1 for the first).
    pub version: i64,
    /// SHA-256 of its source.
    pub sha256: String,
    /// The version label of the policies in force after it (`default@builtin,extra@2`).
    pub in_force: String,
}

/// One stored policy's latest version, without its source.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicySummary {
    /// The policy's name.
    pub name: String,
    /// Its latest version.
    pub version: i64,
    /// SHA-256 of its source.
    pub sha256: String,
    /// Who published it.
    pub created_by: String,
    /// When (ms).
    pub created_at: i64,
}

/// The stored policies and the version label in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyList {
    /// The version label of the policies in force.
    pub in_force: String,
    /// Each stored policy's latest version.
    pub policies: Vec<PolicySummary>,
}

/// A policy's version: a stored version's number, or `builtin` for the default policy nobody
/// has replaced.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum PolicyVersion {
    /// A stored version.
    Stored(i64),
    /// The built-in default (`"builtin"`).
    Builtin(String),
}

/// A policy's latest version with its source.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    /// The policy's name.
    pub name: String,
    /// Its version.
    pub version: PolicyVersion,
    /// Its Rego source.
    pub source: String,
    /// SHA-256 of the source (stored versions).
    pub sha256: Option<String>,
    /// Who published it (stored versions).
    pub created_by: Option<String>,
    /// When (ms; stored versions).
    pub created_at: Option<i64>,
}

/// What the policies in force decide for an input.
#[derive(Debug, Serialize, ToSchema)]
pub struct Evaluation {
    /// `auto`, the stages of approvers and the reasons.
    #[schema(value_type = Object)]
    pub decision: lever_policy::Decision,
    /// The version label of the policies that decided.
    pub policy_version: String,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Publishes `source` as policy `name`'s next version (platform role); answers whether a new
/// version was stored (false when the latest already has this source).
pub async fn publish(
    services: &Services,
    principal: &Principal,
    name: &str,
    source: &str,
) -> Result<(PolicyPublished, bool), ServiceError> {
    require_platform(principal, "publishing policies")?;
    if !valid_name(name) {
        return Err(ServiceError::invalid(
            "invalid-name",
            "a policy name is 1 to 64 of a-z, 0-9, - and _",
        ));
    }
    if source.trim().is_empty() {
        return Err(ServiceError::invalid(
            "empty-body",
            "send the policy's Rego source as the request body",
        ));
    }
    let (record, created) = services
        .approvals
        .put_policy(name, source, principal)
        .await?;
    Ok((
        PolicyPublished {
            name: record.name,
            version: record.version,
            sha256: record.sha256,
            in_force: services.approvals.policy_version(),
        },
        created,
    ))
}

/// The stored policies' latest versions and the label in force.
pub async fn list(services: &Services) -> Result<PolicyList, ServiceError> {
    let policies = services
        .store
        .current_policies()
        .await?
        .into_iter()
        .map(|p| PolicySummary {
            name: p.name,
            version: p.version,
            sha256: p.sha256,
            created_by: p.created_by,
            created_at: p.created_at,
        })
        .collect();
    Ok(PolicyList {
        in_force: services.approvals.policy_version(),
        policies,
    })
}

/// Policy `name`'s latest version; the built-in default when `default` was never replaced.
pub async fn show(services: &Services, name: &str) -> Result<PolicyView, ServiceError> {
    match services.store.policy(name, None).await? {
        Some(PolicyRecord {
            name,
            version,
            source,
            sha256,
            created_by,
            created_at,
        }) => Ok(PolicyView {
            name,
            version: PolicyVersion::Stored(version),
            source,
            sha256: Some(sha256),
            created_by: Some(created_by),
            created_at: Some(created_at),
        }),
        None if name == lever_policy::DEFAULT_POLICY_NAME => Ok(PolicyView {
            name: name.to_string(),
            version: PolicyVersion::Builtin("builtin".into()),
            source: lever_policy::DEFAULT_POLICY.to_string(),
            sha256: None,
            created_by: None,
            created_at: None,
        }),
        None => Err(ServiceError::not_found(format!("no policy `{name}`"))),
    }
}

/// What the policies in force decide for `input`.
pub fn evaluate(services: &Services, input: &Value) -> Result<Evaluation, ServiceError> {
    let (decision, policy_version) = services.approvals.evaluate(input)?;
    Ok(Evaluation {
        decision,
        policy_version,
    })
}

/// Every policy in force with its source: the stored ones, and the built-in default first
/// when no stored version replaces it.
pub async fn in_force(services: &Services) -> Result<Vec<PolicyView>, ServiceError> {
    let mut views = Vec::new();
    for record in services.store.current_policies().await? {
        views.push(show(services, &record.name).await?);
    }
    if !views
        .iter()
        .any(|p| p.name == lever_policy::DEFAULT_POLICY_NAME)
    {
        views.insert(0, show(services, lever_policy::DEFAULT_POLICY_NAME).await?);
    }
    Ok(views)
}

/// A policy input to try, built as a real request's is: the catalog's first template with an
/// environment that `principal` may run and this Lever can run (not a day-2 action),
/// previewed with its defaults in its last environment (production, usually) — so the
/// sample's field names are the ones the policies read (`cost.monthly_usd`,
/// `teams_affected`...), never a hand-kept copy. `None` when the catalog has no such template.
pub async fn sample(
    services: &Services,
    principal: &Principal,
) -> Result<Option<Value>, ServiceError> {
    require_platform(principal, "trying policies")?;
    let records = services
        .catalog
        .search(&lever_catalog::Search::default())
        .await?;
    for record in records {
        let entry = services.catalog.get(&record.name).await?;
        let template = &entry.parsed.template;
        // A request for something new; day-2 actions on an existing resource need one first.
        if template.annotations.contains_key(lever_catalog::ACTS_ON)
            || !principal.can_run(template.owner.as_deref().unwrap_or(""), &template.tags)
            || !services.catalog.availability(&entry).await?.available
        {
            continue;
        }
        let environments = entry.form.pages().find_map(|p| {
            p.schema
                .pointer("/properties/environment/enum")
                .and_then(Value::as_array)
                .cloned()
        });
        let Some(last) = environments.and_then(|e| e.last().cloned()) else {
            continue;
        };
        let mut parameters = entry.form.with_defaults(&serde_json::json!({}));
        parameters["environment"] = last;
        if parameters.get("owner").is_none()
            && let Some(team) = &principal.team
        {
            parameters["owner"] = Value::String(team.clone());
        }
        let preview = services
            .catalog
            .preview_entry(&entry, &parameters, &principal.id)
            .await?;
        return Ok(Some(
            services.approvals.input_for(&preview, template, principal),
        ));
    }
    Ok(None)
}
