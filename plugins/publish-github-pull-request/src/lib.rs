//! `publish:github:pull-request`: commits the workspace's files (or `sourcePath`, into
//! `targetPath`) on a new branch and opens a pull request; the rollback closes it.

use backstage_scaffolder::RepoUrl;
use backstage_scaffolder::publish::{self, NewChange};
use lever_sdk::{ActionError, Context, Plan, PlannedResource, action};

/// Input of `publish:github:pull-request` (Backstage's names).
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Input {
    /// `github.com?owner=o&repo=r`.
    repo_url: String,
    /// The branch to create.
    branch_name: String,
    /// The pull request's title.
    title: String,
    /// Its body.
    #[serde(default)]
    description: Option<String>,
    /// The branch to merge into (the repository's default one when none).
    #[serde(default)]
    target_branch_name: Option<String>,
    /// The workspace folder whose files go in.
    #[serde(default)]
    source_path: Option<String>,
    /// Where they go in the repository.
    #[serde(default)]
    target_path: Option<String>,
    /// Commit message (the title when none).
    #[serde(default)]
    commit_message: Option<String>,
    /// Author name.
    #[serde(default)]
    git_author_name: Option<String>,
    /// Author email.
    #[serde(default)]
    git_author_email: Option<String>,
}

/// Output of `publish:github:pull-request`, as Backstage names it.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Output {
    /// The branch merged into.
    target_branch_name: String,
    /// The pull request's web address.
    remote_url: String,
    /// Its number.
    pull_request_number: u64,
}

fn plan(_ctx: &Context, input: Input) -> Result<Plan, ActionError> {
    let url = RepoUrl::parse(&input.repo_url)?;
    Ok(Plan {
        summary: format!(
            "Open a pull request on {} from branch {}",
            url.full_name(),
            input.branch_name
        ),
        resources: vec![PlannedResource {
            kind: "github-pull-request".into(),
            name: format!("{}#{}", url.full_name(), input.branch_name),
            change: "create".into(),
            monthly_cost_cents: None,
        }],
        permissions: vec![],
    })
}

fn rollback(_ctx: &Context, input: Input, output: Output) -> Result<(), ActionError> {
    publish::close_change(
        &RepoUrl::parse(&input.repo_url)?,
        output.pull_request_number,
    )
}

#[action(
    name = "publish-github-pull-request",
    version = "0.1.0",
    description = "Commits the workspace on a branch and opens a pull request (Backstage's publish:github:pull-request)",
    workspace = true,
    plan = plan,
    rollback = rollback
)]
fn run(_ctx: &Context, input: Input) -> Result<Output, ActionError> {
    let url = RepoUrl::parse(&input.repo_url)?;
    let opened = publish::open_change(&NewChange {
        repo_url: &url,
        branch: input.branch_name,
        target_branch: input.target_branch_name,
        title: input.title,
        description: input.description.unwrap_or_default(),
        source_path: input.source_path,
        target_path: input.target_path,
        message: input.commit_message,
        author_name: input.git_author_name,
        author_email: input.git_author_email,
        delete: false,
    })?;
    Ok(Output {
        target_branch_name: opened.target_branch,
        remote_url: opened.pull_request.url,
        pull_request_number: opened.pull_request.number,
    })
}
