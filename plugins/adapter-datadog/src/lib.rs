//! Datadog adapter: the `observability` capability over the v1 dashboard and monitor APIs.
//!
//! A dashboard's web address is the API's relative `url` on the site's web host: `app_url` when
//! the binding sets it, else derived from `base_url` (`api.datadoghq.com` → `app.datadoghq.com`,
//! `api.datadoghq.eu` → `app.datadoghq.eu`, `api.us5.datadoghq.com` → `us5.datadoghq.com`),
//! else `base_url` itself (a proxy or a test server).

use lever_adapter_sdk::bindings::lever::host::state::{self, Scope};
use lever_adapter_sdk::capabilities::observability::Dashboard;
use lever_adapter_sdk::params::{Deletion, NewDashboard, NewMonitor};
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};
use lever_adapter_sdk::{AdapterManifest, Context, Error, Grants, Guest, input, output, settings};

struct Datadog;

impl Guest for Datadog {
    fn describe() -> AdapterManifest {
        let schema = json!({
            "type": "object",
            "properties": {
                "base_url": {"type": "string", "description": "API address of the Datadog site (default https://api.datadoghq.com)"},
                "app_url": {"type": "string", "description": "Web address for dashboard links (default: derived from base_url)"},
                "api_key": {"type": "string", "description": "secret://NAME of an API key"},
                "app_key": {"type": "string", "description": "secret://NAME of an application key with dashboards_write and monitors_write"}
            },
            "required": ["api_key", "app_key"],
            "additionalProperties": false
        });
        AdapterManifest {
            name: "datadog".into(),
            version: "0.1.0".into(),
            description: "Datadog: dashboards and monitors".into(),
            capabilities: vec!["observability".into()],
            settings_schema: schema.to_string(),
            grants: Grants {
                hosts: vec!["api.datadoghq.com".into()],
                secrets: vec![],
                workspace: false,
            },
        }
    }

    fn invoke(
        ctx: Context,
        function: String,
        settings: String,
        input_json: String,
    ) -> Result<String, Error> {
        let settings = settings::parse(&settings)?;
        // One step creates a dashboard or monitor once: a retried step gets the first one back.
        let memo = format!(
            "datadog/{function}/{}/{}/{:016x}",
            ctx.run_id,
            ctx.step_id,
            fnv(&input_json)
        );
        match function.as_str() {
            "create-dashboard" => {
                let request: NewDashboard = input(&function, &input_json)?;
                let body = dashboard_body(&ctx, &request)?;
                if let Some(done) = remembered(&memo) {
                    return Ok(done);
                }
                let api = connect(&settings)?;
                let answer = api.post("/api/v1/dashboard", &body)?.body;
                let id = answer
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::Fatal("Datadog answered no dashboard id".into()))?;
                let path = answer
                    .get("url")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("/dashboard/{id}"));
                let url = format!("{}{path}", web_base(&settings, &api.base));
                remember(
                    &memo,
                    output(&Dashboard {
                        id: id.to_string(),
                        url,
                    })?,
                )
            }
            "create-monitor" => {
                let request: NewMonitor = input(&function, &input_json)?;
                if let Some(done) = remembered(&memo) {
                    return Ok(done);
                }
                let api = connect(&settings)?;
                let body = json!({"name": request.name, "type": "metric alert", "query": request.query, "message": request.message});
                let answer = api.post("/api/v1/monitor", &body)?.body;
                // Monitor ids are integers; the capability hands ids around as strings.
                let id = answer
                    .get("id")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| Error::Fatal("Datadog answered no monitor id".into()))?;
                remember(&memo, output(&id.to_string())?)
            }
            "delete" => {
                let request: Deletion = input(&function, &input_json)?;
                let path = match request.kind.as_str() {
                    "dashboard"
                        if !request.id.is_empty()
                            && request
                                .id
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '-') =>
                    {
                        format!("/api/v1/dashboard/{}", encode(&request.id))
                    }
                    "monitor" if request.id.parse::<u64>().is_ok() => {
                        format!("/api/v1/monitor/{}", request.id)
                    }
                    "dashboard" | "monitor" => {
                        return Err(Error::InvalidInput(format!(
                            "`{}` is not a Datadog {} id",
                            request.id, request.kind
                        )));
                    }
                    other => {
                        return Err(Error::InvalidInput(format!(
                            "`kind` must be `dashboard` or `monitor`, not `{other}`"
                        )));
                    }
                };
                // Already deleted counts as done, so a repeated rollback succeeds.
                match connect(&settings)?.call("DELETE", &path, None) {
                    Ok(_) | Err(Error::NotFound(_)) => output(&()),
                    Err(e) => Err(e),
                }
            }
            other => Err(lever_adapter_sdk::unsupported("datadog", other)),
        }
    }
}

