//! The built-in infrastructure provider of the embedded default: it really provisions a
//! PostgreSQL database and its owning login role on a configured server (the local PostgreSQL
//! here), and puts the generated password straight into the sealed secrets store — the
//! password is never returned, logged or stored anywhere else. `destroy` is its rollback.
//!
//! Host-side, not a component: it needs a superuser connection to the server, which no plugin
//! should hold (see `docs/providers.md`). [`PostgresBuiltin`] is its `builtin:postgres`: the
//! `infrastructure` capability (`lever-capabilities`' [`Provider`](lever_capabilities::Provider))
//! on this provider, which the binary wires.

mod builtin;

pub use builtin::PostgresBuiltin;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lever_secrets::{SealedSecrets, SecretsError};
use rand::RngCore;
use serde::Serialize;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The name or environment is not a safe identifier.
    #[error("{0}")]
    InvalidInput(String),
    /// The server refused or is unreachable.
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    /// The secrets store failed.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The database or its role exists on the server, and the caller did not say it is its
    /// own: nothing was changed (Lever never takes over what it did not create).
    #[error(
        "database `{object}` already exists on the server ({what}, owner role `{owner}`); Lever did not create it and will not take it over: choose another name, or ask the platform team to adopt it"
    )]
    Exists {
        /// The database and role name.
        object: String,
        /// What exists: `database and role`, `database`, `role`.
        what: &'static str,
        /// The role owning the database (or the role itself when only it exists).
        owner: String,
    },
}

/// What the server holds under one name, without changing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Database and role name (`<name>_<environment>`).
    pub object: String,
    /// The database exists.
    pub database: bool,
    /// The role exists.
    pub role: bool,
    /// The role owning the database, when it exists.
    pub database_owner: Option<String>,
}

impl Found {
    /// Whether anything of it exists.
    pub fn any(&self) -> bool {
        self.database || self.role
    }
}

/// What a provisioned database is, without its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provisioned {
    /// Database name (`<name>_<environment>`).
    pub database: String,
    /// Its owning login role (same name).
    pub role: String,
    /// Host clients connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Where the credentials are: `secret://databases/<name>/<environment>`.
    pub secret_ref: String,
    /// False when it already existed (a retried step): nothing was changed.
    pub created: bool,
}

/// The stored credentials document (JSON, sealed in the secrets store).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Credentials {
    /// Login role.
    pub username: String,
    /// Its password.
    pub password: String,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: String,
}

/// Provisions databases on one server.
#[derive(Clone)]
pub struct PostgresProvider {
    admin: PgPool,
    host: String,
    port: u16,
    secrets: SealedSecrets,
}

impl std::fmt::Debug for PostgresProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresProvider")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// `[a-z][a-z0-9_-]{2,30}`, with `-` becoming `_` in identifiers.
fn identifier(what: &str, value: &str) -> Result<String, ProvisionError> {
    let ok = value.len() >= 2
        && value.len() <= 31
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(ProvisionError::InvalidInput(format!(
            "{what} `{value}` must be 2 to 31 of a-z, 0-9, `_` and `-`, starting with a letter"
        )));
    }
    Ok(value.replace('-', "_"))
}

