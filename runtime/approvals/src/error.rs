//! Why an approval request was refused.

use lever_policy::PolicyError;
use lever_store::StoreError;

/// An approvals failure, with the HTTP status it answers.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// The caller may not do this (not an approver of the stage, or the requester).
    #[error("{0}")]
    Forbidden(String),
    /// No such stage or run.
    #[error("{0}")]
    NotFound(String),
    /// The state does not allow it (stage closed, already decided, link already used).
    #[error("{0}")]
    Conflict(String),
    /// A one-click link that is malformed or not signed by this server.
    #[error("{0}")]
    BadLink(String),
    /// A one-click link past its expiry.
    #[error("{0}")]
    LinkExpired(String),
    /// The policy does not compile, or answered something that is not a decision.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Storage failure.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ApprovalError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(message) => ApprovalError::Conflict(message),
            other => ApprovalError::Store(other),
        }
    }
}

impl ApprovalError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApprovalError::Forbidden(_) => 403,
            ApprovalError::NotFound(_) => 404,
            ApprovalError::Conflict(_) => 409,
            ApprovalError::BadLink(_) => 400,
            ApprovalError::LinkExpired(_) => 410,
            ApprovalError::Policy(PolicyError::Syntax { .. }) => 400,
            ApprovalError::Policy(_) => 422,
            ApprovalError::Store(_) => 500,
        }
    }

    /// A stable code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalError::Forbidden(_) => "forbidden",
            ApprovalError::NotFound(_) => "not-found",
            ApprovalError::Conflict(_) => "conflict",
            ApprovalError::BadLink(_) => "invalid-link",
            ApprovalError::LinkExpired(_) => "link-expired",
            ApprovalError::Policy(PolicyError::Syntax { .. }) => "policy-syntax",
            ApprovalError::Policy(_) => "policy-error",
            ApprovalError::Store(_) => "store",
        }
    }
}
