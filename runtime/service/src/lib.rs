//! The application layer: Lever's use cases — submit, preview and route, view, control,
//! decide, reveal, rate, list — as plain async functions over the [`Services`] they need, each
//! answering a [`ServiceError`] whose [`Kind`] a transport maps to its own answer.
//!
//! Transports (the HTTP API in `lever-api`, the web UI in `lever-web`, and any new one) parse
//! their request, call one function here and map the answer; they never call each other, and
//! a check made here (who may run a template, who may control a run, who may read a secret)
//! is made once for all of them.

mod error;

pub mod access;
pub mod approvals;
pub mod audit;
pub mod bindings;
pub mod clock;
pub mod directory;
pub mod gate;
pub mod inbox;
pub mod insights;
pub mod plugins;
pub mod policies;
pub mod portal_templates;
pub mod replays;
pub mod repository_pickers;
pub mod resources;
pub mod runs;
pub mod secrets;
pub mod templates;
pub mod timing;
pub mod tokens;
pub mod visibility;

use std::sync::Arc;

use lever_catalog::Catalog;
use lever_registry::Registry;
use lever_runs::Executor;
use lever_store::Store;

pub use error::{Kind, ServiceError};

/// What the use cases act on: the stores and engines the binary wires once at start.
#[derive(Clone)]
pub struct Services {
    /// The database.
    pub store: Store,
    /// Published plugins.
    pub registry: Arc<Registry>,
    /// Runs.
    pub executor: Arc<Executor>,
    /// Templates.
    pub catalog: Arc<Catalog>,
    /// Secrets, sealed at rest.
    pub secrets: Arc<lever_secrets::SealedSecrets>,
    /// Who is calling.
    pub identity: Arc<lever_identity::Authenticator>,
    /// Policies, stages, decisions, links.
    pub approvals: Arc<lever_approvals::Approvals>,
    /// Set when the server runs with `--manual-clock` (tests move time through the API).
    pub manual_clock: Option<Arc<lever_store::ManualClock>>,
    /// The audit head's anchor outside the database, checked by the audit verification.
    pub audit_anchor: Option<Arc<lever_store::AuditAnchor>>,
}
