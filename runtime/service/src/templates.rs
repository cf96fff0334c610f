//! Previewing and routing a template run: the one decision a submission is made of.

use lever_approvals::Routed;
use lever_catalog::Preview;
use lever_identity::Principal;
use serde_json::Value;

use crate::{Kind, ServiceError, Services, timing};

/// Previews a run of template `name` with `parameters` for `principal` and routes it through
/// the approval policy (the preview shows the route and why). Forbidden when the principal
/// may not run the template. The template is read once: the access check, the preview and the
/// route are all of the version the preview names.
pub async fn route(
    services: &Services,
    principal: &Principal,
    name: &str,
    parameters: &Value,
) -> Result<(Preview, Routed), ServiceError> {
    let entry = services.catalog.get(name).await?;
    let template = &entry.parsed.template;
    if !principal.can_run(template.owner.as_deref().unwrap_or(""), &template.tags) {
        return Err(ServiceError::forbidden(format!(
            "{} may not run template `{name}` (owner {}, tags {:?}); ask its owners for access",
            principal.id,
            template.owner.as_deref().unwrap_or("none"),
            template.tags
        )));
    }
    let mut preview = timing::timed(
        "preview",
        services
            .catalog
            .preview_entry(&entry, parameters, &principal.id),
    )
    .await?;
    let started = std::time::Instant::now();
    let routed = services
        .approvals
        .route_template(&mut preview, template, principal)?;
    timing::record("route", started.elapsed());
    Ok((preview, routed))
}

/// A conflict naming each owner when the preview found resources the requester's team may not
/// use (another team's, or ones Lever did not create): such a run is never submitted.
pub fn refuse_conflicts(preview: &Preview) -> Result<(), ServiceError> {
    if preview.conflicts.is_empty() {
        return Ok(());
    }
    let said: Vec<&str> = preview
        .conflicts
        .iter()
        .map(|c| c.message.as_str())
        .collect();
    Err(ServiceError::new(
        Kind::Conflict,
        "resource-owned",
        said.join("; "),
    ))
}
