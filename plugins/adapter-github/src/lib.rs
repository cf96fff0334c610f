//! GitHub adapter: implements the `git-provider` capability (`wit/capabilities.wit`) over the
//! GitHub REST API (github.com or GitHub Enterprise Server), authenticated with a token or as a
//! GitHub App installation. See `docs/adapters.md` for the calls each function makes.

mod api;
mod auth;
mod collaborators;
mod git_data;
mod listings;
mod pulls;
mod repositories;
mod teams;

use lever_adapter_sdk::capabilities::git_provider::{
    NewCommit, NewPullRequest, NewRepository, RepositorySettings,
};
use lever_adapter_sdk::params::{FullName, NoInput, Owner, PullRef, TeamAccess, Url, UserAccess};
use lever_adapter_sdk::{
    AdapterManifest, Context, Error, Grants, Guest, input, output, settings, unsupported,
};

/// JSON Schema of the binding settings. `token` and `private_key` are `secret://name`
/// references; the adapter refuses inline values, so a credential never sits in configuration.
const SETTINGS_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "GitHub adapter settings",
  "type": "object",
  "properties": {
    "base_url": {"type": "string", "description": "API root; GitHub Enterprise Server: https://HOST/api/v3", "default": "https://api.github.com"},
    "token": {"type": "string", "description": "secret://NAME of a token (fine-grained or classic personal access token, or an installation token)"},
    "app_id": {"type": ["string", "integer"], "description": "GitHub App id (or client id), instead of `token`"},
    "installation_id": {"type": ["string", "integer"], "description": "The App's installation id on the organisation"},
    "private_key": {"type": "string", "description": "secret://NAME of the App's PEM RSA private key"}
  },
  "dependentRequired": {"app_id": ["installation_id", "private_key"], "installation_id": ["app_id", "private_key"], "private_key": ["app_id", "installation_id"]},
  "additionalProperties": false
}"#;

/// The functions of `git-provider` this adapter implements (all of them).
const FUNCTIONS: &[&str] = &[
    "create-repository",
    "delete-repository",
    "create-pull-request",
    "get-pull-request",
    "close-pull-request",
    "grant-team-access",
    "grant-user-access",
    "get-repository",
    "commit-files",
    "configure-repository",
    "download-files",
    "list-owners",
    "list-repositories",
    "list-branches",
];

struct GitHub;

impl Guest for GitHub {
    fn describe() -> AdapterManifest {
        AdapterManifest {
            name: "github".into(),
            version: "0.3.0".into(),
            description:
                "GitHub: repositories, pull requests, team and collaborator access over the GitHub REST API"
                    .into(),
            capabilities: vec!["git-provider".into()],
            settings_schema: SETTINGS_SCHEMA.into(),
            grants: Grants {
                hosts: vec!["api.github.com".into()],
                secrets: vec![],
                workspace: false,
            },
        }
    }

    fn invoke(
        _ctx: Context,
        function: String,
        settings: String,
        input_json: String,
    ) -> Result<String, Error> {
        // Refuse an unknown function before revealing any credential.
        if !FUNCTIONS.contains(&function.as_str()) {
            return Err(unsupported("GitHub", &function));
        }
        let settings = settings::parse(&settings)?;
        let f = function.as_str();
        match f {
            "create-repository" => {
                let request: NewRepository = input(f, &input_json)?;
                output(&repositories::create(&api::connect(&settings)?, &request)?)
            }
            "delete-repository" => {
                let FullName { full_name } = input(f, &input_json)?;
                output(&repositories::delete(
                    &api::connect(&settings)?,
                    &full_name,
                )?)
            }
            "get-repository" => {
                let FullName { full_name } = input(f, &input_json)?;
                output(&repositories::get(&api::connect(&settings)?, &full_name)?)
            }
            "commit-files" => {
                let request: NewCommit = input(f, &input_json)?;
                output(&git_data::commit(&api::connect(&settings)?, &request)?)
            }
            "configure-repository" => {
                let request: RepositorySettings = input(f, &input_json)?;
                output(&git_data::configure(&api::connect(&settings)?, &request)?)
            }
            "download-files" => {
                let Url { url } = input(f, &input_json)?;
                output(&git_data::download(&api::connect(&settings)?, &url)?)
            }
            "list-owners" => {
                let NoInput {} = input(f, &input_json)?;
                output(&listings::owners(&api::connect(&settings)?)?)
            }
            "list-repositories" => {
                let Owner { owner } = input(f, &input_json)?;
                output(&listings::repositories(
                    &api::connect(&settings)?,
                    owner.as_deref(),
                )?)
            }
            "list-branches" => {
                let FullName { full_name } = input(f, &input_json)?;
                output(&listings::branches(&api::connect(&settings)?, &full_name)?)
            }
            "create-pull-request" => {
                let request: NewPullRequest = input(f, &input_json)?;
                output(&pulls::create(&api::connect(&settings)?, &request)?)
            }
            "get-pull-request" => {
                let PullRef { repository, number } = input(f, &input_json)?;
                output(&pulls::get(&api::connect(&settings)?, &repository, number)?)
            }
            "close-pull-request" => {
                let PullRef { repository, number } = input(f, &input_json)?;
                output(&pulls::close(
                    &api::connect(&settings)?,
                    &repository,
                    number,
                )?)
            }
            "grant-user-access" => {
                let UserAccess {
                    repository,
                    user,
                    permission,
                } = input(f, &input_json)?;
                output(&collaborators::grant(
                    &api::connect(&settings)?,
                    &repository,
                    &user,
                    &permission,
                )?)
            }
            _ => {
                let TeamAccess {
                    repository,
                    team,
                    permission,
                } = input(f, &input_json)?;
                output(&teams::grant(
                    &api::connect(&settings)?,
                    &repository,
                    &team,
                    &permission,
                )?)
            }
        }
    }
}

lever_adapter_sdk::bindings::export!(GitHub with_types_in lever_adapter_sdk::bindings);
