//! Pages of template runs filtered by requester and status, in a chosen order, with the total
//! the filter matches: what a task list (Backstage's `GET /v2/tasks`) shows and pages through.

use crate::runs::{COLUMNS, record};
use crate::status::sql;
use crate::{RunRecord, RunStatus, Store, StoreError};

/// The column a page of runs is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOrder {
    /// When it was submitted.
    CreatedAt,
    /// Its status's spelling.
    Status,
    /// Who asked for it.
    Requester,
}

/// Which template runs a page holds.
#[derive(Debug, Clone, Default)]
pub struct RunPageFilter {
    /// Only runs one of these users requested (`None`: anyone's).
    pub requesters: Option<Vec<String>>,
    /// Only runs in one of these statuses (empty: any).
    pub statuses: Vec<RunStatus>,
    /// Ordered by these columns in turn, each descending when `true`; newest first when empty.
    pub order: Vec<(RunOrder, bool)>,
    /// At most this many.
    pub limit: i64,
    /// After skipping this many.
    pub offset: i64,
}

impl Store {
    /// A page of template runs and how many runs the filter matches in all.
    pub async fn run_page(
        &self,
        filter: &RunPageFilter,
    ) -> Result<(Vec<RunRecord>, i64), StoreError> {
        let mut conditions = vec!["template IS NOT NULL".to_string()];
        let mut binds: Vec<&str> = Vec::new();
        if let Some(requesters) = &filter.requesters {
            if requesters.is_empty() {
                return Ok((Vec::new(), 0));
            }
            let first = binds.len() + 1;
            let marks: Vec<String> = (first..first + requesters.len())
                .map(|i| format!("${i}"))
                .collect();
            conditions.push(format!("requester IN ({})", marks.join(", ")));
            binds.extend(requesters.iter().map(String::as_str));
        }
        if !filter.statuses.is_empty() {
            // The statuses are the enum's own spellings, quoted, never the caller's text.
            let quoted: Vec<String> = filter.statuses.iter().map(|s| sql(*s)).collect();
            conditions.push(format!("status IN ({})", quoted.join(", ")));
        }
        let filter_sql = conditions.join(" AND ");
        let mut order: Vec<String> = filter
            .order
            .iter()
            .map(|(column, desc)| {
                let column = match column {
                    RunOrder::CreatedAt => "created_at",
                    RunOrder::Status => "status",
                    RunOrder::Requester => "requester",
                };
                format!("{column} {}", if *desc { "DESC" } else { "ASC" })
            })
            .collect();
        order.push("created_at DESC".into());
        order.push("id DESC".into());
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE {filter_sql} ORDER BY {} LIMIT {} OFFSET {}",
            order.join(", "),
            filter.limit.clamp(0, 1000),
            filter.offset.max(0)
        );
        let mut query = sqlx::query(&sql);
        for value in &binds {
            query = query.bind(*value);
        }
        let runs = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(record)
            .collect::<Result<Vec<_>, _>>()?;
        let count_sql = format!("SELECT COUNT(*) FROM runs WHERE {filter_sql}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for value in &binds {
            count = count.bind(*value);
        }
        let total = count.fetch_one(&self.pool).await?;
        Ok((runs, total))
    }
}
