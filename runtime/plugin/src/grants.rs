//! What a plugin may reach: outbound hosts and secret names. Nothing is granted by default.

use serde::{Deserialize, Serialize};

/// Hosts and secrets granted to one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Grants {
    /// `host`, `host:port` or `*.suffix`; an entry without a port allows every port.
    pub hosts: Vec<String>,
    /// Secret names; a trailing `*` grants a prefix.
    pub secrets: Vec<String>,
    /// The run's workspace (`/workspace`) and the template's files (`/template`, read-only).
    /// Confined to the run's own directory, it needs no approval: asking for it grants it.
    pub workspace: bool,
}

impl Grants {
    /// Whether an outbound request to `authority` (`host` or `host:port`) is allowed.
    pub fn allows_host(&self, authority: &str) -> bool {
        let authority = authority.to_ascii_lowercase();
        let (host, port) = split_authority(&authority);
        self.hosts.iter().any(|entry| {
            let entry = entry.to_ascii_lowercase();
            let (entry_host, entry_port) = split_authority(&entry);
            let host_ok = match entry_host.strip_prefix("*.") {
                Some(suffix) => {
                    host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}"))
                }
                None => entry_host == host,
            };
            host_ok && (entry_port.is_none() || entry_port == port)
        })
    }

    /// Whether the secret `name` may be opened.
    pub fn allows_secret(&self, name: &str) -> bool {
        self.secrets
            .iter()
            .any(|entry| match entry.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => entry == name,
            })
    }

    /// Whether these grants include everything `asked` grants (the same entries, not
    /// patterns matched against each other).
    pub fn covers(&self, asked: &Grants) -> bool {
        asked.hosts.iter().all(|h| self.hosts.contains(h))
            && asked.secrets.iter().all(|s| self.secrets.contains(s))
            && (self.workspace || !asked.workspace)
    }

    /// These grants plus `other`'s, without duplicates.
    pub fn union(&self, other: &Grants) -> Grants {
        let mut merged = self.clone();
        for h in &other.hosts {
            if !merged.hosts.contains(h) {
                merged.hosts.push(h.clone());
            }
        }
        for s in &other.secrets {
            if !merged.secrets.contains(s) {
                merged.secrets.push(s.clone());
            }
        }
        merged.workspace |= other.workspace;
        merged
    }
}

fn split_authority(authority: &str) -> (&str, Option<&str>) {
    // `[::1]:8080` keeps its brackets; a bare IPv6 address has no port.
    if let Some(end) = authority.find(']') {
        let (host, rest) = authority.split_at(end + 1);
        return (host, rest.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (authority, None),
    }
}

/// `hosts [a, b], secrets [c]`, with `, workspace` when granted: how the CLI and errors show them.
impl std::fmt::Display for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "hosts [{}], secrets [{}]{}",
            self.hosts.join(", "),
            self.secrets.join(", "),
            if self.workspace { ", workspace" } else { "" }
        )
    }
}

/// Every `secret://name` an adapter binding's settings refer to: the secrets a binding grants
/// the adapter (the server's bindings and the local harness grant the same way).
pub fn secret_references(settings: &serde_json::Value) -> Vec<String> {
    let mut names = Vec::new();
    collect(settings, &mut names);
    names
}

fn collect(value: &serde_json::Value, names: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => {
            if let Some(name) = s.strip_prefix("secret://")
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, names)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect(v, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(hosts: &[&str]) -> Grants {
        Grants {
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn hosts_match_exactly_by_port_or_by_wildcard_suffix() {
        let g = grants(&["api.github.com", "localhost:8080", "*.example.com"]);
        assert!(g.allows_host("api.github.com"));
        assert!(g.allows_host("API.github.com:443"));
        assert!(g.allows_host("localhost:8080"));
        assert!(!g.allows_host("localhost:8081"));
        assert!(g.allows_host("a.example.com"));
        assert!(!g.allows_host("example.com"));
        assert!(!g.allows_host("evil-example.com"));
        assert!(!g.allows_host("github.com"));
        assert!(!Grants::default().allows_host("localhost"));
    }

    #[test]
    fn secrets_match_by_name_or_prefix() {
        let g = Grants {
            secrets: vec!["db/password".into(), "team-a/*".into()],
            ..Default::default()
        };
        assert!(g.allows_secret("db/password"));
        assert!(g.allows_secret("team-a/token"));
        assert!(!g.allows_secret("team-b/token"));
        assert!(!g.allows_secret("db/password2"));
    }
}
