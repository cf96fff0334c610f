//! Each provider adapter against a local server speaking that provider's documented API.

mod github;
mod gitlab;
mod vault;
mod terraform_cloud;
mod slack;
mod datadog;
