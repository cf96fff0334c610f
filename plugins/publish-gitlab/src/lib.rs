//! `publish:gitlab`: creates the project through the bound `git-provider` and commits the
//! workspace as its first commit (GitLab's commits API with actions); the rollback deletes it.

use backstage_scaffolder::RepoUrl;
use backstage_scaffolder::publish::{self, NewPublication};
use lever_sdk::{ActionError, Context, Plan, PlannedResource, action};
use serde_json::Value;

/// Input of `publish:gitlab` (Backstage's names; the others it takes are accepted and left).
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Input {
    /// `gitlab.com?owner=group&repo=project`.
    repo_url: String,
    /// `private` (default), `internal` or `public`.
    #[serde(default)]
    repo_visibility: Option<String>,
    /// `master` by default, as Backstage.
    #[serde(default)]
    default_branch: Option<String>,
    /// `initial commit` by default.
    #[serde(default)]
    git_commit_message: Option<String>,
    /// Author name.
    #[serde(default)]
    git_author_name: Option<String>,
    /// Author email.
    #[serde(default)]
    git_author_email: Option<String>,
    /// The workspace folder to publish.
    #[serde(default)]
    source_path: Option<String>,
    /// Topics.
    #[serde(default)]
    topics: Option<Vec<String>>,
    /// Project settings (`description`, `visibility`, `topics`…).
    #[serde(default)]
    settings: Option<Value>,
}

/// Output of `publish:gitlab`, as Backstage names it.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Output {
    /// Clone URL.
    remote_url: String,
    /// Where the files can be browsed (`…/-/blob/<branch>`).
    repo_contents_url: String,
    /// The project (its path, which GitLab's API takes wherever it takes an id).
    project_id: String,
    /// The first commit.
    commit_hash: String,
    /// Whether the project was created (always, or the action fails).
    created: bool,
}

fn plan(_ctx: &Context, input: Input) -> Result<Plan, ActionError> {
    let url = RepoUrl::parse(&input.repo_url)?;
    Ok(Plan {
        summary: format!(
            "Create GitLab project {} and push the workspace",
            url.full_name()
        ),
        resources: vec![PlannedResource {
            kind: "gitlab-project".into(),
            name: url.full_name(),
            change: "create".into(),
            monthly_cost_cents: None,
        }],
        permissions: vec![],
    })
}

fn rollback(_ctx: &Context, input: Input, _output: Output) -> Result<(), ActionError> {
    publish::unpublish(&RepoUrl::parse(&input.repo_url)?)
}

#[action(
    name = "publish-gitlab",
    version = "0.1.0",
    description = "Creates a GitLab project and pushes the workspace (Backstage's publish:gitlab)",
    workspace = true,
    plan = plan,
    rollback = rollback
)]
fn run(ctx: &Context, input: Input) -> Result<Output, ActionError> {
    let url = RepoUrl::parse(&input.repo_url)?;
    let settings = input.settings.clone().unwrap_or(Value::Null);
    let default_branch = input
        .default_branch
        .clone()
        .unwrap_or_else(|| "master".into());
    let visibility = settings["visibility"]
        .as_str()
        .map(str::to_string)
        .or(input.repo_visibility.clone())
        .unwrap_or_else(|| "private".into());
    let mut topics = input.topics.clone().unwrap_or_default();
    if let Some(more) = settings["topics"].as_array() {
        topics.extend(more.iter().filter_map(Value::as_str).map(str::to_string));
    }
    let published = publish::publish(
        ctx,
        &NewPublication {
            repo_url: &url,
            description: settings["description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            visibility,
            default_branch: default_branch.clone(),
            message: input
                .git_commit_message
                .clone()
                .unwrap_or_else(|| "initial commit".into()),
            author_name: input.git_author_name.clone(),
            author_email: input.git_author_email.clone(),
            source_path: input.source_path.clone(),
            topics,
            protect_default_branch: false,
        },
    )?;
    let web = published.repository.url.trim_end_matches('/').to_string();
    Ok(Output {
        remote_url: published.repository.clone_url.clone(),
        repo_contents_url: format!("{web}/-/blob/{default_branch}"),
        project_id: published.repository.full_name.clone(),
        commit_hash: published.commit.sha,
        created: true,
    })
}
