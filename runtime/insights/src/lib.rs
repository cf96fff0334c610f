//! Platform insights, in the product brief's terms: **adoption** (runs, who used Lever, which
//! templates), **efficiency** (time to provision against the baseline a template declares,
//! approval waits, the share approved automatically), **quality** (success and rollback rates,
//! what was left behind, the common failures) and **satisfaction** (run ratings, NPS) — and
//! the brief's combinations of them evaluated on the real figures, as sentences with the
//! numbers behind them (`interpretation`).

mod baseline;
mod figures;
mod interpretation;
mod stats;

pub use baseline::{BASELINE_ANNOTATION, human_duration, parse_baseline};
pub use figures::{Inputs, Insights, PublishedTemplate, compute};
pub use interpretation::{Finding, interpret};
