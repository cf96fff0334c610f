//! Each person's in-app inbox: one row per recipient, unread until they read it.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Store, StoreError, parse_json};

/// A link in an inbox entry: the one-click approve or reject link, or the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboxLink {
    /// What it says.
    pub label: String,
    /// Where it goes.
    pub url: String,
    /// `approve`, `reject` or `link`.
    pub kind: String,
}

/// What to deliver: the same entry to each recipient.
#[derive(Debug, Clone)]
pub struct NewInboxEntry<'a> {
    /// The run it is about, when it is about one.
    pub run_id: Option<&'a str>,
    /// `message`, `approval-requested`, `reminder`, `escalated`, `expired`.
    pub kind: &'a str,
    /// One line.
    pub subject: &'a str,
    /// The text (Markdown).
    pub body: &'a str,
    /// When (ms).
    pub at: i64,
    /// Delivered once per recipient under this key (a step's idempotency key), when given.
    pub delivery_key: Option<&'a str>,
}

/// One entry of someone's inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InboxEntry {
    /// Its id, in delivery order.
    pub id: i64,
    /// The run it is about.
    pub run_id: Option<String>,
    /// `message`, `approval-requested`, `reminder`, `escalated`, `expired`.
    pub kind: String,
    /// One line.
    pub subject: String,
    /// The text (Markdown).
    pub body: String,
    /// This recipient's links.
    pub links: Vec<InboxLink>,
    /// When it was delivered (ms).
    pub at: i64,
    /// When its recipient read it (ms), if they did.
    pub read_at: Option<i64>,
}

impl Store {
    /// Delivers `entry` to each of `recipients`, each with their own links, in one
    /// transaction (a recipient who has the entry's delivery key already is skipped); answers
    /// the first new entry's id.
    pub async fn deliver_to_inbox(
        &self,
        entry: &NewInboxEntry<'_>,
        recipients: &[(String, Vec<InboxLink>)],
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.write_transaction().await?;
        let mut first = None;
        for (user, links) in recipients {
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO inbox (user_id, run_id, kind, subject, body, links, at, delivery_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (user_id, delivery_key) DO NOTHING RETURNING id",
            )
            .bind(user)
            .bind(entry.run_id)
            .bind(entry.kind)
            .bind(entry.subject)
            .bind(entry.body)
            .bind(serde_json::to_string(links).expect("links serialise"))
            .bind(entry.at)
            .bind(entry.delivery_key)
            .fetch_optional(&mut *tx)
            .await?;
            if first.is_none() {
                first = id;
            }
        }
        tx.commit().await?;
        Ok(first)
    }

    /// `user`'s newest `limit` entries, newest first.
    pub async fn inbox(&self, user: &str, limit: i64) -> Result<Vec<InboxEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, run_id, kind, subject, body, links, at, read_at FROM inbox \
             WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(user)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InboxEntry {
                    id: r.try_get(0)?,
                    run_id: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    subject: r.try_get(3)?,
                    body: r.try_get(4)?,
                    links: parse_json("inbox.links", &r.try_get::<String, _>(5)?)?,
                    at: r.try_get(6)?,
                    read_at: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// How many of `user`'s entries are unread.
    pub async fn unread_in_inbox(&self, user: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE user_id = $1 AND read_at IS NULL")
                .bind(user)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Marks `user`'s entries up to `up_to` (an id) read at `at`; answers how many changed.
    pub async fn mark_inbox_read(
        &self,
        user: &str,
        up_to: i64,
        at: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE inbox SET read_at = $3 WHERE user_id = $1 AND id <= $2 AND read_at IS NULL",
        )
        .bind(user)
        .bind(up_to)
        .bind(at)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
