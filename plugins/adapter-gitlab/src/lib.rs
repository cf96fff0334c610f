//! GitLab adapter: implements the `git-provider` capability (`wit/capabilities.wit`) over the
//! GitLab REST API v4 (gitlab.com or self-managed), authenticated with a personal, group or
//! project access token. See `docs/adapters.md` for the calls each function makes.

mod api;
mod listings;
mod members;
mod merge_requests;
mod projects;
mod repository;
mod sharing;

use lever_adapter_sdk::capabilities::git_provider::{
    NewCommit, NewPullRequest, NewRepository, RepositorySettings,
};
use lever_adapter_sdk::params::{FullName, NoInput, Owner, PullRef, TeamAccess, Url, UserAccess};
use lever_adapter_sdk::{
    AdapterManifest, Context, Error, Grants, Guest, input, output, settings, unsupported,
};

/// JSON Schema of the binding settings. `token` is a `secret://name` reference; the adapter
/// refuses an inline value, so a credential never sits in configuration.
const SETTINGS_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "GitLab adapter settings",
  "type": "object",
  "properties": {
    "base_url": {"type": "string", "description": "API root; self-managed: https://HOST/api/v4", "default": "https://gitlab.com/api/v4"},
    "token": {"type": "string", "description": "secret://NAME of a personal, group or project access token with the `api` scope"}
  },
  "required": ["token"],
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

struct GitLab;

impl Guest for GitLab {
    fn describe() -> AdapterManifest {
        AdapterManifest {
            name: "gitlab".into(),
            version: "0.3.0".into(),
            description:
                "GitLab: projects, merge requests, group and member access over the GitLab REST API v4"
                    .into(),
            capabilities: vec!["git-provider".into()],
            settings_schema: SETTINGS_SCHEMA.into(),
            grants: Grants {
                hosts: vec!["gitlab.com".into()],
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
            return Err(unsupported("GitLab", &function));
        }
        let settings = settings::parse(&settings)?;
        let f = function.as_str();
        match f {
            "create-repository" => {
                let request: NewRepository = input(f, &input_json)?;
                output(&projects::create(&api::connect(&settings)?, &request)?)
            }
            "delete-repository" => {
                let FullName { full_name } = input(f, &input_json)?;
                output(&projects::delete(&api::connect(&settings)?, &full_name)?)
            }
            "get-repository" => {
                let FullName { full_name } = input(f, &input_json)?;
                output(&repository::get(&api::connect(&settings)?, &full_name)?)
            }
            "commit-files" => {
                let request: NewCommit = input(f, &input_json)?;
                output(&repository::commit(&api::connect(&settings)?, &request)?)
            }
            "configure-repository" => {
                let request: RepositorySettings = input(f, &input_json)?;
                output(&repository::configure(&api::connect(&settings)?, &request)?)
            }
            "download-files" => {
                let Url { url } = input(f, &input_json)?;
                output(&repository::download(&api::connect(&settings)?, &url)?)
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
                output(&merge_requests::create(
                    &api::connect(&settings)?,
                    &request,
                )?)
            }
            "get-pull-request" => {
                let PullRef { repository, number } = input(f, &input_json)?;
                output(&merge_requests::get(
                    &api::connect(&settings)?,
                    &repository,
                    number,
                )?)
            }
            "close-pull-request" => {
                let PullRef { repository, number } = input(f, &input_json)?;
                output(&merge_requests::close(
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
                output(&members::grant(
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
                output(&sharing::grant(
                    &api::connect(&settings)?,
                    &repository,
                    &team,
                    &permission,
                )?)
            }
        }
    }
}

lever_adapter_sdk::bindings::export!(GitLab with_types_in lever_adapter_sdk::bindings);
