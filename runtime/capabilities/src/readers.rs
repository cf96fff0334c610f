//! Who may read the secrets built-in providers write, besides the platform role: recorded when
//! a provider first writes a path, never changed by a later write, and checked before another
//! team's run could overwrite them.

use lever_sandbox::CapabilityError;
use lever_store::Store;

use crate::{Scope, provider::error};

/// Who may read a secret a built-in provider wrote, besides the platform role: stored as
/// `user:<id>` and `team:<name>` entries in the state namespace [`READERS`].
#[derive(Clone)]
pub struct Readers(Store);

impl Readers {
    /// The readers recorded in `store`.
    pub fn new(store: Store) -> Self {
        Readers(store)
    }
}

/// The state namespace holding each secret's readers.
const READERS: &str = "secret-readers";

/// One reader of a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// A Lever user, by id.
    User(String),
    /// Every member of a team or group.
    Team(String),
}

impl std::fmt::Display for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reader::User(id) => write!(f, "user:{id}"),
            Reader::Team(team) => write!(f, "team:{team}"),
        }
    }
}

/// The recorded readers of the secret at `path` (none when no built-in wrote it).
pub async fn secret_readers(
    store: &Store,
    path: &str,
) -> Result<Vec<Reader>, lever_plugin::BackendError> {
    use lever_plugin::StateBackend;
    let entries: Vec<String> = store
        .get(READERS, path)
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    Ok(entries
        .iter()
        .filter_map(|e| match e.split_once(':') {
            Some(("user", id)) => Some(Reader::User(id.to_string())),
            Some(("team", team)) => Some(Reader::Team(team.to_string())),
            _ => None,
        })
        .collect())
}

impl Readers {
    /// Refuses to let a run write `path` when its recorded readers are another team's (or
    /// another person's): writing it would hand them a value they do not own, or take theirs
    /// away. A path with no readers, or whose readers include the run's team or requester, may
    /// be written; the readers it has are answered.
    pub async fn check_writer(
        &self,
        path: &str,
        scope: &Scope,
        team: Option<&str>,
    ) -> Result<Vec<Reader>, CapabilityError> {
        let readers = secret_readers(&self.0, path).await.map_err(|e| {
            error(
                "retryable",
                format!("cannot read the readers of `{path}`: {e}"),
            )
        })?;
        let team = team.or(scope.owner.as_deref());
        let mine = readers.is_empty()
            || readers.iter().any(|r| match r {
                Reader::User(id) => *id == scope.context.requester,
                Reader::Team(t) => Some(t.as_str()) == team,
            });
        if mine {
            return Ok(readers);
        }
        let owners: Vec<String> = readers.iter().map(Reader::to_string).collect();
        Err(error(
            "denied",
            format!(
                "secret `{path}` belongs to {} (its readers): a run for {} may not write it; choose another path or name",
                owners.join(", "),
                team.map(|t| format!("team:{t}"))
                    .unwrap_or_else(|| format!("user:{}", scope.context.requester))
            ),
        ))
    }

    /// Records the requester (and a team, if any) as readers of `path`. A path that has
    /// readers keeps them: readers never change because a later run wrote the same path
    /// ([`Readers::check_writer`] refuses another team's first).
    pub async fn grant(
        &self,
        path: &str,
        scope: &Scope,
        team: Option<&str>,
    ) -> Result<(), CapabilityError> {
        use lever_plugin::StateBackend;
        if !self.check_writer(path, scope, team).await?.is_empty() {
            return Ok(());
        }
        let mut readers = vec![Reader::User(scope.context.requester.clone())];
        if let Some(team) = team.filter(|t| !t.is_empty()) {
            readers.push(Reader::Team(team.to_string()));
        }
        let entries: Vec<String> = readers.iter().map(Reader::to_string).collect();
        let value = serde_json::to_vec(&entries).expect("a list of strings serialises");
        self.0.set(READERS, path, &value).await.map_err(|e| {
            error(
                "retryable",
                format!("cannot record the readers of `{path}`: {e}"),
            )
        })
    }

    /// Forgets the readers of a deleted secret.
    pub async fn forget(&self, path: &str) -> Result<(), CapabilityError> {
        use lever_plugin::StateBackend;
        self.0
            .delete(READERS, path)
            .await
            .map_err(|e| error("retryable", e.to_string()))
    }
}
