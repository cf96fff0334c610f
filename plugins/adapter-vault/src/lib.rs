//! Vault adapter: the `secrets-store` capability on a HashiCorp Vault KV version 2 engine.
//!
//! Each secret is one KV entry holding `{"value": ...}`. References are
//! `vault://{mount}/{path}`: they name the secret without its value and stay the same across
//! rotations (Vault keeps the versions).

use lever_adapter_sdk::params::{SecretPath as PathInput, SecretValue as ValueInput};
use lever_adapter_sdk::rest::{Api, encode};
use lever_adapter_sdk::serde_json::{Value, json};
use lever_adapter_sdk::{AdapterManifest, Context, Error, Grants, Guest, input, output, settings};

struct Vault;

impl Guest for Vault {
    fn describe() -> AdapterManifest {
        let schema = json!({
            "type": "object",
            "properties": {
                "base_url": {"type": "string", "description": "Vault address, e.g. https://vault.example.com:8200"},
                "mount": {"type": "string", "description": "KV version 2 mount (default `secret`)"},
                "token": {"type": "string", "description": "secret://NAME of a Vault token"},
                "role_id": {"type": "string", "description": "AppRole role ID (plain, or secret://NAME)"},
                "secret_id": {"type": "string", "description": "secret://NAME of the AppRole secret ID"}
            },
            "required": ["base_url"],
            "additionalProperties": false
        });
        AdapterManifest {
            name: "vault".into(),
            version: "0.1.0".into(),
            description: "HashiCorp Vault (KV version 2): secrets-store".into(),
            capabilities: vec!["secrets-store".into()],
            settings_schema: schema.to_string(),
            // Vault has no public default address: the binding's `base_url` is what the host grants.
            grants: Grants {
                hosts: vec![],
                secrets: vec![],
                workspace: false,
            },
        }
    }

    fn invoke(
        _ctx: Context,
        function: String,
        settings: String,
        input_json: String,
    ) -> Result<String, Error> {
        let settings = settings::parse(&settings)?;
        match function.as_str() {
            "put" => {
                let request: ValueInput = input(&function, &input_json)?;
                let path = SecretPath::parse(&request.path)?;
                let kv = Kv::connect(&settings)?;
                kv.write(&path, &request.value, None)?;
                output(&kv.reference(&path))
            }
            "reference" => {
                let request: PathInput = input(&function, &input_json)?;
                let path = SecretPath::parse(&request.path)?;
                let kv = Kv::connect(&settings)?;
                kv.current_version(&path)?;
                output(&kv.reference(&path))
            }
            "rotate" => {
                let request: ValueInput = input(&function, &input_json)?;
                let path = SecretPath::parse(&request.path)?;
                let kv = Kv::connect(&settings)?;
                // Check-and-set against the current version: rotating a secret that does not
                // exist is an error, not a silent create, and a concurrent write is not lost.
                let current = kv.current_version(&path)?;
                output(&kv.write(&path, &request.value, Some(current))?)
            }
            "delete" => {
                let request: PathInput = input(&function, &input_json)?;
                let path = SecretPath::parse(&request.path)?;
                let kv = Kv::connect(&settings)?;
                kv.delete(&path)?;
                output(&())
            }
            other => Err(lever_adapter_sdk::unsupported("vault", other)),
        }
    }
}

/// A secret path checked segment by segment: no empty, `.` or `..` segment can walk the URL
/// out of the KV mount (to `sys/` or another engine).
struct SecretPath {
    /// As the user wrote it, without surrounding slashes.
    plain: String,
    /// Each segment percent-encoded, joined by `/`.
    encoded: String,
}

impl SecretPath {
    fn parse(path: &str) -> Result<SecretPath, Error> {
        let plain = path.trim_matches('/');
        let segments: Vec<&str> = plain.split('/').collect();
        if plain.is_empty()
            || segments
                .iter()
                .any(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return Err(Error::InvalidInput(format!(
                "`{path}` is not a Vault secret path: use non-empty segments separated by `/`, without `.` or `..`"
            )));
        }
        let encoded = segments
            .iter()
            .map(|s| encode(s))
            .collect::<Vec<_>>()
            .join("/");
        Ok(SecretPath {
            plain: plain.to_string(),
            encoded,
        })
    }
}

/// The KV version 2 engine at one mount, with an authenticated client.
struct Kv {
    api: Api,
    mount: SecretPath,
}

