//! Running a policy's `test_` rules, like `opa test`.

use std::collections::BTreeSet;

use crate::engine::PolicySet;
use crate::error::PolicyError;

/// The result of one `test_` rule.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestOutcome {
    /// The rule's package, without the `data.` prefix, e.g. `lever.approval_test`.
    pub package: String,
    /// The rule's name, e.g. `test_dev_is_automatic`.
    pub name: String,
    /// True when the rule evaluated to `true`.
    pub passed: bool,
    /// Why it failed: the evaluation error, or what it evaluated to instead of `true`.
    pub error: Option<String>,
}

impl PolicySet {
    /// Runs every rule whose name starts with `test_` in every package (like `opa test`); a test
    /// passes when it evaluates to true.
    ///
    /// Outcomes come module by module, each module's tests in the order they are first written.
    /// A rule defined in several modules of the same package runs once.
    pub fn run_tests(&self) -> Result<Vec<TestOutcome>, PolicyError> {
        let sources = self
            .engine
            .get_policies()
            .map_err(|e| PolicyError::Evaluation(format!("{e:#}")))?;
        let packages = self
            .engine
            .get_policy_package_components()
            .map_err(|e| PolicyError::Evaluation(format!("{e:#}")))?;
        let mut engine = self.engine.clone();
        let mut seen = BTreeSet::new();
        let mut outcomes = Vec::new();
        for (source, package) in sources.iter().zip(&packages) {
            let path = source.get_path();
            for name in test_candidates(source.get_contents()) {
                // The scan also finds `test_` words in comments and strings: keep declared rules only.
                if !engine
                    .has_declared_rule_rooted_at(path, name)
                    .unwrap_or(false)
                {
                    continue;
                }
                let package_name = package.components.join(".");
                if !seen.insert((package_name.clone(), name.to_string())) {
                    continue;
                }
                let rule = format!("data{}.{name}", rule_path(&package.components));
                let (passed, error) = match engine.eval_rule(rule) {
                    Ok(regorus::Value::Bool(true)) => (true, None),
                    Ok(regorus::Value::Undefined) => (
                        false,
                        Some("undefined (a condition in the test is false)".to_string()),
                    ),
                    Ok(other) => (false, Some(format!("evaluated to {other}, not true"))),
                    Err(e) => (false, Some(format!("{e:#}").trim().to_string())),
                };
                outcomes.push(TestOutcome {
                    package: package_name,
                    name: name.to_string(),
                    passed,
                    error,
                });
            }
        }
        Ok(outcomes)
    }
}

/// `.a.b` for identifier components, `["a-b"]` for the others.
fn rule_path(components: &[String]) -> String {
    components
        .iter()
        .map(|c| {
            let identifier = c
                .chars()
                .next()
                .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
                && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            if identifier {
                format!(".{c}")
            } else {
                format!("[{}]", serde_json::Value::String(c.clone()))
            }
        })
        .collect()
}

/// Every distinct word starting with `test_` that starts a line (rule heads), in source order.
fn test_candidates(source: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for line in source.lines() {
        let line = line.trim_start();
        let line = line
            .strip_prefix("default ")
            .map(str::trim_start)
            .unwrap_or(line);
        if !line.starts_with("test_") {
            continue;
        }
        let end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(line.len());
        let word = &line[..end];
        if !found.contains(&word) {
            found.push(word);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_rule_heads() {
        let source = "package p\n# test_comment\ntest_a if true\n  test_b := 1\ndefault test_c := false\nx := test_a\ntest_a if false\n";
        assert_eq!(test_candidates(source), vec!["test_a", "test_b", "test_c"]);
    }

    #[test]
    fn rule_paths_quote_odd_components() {
        assert_eq!(
            rule_path(&["lever".into(), "approval_test".into()]),
            ".lever.approval_test"
        );
        assert_eq!(rule_path(&["a".into(), "1.0".into()]), r#".a["1.0"]"#);
    }
}
