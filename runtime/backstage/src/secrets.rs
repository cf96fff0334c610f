//! Backstage's template secrets (`secrets` of `POST /v2/tasks` and of a retry).
//!
//! Lever does not carry them into a run yet: it renders `${{ secrets.NAME }}` empty, so a
//! value given here would be dropped while the caller believed it used. Until it is sealed
//! with the run and masked like a revealed secret, a request that gives one is refused with a
//! message that says so, and an empty `secrets` (what Backstage's frontend sends for a
//! template without any) is accepted.

use serde_json::{Map, Value};

use crate::error::Failure;

/// Refuses a request that gives template secrets.
pub(crate) fn refuse_given(secrets: Option<&Map<String, Value>>) -> Result<(), Failure> {
    match secrets {
        Some(given) if !given.is_empty() => {
            let names: Vec<&str> = given.keys().map(String::as_str).collect();
            Err(Failure::input(format!(
                "template secrets ({}) are not supported by this Lever yet: give the value to a \
                 step through the secrets store (`secrets-store.put`, read with a `secret://` \
                 reference) instead",
                names.join(", ")
            )))
        }
        _ => Ok(()),
    }
}
