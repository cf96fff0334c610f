//! Each provider adapter against a local server speaking that provider's documented API.

mod backstage_catalog;
mod datadog;
mod github;
mod gitlab;
mod openbao;
mod slack;
mod terraform_cloud;
mod vault;
