//! Plugin blobs (content-addressed) and immutable `name@version` records.

use lever_plugin::{Grants, Limits, Manifest};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_ms, parse_json};

/// One published `name@version`.
#[derive(Debug, Clone)]
pub struct PluginRecord {
    /// Name from the manifest.
    pub name: String,
    /// Version from the manifest.
    pub version: String,
    /// sha256 of the component, hex.
    pub digest: String,
    /// Size of the component in bytes.
    pub size: i64,
    /// What `describe` returned.
    pub manifest: Manifest,
    /// Limits in force.
    pub limits: Limits,
    /// Grants in force.
    pub grants: Grants,
    /// When it was published.
    pub published_at: i64,
    /// The trusted key its signature verified with; `None` when published unsigned.
    pub signed_by: Option<String>,
}

/// What publishing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishOutcome {
    /// A new `name@version`.
    Created,
    /// The same bytes were already published under this `name@version`.
    Unchanged,
}

const COLUMNS: &str = "p.name, p.version, p.digest, p.size, p.manifest, p.limits, p.grants, p.published_at, p.signed_by";

fn record(row: &AnyRow) -> Result<PluginRecord, StoreError> {
    Ok(PluginRecord {
        name: row.try_get(0)?,
        version: row.try_get(1)?,
        digest: row.try_get(2)?,
        size: row.try_get(3)?,
        manifest: parse_json("plugins.manifest", &row.try_get::<String, _>(4)?)?,
        limits: parse_json("plugins.limits", &row.try_get::<String, _>(5)?)?,
        grants: parse_json("plugins.grants", &row.try_get::<String, _>(6)?)?,
        published_at: row.try_get(7)?,
        signed_by: row.try_get(8)?,
    })
}

impl Store {
    /// Stores the blob (once per digest) and the `name@version` record, atomically.
    /// The same version with different bytes is a [`StoreError::VersionConflict`]; the same
    /// bytes asking for grants or limits the stored version lacks, a
    /// [`StoreError::SettingsConflict`].
    pub async fn publish_plugin(
        &self,
        record: &PluginRecord,
        bytes: &[u8],
    ) -> Result<PublishOutcome, StoreError> {
        let mut tx = self.write_transaction().await?;
        let existing: Option<(String, String, String)> = sqlx::query_as(
            "SELECT digest, grants, limits FROM plugins WHERE name = $1 AND version = $2",
        )
        .bind(&record.name)
        .bind(&record.version)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((existing, grants, limits)) = existing {
            return if existing == record.digest {
                // The same bytes again: a no-op, unless it asks for what the published version
                // was not given, which would otherwise be dropped without a word.
                let grants: Grants = parse_json("plugins.grants", &grants)?;
                let limits: Limits = parse_json("plugins.limits", &limits)?;
                if grants.covers(&record.grants) && limits == record.limits {
                    Ok(PublishOutcome::Unchanged)
                } else {
                    Err(StoreError::SettingsConflict {
                        name: record.name.clone(),
                        version: record.version.clone(),
                        grants: grants.to_string(),
                        limits: serde_json::to_string(&limits).expect("limits serialise"),
                    })
                }
            } else {
                Err(StoreError::VersionConflict {
                    name: record.name.clone(),
                    version: record.version.clone(),
                    existing,
                })
            };
        }
        sqlx::query("INSERT INTO plugin_blobs (digest, bytes, size, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING")
            .bind(&record.digest)
            .bind(bytes)
            .bind(bytes.len() as i64)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO plugins (name, version, kind, digest, manifest, limits, grants, published_at, signed_by, size) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (name, version) DO NOTHING",
        )
        .bind(&record.name)
        .bind(&record.version)
        .bind(record.manifest.kind.as_str())
        .bind(&record.digest)
        .bind(serde_json::to_string(&record.manifest).expect("manifest serialises"))
        .bind(serde_json::to_string(&record.limits).expect("limits serialise"))
        .bind(serde_json::to_string(&record.grants).expect("grants serialise"))
        .bind(record.published_at)
        .bind(&record.signed_by)
        .bind(bytes.len() as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            // Another publisher won the race between our check and our insert.
            drop(tx);
            return Box::pin(self.publish_plugin(record, bytes)).await;
        }
        tx.commit().await?;
        Ok(PublishOutcome::Created)
    }

    /// Every version of `name`, in publishing order.
    pub async fn plugin_versions(&self, name: &str) -> Result<Vec<PluginRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM plugins p WHERE p.name = $1 ORDER BY p.published_at, p.version"
        );
        sqlx::query(&sql)
            .bind(name)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record)
            .collect()
    }

    /// The version published from the bytes with this digest, if any (a version's name and
    /// version come from its bytes, so there is at most one).
    pub async fn plugin_with_digest(
        &self,
        digest: &str,
    ) -> Result<Option<PluginRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM plugins p WHERE p.digest = $1 ORDER BY p.published_at LIMIT 1"
        );
        sqlx::query(&sql)
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    /// One `name@version`.
    pub async fn plugin(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<PluginRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM plugins p WHERE p.name = $1 AND p.version = $2");
        sqlx::query(&sql)
            .bind(name)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    /// Every published plugin version.
    pub async fn plugins(&self) -> Result<Vec<PluginRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM plugins p ORDER BY p.name, p.published_at");
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record)
            .collect()
    }

    /// The component bytes stored under `digest`.
    pub async fn plugin_blob(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT bytes FROM plugin_blobs WHERE digest = $1")
                .bind(digest)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}
