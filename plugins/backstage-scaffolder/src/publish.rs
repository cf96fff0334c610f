//! What the publish actions share: a new repository created once per step (a retried or
//! resumed attempt finds the one it made), the workspace committed through the bound
//! `git-provider`, and a branch with a pull (merge) request on an existing repository.

use lever_sdk::capabilities::git_provider::{
    self, Commit, NewCommit, NewPullRequest, NewRepository, PullRequest, Repository,
    RepositorySettings,
};
use lever_sdk::state::{self, Scope};
use lever_sdk::{ActionError, Context};

use crate::RepoUrl;
use crate::workspace;

/// A repository to create and fill with the workspace.
pub struct NewPublication<'a> {
    /// Where.
    pub repo_url: &'a RepoUrl,
    /// One line.
    pub description: String,
    /// `private`, `internal` or `public`.
    pub visibility: String,
    /// The branch the first commit goes on.
    pub default_branch: String,
    /// Commit message.
    pub message: String,
    /// Author.
    pub author_name: Option<String>,
    /// Author email.
    pub author_email: Option<String>,
    /// The workspace folder to publish.
    pub source_path: Option<String>,
    /// Topics.
    pub topics: Vec<String>,
    /// Protect the default branch.
    pub protect_default_branch: bool,
}

/// The result of [`publish`].
pub struct Published {
    /// The repository.
    pub repository: Repository,
    /// The first commit.
    pub commit: Commit,
}

fn created_key(ctx: &Context) -> String {
    format!("created-repository/{}", ctx.step_id)
}

/// Creates the repository (once per step), commits the workspace as its first commit on the
/// default branch, then applies the settings.
pub fn publish(ctx: &Context, p: &NewPublication<'_>) -> Result<Published, ActionError> {
    let files = workspace::publishable(p.source_path.as_deref())?;
    if files.is_empty() {
        return Err(ActionError::InvalidInput(
            "the workspace has no files to publish: fetch a skeleton first (fetch:template) or fix sourcePath".into(),
        ));
    }
    let full_name = p.repo_url.full_name();
    let key = created_key(ctx);
    let repository = match state::get(Scope::Run, &key)? {
        // An earlier attempt of this step created it: carry on with that one.
        Some(_) => git_provider::get_repository(&full_name)?,
        None => {
            let repository = git_provider::create_repository(&NewRepository {
                owner: p.repo_url.owner.clone(),
                name: p.repo_url.repo.clone(),
                description: p.description.clone(),
                private: p.visibility != "public",
                template: None,
            })?;
            state::set(Scope::Run, &key, repository.full_name.as_bytes())?;
            repository
        }
    };
    let commit = git_provider::commit_files(&NewCommit {
        repository: repository.full_name.clone(),
        branch: p.default_branch.clone(),
        base: None,
        message: p.message.clone(),
        files: workspace::tree_files(&files, ""),
        deletions: Vec::new(),
        author_name: p.author_name.clone(),
        author_email: p.author_email.clone(),
    })?;
    git_provider::configure_repository(&RepositorySettings {
        repository: repository.full_name.clone(),
        visibility: Some(p.visibility.clone()),
        default_branch: Some(p.default_branch.clone()),
        topics: p.topics.clone(),
        protect_default_branch: p.protect_default_branch,
    })?;
    lever_sdk::log::info(&format!(
        "published {} files to {} ({}), commit {}",
        files.len(),
        repository.full_name,
        p.default_branch,
        commit.sha
    ));
    Ok(Published { repository, commit })
}

/// The rollback of [`publish`]: the repository deleted (gone already counts as done).
pub fn unpublish(repo_url: &RepoUrl) -> Result<(), ActionError> {
    match git_provider::delete_repository(&repo_url.full_name()) {
        Ok(()) | Err(git_provider::Error::NotFound(_)) => {
            lever_sdk::log::info(&format!("deleted repository {}", repo_url.full_name()));
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// A branch with the workspace's files, and a pull request from it.
pub struct NewChange<'a> {
    /// The repository.
    pub repo_url: &'a RepoUrl,
    /// The branch to create.
    pub branch: String,
    /// The branch to merge into; none: the repository's default branch.
    pub target_branch: Option<String>,
    /// Title.
    pub title: String,
    /// Body.
    pub description: String,
    /// The workspace folder whose files go in.
    pub source_path: Option<String>,
    /// Where they go in the repository.
    pub target_path: Option<String>,
    /// Commit message (the title when none).
    pub message: Option<String>,
    /// Author.
    pub author_name: Option<String>,
    /// Author email.
    pub author_email: Option<String>,
    /// Delete the repository's files at the workspace files' paths instead of writing them
    /// (GitLab's `commitAction: delete`).
    pub delete: bool,
}

/// The result of [`open_change`].
pub struct Opened {
    /// The pull request.
    pub pull_request: PullRequest,
    /// The branch merged into.
    pub target_branch: String,
    /// The repository.
    pub repository: Repository,
}

/// Commits the files on a new branch and opens the pull (merge) request.
pub fn open_change(c: &NewChange<'_>) -> Result<Opened, ActionError> {
    let files = workspace::publishable(c.source_path.as_deref())?;
    let repository = git_provider::get_repository(&c.repo_url.full_name())?;
    let target_branch = c
        .target_branch
        .clone()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| repository.default_branch.clone());
    let prefix = match c.target_path.as_deref() {
        None => String::new(),
        Some(t) => workspace::safe_relative(t, "targetPath")?,
    };
    git_provider::commit_files(&NewCommit {
        repository: repository.full_name.clone(),
        branch: c.branch.clone(),
        base: Some(target_branch.clone()),
        message: c.message.clone().unwrap_or_else(|| c.title.clone()),
        files: if c.delete {
            Vec::new()
        } else {
            workspace::tree_files(&files, &prefix)
        },
        deletions: if c.delete {
            workspace::tree_files(&files, &prefix)
                .into_iter()
                .map(|f| f.path)
                .collect()
        } else {
            Vec::new()
        },
        author_name: c.author_name.clone(),
        author_email: c.author_email.clone(),
    })?;
    let pull_request = git_provider::create_pull_request(&NewPullRequest {
        repository: repository.full_name.clone(),
        title: c.title.clone(),
        body: c.description.clone(),
        head: c.branch.clone(),
        base: target_branch.clone(),
        files: Vec::new(),
    })?;
    lever_sdk::log::info(&format!(
        "opened #{} on {} from {} into {} with {} files",
        pull_request.number,
        repository.full_name,
        c.branch,
        target_branch,
        files.len()
    ));
    Ok(Opened {
        pull_request,
        target_branch,
        repository,
    })
}

/// The rollback of [`open_change`]: the pull request closed.
pub fn close_change(repo_url: &RepoUrl, number: u64) -> Result<(), ActionError> {
    git_provider::close_pull_request(&repo_url.full_name(), number)?;
    lever_sdk::log::info(&format!("closed #{number} on {}", repo_url.full_name()));
    Ok(())
}
