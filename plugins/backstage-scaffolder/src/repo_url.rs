//! Backstage's `repoUrl`: `github.com?owner=o&repo=r` (the `RepoUrlPicker`'s value).

use lever_sdk::ActionError;

/// A parsed `repoUrl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl {
    /// `github.com`, `gitlab.com`…
    pub host: String,
    /// Owner, organisation or group path (`owner`, or `organization`/`workspace`).
    pub owner: String,
    /// Repository name.
    pub repo: String,
}

impl RepoUrl {
    /// Parses `host?owner=o&repo=r`; the message says what is missing.
    pub fn parse(text: &str) -> Result<Self, ActionError> {
        let bad = |what: &str| {
            ActionError::InvalidInput(format!(
                "repoUrl `{text}` {what}; write it as host?owner=OWNER&repo=NAME (the RepoUrlPicker's value)"
            ))
        };
        let text = text.trim();
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .unwrap_or(text);
        let (host, query) = rest.split_once('?').ok_or_else(|| bad("has no query"))?;
        let host = host.trim_end_matches('/').to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let (mut owner, mut repo) = (None, None);
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            match key {
                "owner" => owner = Some(value),
                "organization" | "workspace" if owner.is_none() => owner = Some(value),
                "repo" => repo = Some(value),
                _ => {}
            }
        }
        let owner = owner
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("names no owner"))?;
        let repo = repo
            .filter(|r| !r.is_empty())
            .ok_or_else(|| bad("names no repo"))?;
        Ok(Self { host, owner, repo })
    }

    /// `owner/repo`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }
}

/// Percent-decoding of a query value (`%2F` → `/`, `+` → space).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&value[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
