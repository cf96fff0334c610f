//! Plugin state and secrets, as the backends of the `lever:host` state and secrets imports.

use lever_plugin::{BackendError, StateBackend};

use crate::{Store, StoreError, now_ms};

impl Store {
    /// Stores a secret's stored form (insert or replace). The value arrives sealed: see
    /// `lever-secrets`, the only caller.
    pub async fn put_secret(&self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO secrets (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(value)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Gives unfinished run `run_id` new template secrets (a retry's), replacing any it had.
    pub async fn set_run_secrets(
        &self,
        run_id: &str,
        secrets: &crate::RunSecrets,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        let old: Option<Option<String>> =
            sqlx::query_scalar("SELECT secrets_ref FROM runs WHERE id = $1")
                .bind(run_id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(old) = old else {
            return Err(StoreError::Refused(format!("no run `{run_id}`")));
        };
        if let Some(old) = old {
            sqlx::query("DELETE FROM secrets WHERE name = $1")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        insert_secret(&mut tx, &secrets.name, &secrets.sealed).await?;
        sqlx::query("UPDATE runs SET secrets_ref = $2 WHERE id = $1")
            .bind(run_id)
            .bind(&secrets.name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A secret's stored (sealed) form.
    pub async fn secret(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Deletes a secret; `false` when there was none.
    pub async fn delete_secret(&self, name: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM secrets WHERE name = $1")
            .bind(name)
            .execute(&self.writer)
            .await?
            .rows_affected()
            > 0)
    }

    /// Every secret's name.
    pub async fn secret_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT name FROM secrets ORDER BY name")
            .fetch_all(&self.pool)
            .await?)
    }
}

fn backend(e: StoreError) -> BackendError {
    BackendError(e.to_string())
}

#[lever_plugin::async_trait]
impl StateBackend for Store {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, BackendError> {
        sqlx::query_scalar("SELECT value FROM plugin_state WHERE namespace = $1 AND key = $2")
            .bind(namespace)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| backend(e.into()))
    }

    async fn usage(&self, namespace: &str, except_key: &str) -> Result<(u64, u64), BackendError> {
        let row = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(LENGTH(value)), 0) AS BIGINT) FROM plugin_state WHERE namespace = $1 AND key <> $2",
        )
        .bind(namespace)
        .bind(except_key)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| backend(e.into()))?;
        use sqlx::Row;
        let keys: i64 = row.try_get(0).map_err(|e| backend(e.into()))?;
        let bytes: i64 = row.try_get(1).map_err(|e| backend(e.into()))?;
        Ok((keys.max(0) as u64, bytes.max(0) as u64))
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
        .execute(&self.writer)
        .await
        .map(|_| ())
        .map_err(|e| backend(e.into()))
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<(), BackendError> {
        sqlx::query("DELETE FROM plugin_state WHERE namespace = $1 AND key = $2")
            .bind(namespace)
            .bind(key)
            .execute(&self.writer)
            .await
            .map(|_| ())
            .map_err(|e| backend(e.into()))
    }
}

/// Inserts a sealed secret in `tx`.
pub(crate) async fn insert_secret(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    name: &str,
    sealed: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO secrets (name, value, updated_at) VALUES ($1, $2, $3)")
        .bind(name)
        .bind(sealed)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