impl Kv {
    /// Authenticates with the binding's token, or logs in with AppRole for a fresh one.
    fn connect(settings: &Value) -> Result<Kv, Error> {
        let base = settings::string(settings, "base_url", "");
        if base.is_empty() {
            return Err(Error::InvalidInput(
                "the Vault binding needs `base_url` (the Vault address)".into(),
            ));
        }
        let mount =
            SecretPath::parse(&settings::string(settings, "mount", "secret")).map_err(|_| {
                Error::InvalidInput(
                    "the binding setting `mount` must be a KV mount path such as `secret`".into(),
                )
            })?;
        let token = if settings.get("token").is_some() {
            settings::secret(settings, "token")?
        } else if settings.get("role_id").is_some() || settings.get("secret_id").is_some() {
            approle_login(&base, settings)?
        } else {
            return Err(Error::InvalidInput(
                "the Vault binding needs `token`, or `role_id` and `secret_id` (AppRole)".into(),
            ));
        };
        let api = Api {
            provider: "Vault",
            base,
            headers: vec![("x-vault-token".into(), token)],
            message,
        };
        Ok(Kv { api, mount })
    }

    fn reference(&self, path: &SecretPath) -> String {
        format!("vault://{}/{}", self.mount.plain, path.plain)
    }

    fn data(&self, path: &SecretPath) -> String {
        format!("/v1/{}/data/{}", self.mount.encoded, path.encoded)
    }

    fn metadata(&self, path: &SecretPath) -> String {
        format!("/v1/{}/metadata/{}", self.mount.encoded, path.encoded)
    }

    /// Writes a new version (only over version `cas` when given); returns its number.
    fn write(&self, path: &SecretPath, value: &str, cas: Option<u64>) -> Result<u64, Error> {
        let mut body = json!({"data": {"value": value}});
        if let Some(cas) = cas {
            body["options"] = json!({"cas": cas});
        }
        let answer = self.api.post(&self.data(path), &body)?;
        answer
            .body
            .pointer("/data/version")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                Error::Fatal(format!(
                    "Vault answered no version for {}: is `{}` a KV version 2 mount?",
                    path.plain, self.mount.plain
                ))
            })
    }

    /// The secret's current version; `not-found` when there is none.
    fn current_version(&self, path: &SecretPath) -> Result<u64, Error> {
        let answer = self.api.get(&self.metadata(path)).map_err(|e| match e {
            // Vault answers a missing secret with an empty `errors` list: say what is missing.
            Error::NotFound(_) => {
                Error::NotFound(format!("Vault has no secret at {}", self.reference(path)))
            }
            other => other,
        })?;
        Ok(answer
            .body
            .pointer("/data/current_version")
            .and_then(Value::as_u64)
            .unwrap_or(0))
    }

    /// Deletes every version and the metadata. Already gone counts as done, so a repeated
    /// rollback succeeds.
    fn delete(&self, path: &SecretPath) -> Result<(), Error> {
        match self.api.call("DELETE", &self.metadata(path), None) {
            Ok(_) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Logs in with AppRole (`POST /v1/auth/approle/login`) and returns the client token.
fn approle_login(base: &str, settings: &Value) -> Result<String, Error> {
    let role_id = match settings.get("role_id").and_then(Value::as_str) {
        Some(r) if r.starts_with("secret://") => settings::secret(settings, "role_id")?,
        _ => settings::required(settings, "role_id")?,
    };
    let secret_id = settings::secret(settings, "secret_id")?;
    let api = Api {
        provider: "Vault",
        base: base.to_string(),
        headers: vec![],
        message,
    };
    let answer = api
        .post(
            "/v1/auth/approle/login",
            &json!({"role_id": role_id, "secret_id": secret_id}),
        )
        .map_err(|e| match e {
            // Vault answers a wrong role or secret ID with 400: for the binding that is a refusal.
            Error::InvalidInput(m) | Error::NotFound(m) | Error::Denied(m) => {
                Error::Denied(format!("AppRole login refused: {m}"))
            }
            other => other,
        })?;
    answer
        .body
        .pointer("/auth/client_token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::Fatal("Vault's AppRole login answered no auth.client_token".into()))
}

/// Vault's error body: `{"errors": ["..."]}`.
fn message(body: &Value) -> Option<String> {
    let errors: Vec<&str> = body
        .get("errors")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

lever_adapter_sdk::bindings::export!(Vault with_types_in lever_adapter_sdk::bindings);
