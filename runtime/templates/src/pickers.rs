//! The rules of Backstage's field extensions that constrain a value, checked by the form's one
//! validator beside the JSON Schema: `EntityNamePicker` (an entity name, as Backstage's
//! catalog accepts it) and `RepoUrlPicker` (`host?owner=…&repo=…`, within `allowedHosts` and
//! `allowedOwners`).

use serde_json::Value;

use crate::form::FieldError;

/// Backstage's rule for entity names: 1 to 63 characters of letters, digits, `-`, `_` and
/// `.`, starting and ending with a letter or digit.
pub fn entity_name_problem(name: &str) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    let allowed = |c: &char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if chars.is_empty() || chars.len() > 63 {
        return Some(format!(
            "`{name}` must be 1 to 63 characters long (it has {})",
            chars.len()
        ));
    }
    if let Some(bad) = chars.iter().find(|c| !allowed(c)) {
        return Some(format!(
            "`{name}` may only contain letters, digits, '-', '_' and '.'; remove `{bad}`"
        ));
    }
    if !chars[0].is_ascii_alphanumeric() || !chars[chars.len() - 1].is_ascii_alphanumeric() {
        return Some(format!(
            "`{name}` must start and end with a letter or a digit"
        ));
    }
    None
}

/// A `RepoUrlPicker` value split into its parts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepoUrl {
    /// `github.com`.
    pub host: String,
    /// The owner (organisation or user).
    pub owner: String,
    /// The repository name.
    pub repo: String,
}

impl RepoUrl {
    /// Parses `host?owner=…&repo=…`.
    pub fn parse(value: &str) -> Option<RepoUrl> {
        let (host, query) = value.split_once('?')?;
        let mut url = RepoUrl {
            host: host.to_string(),
            ..RepoUrl::default()
        };
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("owner", v)) => url.owner = v.to_string(),
                Some(("repo", v)) => url.repo = v.to_string(),
                _ => {}
            }
        }
        Some(url)
    }

    /// `host?owner=…&repo=…`, as Backstage's picker writes it.
    pub fn format(&self) -> String {
        format!("{}?owner={}&repo={}", self.host, self.owner, self.repo)
    }
}

fn options_list(property: &Value, key: &str) -> Vec<String> {
    property
        .get("ui:options")
        .and_then(|o| o.get(key))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What is wrong with a `RepoUrlPicker` value for this property.
pub fn repo_url_problem(property: &Value, value: &str) -> Option<String> {
    let Some(url) = RepoUrl::parse(value) else {
        return Some(format!(
            "`{value}` is not a repository location: give the host, the owner and the repository name"
        ));
    };
    if url.host.is_empty() {
        return Some("choose the repository's host".to_string());
    }
    let hosts = options_list(property, "allowedHosts");
    if !hosts.is_empty() && !hosts.contains(&url.host) {
        return Some(format!(
            "host `{}` is not allowed here: use {}",
            url.host,
            hosts.join(" or ")
        ));
    }
    if url.owner.is_empty() {
        return Some("give the repository's owner (an organisation or a user)".to_string());
    }
    let owners = options_list(property, "allowedOwners");
    if !owners.is_empty() && !owners.contains(&url.owner) {
        return Some(format!(
            "owner `{}` is not allowed here: use {}",
            url.owner,
            owners.join(" or ")
        ));
    }
    if url.repo.is_empty() {
        return Some("give the repository's name".to_string());
    }
    if let Some(problem) = entity_name_problem(&url.repo) {
        return Some(format!("the repository name {problem}"));
    }
    None
}

/// The extension rules broken by the values of one page's properties (nested objects too).
pub(crate) fn problems(schema: &Value, values: &Value, prefix: &str, out: &mut Vec<FieldError>) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        let field = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let value = values.get(name);
        if property.get("properties").is_some() {
            if let Some(value) = value {
                problems(property, value, &field, out);
            }
            continue;
        }
        let Some(text) = value.and_then(Value::as_str) else {
            continue;
        };
        let problem = match property.get("ui:field").and_then(Value::as_str) {
            Some("EntityNamePicker") => entity_name_problem(text),
            Some("RepoUrlPicker") => repo_url_problem(property, text),
            _ => None,
        };
        if let Some(message) = problem {
            out.push(FieldError { field, message });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entity_names_follow_backstage_rules() {
        assert_eq!(entity_name_problem("my-service_2.v1"), None);
        assert!(
            entity_name_problem("-lead")
                .unwrap()
                .contains("start and end")
        );
        assert!(entity_name_problem("a b").unwrap().contains("remove ` `"));
        assert!(entity_name_problem(&"a".repeat(64)).unwrap().contains("63"));
    }

    #[test]
    fn repo_urls_are_checked_against_the_allowed_hosts_and_owners() {
        let property = json!({"ui:field": "RepoUrlPicker", "ui:options": {"allowedHosts": ["github.com"], "allowedOwners": ["acme"]}});
        assert_eq!(
            repo_url_problem(&property, "github.com?owner=acme&repo=svc"),
            None
        );
        assert!(
            repo_url_problem(&property, "gitlab.com?owner=acme&repo=svc")
                .unwrap()
                .contains("use github.com")
        );
        assert!(
            repo_url_problem(&property, "github.com?owner=evil&repo=svc")
                .unwrap()
                .contains("use acme")
        );
        assert!(
            repo_url_problem(&property, "github.com?owner=acme&repo=")
                .unwrap()
                .contains("name")
        );
        let url = RepoUrl::parse("github.com?owner=acme&repo=svc").unwrap();
        assert_eq!(url.format(), "github.com?owner=acme&repo=svc");
    }
}
