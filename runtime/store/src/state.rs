//! Plugin state and secrets, as the backends of the `lever:host` state and secrets imports.

use lever_sandbox::{BackendError, SecretBackend, StateBackend};

use crate::{Store, StoreError, now_ms};

impl Store {
    /// Stores a secret value (insert or replace).
    pub async fn put_secret(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO secrets (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(value)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Reads a secret value.
    pub async fn secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1").bind(name).fetch_optional(&self.pool).await?)
    }
}

fn backend(e: StoreError) -> BackendError {
    BackendError(e.to_string())
}

#[lever_sandbox::async_trait]
impl StateBackend for Store {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        sqlx::query_scalar("SELECT value FROM plugin_state WHERE namespace = $1 AND key = $2")
            .bind(namespace)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| backend(e.into()))
    }

    async fn set(&self, namespace: &str, key: &str, value: &[u8]) -> Result<(), BackendError> {
        sqlx::query(
            "INSERT INTO plugin_state (namespace, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(namespace)
        .bind(key)
        .bind(value)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(|e| backend(e.into()))
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<(), BackendError> {
        sqlx::query("DELETE FROM plugin_state WHERE namespace = $1 AND key = $2")
            .bind(namespace)
            .bind(key)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| backend(e.into()))
    }
}

#[lever_sandbox::async_trait]
impl SecretBackend for Store {
    async fn get(&self, name: &str) -> Result<Option<String>, BackendError> {
        self.secret(name).await.map_err(backend)
    }
}
