//! Published plugins as they are shown.

use lever_store::PluginRecord;
use serde_json::{Value, json};

/// A published plugin as the API and the platform pages show it.
pub fn view(record: &PluginRecord) -> Value {
    json!({
        "name": record.name,
        "version": record.version,
        "kind": record.manifest.kind,
        "digest": format!("sha256:{}", record.digest),
        "size": record.size,
        "description": record.manifest.description,
        "manifest": record.manifest,
        "limits": record.limits,
        "grants": record.grants,
        "published_at": record.published_at,
        "signed_by": record.signed_by,
    })
}
