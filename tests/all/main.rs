//! One integration-test binary, one module per topic, to keep link time down.

mod api;
mod cli;
mod corpus;
mod demo;
mod sandbox;
mod store;
mod templates;
mod workflows;
mod approvals;
mod approval_timers;
mod identity;
mod email;
mod adapters;
mod integrations;