/// 24 random bytes, URL-safe base64: no quote or backslash, so the SQL literal a password goes
/// into cannot be broken out of.
fn new_password() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl PostgresProvider {
    /// Connects to the server as an administrator (`admin_url`, a role that may create roles
    /// and databases); `host`/`port` are what clients are told to connect to.
    pub async fn connect(
        admin_url: &str,
        host: &str,
        port: u16,
        secrets: SealedSecrets,
    ) -> Result<Self, ProvisionError> {
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect(admin_url)
            .await?;
        Ok(Self {
            admin,
            host: host.to_string(),
            port,
            secrets,
        })
    }

    fn secret_path(name: &str, environment: &str) -> String {
        format!("databases/{name}/{environment}")
    }

    /// What the server holds for `<name>_<environment>` (`pg_database`, `pg_roles`), changing
    /// nothing: what a plan reports.
    pub async fn inspect(&self, name: &str, environment: &str) -> Result<Found, ProvisionError> {
        let object = format!(
            "{}_{}",
            identifier("name", name)?,
            identifier("environment", environment)?
        );
        let role: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(&object)
                .fetch_one(&self.admin)
                .await?;
        let database_owner: Option<String> = sqlx::query_scalar(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
        )
        .bind(&object)
        .fetch_optional(&self.admin)
        .await?;
        Ok(Found {
            object,
            database: database_owner.is_some(),
            role,
            database_owner,
        })
    }

    /// Creates database and role `<name>_<environment>` with a new random password, stored
    /// sealed at `databases/<name>/<environment>`. With `ours` false (a first attempt), a
    /// database or role already on the server is refused with [`ProvisionError::Exists`] and
    /// nothing changes. With `ours` true (the caller's records say it began creating them: a
    /// retried or resumed step), what exists is completed, and when all three are in place
    /// nothing changes and the answer is `created: false`.
    pub async fn provision(
        &self,
        name: &str,
        environment: &str,
        ours: bool,
    ) -> Result<Provisioned, ProvisionError> {
        let found = self.inspect(name, environment).await?;
        let object = found.object.clone();
        let (role_exists, database_exists) = (found.role, found.database);
        if !ours && found.any() {
            return Err(ProvisionError::Exists {
                what: match (database_exists, role_exists) {
                    (true, true) => "database and role",
                    (true, false) => "database",
                    _ => "role",
                },
                owner: found.database_owner.unwrap_or_else(|| object.clone()),
                object,
            });
        }
        let path = Self::secret_path(name, environment);
        let stored = self.secrets.get(&path).await?.is_some();
        let provisioned = |created| Provisioned {
            database: object.clone(),
            role: object.clone(),
            host: self.host.clone(),
            port: self.port,
            secret_ref: format!("secret://{path}"),
            created,
        };
        if role_exists && database_exists && stored {
            return Ok(provisioned(false));
        }
        let password = new_password();
        // DDL takes no bind parameters; `object` is a checked identifier, quoted anyway.
        let role_sql = if role_exists {
            format!("ALTER ROLE \"{object}\" WITH LOGIN PASSWORD '{password}'")
        } else {
            format!("CREATE ROLE \"{object}\" WITH LOGIN PASSWORD '{password}'")
        };
        self.admin.execute(role_sql.as_str()).await?;
        if !database_exists {
            self.admin
                .execute(format!("CREATE DATABASE \"{object}\" OWNER \"{object}\"").as_str())
                .await?;
        }
        self.seal_credentials(&path, &object, password).await?;
        tracing::info!(database = %object, secret = %path, "provisioned a PostgreSQL database");
        Ok(provisioned(true))
    }

    /// Gives the role `<name>_<environment>` a new random password and replaces the stored
    /// credentials: the old password stops working at once. An invalid input when there is no
    /// role.
    pub async fn rotate(&self, name: &str, environment: &str) -> Result<(), ProvisionError> {
        let found = self.inspect(name, environment).await?;
        if !found.role {
            return Err(ProvisionError::InvalidInput(format!(
                "there is no role `{}` to rotate",
                found.object
            )));
        }
        let password = new_password();
        let path = Self::secret_path(name, environment);
        let object = found.object;
        self.admin
            .execute(format!("ALTER ROLE \"{object}\" WITH LOGIN PASSWORD '{password}'").as_str())
            .await?;
        self.seal_credentials(&path, &object, password).await?;
        tracing::info!(database = %object, secret = %path, "rotated a PostgreSQL role's password");
        Ok(())
    }

    /// Seals the credentials document of role and database `object` at `path`.
    async fn seal_credentials(
        &self,
        path: &str,
        object: &str,
        password: String,
    ) -> Result<(), ProvisionError> {
        let credentials = Credentials {
            username: object.to_string(),
            password,
            host: self.host.clone(),
            port: self.port,
            database: object.to_string(),
        };
        self.secrets
            .put(
                path,
                &serde_json::to_string(&credentials).expect("credentials serialise"),
            )
            .await?;
        Ok(())
    }

    /// The database `<name>_<environment>` as it stands, or `None` when it does not exist.
    pub async fn describe(
        &self,
        name: &str,
        environment: &str,
    ) -> Result<Option<Provisioned>, ProvisionError> {
        let object = format!(
            "{}_{}",
            identifier("name", name)?,
            identifier("environment", environment)?
        );
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&object)
                .fetch_one(&self.admin)
                .await?;
        Ok(exists.then(|| Provisioned {
            database: object.clone(),
            role: object.clone(),
            host: self.host.clone(),
            port: self.port,
            secret_ref: format!("secret://{}", Self::secret_path(name, environment)),
            created: false,
        }))
    }

    /// Drops the database and role and deletes their credentials (the rollback of
    /// `provision`); what is already gone is skipped.
    pub async fn destroy(&self, name: &str, environment: &str) -> Result<(), ProvisionError> {
        let object = format!(
            "{}_{}",
            identifier("name", name)?,
            identifier("environment", environment)?
        );
        self.admin
            .execute(format!("DROP DATABASE IF EXISTS \"{object}\" WITH (FORCE)").as_str())
            .await?;
        self.admin
            .execute(format!("DROP ROLE IF EXISTS \"{object}\"").as_str())
            .await?;
        self.secrets
            .delete(&Self::secret_path(name, environment))
            .await?;
        tracing::info!(database = %object, "dropped a PostgreSQL database");
        Ok(())
    }
}
