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
}

const COLUMNS: &str = "name, version, source, title, description, owner, tags, created_at";

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
        if let Some(latest) = &latest
            && latest.source == template.source
        {
            return Ok((latest.clone(), false));
        }
        let version = latest.map(|l| l.version + 1).unwrap_or(1);
        sqlx::query(
            "INSERT INTO templates (name, version, source, title, description, owner, tags, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(template.name)
        .bind(version)
        .bind(template.source)
        .bind(template.title)
        .bind(template.description)
        .bind(template.owner)
        .bind(serde_json::to_string(template.tags).expect("tags serialise"))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
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
}
