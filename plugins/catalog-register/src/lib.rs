//! `catalog-register`: registers a component in the software catalog (stand-in).

use lever_sdk::{ActionError, Context, action};

/// Input of `catalog-register`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Input {
    /// URL of the repository holding catalog-info.yaml.
    #[serde(rename = "repoContentsUrl")]
    repo_contents_url: String,
    /// Path of the catalog file.
    #[serde(rename = "catalogInfoPath", default)]
    catalog_info_path: Option<String>,
}

/// Output of `catalog-register`.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Output {
    /// The registered entity.
    #[serde(rename = "entityRef")]
    entity_ref: String,
}

#[action(
    name = "catalog-register",
    version = "0.1.0",
    description = "Registers a component in the catalog (stand-in)"
)]
fn run(_ctx: &Context, input: Input) -> Result<Output, ActionError> {
    let name = input
        .repo_contents_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("component")
        .to_string();
    lever_sdk::log::info(&format!(
        "registered {}{}",
        input.repo_contents_url,
        input
            .catalog_info_path
            .as_deref()
            .unwrap_or("/catalog-info.yaml")
    ));
    Ok(Output {
        entity_ref: format!("component:default/{name}"),
    })
}
