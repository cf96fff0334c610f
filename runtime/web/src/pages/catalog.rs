//! `GET /`: the templates the signed-in user may run, searchable and filterable by tag and
//! owner, each with a cost hint.

use axum::extract::{Query, State};
use axum::response::Html;
use lever_catalog::Search;
use lever_service::ServiceError;
use minijinja::context;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::session::Viewer;
use crate::{WebError, WebState, render};

/// `POST /nps` with `score` (0-10) and `comment`: the answer to the NPS question.
pub(crate) async fn answer_nps(
    State(state): State<WebState>,
    viewer: Viewer,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<axum::response::Redirect, WebError> {
    let pairs = super::checked_form(&viewer, &headers, &body)?;
    let score: i64 = super::field(&pairs, "score")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            WebError::BadRequest(
                "choose how likely you are to recommend Lever, from 0 to 10".into(),
            )
        })?;
    let comment = super::field(&pairs, "comment").unwrap_or("");
    lever_service::insights::answer_nps(&state.app, &viewer.principal, score, comment).await?;
    Ok(axum::response::Redirect::to("/?thanks=nps"))
}

/// The catalog's filters.
#[derive(Debug, Deserialize)]
pub(crate) struct CatalogQuery {
    q: Option<String>,
    tag: Option<String>,
    owner: Option<String>,
    /// `nps` after the NPS question was answered.
    thanks: Option<String>,
}

/// The dollar amounts written in a page's `enumNames` ("Small ($50/month)").
fn amounts(schema: &Value, out: &mut Vec<f64>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for property in properties.values() {
        for label in property
            .get("enumNames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let Some(rest) = label.split('$').nth(1) {
                let number: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
                    .filter(|c| *c != ',')
                    .collect();
                if let Ok(n) = number.parse::<f64>() {
                    out.push(n);
                }
            }
        }
        amounts(property, out);
    }
}

/// "from $50/month", from the cheapest priced option of the form.
pub(crate) fn cost_hint(pages: &[lever_templates::Page]) -> Option<String> {
    let mut found = Vec::new();
    for page in pages {
        amounts(&page.schema, &mut found);
    }
    let cheapest = found.into_iter().fold(None, |min: Option<f64>, n| {
        Some(min.map_or(n, |m| m.min(n)))
    })?;
    Some(if cheapest.fract() == 0.0 {
        format!("from ${cheapest:.0}/month")
    } else {
        format!("from ${cheapest:.2}/month")
    })
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `GET /?q=&tag=&owner=`.
pub(crate) async fn page(
    State(state): State<WebState>,
    viewer: Viewer,
    Query(query): Query<CatalogQuery>,
) -> Result<Html<String>, WebError> {
    let catalog = &state.app.catalog;
    let runnable = |t: &lever_store::TemplateRecord| {
        viewer
            .principal
            .can_run(t.owner.as_deref().unwrap_or(""), &t.tags)
    };
    // Filters offer what the user could find at all.
    let all: Vec<_> = catalog
        .search(&Search::default())
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .filter(runnable)
        .collect();
    let mut tags: Vec<String> = all.iter().flat_map(|t| t.tags.clone()).collect();
    tags.sort();
    tags.dedup();
    let mut owners: Vec<String> = all.iter().filter_map(|t| t.owner.clone()).collect();
    owners.sort();
    owners.dedup();
    let search = Search {
        q: nonempty(query.q.clone()),
        tag: nonempty(query.tag.clone()),
        owner: nonempty(query.owner.clone()),
    };
    let mut templates = Vec::new();
    for t in catalog
        .search(&search)
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .filter(runnable)
    {
        let entry = catalog
            .get_version(&t.name, t.version)
            .await
            .map_err(ServiceError::from)?;
        let hint = cost_hint(&entry.parsed.template.pages);
        let availability = catalog
            .availability(&entry)
            .await
            .map_err(ServiceError::from)?;
        templates.push(json!({"name": t.name, "title": t.title, "description": t.description, "owner": t.owner, "tags": t.tags, "cost_hint": hint, "availability": availability}));
    }
    let ask_nps = lever_service::insights::should_ask_nps(&state.app, &viewer.principal).await?;
    render::page(
        &state,
        Some(&viewer),
        "catalog.html",
        context! {
            ask_nps,
            thanked => query.thanks.as_deref() == Some("nps"),
            templates,
            tags,
            owners,
            q => query.q.unwrap_or_default(),
            tag => query.tag.unwrap_or_default(),
            owner => query.owner.unwrap_or_default(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_is_the_cheapest_priced_option() {
        let pages = vec![lever_templates::Page {
            title: None,
            schema: json!({"properties": {"size": {"enum": ["s", "m"], "enumNames": ["Small ($50/month)", "Medium ($1,150/month)"]}}}),
        }];
        assert_eq!(cost_hint(&pages).as_deref(), Some("from $50/month"));
        assert_eq!(cost_hint(&[]), None);
    }
}