fn connect(settings: &Value) -> Result<Api, Error> {
    let api_key = settings::secret(settings, "api_key")?;
    let app_key = settings::secret(settings, "app_key")?;
    Ok(Api {
        provider: "Datadog",
        base: settings::string(settings, "base_url", "https://api.datadoghq.com"),
        headers: vec![
            ("dd-api-key".into(), api_key),
            ("dd-application-key".into(), app_key),
        ],
        message,
    })
}

/// The dashboard: the definition's own fields (`widgets`, `template_variables`...) under the
/// input's title, ordered layout and no widgets unless it says otherwise.
fn dashboard_body(ctx: &Context, request: &NewDashboard) -> Result<Value, Error> {
    let definition = match &request.definition {
        Value::String(text) => lever_adapter_sdk::serde_json::from_str(text)
            .map_err(|e| Error::InvalidInput(format!("`definition` is not JSON: {e}")))?,
        Value::Null => json!({}),
        other => other.clone(),
    };
    let Value::Object(mut body) = definition else {
        return Err(Error::InvalidInput(
            "`definition` must be a JSON object (`widgets`, `layout_type`...)".into(),
        ));
    };
    body.insert("title".into(), json!(request.title));
    body.entry("layout_type").or_insert(json!("ordered"));
    body.entry("widgets").or_insert(json!([]));
    body.entry("description")
        .or_insert(json!(format!("Created by Lever (run {})", ctx.run_id)));
    Ok(Value::Object(body))
}

/// The web host matching the API host (see the module comment).
fn web_base(settings: &Value, api_base: &str) -> String {
    let app_url = settings::string(settings, "app_url", "");
    if !app_url.is_empty() {
        return app_url;
    }
    let Some((scheme, host)) = api_base.split_once("://") else {
        return api_base.to_string();
    };
    match host.strip_prefix("api.") {
        // api.datadoghq.com, api.datadoghq.eu, api.ddog-gov.com: the web host is `app.`.
        Some(site) if site.matches('.').count() == 1 => format!("{scheme}://app.{site}"),
        // api.us3.datadoghq.com, api.us5.datadoghq.com, api.ap1.datadoghq.com.
        Some(site) => format!("{scheme}://{site}"),
        None => api_base.to_string(),
    }
}

/// Datadog's error body: `{"errors": ["..."]}`.
fn message(body: &Value) -> Option<String> {
    let errors: Vec<String> = body
        .get("errors")?
        .as_array()?
        .iter()
        .map(|e| {
            e.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string())
        })
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// The answer given earlier for this step and input, if any.
fn remembered(key: &str) -> Option<String> {
    state::get(Scope::Run, key)
        .ok()
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Remembers an answer; best effort, since losing it only risks a duplicate on a retry.
fn remember(key: &str, answer: String) -> Result<String, Error> {
    let _ = state::set(Scope::Run, key, answer.as_bytes());
    Ok(answer)
}

/// FNV-1a: a short, stable digest of the input for the memo key.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

lever_adapter_sdk::bindings::export!(Datadog with_types_in lever_adapter_sdk::bindings);
