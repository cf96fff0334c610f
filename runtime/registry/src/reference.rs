//! `name[@version]` references, name and version rules, and "did you mean" suggestions.

use std::cmp::Ordering;

/// Why a reference is malformed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ReferenceError(String);

/// A parsed `name` or `name@version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRef {
    /// Plugin name.
    pub name: String,
    /// Exact version, or `None` for the highest.
    pub version: Option<String>,
}

impl PluginRef {
    /// Parses `name` or `name@version`.
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let (name, version) = match text.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (text, None),
        };
        check_name(name)?;
        if let Some(v) = version {
            check_version(v)?;
        }
        Ok(Self {
            name: name.to_string(),
            version: version.map(str::to_string),
        })
    }
}

impl std::fmt::Display for PluginRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A name is 1 to 64 characters of lowercase letters, digits and dashes, starting with a letter.
pub fn check_name(name: &str) -> Result<(), ReferenceError> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ReferenceError(format!(
            "`{name}` is not a valid plugin name: use 1 to 64 lowercase letters, digits and dashes, starting with a letter"
        )))
    }
}

/// A version is `MAJOR.MINOR.PATCH`, optionally followed by `-prerelease`.
pub(crate) fn check_version(version: &str) -> Result<(), ReferenceError> {
    let core = version.split_once('-').map(|(c, _)| c).unwrap_or(version);
    let parts: Vec<&str> = core.split('.').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(ReferenceError(format!(
            "`{version}` is not a valid version: use MAJOR.MINOR.PATCH, like 1.2.0"
        )))
    }
}

/// Orders versions numerically; a pre-release sorts before its release.
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    fn key(v: &str) -> (Vec<u64>, bool, &str) {
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (v, None),
        };
        (
            core.split('.').map(|p| p.parse().unwrap_or(0)).collect(),
            pre.is_none(),
            pre.unwrap_or(""),
        )
    }
    key(a).cmp(&key(b))
}

/// The candidate closest to `wanted` by edit distance, if any is reasonably close.
pub fn closest<'a>(wanted: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (distance(wanted, c), c))
        .filter(|(d, c)| *d <= (c.len().max(wanted.len()) / 2).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_reject_bad_names_and_versions() {
        assert_eq!(
            PluginRef::parse("debug-log").unwrap(),
            PluginRef {
                name: "debug-log".into(),
                version: None
            }
        );
        assert_eq!(
            PluginRef::parse("debug-log@1.2.3")
                .unwrap()
                .version
                .as_deref(),
            Some("1.2.3")
        );
        assert!(PluginRef::parse("Debug").is_err());
        assert!(PluginRef::parse("debug-log@1.2").is_err());
        assert!(PluginRef::parse("debug:log").is_err());
    }

    #[test]
    fn versions_order_numerically_with_prereleases_first() {
        assert_eq!(compare_versions("0.10.0", "0.9.0"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.0-rc1", "1.0.0"), Ordering::Less);
    }

    #[test]
    fn closest_suggests_near_names_only() {
        let names = vec!["debug-log".to_string(), "http-request".to_string()];
        assert_eq!(closest("debug-logs", &names), Some("debug-log"));
        assert_eq!(closest("zzzzzzzzzzzzzzzzzz", &names), None);
    }
}
