//! The statuses in SQL. Each status enum ([`RunStatus`], [`StepStatus`], [`StageStatus`])
//! spells itself once, in `as_str`, for the database and for every answer (serde's kebab-case
//! agrees: the test below holds them together); a query that filters on a fixed status quotes
//! that spelling here instead of writing it again.

use crate::{RunStatus, StageStatus, StepStatus, StoreError};

/// A status enum with one spelling.
pub(crate) trait Spelled: Copy {
    /// The stored and reported spelling.
    fn spelling(self) -> &'static str;
}

impl Spelled for RunStatus {
    fn spelling(self) -> &'static str {
        self.as_str()
    }
}

impl Spelled for StepStatus {
    fn spelling(self) -> &'static str {
        self.as_str()
    }
}

impl Spelled for StageStatus {
    fn spelling(self) -> &'static str {
        self.as_str()
    }
}

/// The status of `all` spelled `text`, as read from column `what`; a spelling no status has
/// means the row was written by something else.
pub(crate) fn parse<S: Spelled>(
    all: &[S],
    text: &str,
    what: &'static str,
) -> Result<S, StoreError> {
    all.iter()
        .copied()
        .find(|status| status.spelling() == text)
        .ok_or_else(|| StoreError::Corrupt {
            what,
            error: format!("unknown status `{text}`"),
        })
}

/// `status` as an SQL literal: `'running'`. The spellings are fixed words without quotes.
pub(crate) fn sql<S: Spelled>(status: S) -> String {
    format!("'{}'", status.spelling())
}

/// `statuses` as an SQL list: `('pending', 'running')`.
pub(crate) fn sql_list<S: Spelled>(statuses: &[S]) -> String {
    let quoted: Vec<String> = statuses.iter().map(|s| sql(*s)).collect();
    format!("({})", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agree<S: Spelled + serde::Serialize>(all: &[S]) {
        for status in all {
            let spelling = status.spelling();
            assert_eq!(serde_json::to_value(status).unwrap(), spelling);
            assert!(
                spelling
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{spelling} must be safe to quote in SQL"
            );
        }
    }

    #[test]
    fn the_database_and_the_api_spell_every_status_the_same() {
        agree(&RunStatus::ALL);
        agree(&StepStatus::ALL);
        agree(&StageStatus::ALL);
        assert_eq!(
            sql_list(&[RunStatus::Pending, RunStatus::RollingBack]),
            "('pending', 'rolling-back')"
        );
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()).unwrap(), status);
            // Every status is either in flight or finished, never both.
            assert_ne!(
                RunStatus::IN_FLIGHT.contains(&status),
                RunStatus::FINISHED.contains(&status),
                "{status:?}"
            );
        }
        assert!(matches!(
            StepStatus::parse("done"),
            Err(StoreError::Corrupt {
                what: "run_steps.status",
                ..
            })
        ));
    }
}
