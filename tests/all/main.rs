//! One integration-test binary, one module per topic, to keep link time down.

mod adapters;
mod api;
mod approval_timers;
mod approvals;
mod audit_anchor;
mod cli;
mod corpus;
mod demo;
mod dispatch;
mod email;
mod event_delivery;
mod fuzz;
mod http_limits;
mod identity;
mod insights;
mod insights_rollup;
mod integrations;
mod masking;
mod openapi;
mod operations;
mod quotas;
mod sandbox;
mod store;
mod templates;
mod web;
mod workflows;
