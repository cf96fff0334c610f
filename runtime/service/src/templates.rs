//! The template catalog's use cases: apply, search, show, validate, and previewing and routing
//! a run — the one decision a submission is made of.

use lever_approvals::Routed;
use lever_catalog::{Availability, Preview, Search};
use lever_identity::Principal;
use lever_templates::{FieldError, Warning};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::access::require_platform;
use crate::{Kind, ServiceError, Services, timing};

/// A template applied: a new version, or the latest one when nothing changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateApplied {
    /// The template.
    pub name: String,
    /// Its version.
    pub version: i64,
    /// What loads but may not do what its author meant.
    pub warnings: Vec<Warning>,
    /// Files stored with it (0 for a template applied as a lone file).
    pub files: usize,
}

/// Applies a template — YAML or JSON text, or a tar, tar.gz or zip bundle of it with its files
/// (`template`: which one of a bundle holding several) — for the platform team. Answers what
/// was applied and whether it is a new version.
pub async fn apply(
    services: &Services,
    principal: &Principal,
    body: &[u8],
    template: Option<&str>,
) -> Result<(TemplateApplied, bool), ServiceError> {
    require_platform(principal, "publishing templates")?;
    let (entry, created) = if lever_templates::bundle::is_archive(body) {
        let bundle = lever_templates::bundle::Bundle::read(body, template)
            .map_err(|e| ServiceError::invalid("invalid-bundle", e.to_string()))?;
        services.catalog.apply_bundle(&bundle).await?
    } else {
        let text = std::str::from_utf8(body).map_err(|_| {
            ServiceError::invalid(
                "invalid-template",
                "the body is neither UTF-8 text (a YAML or JSON template) nor a tar, tar.gz or zip bundle",
            )
        })?;
        if text.trim().is_empty() {
            return Err(ServiceError::invalid(
                "empty-body",
                "send the template YAML or JSON as the request body, or a tar or zip bundle of it with its files",
            ));
        }
        services.catalog.apply(text).await?
    };
    let applied = TemplateApplied {
        name: entry.record.name.clone(),
        version: entry.record.version,
        warnings: entry.parsed.warnings.clone(),
        files: entry.record.bundle_paths.len(),
    };
    Ok((applied, created))
}

/// A template in a list: its latest version.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateSummary {
    /// The template.
    pub name: String,
    /// Its latest version.
    pub version: i64,
    /// Its title.
    pub title: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its owner (`group:payments`).
    pub owner: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Whether it can run here, and what it lacks.
    pub availability: Availability,
}

/// The templates found.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    /// The latest version of each.
    pub templates: Vec<TemplateSummary>,
}

/// The latest versions whose name, title or description hold the words, with the tag and the
/// owner asked for.
pub async fn search(services: &Services, search: &Search) -> Result<TemplateList, ServiceError> {
    let mut templates = Vec::new();
    for t in services.catalog.search(search).await? {
        let entry = services.catalog.get_version(&t.name, t.version).await?;
        let availability = services.catalog.availability(&entry).await?;
        templates.push(TemplateSummary {
            name: t.name,
            version: t.version,
            title: t.title,
            description: t.description,
            owner: t.owner,
            tags: t.tags,
            availability,
        });
    }
    Ok(TemplateList { templates })
}

/// One step of a template, as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateStep {
    /// The step's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The action or capability function it calls.
    pub action: String,
}

/// A template's latest version: metadata, form pages and steps.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    /// The template.
    pub name: String,
    /// Its latest version.
    pub version: i64,
    /// Its title.
    pub title: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its owner.
    pub owner: Option<String>,
    /// Its Backstage `spec.type`.
    #[serde(rename = "type")]
    pub template_type: Option<String>,
    /// Its tags.
    pub tags: Vec<String>,
    /// The form's pages: JSON Schemas with their `ui:` hints.
    pub pages: Vec<Value>,
    /// Its steps, in order.
    pub steps: Vec<TemplateStep>,
    /// What loads but may not do what its author meant.
    pub warnings: Vec<Warning>,
    /// Whether it can run here, and what it lacks.
    pub availability: Availability,
}

/// The latest version of template `name`.
pub async fn show(services: &Services, name: &str) -> Result<TemplateView, ServiceError> {
    let entry = services.catalog.get(name).await?;
    let t = &entry.parsed.template;
    Ok(TemplateView {
        name: t.name.clone(),
        version: entry.record.version,
        title: t.title.clone(),
        description: t.description.clone(),
        owner: t.owner.clone(),
        template_type: t.template_type.clone(),
        tags: t.tags.clone(),
        pages: t
            .pages
            .iter()
            .map(|p| serde_json::to_value(p).expect("a form page serialises"))
            .collect(),
        steps: t
            .steps
            .iter()
            .map(|s| TemplateStep {
                id: s.id.clone(),
                name: s.name.clone(),
                action: s.action.clone(),
            })
            .collect(),
        warnings: entry.parsed.warnings.clone(),
        availability: services.catalog.availability(&entry).await?,
    })
}

