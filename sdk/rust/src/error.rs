use crate::bindings::lever::host::{secrets, state};
use crate::bindings::lever::plugin::types::Error as WitError;

/// Why an action failed. Each case carries a message that tells the user what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionError {
    /// The input is wrong; say which field and what is expected.
    InvalidInput(String),
    /// A transient failure: the host may retry.
    Retryable(String),
    /// A permanent failure.
    Fatal(String),
    /// Something needed does not exist.
    NotFound(String),
    /// The provider or the host refused.
    Denied(String),
    /// Anything else.
    Other(String),
}

impl From<ActionError> for WitError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::InvalidInput(m) => WitError::InvalidInput(m),
            ActionError::Retryable(m) => WitError::Retryable(m),
            ActionError::Fatal(m) => WitError::Fatal(m),
            ActionError::NotFound(m) => WitError::NotFound(m),
            ActionError::Denied(m) => WitError::Denied(m),
            ActionError::Other(m) => WitError::Other(m),
        }
    }
}

/// A capability call's error (`git_provider::create_repository`…) passes through unchanged.
impl From<WitError> for ActionError {
    fn from(e: WitError) -> Self {
        match e {
            WitError::InvalidInput(m) => ActionError::InvalidInput(m),
            WitError::Retryable(m) => ActionError::Retryable(m),
            WitError::Fatal(m) => ActionError::Fatal(m),
            WitError::NotFound(m) => ActionError::NotFound(m),
            WitError::Denied(m) => ActionError::Denied(m),
            WitError::Other(m) => ActionError::Other(m),
        }
    }
}

impl From<crate::http::HttpError> for ActionError {
    fn from(e: crate::http::HttpError) -> Self {
        use crate::http::HttpError;
        match e {
            HttpError::Denied(m) => ActionError::Denied(m),
            HttpError::Invalid(m) => ActionError::InvalidInput(m),
            HttpError::Transport(m) => ActionError::Retryable(m),
        }
    }
}

impl From<secrets::Error> for ActionError {
    fn from(e: secrets::Error) -> Self {
        match e {
            secrets::Error::NotGranted(m) => ActionError::Denied(m),
            secrets::Error::NotFound(m) => ActionError::NotFound(m),
            secrets::Error::Other(m) => ActionError::Other(m),
        }
    }
}

impl From<state::Error> for ActionError {
    fn from(e: state::Error) -> Self {
        match e {
            state::Error::TooLarge(m) | state::Error::Other(m) => ActionError::Fatal(m),
        }
    }
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kind, m) = match self {
            ActionError::InvalidInput(m) => ("invalid input", m),
            ActionError::Retryable(m) => ("retryable", m),
            ActionError::Fatal(m) => ("fatal", m),
            ActionError::NotFound(m) => ("not found", m),
            ActionError::Denied(m) => ("denied", m),
            ActionError::Other(m) => ("error", m),
        };
        write!(f, "{kind}: {m}")
    }
}

impl std::error::Error for ActionError {}
