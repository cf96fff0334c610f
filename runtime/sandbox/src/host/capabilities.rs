//! The capability interfaces of `wit/capabilities.wit`: their JSON shapes, checked in both
//! directions, the inverse of each effect (for rollback), and the imports an action calls,
//! forwarded to the [`CapabilityBackend`](super::CapabilityBackend) as JSON.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{CapabilityError, HostState};
use crate::bindings::wit::Error;
use crate::bindings::{
    git_provider as git, infrastructure as infra, notifier, observability as obs,
    secrets_store as secrets, software_catalog as catalog,
};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FullName {
    full_name: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PullRef {
    repository: String,
    number: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamAccess {
    repository: String,
    team: String,
    permission: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserAccess {
    repository: String,
    user: String,
    permission: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    target: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationId {
    id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Url {
    url: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Owner {
    #[serde(default)]
    owner: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoInput {}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretPath {
    path: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretValue {
    path: String,
    value: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Workspace {
    workspace: String,
}

/// `variables` is a JSON object in steps; the WIT carries it as JSON text.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkspaceVariables {
    workspace: String,
    #[serde(default)]
    variables: Value,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunId {
    id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDashboard {
    title: String,
    #[serde(default)]
    definition: Value,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMonitor {
    name: String,
    query: String,
    message: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Deletion {
    kind: String,
    id: String,
}

fn decode<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(value.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn unknown(capability: &str, function: &str) -> String {
    match lever_plugin::CAPABILITIES
        .iter()
        .find(|(c, _)| *c == capability)
    {
        None => format!(
            "`{capability}` is not a capability; there are {}",
            lever_plugin::CAPABILITIES
                .iter()
                .map(|(c, _)| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Some((_, functions)) => format!(
            "`{capability}` has no function `{function}`; it has {}",
            functions.join(", ")
        ),
    }
}

/// Checks a call's input against the function's parameters: `Err` says what is wrong.
pub fn check_input(capability: &str, function: &str, input: &Value) -> Result<(), String> {
    match (capability, function) {
        ("git-provider", "create-repository") => decode::<git::NewRepository>(input),
        ("git-provider", "delete-repository" | "get-repository" | "list-branches") => {
            decode::<FullName>(input)
        }
        ("git-provider", "list-owners") => decode::<NoInput>(input),
        ("git-provider", "list-repositories") => decode::<Owner>(input),
        ("git-provider", "create-pull-request") => decode::<git::NewPullRequest>(input),
        ("git-provider", "get-pull-request" | "close-pull-request") => decode::<PullRef>(input),
        ("git-provider", "grant-team-access") => decode::<TeamAccess>(input),
        ("git-provider", "grant-user-access") => decode::<UserAccess>(input),
        ("git-provider", "commit-files") => decode::<git::NewCommit>(input),
        ("git-provider", "configure-repository") => decode::<git::RepositorySettings>(input),
        ("git-provider", "download-files") => decode::<Url>(input),
        ("secrets-store", "put" | "rotate") => decode::<SecretValue>(input),
        ("secrets-store", "reference" | "delete") => decode::<SecretPath>(input),
        ("infrastructure", "plan" | "apply") => decode::<WorkspaceVariables>(input),
        ("infrastructure", "outputs" | "destroy" | "rotate-credentials") => {
            decode::<Workspace>(input)
        }
        ("infrastructure", "status") => decode::<RunId>(input),
        ("notifier", "send") => decode::<notifier::Message>(input),
        ("observability", "create-dashboard") => decode::<NewDashboard>(input),
        ("observability", "create-monitor") => decode::<NewMonitor>(input),
        ("observability", "delete") => decode::<Deletion>(input),
        ("software-catalog", "register-location") => decode::<Target>(input),
        ("software-catalog", "unregister-location") => decode::<LocationId>(input),
        _ => Err(unknown(capability, function)),
    }
}

/// Checks an adapter's answer against the function's result type.
pub fn check_output(capability: &str, function: &str, output: &Value) -> Result<(), String> {
    match (capability, function) {
        ("git-provider", "create-repository" | "get-repository") => {
            decode::<git::Repository>(output)
        }
        ("git-provider", "create-pull-request" | "get-pull-request") => {
            decode::<git::PullRequest>(output)
        }
        ("git-provider", "commit-files") => decode::<git::Commit>(output),
        ("git-provider", "download-files") => decode::<Vec<git::TreeFile>>(output),
        ("git-provider", "list-owners" | "list-repositories" | "list-branches") => {
            decode::<Vec<String>>(output)
        }
        ("git-provider", _)
        | ("secrets-store", "delete")
        | ("observability", "delete")
        | ("software-catalog", "unregister-location") => decode::<()>(output),
        ("software-catalog", "register-location") => decode::<catalog::CatalogLocation>(output),
        ("secrets-store", "put" | "reference")
        | ("notifier", "send")
        | ("observability", "create-monitor") => decode::<String>(output),
        ("secrets-store", "rotate") => decode::<u64>(output),
        ("infrastructure", "plan") => decode::<infra::PlanResult>(output),
        ("infrastructure", "apply" | "status" | "destroy" | "rotate-credentials") => {
            decode::<infra::ApplyStatus>(output)
        }
        ("infrastructure", "outputs") => match output {
            Value::Object(_) => Ok(()),
            other => Err(format!("outputs must be a JSON object, not {other}")),
        },
        ("observability", "create-dashboard") => decode::<obs::Dashboard>(output),
        _ => Err(unknown(capability, function)),
    }
}

/// The call that undoes a successful one, given its input and output: what a template step
/// calling a capability rolls back with when it names no `rollback` of its own.
pub fn inverse(
    capability: &str,
    function: &str,
    input: &Value,
    output: &Value,
) -> Option<(&'static str, Value)> {
    match (capability, function) {
        ("git-provider", "create-repository") => Some((
            "delete-repository",
            json!({"full_name": output["full_name"]}),
        )),
        ("git-provider", "create-pull-request") => Some((
            "close-pull-request",
            json!({"repository": input["repository"], "number": output["number"]}),
        )),
        ("secrets-store", "put") => Some(("delete", json!({"path": input["path"]}))),
        ("infrastructure", "apply") => Some(("destroy", json!({"workspace": input["workspace"]}))),
        ("observability", "create-dashboard") => {
            Some(("delete", json!({"kind": "dashboard", "id": output["id"]})))
        }
        ("observability", "create-monitor") => {
            Some(("delete", json!({"kind": "monitor", "id": output})))
        }
        ("software-catalog", "register-location") => {
            Some(("unregister-location", json!({"id": output["id"]})))
        }
        _ => None,
    }
}

fn wit_error(e: CapabilityError) -> Error {
    match e.kind {
        "invalid-input" => Error::InvalidInput(e.message),
        "retryable" => Error::Retryable(e.message),
        "fatal" => Error::Fatal(e.message),
        "not-found" => Error::NotFound(e.message),
        // A capability this Lever is not set up for: to a guest, as to any caller without it.
        "denied" | "not-configured" => Error::Denied(e.message),
        _ => Error::Other(e.message),
    }
}

impl HostState {
    /// Forwards one import call to the backend and decodes the answer into the WIT result.
    async fn capability<O: DeserializeOwned>(
        &mut self,
        capability: &str,
        function: &str,
        input: Value,
    ) -> wasmtime::Result<Result<O, Error>> {
        Ok(
            match self
                .services
                .capabilities
                .call(capability, function, input)
                .await
            {
                Err(e) => Err(wit_error(e)),
                Ok(answer) => serde_json::from_value(answer).map_err(|e| {
                    Error::Other(format!(
                        "the `{capability}` adapter answered `{function}` with the wrong shape: {e}"
                    ))
                }),
            },
        )
    }
}

/// A JSON-text parameter (`variables`, `definition`) as the JSON value it travels as.
fn json_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::String(text.to_string()))
}

impl git::Host for HostState {
    async fn create_repository(
        &mut self,
        request: git::NewRepository,
    ) -> wasmtime::Result<Result<git::Repository, Error>> {
        self.capability("git-provider", "create-repository", json!(request))
            .await
    }
    async fn delete_repository(
        &mut self,
        full_name: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        self.capability(
            "git-provider",
            "delete-repository",
            json!(FullName { full_name }),
        )
        .await
    }
    async fn create_pull_request(
        &mut self,
        request: git::NewPullRequest,
    ) -> wasmtime::Result<Result<git::PullRequest, Error>> {
        self.capability("git-provider", "create-pull-request", json!(request))
            .await
    }
    async fn get_pull_request(
        &mut self,
        repository: String,
        number: u64,
    ) -> wasmtime::Result<Result<git::PullRequest, Error>> {
        self.capability(
            "git-provider",
            "get-pull-request",
            json!(PullRef { repository, number }),
        )
        .await
    }
    async fn close_pull_request(
        &mut self,
        repository: String,
        number: u64,
    ) -> wasmtime::Result<Result<(), Error>> {
        self.capability(
            "git-provider",
            "close-pull-request",
            json!(PullRef { repository, number }),
        )
        .await
    }
    async fn grant_team_access(
        &mut self,
        repository: String,
        team: String,
        permission: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        self.capability(
            "git-provider",
            "grant-team-access",
            json!(TeamAccess {
                repository,
                team,
                permission
            }),
        )
        .await
    }
    async fn grant_user_access(
        &mut self,
        repository: String,
        user: String,
        permission: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        self.capability(
            "git-provider",
            "grant-user-access",
            json!(UserAccess {
                repository,
                user,
                permission
            }),
        )
        .await
    }
    async fn get_repository(
        &mut self,
        full_name: String,
    ) -> wasmtime::Result<Result<git::Repository, Error>> {
        self.capability(
            "git-provider",
            "get-repository",
            json!(FullName { full_name }),
        )
        .await
    }
    async fn commit_files(
        &mut self,
        request: git::NewCommit,
    ) -> wasmtime::Result<Result<git::Commit, Error>> {
        self.capability("git-provider", "commit-files", json!(request))
            .await
    }
    async fn configure_repository(
        &mut self,
        request: git::RepositorySettings,
    ) -> wasmtime::Result<Result<(), Error>> {
        self.capability("git-provider", "configure-repository", json!(request))
            .await
    }
    async fn download_files(
        &mut self,
        url: String,
    ) -> wasmtime::Result<Result<Vec<git::TreeFile>, Error>> {
        self.capability("git-provider", "download-files", json!(Url { url }))
            .await
    }
    async fn list_owners(&mut self) -> wasmtime::Result<Result<Vec<String>, Error>> {
        self.capability("git-provider", "list-owners", json!(NoInput {}))
            .await
    }
    async fn list_repositories(
        &mut self,
        owner: Option<String>,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        self.capability("git-provider", "list-repositories", json!(Owner { owner }))
            .await
    }
    async fn list_branches(
        &mut self,
        full_name: String,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        self.capability(
            "git-provider",
            "list-branches",
            json!(FullName { full_name }),
        )
        .await
    }
}

impl secrets::Host for HostState {
    async fn put(
        &mut self,
        path: String,
        value: String,
    ) -> wasmtime::Result<Result<String, Error>> {
        self.capability("secrets-store", "put", json!(SecretValue { path, value }))
            .await
    }
    async fn reference(&mut self, path: String) -> wasmtime::Result<Result<String, Error>> {
        self.capability("secrets-store", "reference", json!(SecretPath { path }))
            .await
    }
    async fn rotate(
        &mut self,
        path: String,
        value: String,
    ) -> wasmtime::Result<Result<u64, Error>> {
        self.capability(
            "secrets-store",
            "rotate",
            json!(SecretValue { path, value }),
        )
        .await
    }
    async fn delete(&mut self, path: String) -> wasmtime::Result<Result<(), Error>> {
        self.capability("secrets-store", "delete", json!(SecretPath { path }))
            .await
    }
}

impl infra::Host for HostState {
    async fn plan(
        &mut self,
        workspace: String,
        variables_json: String,
    ) -> wasmtime::Result<Result<infra::PlanResult, Error>> {
        self.capability(
            "infrastructure",
            "plan",
            json!(WorkspaceVariables {
                workspace,
                variables: json_text(&variables_json)
            }),
        )
        .await
    }
    async fn apply(
        &mut self,
        workspace: String,
        variables_json: String,
    ) -> wasmtime::Result<Result<infra::ApplyStatus, Error>> {
        self.capability(
            "infrastructure",
            "apply",
            json!(WorkspaceVariables {
                workspace,
                variables: json_text(&variables_json)
            }),
        )
        .await
    }
    async fn status(&mut self, id: String) -> wasmtime::Result<Result<infra::ApplyStatus, Error>> {
        self.capability("infrastructure", "status", json!(RunId { id }))
            .await
    }
    async fn outputs(&mut self, workspace: String) -> wasmtime::Result<Result<String, Error>> {
        let answer: wasmtime::Result<Result<Value, Error>> = self
            .capability("infrastructure", "outputs", json!(Workspace { workspace }))
            .await;
        answer.map(|r| r.map(|v| v.to_string()))
    }
    async fn destroy(
        &mut self,
        workspace: String,
    ) -> wasmtime::Result<Result<infra::ApplyStatus, Error>> {
        self.capability("infrastructure", "destroy", json!(Workspace { workspace }))
            .await
    }
    async fn rotate_credentials(
        &mut self,
        workspace: String,
    ) -> wasmtime::Result<Result<infra::ApplyStatus, Error>> {
        self.capability(
            "infrastructure",
            "rotate-credentials",
            json!(Workspace { workspace }),
        )
        .await
    }
}

impl notifier::Host for HostState {
    async fn send(
        &mut self,
        message: notifier::Message,
    ) -> wasmtime::Result<Result<String, Error>> {
        self.capability("notifier", "send", json!(message)).await
    }
}

impl obs::Host for HostState {
    async fn create_dashboard(
        &mut self,
        title: String,
        definition: String,
    ) -> wasmtime::Result<Result<obs::Dashboard, Error>> {
        self.capability(
            "observability",
            "create-dashboard",
            json!(NewDashboard {
                title,
                definition: json_text(&definition)
            }),
        )
        .await
    }
    async fn create_monitor(
        &mut self,
        name: String,
        query: String,
        message: String,
    ) -> wasmtime::Result<Result<String, Error>> {
        self.capability(
            "observability",
            "create-monitor",
            json!(NewMonitor {
                name,
                query,
                message
            }),
        )
        .await
    }
    async fn delete(&mut self, kind: String, id: String) -> wasmtime::Result<Result<(), Error>> {
        self.capability("observability", "delete", json!(Deletion { kind, id }))
            .await
    }
}

impl catalog::Host for HostState {
    async fn register_location(
        &mut self,
        target: String,
    ) -> wasmtime::Result<Result<catalog::CatalogLocation, Error>> {
        self.capability(
            "software-catalog",
            "register-location",
            json!(Target { target }),
        )
        .await
    }
    async fn unregister_location(&mut self, id: String) -> wasmtime::Result<Result<(), Error>> {
        self.capability(
            "software-catalog",
            "unregister-location",
            json!(LocationId { id }),
        )
        .await
    }
}
