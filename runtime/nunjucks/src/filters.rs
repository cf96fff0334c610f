//! The filters Backstage adds to nunjucks (`parseRepoUrl`, `parseEntityRef`, `pick`,
//! `projectSlug`) and nunjucks' `dump`, which minijinja does not have under that name.

use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Value as Jinja};
use serde_json::Value;

/// `github.com?owner=o&repo=r` → `{host, owner, repo, …}`, as Backstage's RepoUrlPicker writes it.
pub(crate) fn parse_repo_url(url: String) -> Result<Jinja, Error> {
    let (host, query) = url.split_once('?').ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("`{url}` is not a repository URL like github.com?owner=o&repo=r"),
        )
    })?;
    let mut map = serde_json::Map::new();
    map.insert("host".into(), Value::String(host.to_string()));
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            map.insert(k.to_string(), Value::String(v.to_string()));
        }
    }
    if !map.contains_key("repo") {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`{url}` names no repo"),
        ));
    }
    Ok(Jinja::from_serialize(&map))
}

/// `github.com?owner=o&repo=r` → `o/r`.
pub(crate) fn project_slug(url: String) -> Result<String, Error> {
    let parsed = parse_repo_url(url)?;
    let owner = parsed
        .get_attr("owner")
        .ok()
        .filter(|v| !v.is_undefined())
        .or_else(|| parsed.get_attr("organization").ok());
    Ok(format!(
        "{}/{}",
        owner.map(|o| o.to_string()).unwrap_or_default(),
        parsed.get_attr("repo")?
    ))
}

/// `obj | pick('key')`.
pub(crate) fn pick(value: Jinja, key: String) -> Result<Jinja, Error> {
    value.get_attr(&key)
}

/// `value | dump`, `value | dump(2)`: JSON, as nunjucks' `JSON.stringify`.
pub(crate) fn dump(value: Jinja, spaces: Option<usize>) -> Result<String, Error> {
    if value.is_undefined() {
        return Ok(String::new());
    }
    let json = serde_json::to_value(&value)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
    Ok(match spaces {
        Some(n) if n > 0 => {
            let indent = " ".repeat(n.min(10));
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
            let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
            serde::Serialize::serialize(&json, &mut serializer)
                .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
            String::from_utf8_lossy(&out).into_owned()
        }
        _ => json.to_string(),
    })
}

/// `ref | parseEntityRef`, `ref | parseEntityRef({defaultKind, defaultNamespace})`:
/// `[kind:][namespace/]name` → `{kind, namespace, name}`, as Backstage's catalog model reads it.
pub(crate) fn parse_entity_ref(reference: String, context: Option<Jinja>) -> Result<Jinja, Error> {
    let default = |key: &str| {
        context
            .as_ref()
            .filter(|c| c.kind() == ValueKind::Map)
            .and_then(|c| c.get_attr(key).ok())
            .filter(|v| !v.is_undefined() && !v.is_none())
            .map(|v| v.to_string())
    };
    let (kind, rest) = match (reference.find(':'), reference.find('/')) {
        (Some(colon), slash) if colon > 0 && slash.is_none_or(|s| colon < s) => (
            Some(reference[..colon].to_string()),
            &reference[colon + 1..],
        ),
        _ => (None, reference.as_str()),
    };
    let (namespace, name) = match rest.split_once('/') {
        Some((ns, name)) => (Some(ns.to_string()), name),
        None => (None, rest),
    };
    let kind = kind.or_else(|| default("defaultKind")).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("entity reference `{reference}` has no kind (start it with `component:` or similar, or pass defaultKind)"),
        )
    })?;
    if name.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("entity reference `{reference}` has no name"),
        ));
    }
    let namespace = namespace
        .or_else(|| default("defaultNamespace"))
        .unwrap_or_else(|| "default".into());
    Ok(Jinja::from_serialize(serde_json::json!({
        "kind": kind,
        "namespace": namespace,
        "name": name,
    })))
}
