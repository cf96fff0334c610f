//! Backstage `scaffolder.backstage.io/v1beta3` templates, accepted as they are, plus Lever's
//! step extensions (`onFailure`, `retry`, `timeout`, `rollback`, `needs`, `waitFor`, `approval`).
//!
//! [`parse`] turns YAML or JSON into a [`Template`] and warnings for fields Lever does not know;
//! [`Form`] validates parameters page by page and fills defaults; [`Expressions`] renders
//! `${{ … }}` and `{{ … }}` with minijinja, keeping the type of a value that is one whole
//! expression; [`bundle`] reads a template with its files (tar, tar.gz, zip or a directory).

pub mod bundle;
mod expressions;
mod form;
mod model;
mod parse;
pub mod pickers;

pub use expressions::{ExpressionError, Expressions, is_truthy, keep_met_conditions};
pub use form::{FieldError, Form};
pub use model::{OnFailure, Page, Retry, Step, StepCall, Template, WaitFor, plugin_reference};
pub use parse::{Parsed, TemplateError, Warning, parse};
