//! `publish:gitlab:merge-request`: commits the workspace's files (or `sourcePath`, into
//! `targetPath`) on a new branch and opens a merge request; the rollback closes it.

use backstage_scaffolder::RepoUrl;
use backstage_scaffolder::publish::{self, NewChange};
use lever_sdk::{ActionError, Context, Plan, PlannedResource, action};

/// Input of `publish:gitlab:merge-request` (Backstage's names; `commitAction`, `assignee`,
/// `removeSourceBranch` and the rest are accepted).
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Input {
    /// `gitlab.com?owner=group&repo=project`.
    repo_url: String,
    /// The merge request's title.
    title: String,
    /// The branch to create.
    branch_name: String,
    /// Its description.
    #[serde(default)]
    description: Option<String>,
    /// The branch to merge into (the project's default one when none).
    #[serde(default)]
    target_branch_name: Option<String>,
    /// The workspace folder whose files go in.
    #[serde(default)]
    source_path: Option<String>,
    /// Where they go in the repository.
    #[serde(default)]
    target_path: Option<String>,
    /// `create` (default), `update`, `auto` (each writes the files), or `delete` (removes the
    /// repository's files at the workspace files' paths).
    #[serde(default)]
    commit_action: Option<String>,
}

/// Output of `publish:gitlab:merge-request`, as Backstage names it.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Output {
    /// The branch merged into.
    target_branch_name: String,
    /// The project (its path).
    projectid: String,
    /// The project's path.
    project_path: String,
    /// The merge request's web address.
    merge_request_url: String,
    /// Its iid.
    merge_request_iid: u64,
}

fn plan(_ctx: &Context, input: Input) -> Result<Plan, ActionError> {
    let url = RepoUrl::parse(&input.repo_url)?;
    Ok(Plan {
        summary: format!(
            "Open a merge request on {} from branch {}",
            url.full_name(),
            input.branch_name
        ),
        resources: vec![PlannedResource {
            kind: "gitlab-merge-request".into(),
            name: format!("{}!{}", url.full_name(), input.branch_name),
            change: "create".into(),
            monthly_cost_cents: None,
        }],
        permissions: vec![],
    })
}

fn rollback(_ctx: &Context, input: Input, output: Output) -> Result<(), ActionError> {
    publish::close_change(&RepoUrl::parse(&input.repo_url)?, output.merge_request_iid)
}

#[action(
    name = "publish-gitlab-merge-request",
    version = "0.2.0",
    description = "Commits the workspace on a branch and opens a merge request (Backstage's publish:gitlab:merge-request)",
    workspace = true,
    plan = plan,
    rollback = rollback
)]
fn run(_ctx: &Context, input: Input) -> Result<Output, ActionError> {
    let url = RepoUrl::parse(&input.repo_url)?;
    if input
        .commit_action
        .as_deref()
        .is_some_and(|a| !["create", "update", "delete", "auto"].contains(&a))
    {
        return Err(ActionError::InvalidInput(format!(
            "commitAction must be create, update, delete or auto, not `{}`",
            input.commit_action.unwrap_or_default()
        )));
    }
    // `create`, `update` and `auto` all write the files (the adapter creates or updates each
    // as the branch has it); `delete` removes the files at their paths.
    let delete = input.commit_action.as_deref() == Some("delete");
    let target_path = input.target_path.filter(|t| t != ".");
    let opened = publish::open_change(&NewChange {
        repo_url: &url,
        branch: input.branch_name,
        target_branch: input.target_branch_name,
        title: input.title.clone(),
        description: input.description.unwrap_or_default(),
        source_path: input.source_path,
        target_path,
        message: Some(input.title),
        author_name: None,
        author_email: None,
        delete,
    })?;
    Ok(Output {
        target_branch_name: opened.target_branch,
        projectid: opened.repository.full_name.clone(),
        project_path: opened.repository.full_name,
        merge_request_url: opened.pull_request.url,
        merge_request_iid: opened.pull_request.number,
    })
}