/// A form's answers checked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    /// Whether they are valid.
    pub valid: bool,
    /// The parameters with the form's defaults filled in.
    pub parameters: Value,
    /// Per field, what to fix.
    pub errors: Vec<FieldError>,
    /// Whether the template can run here at all, and what it lacks: valid answers to a
    /// template that is not available are still refused at submit.
    pub availability: Availability,
}

/// Checks `parameters` against the form of the latest version of `name`.
pub async fn validate(
    services: &Services,
    name: &str,
    parameters: &Value,
) -> Result<Validation, ServiceError> {
    // One read of the template: the form checked and the availability are of one version.
    let entry = services.catalog.get(name).await?;
    let parameters = entry.form.with_defaults(parameters);
    let mut errors = entry.form.validate(&parameters);
    errors.extend(unknown_entities(services, &entry, &parameters));
    Ok(Validation {
        valid: errors.is_empty(),
        parameters,
        errors,
        availability: services.catalog.availability(&entry).await?,
    })
}

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
    let unknown = unknown_entities(services, &entry, &preview.parameters);
    preview.errors.extend(unknown);
    let started = std::time::Instant::now();
    let routed = services
        .approvals
        .route_template(&mut preview, template, principal)?;
    timing::record("route", started.elapsed());
    Ok((preview, routed))
}

/// Teams and people the answers name that this Lever does not know, as field errors (the
/// validation's and the preview's alike).
fn unknown_entities(
    services: &Services,
    entry: &lever_catalog::Entry,
    parameters: &Value,
) -> Vec<lever_templates::FieldError> {
    crate::directory::unknown_entities(services.identity.config(), entry.form.pages(), parameters)
}

/// The form's errors as the submission's 400 (`invalid-parameters`, one per field): the
/// schema's, and a team or person this Lever does not know.
pub fn refuse_invalid(preview: &Preview) -> Result<(), ServiceError> {
    if preview.errors.is_empty() {
        return Ok(());
    }
    Err(lever_runs::SubmitError::Parameters(preview.errors.clone()).into())
}

/// A conflict naming what is missing when a step that would run lacks its action or binding:
/// such a run would only fail, with a message meant for the platform team.
pub fn refuse_unrunnable(preview: &Preview) -> Result<(), ServiceError> {
    if preview.runnable {
        return Ok(());
    }
    let needs: Vec<&lever_catalog::MissingAction> = preview
        .missing_actions
        .iter()
        .filter(|m| m.required)
        .collect();
    // One sentence each, however many of a capability's functions the steps call.
    let mut said: Vec<&str> = Vec::new();
    let mut fixes: Vec<&str> = Vec::new();
    for need in &needs {
        if !said.contains(&need.message.as_str()) {
            said.push(&need.message);
        }
        if !fixes.contains(&need.fix.as_str()) {
            fixes.push(&need.fix);
        }
    }
    Err(ServiceError::new(
        Kind::Conflict,
        "template-unavailable",
        format!(
            "template `{}` cannot run here yet: {} Ask the platform team: {}",
            preview.template,
            said.join(" "),
            fixes.join(" ")
        ),
    )
    .with_details(json!({"missing": needs})))
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

/// Who can decide one stage of a preview's approval route.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageApprovers {
    /// The stage's name.
    pub stage: String,
    /// The people who may decide it, by name (the requester excluded: nobody approves their
    /// own request).
    pub people: Vec<String>,
    /// Nobody but the requester is in the stage's own groups.
    pub nobody_else: bool,
    /// So the platform team decides it (the policy added its groups).
    pub escalated: bool,
}

/// The people behind each stage of `preview`'s route, for `requester`: a stage with nobody in
/// it would wait until it expires, so the form says so before anyone submits.
pub fn approvers(services: &Services, preview: &Preview, requester: &str) -> Vec<StageApprovers> {
    let config = services.identity.config();
    let platform = config.platform_groups();
    let stages = preview
        .approval
        .as_ref()
        .and_then(|a| a["stages"].as_array().cloned())
        .unwrap_or_default();
    stages
        .iter()
        .map(|stage| {
            let groups: Vec<&str> = stage["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let own: Vec<&str> = groups
                .iter()
                .copied()
                .filter(|g| !platform.contains(g))
                .collect();
            let own_people = crate::directory::people(config, &own, requester);
            let nobody_else = own_people.is_empty();
            // Nobody else in the stage's own groups: the platform team's, if the policy sent it
            // there (the default policy does), decide it.
            let escalated = own_people.is_empty() && own.len() < groups.len();
            StageApprovers {
                stage: stage["name"].as_str().unwrap_or_default().to_string(),
                people: if escalated {
                    crate::directory::people(config, &groups, requester)
                } else {
                    own_people
                },
                nobody_else,
                escalated,
            }
        })
        .collect()
}
