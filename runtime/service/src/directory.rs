//! Answers that name teams and people. A field with Backstage's `OwnerPicker`, `EntityPicker`
//! or `MultiEntityPicker` extension and `allowArbitraryValues: false` must name a group, team
//! or user this Lever knows (its identity configuration), in any of the spellings Backstage
//! gives (`payments`, `group:payments`, `group:default/payments`): a run routed to the leads
//! of a team that does not exist would wait for approvers nobody can be.

use lever_identity::Config;
use lever_templates::{FieldError, Page};
use serde_json::Value;

/// The extensions whose answers are catalog entities.
const PICKERS: &[&str] = &["OwnerPicker", "EntityPicker", "MultiEntityPicker"];

/// An error for every answer of a restricted picker that names nobody Lever knows.
pub fn unknown_entities<'a>(
    config: &Config,
    pages: impl Iterator<Item = &'a Page>,
    parameters: &Value,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for page in pages {
        let properties = page.schema.get("properties").and_then(Value::as_object);
        for (name, property) in properties.into_iter().flatten() {
            let Some(extension) = property.get("ui:field").and_then(Value::as_str) else {
                continue;
            };
            let options = property.get("ui:options");
            let arbitrary = options
                .and_then(|o| o.get("allowArbitraryValues"))
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if !PICKERS.contains(&extension) || arbitrary {
                continue;
            }
            let kinds = kinds(extension, options);
            let answers: Vec<&str> = match parameters.get(name) {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => continue,
            };
            for answer in answers {
                if !known(config, &kinds, answer) {
                    errors.push(FieldError {
                        field: name.clone(),
                        message: format!(
                            "`{answer}` is not a {} this Lever knows; choose one of: {}",
                            what(&kinds),
                            choices(config, &kinds).join(", ")
                        ),
                    });
                }
            }
        }
    }
    errors
}

/// The people in any of `groups` other than `except` (nobody decides their own request), by
/// name, sorted by id: who can decide a stage.
pub fn people(config: &Config, groups: &[&str], except: &str) -> Vec<String> {
    let mut ids: Vec<String> = groups
        .iter()
        .flat_map(|g| config.members_of(g))
        .filter(|id| id != except)
        .collect();
    ids.sort();
    ids.dedup();
    ids.iter()
        .map(|id| {
            config
                .user(id)
                .and_then(|u| u.name.clone())
                .unwrap_or_else(|| id.clone())
        })
        .collect()
}

/// The entity kinds a picker allows, lower-cased; an `OwnerPicker` allows groups and users.
fn kinds(extension: &str, options: Option<&Value>) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    let mut add = |v: Option<&Value>| match v {
        Some(Value::String(k)) => kinds.push(k.to_lowercase()),
        Some(Value::Array(ks)) => {
            kinds.extend(ks.iter().filter_map(Value::as_str).map(str::to_lowercase))
        }
        _ => {}
    };
    add(options.and_then(|o| o.get("allowedKinds")));
    match options.and_then(|o| o.get("catalogFilter")) {
        Some(Value::Array(filters)) => filters.iter().for_each(|f| add(f.get("kind"))),
        Some(filter) => add(filter.get("kind")),
        None => {}
    }
    if kinds.is_empty() && extension == "OwnerPicker" {
        kinds = vec!["group".into(), "user".into()];
    }
    kinds
}

/// `group:default/payments` → (`group`, `payments`); a bare name has no kind.
fn parse(answer: &str) -> (Option<String>, &str) {
    let (kind, rest) = match answer.split_once(':') {
        Some((kind, rest)) => (Some(kind.to_lowercase()), rest),
        None => (None, answer),
    };
    (kind, rest.rsplit('/').next().unwrap_or(rest).trim())
}

fn known(config: &Config, kinds: &[String], answer: &str) -> bool {
    let (kind, name) = parse(answer);
    let allows = |k: &str| kinds.is_empty() || kinds.iter().any(|x| x == k);
    let as_group = kind.as_deref().is_none_or(|k| k == "group")
        && allows("group")
        && config.group_names().iter().any(|g| g == name);
    let as_user = kind.as_deref().is_none_or(|k| k == "user")
        && allows("user")
        && config.users.iter().any(|u| u.id == name);
    // Other kinds (components, systems) are not in the identity config: not checked here.
    let other = kind.as_deref().is_some_and(|k| k != "group" && k != "user");
    as_group || as_user || other
}

fn what(kinds: &[String]) -> &'static str {
    let group = kinds.iter().any(|k| k == "group");
    let user = kinds.iter().any(|k| k == "user");
    match (group, user) {
        (true, false) => "team",
        (false, true) => "person",
        _ => "team or person",
    }
}

fn choices(config: &Config, kinds: &[String]) -> Vec<String> {
    let allows = |k: &str| kinds.is_empty() || kinds.iter().any(|x| x == k);
    let mut out = Vec::new();
    if allows("group") {
        out.extend(config.group_names());
    }
    if allows("user") {
        out.extend(config.users.iter().map(|u| u.id.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        serde_json::from_value(json!({
            "users": [{"id": "alice", "team": "payments"}],
            "groups": [{"name": "payments-leads", "members": ["carol"]}],
        }))
        .unwrap()
    }

    fn page(options: Value) -> Page {
        Page {
            title: None,
            schema: json!({"properties": {"owner": {"type": "string", "ui:field": "OwnerPicker", "ui:options": options}}}),
        }
    }

    #[test]
    fn a_restricted_owner_must_be_a_known_team_in_any_spelling() {
        let restricted =
            page(json!({"catalogFilter": {"kind": "Group"}, "allowArbitraryValues": false}));
        let check = |owner: &str| {
            unknown_entities(
                &config(),
                std::iter::once(&restricted),
                &json!({"owner": owner}),
            )
        };
        for ok in [
            "payments",
            "group:payments",
            "group:default/payments",
            "payments-leads",
        ] {
            assert!(check(ok).is_empty(), "{ok}");
        }
        let errors = check("marketing");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "owner");
        assert!(
            errors[0].message.contains("`marketing` is not a team"),
            "{errors:?}"
        );
        assert!(
            errors[0].message.contains("payments"),
            "it lists the choices"
        );
        assert_eq!(
            check("user:default/alice").len(),
            1,
            "a person is not a team here"
        );
        let open = page(json!({"allowArbitraryValues": true}));
        assert!(
            unknown_entities(
                &config(),
                std::iter::once(&open),
                &json!({"owner": "anyone"})
            )
            .is_empty()
        );
    }
}
