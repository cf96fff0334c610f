//! Approval policy as code.
//!
//! Policies are Rego modules evaluated in-process with [regorus]. Every policy defines
//! [`DECISION_RULE`], which receives the run request as `input` (see `policies/default.rego` for
//! its shape) and yields the approval [`Decision`]: which [`Stage`]s must approve, in which order,
//! and why. [`PolicySet::run_tests`] runs a policy's `test_` rules like `opa test`.

mod decision;
mod engine;
mod error;
mod output;
mod testing;

pub use decision::{Decision, OnExpiry, Required, Stage};
pub use engine::PolicySet;
pub use error::PolicyError;
pub use testing::TestOutcome;

/// The built-in default policy's name (its module is compiled as `default.rego`).
pub const DEFAULT_POLICY_NAME: &str = "default";

/// The built-in default policy (`policies/default.rego`).
pub const DEFAULT_POLICY: &str = include_str!("../../../policies/default.rego");

/// The default policy's tests (`policies/default_test.rego`).
pub const DEFAULT_POLICY_TESTS: &str = include_str!("../../../policies/default_test.rego");

/// Entry point rule every policy must define.
pub const DECISION_RULE: &str = "data.lever.approval.decision";
