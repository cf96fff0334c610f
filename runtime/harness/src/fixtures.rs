//! The fixtures file (`lever-test.yaml`): each case gives one call's input, secrets, state,
//! recorded HTTP exchanges and capability answers, and what to expect of it.

use std::collections::BTreeMap;
use std::path::Path;

use lever_sandbox::{HttpExchange, Limits};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::HarnessError;

/// Every case of a fixtures file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    /// The cases, run in order.
    pub cases: Vec<Case>,
}

/// One call of the plugin and what it should do.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Shown in the report.
    pub name: String,
    /// `run` (the default) or `plan` for an action; `invoke` for an adapter.
    #[serde(default)]
    pub op: Op,
    /// The capability function an adapter's `invoke` is called with (`send`).
    #[serde(default)]
    pub function: Option<String>,
    /// The binding's settings an adapter is invoked with; the secrets they refer to
    /// (`secret://NAME`) are granted, as a binding grants them.
    #[serde(default = "empty_object")]
    pub settings: Value,
    /// The action's input, or the capability function's.
    #[serde(default = "empty_object")]
    pub input: Value,
    /// The call's context; unset fields get harness defaults.
    #[serde(default)]
    pub context: ContextFixture,
    /// Secret values by name. The plugin still reads only what its manifest is granted; a
    /// granted secret missing here answers `not-found`.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Initial state, as text values: `run:` and `plugin:` scopes.
    #[serde(default)]
    pub state: StateFixture,
    /// The only answers outbound HTTP gets: a request none answers fails the call with
    /// `unrecorded-request`, so tests never reach the network.
    #[serde(default)]
    pub http: Vec<HttpExchange>,
    /// Answers to capability calls (`git-provider.create-repository`), used in order.
    #[serde(default)]
    pub capabilities: Vec<CapabilityFixture>,
    /// Hosts granted on top of the manifest's, as a publisher's `--grant-host` would (a
    /// replay grants the hosts its recording reached: it answers them from the recording).
    #[serde(default)]
    pub grant_hosts: Vec<String>,
    /// Limits for this case; unset fields keep the server's defaults.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// What the call must do.
    #[serde(default)]
    pub expect: Expect,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// Which export a case calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// `run`.
    #[default]
    Run,
    /// `plan`.
    Plan,
    /// An adapter's `invoke` of one capability function.
    Invoke,
}

/// The context fields a case may set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextFixture {
    /// Run id (default `local-run`).
    pub run_id: Option<String>,
    /// Step id (default `main`).
    pub step_id: Option<String>,
    /// Attempt (default 1).
    pub attempt: Option<u32>,
    /// Idempotency key (default `run/step/attempt`).
    pub idempotency_key: Option<String>,
    /// Requester (default `local`).
    pub requester: Option<String>,
    /// Environment (default `dev`).
    pub environment: Option<String>,
}

/// Initial state per scope.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFixture {
    /// The run's scope.
    #[serde(default)]
    pub run: BTreeMap<String, String>,
    /// The plugin's scope.
    #[serde(default)]
    pub plugin: BTreeMap<String, String>,
}

/// One capability call's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityFixture {
    /// `capability.function`.
    pub call: String,
    /// The answer.
    #[serde(default)]
    pub output: Option<Value>,
    /// Or the error it fails with.
    #[serde(default)]
    pub error: Option<CapabilityErrorFixture>,
}

/// A capability error: the WIT case and its message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityErrorFixture {
    /// `invalid-input`, `retryable`, `fatal`, `not-found`, `denied` or `other`.
    pub kind: String,
    /// The message.
    pub message: String,
}

/// What a case asserts. Every field left out is not checked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The output contains this (objects by key, recursively; other values equal).
    pub output: Option<Value>,
    /// The call fails with this error: its code (`plugin-retryable`, `fuel-exhausted`,
    /// `unrecorded-request`…) or the plugin's own kind (`retryable`).
    pub error: Option<String>,
    /// The error message contains this.
    pub message: Option<String>,
    /// Each is contained in some log line.
    #[serde(default)]
    pub logs: Vec<String>,
    /// Exactly these requests were made, in order (`GET https://api.example.com/x`).
    pub requests: Option<Vec<String>>,
    /// Every recorded exchange was asked for.
    #[serde(default)]
    pub all_http_used: bool,
    /// State afterwards contains these values.
    pub state: Option<StateFixture>,
}

impl Fixtures {
    /// Reads a fixtures file; errors name the file, the line and what is wrong.
    pub fn read(path: &Path) -> Result<Self, HarnessError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| HarnessError::Fixtures(format!("cannot read {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| HarnessError::Fixtures(format!("{}: {e}", path.display())))
    }

    /// Parses fixtures text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let fixtures: Fixtures = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        for case in &fixtures.cases {
            for c in &case.capabilities {
                if c.output.is_some() == c.error.is_some() {
                    return Err(format!(
                        "case `{}`: capability answer `{}` needs exactly one of `output` or `error`",
                        case.name, c.call
                    ));
                }
            }
            if (case.op == Op::Invoke) != case.function.is_some() {
                return Err(format!(
                    "case `{}`: `op: invoke` (an adapter's call) and `function` go together",
                    case.name
                ));
            }
            if case.expect.error.is_some() && case.expect.output.is_some() {
                return Err(format!(
                    "case `{}`: expect either `output` or `error`, not both",
                    case.name
                ));
            }
        }
        Ok(fixtures)
    }
}

/// Whether `actual` contains `expected`: objects by key (recursively), everything else equal.
pub(crate) fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| contains(av, v))),
        _ => actual == expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_containment_is_by_key_and_recursive() {
        let actual = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}});
        assert!(contains(&actual, &json!({"b": {"d": "x"}})));
        assert!(!contains(&actual, &json!({"b": {"c": [1]}})));
        assert!(!contains(&actual, &json!({"z": null})));
    }

    #[test]
    fn a_bad_fixtures_file_says_what_to_fix() {
        let err = Fixtures::parse("cases:\n  - name: x\n    inptu: {}\n").unwrap_err();
        assert!(err.contains("inptu"), "{err}");
        let err = Fixtures::parse(
            "cases:\n  - name: x\n    capabilities:\n      - call: git-provider.x\n",
        )
        .unwrap_err();
        assert!(err.contains("exactly one of `output` or `error`"), "{err}");
        let err = Fixtures::parse("cases:\n  - name: x\n    op: invoke\n").unwrap_err();
        assert!(err.contains("`op: invoke`"), "{err}");
        let err = Fixtures::parse("cases:\n  - name: x\n    function: send\n").unwrap_err();
        assert!(err.contains("`function` go together"), "{err}");
    }
}
