//! The template catalog: versions are kept; applying unchanged source adds no version.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, now_ms, parse_json};

/// One stored template version.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateRecord {
    /// `metadata.name`.
    pub name: String,
    /// 1, 2, ... per name.
    pub version: i64,
    /// The YAML or JSON as applied.
    pub source: String,
    /// `metadata.title`.
    pub title: Option<String>,
    /// `metadata.description`.
    pub description: Option<String>,
    /// `spec.owner`.
    pub owner: Option<String>,
    /// `metadata.tags`.
    pub tags: Vec<String>,
    /// When it was applied (ms).
    pub created_at: i64,
    /// Where the template file is in its bundle (`None`: applied as a lone file).
    pub bundle_path: Option<String>,
    /// The paths of the bundle's files (the template's too; empty without a bundle).
    pub bundle_paths: Vec<String>,
    /// Tells two bundles apart.
    pub bundle_digest: Option<String>,
}

/// One file of a template's bundle, to store.
#[derive(Debug, Clone)]
pub struct NewTemplateFile<'a> {
    /// Path inside the bundle.
    pub path: &'a str,
    /// Unix permission bits.
    pub mode: u32,
    /// Its bytes.
    pub bytes: &'a [u8],
    /// SHA-256 of the bytes, hex.
    pub digest: String,
}

/// A template's bundle, to store.
#[derive(Debug, Clone)]
pub struct NewBundle<'a> {
    /// Where the template file is.
    pub template_path: &'a str,
    /// Tells two bundles apart.
    pub digest: String,
    /// Every file.
    pub files: Vec<NewTemplateFile<'a>>,
}

/// What a new template version carries.
#[derive(Debug, Clone)]
pub struct NewTemplate<'a> {
    /// Name.
    pub name: &'a str,
    /// Source text.
    pub source: &'a str,
    /// Title.
    pub title: Option<&'a str>,
    /// Description.
    pub description: Option<&'a str>,
    /// Owner.
    pub owner: Option<&'a str>,
    /// Tags.
    pub tags: &'a [String],
    /// Its files, when applied as a bundle.
    pub bundle: Option<NewBundle<'a>>,
}

const COLUMNS: &str = "name, version, source, title, description, owner, tags, created_at, bundle_path, bundle_paths, bundle_digest";

fn record(row: &AnyRow) -> Result<TemplateRecord, StoreError> {
    Ok(TemplateRecord {
        name: row.try_get(0)?,
        version: row.try_get(1)?,
        source: row.try_get(2)?,
        title: row.try_get(3)?,
        description: row.try_get(4)?,
        owner: row.try_get(5)?,
        tags: parse_json("templates.tags", &row.try_get::<String, _>(6)?)?,
        created_at: row.try_get(7)?,
        bundle_path: row.try_get(8)?,
        bundle_paths: match row.try_get::<Option<String>, _>(9)? {
            Some(paths) => parse_json("templates.bundle_paths", &paths)?,
            None => Vec::new(),
        },
        bundle_digest: row.try_get(10)?,
    })
}

impl Store {
    /// Stores a new version, unless the latest one has the same source. Returns the version
    /// in force and whether it is new.
    pub async fn put_template(
        &self,
        template: &NewTemplate<'_>,
    ) -> Result<(TemplateRecord, bool), StoreError> {
        let mut tx = self.write_transaction().await?;
        let latest = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM templates WHERE name = $1 ORDER BY version DESC LIMIT 1"
        ))
        .bind(template.name)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(record)
        .transpose()?;
        let digest = template.bundle.as_ref().map(|b| b.digest.clone());
        if let Some(latest) = &latest
            && latest.source == template.source
            && latest.bundle_digest == digest
        {
            return Ok((latest.clone(), false));
        }
        let version = latest.map(|l| l.version + 1).unwrap_or(1);
        let paths = template.bundle.as_ref().map(|b| {
            serde_json::to_string(&b.files.iter().map(|f| f.path).collect::<Vec<_>>())
                .expect("paths serialise")
        });
        sqlx::query(
            "INSERT INTO templates (name, version, source, title, description, owner, tags, created_at, bundle_path, bundle_paths, bundle_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(template.name)
        .bind(version)
        .bind(template.source)
        .bind(template.title)
        .bind(template.description)
        .bind(template.owner)
        .bind(serde_json::to_string(template.tags).expect("tags serialise"))
        .bind(now_ms())
        .bind(template.bundle.as_ref().map(|b| b.template_path))
        .bind(paths)
        .bind(digest)
        .execute(&mut *tx)
        .await?;
        for file in template.bundle.iter().flat_map(|b| &b.files) {
            sqlx::query(
                "INSERT INTO template_blobs (digest, bytes, size) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING",
            )
            .bind(&file.digest)
            .bind(file.bytes)
            .bind(file.bytes.len() as i64)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO template_files (name, version, path, mode, digest) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(template.name)
            .bind(version)
            .bind(file.path)
            .bind(i64::from(file.mode))
            .bind(&file.digest)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((
            self.template(template.name, Some(version))
                .await?
                .expect("just inserted"),
            true,
        ))
    }

    /// One version of a template, or its latest.
    pub async fn template(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<TemplateRecord>, StoreError> {
        let row =
            match version {
                Some(v) => {
                    sqlx::query(&format!(
                        "SELECT {COLUMNS} FROM templates WHERE name = $1 AND version = $2"
                    ))
                    .bind(name)
                    .bind(v)
                    .fetch_optional(&self.pool)
                    .await?
                }
                None => sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM templates WHERE name = $1 ORDER BY version DESC LIMIT 1"
                ))
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
            };
        row.as_ref().map(record).transpose()
    }

    /// The latest version of every template, by name.
    pub async fn latest_templates(&self) -> Result<Vec<TemplateRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM templates t WHERE version = (SELECT MAX(version) FROM templates u WHERE u.name = t.name) ORDER BY name"
        );
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record)
            .collect()
    }

    /// Every version of one template, newest first.
    pub async fn template_versions(&self, name: &str) -> Result<Vec<TemplateRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM templates WHERE name = $1 ORDER BY version DESC"
        ))
        .bind(name)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(record)
        .collect()
    }

    /// The files of a template version's bundle under `folder` (a bundle path; `""` for all):
    /// `(path, mode, bytes)`, by path.
    pub async fn template_files(
        &self,
        name: &str,
        version: i64,
        folder: &str,
    ) -> Result<Vec<(String, u32, Vec<u8>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT f.path, f.mode, b.bytes FROM template_files f JOIN template_blobs b ON b.digest = f.digest \
             WHERE f.name = $1 AND f.version = $2 AND ($3 = '' OR f.path = $3 OR substr(f.path, 1, length($4)) = $4) ORDER BY f.path",
        )
        .bind(name)
        .bind(version)
        .bind(folder)
        .bind(format!("{folder}/"))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    u32::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0o644),
                    r.try_get(2)?,
                ))
            })
            .collect()
    }
}
