//! The JSON input of each capability function that takes more than one record: an object keyed
//! by parameter name (`wit/capabilities.wit`). Functions whose only parameter is a record take
//! the record itself (`capabilities::git_provider::NewRepository`…). The host checks the same
//! shapes before it calls an adapter.

use serde::Deserialize;
use serde_json::Value;

/// `git-provider.delete-repository`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FullName {
    /// `owner/name`.
    pub full_name: String,
}

/// `git-provider.get-pull-request` and `close-pull-request`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRef {
    /// `owner/name`.
    pub repository: String,
    /// Number (GitHub) or iid (GitLab).
    pub number: u64,
}

/// `git-provider.grant-team-access`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamAccess {
    /// `owner/name`.
    pub repository: String,
    /// Team (GitHub) or group (GitLab).
    pub team: String,
    /// `pull`, `push`, `maintain` or `admin`.
    pub permission: String,
}

/// `git-provider.grant-user-access`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAccess {
    /// `owner/name`.
    pub repository: String,
    /// The user's login (GitHub) or username (GitLab).
    pub user: String,
    /// `pull`, `triage`, `push`, `maintain` or `admin`.
    pub permission: String,
}

/// `software-catalog.register-location`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The entity file's URL.
    pub target: String,
}

/// `software-catalog.unregister-location`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationId {
    /// The catalog's id of the location.
    pub id: String,
}

/// `git-provider.list-owners` (no input).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

/// `git-provider.list-repositories`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    /// Only this organisation's or group's repositories.
    #[serde(default)]
    pub owner: Option<String>,
}

/// `git-provider.download-files`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Url {
    /// The repository folder's web address.
    pub url: String,
}

/// `secrets-store.reference` and `delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretPath {
    /// Where the secret lives.
    pub path: String,
}

/// `secrets-store.put` and `rotate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// Where the secret lives.
    pub path: String,
    /// Its value.
    pub value: String,
}

/// `infrastructure.plan` and `apply`: `variables` arrives as a JSON object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceVariables {
    /// Workspace name.
    pub workspace: String,
    /// Its variables.
    #[serde(default)]
    pub variables: Value,
}

/// `infrastructure.outputs` and `destroy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    /// Workspace name.
    pub workspace: String,
}

/// `infrastructure.status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunId {
    /// The provider's id of the run.
    pub id: String,
}

/// `observability.create-dashboard`: `definition` arrives as a JSON object.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDashboard {
    /// Title.
    pub title: String,
    /// Provider-specific definition (`widgets`…).
    #[serde(default)]
    pub definition: Value,
}

/// `observability.create-monitor`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMonitor {
    /// Name.
    pub name: String,
    /// Query in the provider's language.
    pub query: String,
    /// Message sent when it alerts.
    pub message: String,
}

/// `observability.delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deletion {
    /// `dashboard` or `monitor`.
    pub kind: String,
    /// Provider's id.
    pub id: String,
}
