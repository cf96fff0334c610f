//! What a plugin says about itself, and what its plan would do, as host-side serde types.

use serde::{Deserialize, Serialize};

use crate::grants::Grants;

/// Which world a component targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// Exports `lever:plugin/action-handler`.
    Action,
    /// Exports `lever:plugin/adapter-handler`.
    Adapter,
}

impl PluginKind {
    /// `action` or `adapter`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PluginKind::Action => "action",
            PluginKind::Adapter => "adapter",
        }
    }
}

/// How risky an action's effect is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Creates or changes things that can be undone.
    Standard,
    /// Deletes data, changes IAM, network or keys.
    High,
}

/// A plugin's manifest, read once at publish through `describe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    /// `action` or `adapter`.
    pub kind: PluginKind,
    /// Unique name.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// One line for the catalog.
    pub description: String,
    /// JSON Schema of the input (actions) or of the binding settings (adapters).
    pub input_schema: serde_json::Value,
    /// JSON Schema of the output (actions); `true` for adapters.
    pub output_schema: serde_json::Value,
    /// Hosts and secrets the plugin asks for.
    pub grants: Grants,
    /// Risk class (actions).
    pub risk: Risk,
    /// Whether its `rollback` undoes what `run` did (actions that export a real rollback).
    #[serde(default)]
    pub undoable: bool,
    /// Capabilities implemented (adapters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
}

/// One resource a plan would touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlannedResource {
    /// Kind of resource.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// `create`, `update` or `delete`.
    pub change: String,
    /// Estimated monthly cost in US cents.
    pub monthly_cost_cents: Option<u64>,
    /// When it exists already: who owns it (`change` is then `exists`). Filled in by the host
    /// from the provider's answer and Lever's resource inventory, never by a plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<ExistingResource>,
}

/// A resource a plan found in place, and who owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExistingResource {
    /// The team that owns it in Lever's inventory; none when Lever did not create it.
    pub owner: Option<String>,
    /// Whether Lever created it (it is in the inventory).
    pub managed: bool,
    /// The inventory's id for it, when managed.
    pub resource_id: Option<String>,
    /// The run that created it, when managed.
    pub created_by_run: Option<String>,
    /// Who asked for that run, when managed.
    pub requester: Option<String>,
    /// Its state in the inventory (`live`, `creating`, `orphaned`), when managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The owner the provider records (a database's owner role), when it says.
    pub provider_owner: Option<String>,
    /// The credentials references that belong to it, when managed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
}

/// What `run` would do, as returned by the action's `plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExecutionPlan {
    /// One sentence.
    pub summary: String,
    /// Resources it would touch.
    pub resources: Vec<PlannedResource>,
    /// Permissions it would grant.
    pub permissions: Vec<String>,
}
