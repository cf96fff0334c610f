//! What Backstage's built-in scaffolder actions share, as Lever components: the `repoUrl`
//! they take, the run's workspace (paths kept inside it, files read with their executable
//! bit), and skeleton rendering for `fetch:template` and its siblings.

pub mod fetch;
pub mod repo_url;
pub mod workspace;

pub use repo_url::RepoUrl;
pub mod publish;
