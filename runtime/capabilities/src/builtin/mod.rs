//! The built-in providers of the embedded default, host-side (why in `docs/providers.md`):
//! sealed secrets as `secrets-store`, the PostgreSQL provider as `infrastructure`, email as
//! `notifier`.

mod email;
mod postgres;
mod secrets;

use std::sync::Arc;

use lever_sandbox::CapabilityError;
use lever_secrets::SealedSecrets;
use lever_store::Store;
use serde_json::Value;

use crate::{BindingConfig, Directory, Scope, error};

/// The built-in providers, each created on first use.
pub(crate) struct Builtins {
    secrets: secrets::BuiltinSecrets,
    postgres: postgres::BuiltinPostgres,
    email: Option<lever_notify::EmailNotifier>,
    pub(crate) directory: Directory,
}

impl Builtins {
    pub(crate) fn new(
        store: Store,
        sealed: Arc<SealedSecrets>,
        email: Option<lever_notify::EmailNotifier>,
    ) -> Self {
        let readers = Readers(store.clone());
        Self {
            secrets: secrets::BuiltinSecrets::new(store, sealed.clone(), readers.clone()),
            postgres: postgres::BuiltinPostgres::new(sealed, readers),
            email,
            directory: Directory::new(),
        }
    }

    /// `ours`: the inventory says this step claimed what it applies before (see
    /// `BuiltinPostgres::call`).
    pub(crate) async fn call(
        &self,
        scope: &Scope,
        binding: &BindingConfig,
        capability: &str,
        function: &str,
        input: &Value,
        ours: bool,
    ) -> Result<Value, CapabilityError> {
        match binding.adapter.as_str() {
            "builtin:secrets" => {
                self.secrets
                    .call(scope, &binding.settings, function, input)
                    .await
            }
            "builtin:postgres" => {
                self.postgres
                    .call(scope, &binding.settings, function, input, ours)
                    .await
            }
            "builtin:email" => match &self.email {
                Some(email) => email::call(email, &self.directory, function, input).await,
                None => Err(error(
                    "denied",
                    "`builtin:email` needs the `smtp:` section of lever.yaml",
                )),
            },
            other => Err(error(
                "denied",
                format!("bindings.{capability}.adapter: `{other}` is not a built-in provider"),
            )),
        }
    }
}

/// Who may read a secret a built-in provider wrote, besides the platform role: stored as
/// `user:<id>` and `team:<name>` entries in the state namespace [`READERS`].
#[derive(Clone)]
pub(crate) struct Readers(Store);

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
) -> Result<Vec<Reader>, lever_sandbox::BackendError> {
    use lever_sandbox::StateBackend;
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
    /// be written.
    pub(crate) async fn check_writer(
        &self,
        path: &str,
        scope: &Scope,
        team: Option<&str>,
    ) -> Result<(), CapabilityError> {
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
            return Ok(());
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
    pub(crate) async fn grant(
        &self,
        path: &str,
        scope: &Scope,
        team: Option<&str>,
    ) -> Result<(), CapabilityError> {
        use lever_sandbox::StateBackend;
        self.check_writer(path, scope, team).await?;
        let recorded = secret_readers(&self.0, path)
            .await
            .map_err(|e| error("retryable", e.to_string()))?;
        if !recorded.is_empty() {
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
    pub(crate) async fn forget(&self, path: &str) -> Result<(), CapabilityError> {
        use lever_sandbox::StateBackend;
        self.0
            .delete(READERS, path)
            .await
            .map_err(|e| error("retryable", e.to_string()))
    }
}

/// A string field of a call's input (already checked against the WIT shape).
pub(crate) fn text<'a>(input: &'a Value, key: &str) -> &'a str {
    input.get(key).and_then(Value::as_str).unwrap_or_default()
}
