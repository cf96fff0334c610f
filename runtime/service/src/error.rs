//! The one error every use case answers: what kind of failure it is (which each transport
//! maps to its own answer — an HTTP status, a Backstage error body, an MCP tool error), a
//! stable code and a message that says what to fix. Never a stack trace or a database message.

use lever_catalog::CatalogError;
use lever_registry::{PublishError, ResolveError, SignatureError};
use lever_runs::SubmitError;
use lever_sandbox::{InvokeError, LoadError};
use lever_store::StoreError;
use serde_json::{Value, json};

/// What kind of failure: the caller's input, their rights, the state of things, or Lever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request is not valid; the message says what to fix.
    Invalid,
    /// Nobody (valid) is calling.
    Unauthenticated,
    /// The caller may not do this.
    Forbidden,
    /// What the request names does not exist.
    NotFound,
    /// The request clashes with the state of things (a run already finished, a resource
    /// another team owns, a version that exists).
    Conflict,
    /// What the request names existed and has expired (a decision link).
    Gone,
    /// The request is well formed but cannot be acted on (a policy that fails to evaluate).
    Unprocessable,
    /// Lever is at capacity; try again after `retry_after` seconds.
    Busy,
    /// A dependency (the database, the secrets store, the identity provider) is unavailable.
    Unavailable,
    /// A bug or a broken stored artefact.
    Internal,
}

impl Kind {
    /// The HTTP status that tells this kind, for the HTTP transports.
    pub fn http_status(self) -> u16 {
        match self {
            Kind::Invalid => 400,
            Kind::Unauthenticated => 401,
            Kind::Forbidden => 403,
            Kind::NotFound => 404,
            Kind::Conflict => 409,
            Kind::Gone => 410,
            Kind::Unprocessable => 422,
            Kind::Busy | Kind::Unavailable => 503,
            Kind::Internal => 500,
        }
    }

    /// The kind an HTTP status of a lower layer (identity, approvals) stands for.
    pub fn from_http_status(status: u16) -> Kind {
        match status {
            400 => Kind::Invalid,
            401 => Kind::Unauthenticated,
            403 => Kind::Forbidden,
            404 => Kind::NotFound,
            409 => Kind::Conflict,
            410 => Kind::Gone,
            422 => Kind::Unprocessable,
            503 => Kind::Unavailable,
            _ => Kind::Internal,
        }
    }
}

/// A use case's failure.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    /// What kind of failure.
    pub kind: Kind,
    /// A stable code clients can match (`invalid-parameters`, `resource-owned`...).
    pub code: &'static str,
    /// What happened and what to fix.
    pub message: String,
    /// Structured details (field errors, a line number...).
    pub details: Option<Value>,
    /// Seconds after which trying again may work (with [`Kind::Busy`]).
    pub retry_after: Option<u64>,
}

impl ServiceError {
    /// A failure of `kind` with a stable code and a message that says what to fix.
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// Not valid input.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Kind::Invalid, code, message)
    }

    /// Nothing by that name.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, "not-found", message)
    }

    /// Not for this caller.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Kind::Forbidden, "forbidden", message)
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Says when to try again.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        if let StoreError::Refused(message) = e {
            return ServiceError::new(Kind::Conflict, "conflict", message);
        }
        tracing::error!(error = %e, "store error");
        ServiceError::new(
            Kind::Unavailable,
            "store-unavailable",
            "the database is unavailable; try again shortly",
        )
    }
}

impl From<PublishError> for ServiceError {
    fn from(e: PublishError) -> Self {
        let e = match e {
            PublishError::Store(s) => return s.into(),
            other => other,
        };
        let invalid = |code| ServiceError::invalid(code, e.to_string());
        match &e {
            PublishError::Load(LoadError::NotWasm) => invalid("not-wasm"),
            PublishError::Load(LoadError::CoreModule) => invalid("core-module"),
            PublishError::Load(LoadError::NotALeverWorld { .. }) => invalid("not-a-lever-world"),
            PublishError::Load(LoadError::UnknownImport(_)) => invalid("unknown-import"),
            PublishError::Load(_) | PublishError::InvalidManifest(_) => invalid("invalid-plugin"),
            PublishError::Conflict(StoreError::SettingsConflict { .. }) => {
                ServiceError::new(Kind::Conflict, "published-with-other-grants", e.to_string())
            }
            PublishError::Conflict(_) => {
                ServiceError::new(Kind::Conflict, "version-exists", e.to_string())
            }
            PublishError::Signature(signature) => invalid(match signature {
                SignatureError::Unsigned { .. } => "unsigned",
                SignatureError::Untrusted { .. } => "untrusted-signature",
                SignatureError::Tampered { .. } => "bad-signature",
                SignatureError::Malformed(_) => "malformed-signature",
            }),
            PublishError::Store(_) => unreachable!("answered above"),
        }
    }
}

