//! Compiling Rego modules and evaluating the decision rule.

use std::collections::HashSet;

use crate::decision::Decision;
use crate::error::PolicyError;
use crate::{DECISION_RULE, DEFAULT_POLICY, DEFAULT_POLICY_NAME};

/// A compiled set of Rego modules.
///
/// Cheap to clone; every evaluation works on its own copy of the engine, so a `PolicySet` can be
/// shared between threads.
#[derive(Clone)]
pub struct PolicySet {
    pub(crate) engine: regorus::Engine,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let files: Vec<String> = self.files();
        f.debug_struct("PolicySet").field("files", &files).finish()
    }
}

impl PolicySet {
    /// Compiles `(file name, source)` modules; every module must parse.
    ///
    /// Syntax is checked module by module, then the whole set is analysed (unsafe variables,
    /// recursion, unknown functions), so errors come back as [`PolicyError::Syntax`] with the file,
    /// line and column. Rego v1 syntax (`if`, `contains`) is expected. File names must be unique.
    pub fn compile(modules: &[(String, String)]) -> Result<Self, PolicyError> {
        let mut engine = regorus::Engine::new();
        let mut seen = HashSet::new();
        for (file, source) in modules {
            if !seen.insert(file.as_str()) {
                return Err(PolicyError::Syntax {
                    file: file.clone(),
                    line: 1,
                    column: 1,
                    message: "another module has the same file name".into(),
                });
            }
            engine
                .add_policy(file.clone(), source.clone())
                .map_err(|e| PolicyError::from_regorus_syntax(&e, file))?;
        }
        // Analysing the modules happens on first evaluation: do it now, with a trivial query, so
        // semantic errors surface here rather than in `decide`.
        let fallback = modules
            .first()
            .map(|(file, _)| file.as_str())
            .unwrap_or("<policy>");
        engine
            .eval_query("true".to_string(), false)
            .map_err(|e| PolicyError::from_regorus_syntax(&e, fallback))?;
        Ok(PolicySet { engine })
    }

    /// The built-in default policy (without its tests), compiled as `default.rego`.
    pub fn default_policy() -> Self {
        Self::compile(&[(
            format!("{DEFAULT_POLICY_NAME}.rego"),
            DEFAULT_POLICY.to_string(),
        )])
        .expect("the built-in default policy compiles (checked by the crate's tests)")
    }

    /// The file names of the compiled modules, in the order they were given.
    pub fn files(&self) -> Vec<String> {
        self.engine
            .get_policies()
            .map(|sources| sources.iter().map(|s| s.get_path().to_string()).collect())
            .unwrap_or_default()
    }

    /// Evaluates [`DECISION_RULE`] with `input` and parses the result.
    pub fn decide(&self, input: &serde_json::Value) -> Result<Decision, PolicyError> {
        let mut engine = self.engine.clone();
        engine.set_input(regorus::Value::from(input.clone()));
        // regorus panics on some inputs instead of answering an error (formatting a number
        // near f64::MAX in a builtin's message, found by schemathesis): the engine is a clone
        // used once, so its state after the panic is thrown away with it.
        let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            engine.eval_rule(DECISION_RULE.to_string())
        }))
        .map_err(|_| {
            PolicyError::Evaluation(
                "the policy engine failed on this input (a number too large to handle?)".into(),
            )
        })?
        .map_err(|e| PolicyError::Evaluation(format!("{e:#}")))?;
        if value == regorus::Value::Undefined {
            return Err(PolicyError::Evaluation(format!(
                "{DECISION_RULE} is undefined for this input"
            )));
        }
        let json = serde_json::to_value(&value).map_err(|e| {
            PolicyError::Output(format!("the decision is not representable as JSON: {e}"))
        })?;
        crate::output::parse_decision(&json)
    }
}
