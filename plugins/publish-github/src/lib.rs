//! `publish:github`: creates the repository through the bound `git-provider` and commits the
//! workspace as its first commit (GitHub's Git Data API, no git binary), with Backstage's
//! settings; the rollback deletes the repository.

use backstage_scaffolder::RepoUrl;
use backstage_scaffolder::publish::{self, NewPublication};
use lever_sdk::capabilities::git_provider;
use lever_sdk::{ActionError, Context, Plan, PlannedResource, action};

/// A team or user given access, as Backstage's `collaborators` lists them.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Collaborator {
    /// `pull`, `triage`, `push`, `maintain` or `admin`.
    access: String,
    /// A team slug.
    #[serde(default)]
    team: Option<String>,
    /// A user's login.
    #[serde(default)]
    user: Option<String>,
    /// The deprecated name of `user`.
    #[serde(default)]
    username: Option<String>,
}

/// Who gets access: a team (by slug) or a user (by login).
enum Grantee {
    Team(String),
    User(String),
}

/// Input of `publish:github` (Backstage's names; the others it takes are accepted and left).
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Input {
    /// `github.com?owner=o&repo=r`.
    repo_url: String,
    /// One line.
    #[serde(default)]
    description: Option<String>,
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
    /// Teams given access.
    #[serde(default)]
    collaborators: Option<Vec<Collaborator>>,
    /// A team given admin access (`owner/team` or `team`).
    #[serde(default)]
    access: Option<String>,
    /// Require pull requests into the default branch (true by default, as Backstage).
    #[serde(default)]
    protect_default_branch: Option<bool>,
}

/// Output of `publish:github`, as Backstage names it.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
struct Output {
    /// Clone URL.
    remote_url: String,
    /// Where the files can be browsed (`…/blob/<branch>`).
    repo_contents_url: String,
    /// The first commit.
    commit_hash: String,
}

fn plan(_ctx: &Context, input: Input) -> Result<Plan, ActionError> {
    let url = RepoUrl::parse(&input.repo_url)?;
    Ok(Plan {
        summary: format!(
            "Create GitHub repository {} and push the workspace",
            url.full_name()
        ),
        resources: vec![PlannedResource {
            kind: "github-repository".into(),
            name: url.full_name(),
            change: "create".into(),
            monthly_cost_cents: None,
        }],
        permissions: input
            .collaborators
            .unwrap_or_default()
            .iter()
            .filter_map(|c| {
                let who = match (&c.team, c.user.as_ref().or(c.username.as_ref())) {
                    (Some(team), _) => format!("team {team}"),
                    (None, Some(user)) => format!("user {user}"),
                    (None, None) => return None,
                };
                Some(format!("{who} gets {} on {}", c.access, url.full_name()))
            })
            .collect(),
    })
}

fn rollback(_ctx: &Context, input: Input, _output: Output) -> Result<(), ActionError> {
    publish::unpublish(&RepoUrl::parse(&input.repo_url)?)
}

#[action(
    name = "publish-github",
    version = "0.2.0",
    description = "Creates a GitHub repository and pushes the workspace (Backstage's publish:github)",
    workspace = true,
    plan = plan,
    rollback = rollback
)]
fn run(ctx: &Context, input: Input) -> Result<Output, ActionError> {
    let url = RepoUrl::parse(&input.repo_url)?;
    let default_branch = input
        .default_branch
        .clone()
        .unwrap_or_else(|| "master".into());
    let published = publish::publish(
        ctx,
        &NewPublication {
            repo_url: &url,
            description: input.description.clone().unwrap_or_default(),
            visibility: input
                .repo_visibility
                .clone()
                .unwrap_or_else(|| "private".into()),
            default_branch: default_branch.clone(),
            message: input
                .git_commit_message
                .clone()
                .unwrap_or_else(|| "initial commit".into()),
            author_name: input.git_author_name.clone(),
            author_email: input.git_author_email.clone(),
            source_path: input.source_path.clone(),
            topics: input.topics.clone().unwrap_or_default(),
            protect_default_branch: input.protect_default_branch.unwrap_or(true),
        },
    )?;
    let full_name = published.repository.full_name.clone();
    // As Backstage reads `access`: `owner/team` is a team, another name than the owner a user;
    // either gets admin.
    let mut grants: Vec<(Grantee, String)> = Vec::new();
    if let Some(access) = &input.access {
        match access.strip_prefix(&format!("{}/", url.owner)) {
            Some(team) => grants.push((Grantee::Team(team.to_string()), "admin".into())),
            None if !access.eq_ignore_ascii_case(&url.owner) => {
                grants.push((Grantee::User(access.clone()), "admin".into()))
            }
            None => {}
        }
    }
    for c in input.collaborators.iter().flatten() {
        match (&c.team, c.user.as_ref().or(c.username.as_ref())) {
            (Some(team), _) => grants.push((Grantee::Team(team.clone()), c.access.clone())),
            (None, Some(user)) => grants.push((Grantee::User(user.clone()), c.access.clone())),
            (None, None) => {
                return Err(ActionError::InvalidInput(
                    "a collaborator names a `team` or a `user`".into(),
                ));
            }
        }
    }
    for (grantee, permission) in grants {
        match grantee {
            Grantee::Team(team) => git_provider::grant_team_access(&full_name, &team, &permission)?,
            Grantee::User(user) => git_provider::grant_user_access(&full_name, &user, &permission)?,
        }
    }
    let web = published.repository.url.trim_end_matches('/').to_string();
    Ok(Output {
        remote_url: published.repository.clone_url.clone(),
        repo_contents_url: format!("{web}/blob/{default_branch}"),
        commit_hash: published.commit.sha,
    })
}