impl From<ResolveError> for ServiceError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::NotFound(m) => ServiceError::not_found(m),
            ResolveError::Reference(r) => ServiceError::invalid("invalid-reference", r.to_string()),
            ResolveError::Load(..) => {
                tracing::error!(error = %e, "stored plugin does not load");
                ServiceError::new(Kind::Internal, "plugin-unloadable", e.to_string())
            }
            ResolveError::Store(s) => s.into(),
        }
    }
}

impl From<SubmitError> for ServiceError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Resolve(r) => r.into(),
            SubmitError::Input(InvokeError::InvalidInput { errors }) => ServiceError::invalid(
                "invalid-input",
                format!(
                    "the input does not match the action's input schema: {}",
                    errors.join("; ")
                ),
            )
            .with_details(json!(errors)),
            SubmitError::Input(other) => ServiceError::invalid("invalid-input", other.to_string()),
            SubmitError::Parameters(errors) => {
                let message = SubmitError::Parameters(errors.clone()).to_string();
                ServiceError::invalid("invalid-parameters", message).with_details(json!(errors))
            }
            SubmitError::Catalog(c) => c.into(),
            SubmitError::Malformed(m) => ServiceError::invalid("invalid-request", m),
            SubmitError::NotFound(m) => ServiceError::not_found(m),
            SubmitError::Conflict(m) => ServiceError::new(Kind::Conflict, "wrong-state", m),
            SubmitError::Busy(m) => ServiceError::new(Kind::Busy, "busy", m)
                .with_retry_after(lever_runs::RETRY_AFTER.as_secs()),
            SubmitError::Store(s) => s.into(),
        }
    }
}

impl From<CatalogError> for ServiceError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Template(t) => ServiceError::invalid("invalid-template", t.to_string())
                .with_details(json!({"line": t.line, "message": t.message})),
            CatalogError::Form(m) => ServiceError::invalid("invalid-form", m),
            CatalogError::Bundle(b) => ServiceError::invalid("invalid-bundle", b.to_string()),
            CatalogError::NotFound(m) => ServiceError::not_found(m),
            CatalogError::DryRun(m) => ServiceError::invalid("dry-run", m),
            CatalogError::Store(s) => s.into(),
        }
    }
}

impl From<lever_identity::IdentityError> for ServiceError {
    fn from(e: lever_identity::IdentityError) -> Self {
        let kind = Kind::from_http_status(e.status());
        let code = match kind {
            Kind::Unauthenticated => "unauthenticated",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "unknown-user",
            Kind::Invalid => "invalid-config",
            _ => "identity-unavailable",
        };
        if matches!(kind, Kind::Internal | Kind::Unavailable) {
            tracing::error!(error = %e, "identity failure");
        }
        ServiceError::new(kind, code, e.to_string())
    }
}

impl From<lever_approvals::ApprovalError> for ServiceError {
    fn from(e: lever_approvals::ApprovalError) -> Self {
        if let lever_approvals::ApprovalError::Store(inner) = e {
            return inner.into();
        }
        let mut error =
            ServiceError::new(Kind::from_http_status(e.status()), e.code(), e.to_string());
        if let lever_approvals::ApprovalError::Policy(lever_policy::PolicyError::Syntax {
            file,
            line,
            column,
            ..
        }) = &e
        {
            error = error.with_details(json!({"file": file, "line": line, "column": column}));
        }
        error
    }
}

impl From<lever_secrets::SecretsError> for ServiceError {
    fn from(e: lever_secrets::SecretsError) -> Self {
        match e {
            lever_secrets::SecretsError::Store(inner) => inner.into(),
            other => {
                tracing::error!(error = %other, "secrets store failure");
                ServiceError::new(Kind::Internal, "secrets-unavailable", other.to_string())
            }
        }
    }
}
