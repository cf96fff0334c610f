//! `GET /api/scaffolder/catalog-info.yaml`: Lever's templates as one Backstage catalog
//! location — every template's latest version as applied, one YAML document each — which a
//! portal registers (`catalog.locations: [{type: url, target: …}]`), so the templates
//! published to Lever appear in its template list and run here through `/api/scaffolder/v2`.
//! Served only with `backstage.publish_templates: true`, without a token: Backstage's URL
//! reader sends none.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::Backstage;
use crate::error::Failure;

/// Where the location is served.
pub const PATH: &str = "/api/scaffolder/catalog-info.yaml";

pub(crate) async fn templates(State(state): State<Backstage>) -> Result<Response, Failure> {
    let published = state
        .services
        .identity
        .config()
        .backstage
        .as_ref()
        .is_some_and(|b| b.publish_templates);
    if !published {
        return Err(Failure::not_found(
            "Lever's templates are not published as a catalog location: set backstage.publish_templates in lever.yaml",
        ));
    }
    let records = state
        .services
        .catalog
        .search(&lever_catalog::Search::default())
        .await?;
    let mut text = String::new();
    for record in records {
        text.push_str("---\n");
        text.push_str(record.source.trim_end());
        text.push('\n');
    }
    Ok(([(CONTENT_TYPE, "application/yaml")], text).into_response())
}
