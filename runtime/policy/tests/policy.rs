//! The default policy, the test runner, and error reporting.

use lever_policy::{
    DEFAULT_POLICY, DEFAULT_POLICY_NAME, DEFAULT_POLICY_TESTS, Decision, OnExpiry, PolicyError,
    PolicySet, Required, Stage,
};
use serde_json::{Value, json};

fn default_with_tests() -> PolicySet {
    PolicySet::compile(&[
        (
            format!("{DEFAULT_POLICY_NAME}.rego"),
            DEFAULT_POLICY.to_string(),
        ),
        (
            format!("{DEFAULT_POLICY_NAME}_test.rego"),
            DEFAULT_POLICY_TESTS.to_string(),
        ),
    ])
    .unwrap()
}

fn input(changes: Value) -> Value {
    let mut base = json!({
        "template": {"name": "provision-postgresql-database", "owner": "group:default/payments", "type": "resource", "tags": ["database"]},
        "parameters": {"name": "orders"},
        "environment": "dev",
        "cost": {"monthly_usd": 12},
        "steps": [{"id": "create-db", "action": "infra-pull-request", "risk": "standard", "approval_required": false}],
        "teams_affected": ["payments"],
        "requester": {"id": "alice", "team": "payments", "groups": ["payments"]},
        "time": {"now": "2026-03-10T10:00:00Z", "freeze": {"active": false, "windows": []}}
    });
    for (key, value) in changes.as_object().unwrap() {
        base[key] = value.clone();
    }
    base
}

/// A policy whose decision is `decision` (a Rego expression).
fn yielding(decision: &str) -> PolicySet {
    let source = format!("package lever.approval\n\ndecision := {decision}\n");
    PolicySet::compile(&[("p.rego".to_string(), source)]).unwrap()
}

fn output_error(decision: &str) -> String {
    match yielding(decision).decide(&json!({})) {
        Err(PolicyError::Output(message)) => message,
        other => panic!("expected an Output error, got {other:?}"),
    }
}

#[test]
fn default_policy_tests_pass() {
    let outcomes = default_with_tests().run_tests().unwrap();
    assert!(outcomes.len() >= 15, "{outcomes:?}");
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(outcomes.iter().all(|o| o.package == "lever.approval_test"));
    assert_eq!(outcomes[0].name, "test_dev_is_automatic");
}

#[test]
fn dev_request_is_automatic_with_a_reason() {
    let decision = PolicySet::default_policy()
        .decide(&input(json!({})))
        .unwrap();
    assert_eq!(
        decision,
        Decision {
            auto: true,
            stages: vec![],
            reasons: vec![
                "dev environment, $12.00/month, no high-risk step, no freeze: automatic".into()
            ],
        }
    );
}

#[test]
fn deleting_a_production_database_during_a_freeze() {
    let decision = PolicySet::default_policy()
        .decide(&input(json!({
            "environment": "production",
            "steps": [{"id": "drop-db", "action": "delete-database", "risk": "high", "approval_required": false}],
            "time": {"now": "2026-12-28T10:00:00Z", "freeze": {"active": true, "windows": [{"name": "year-end", "reason": "year-end freeze"}]}}
        })))
        .unwrap();
    assert!(!decision.auto);
    let names: Vec<&str> = decision.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["change-freeze-exception", "security-review", "team-lead"]
    );
    assert_eq!(
        decision.stages[2],
        Stage {
            name: "team-lead".into(),
            groups: vec!["payments-leads".into()],
            required: Required::Count(1),
            order: 0,
            step: None,
            sla_minutes: 240,
            escalate_to: Some("platform-oncall".into()),
            expire_minutes: Some(4320),
            on_expiry: OnExpiry::Reject,
            reasons: vec!["production environment: the payments team lead approves".into()],
        }
    );
    let security = &decision.stages[1];
    assert_eq!(security.step.as_deref(), Some("drop-db"));
    assert_eq!(security.groups, ["security"]);
    assert_eq!(
        security.reasons,
        ["step `drop-db` (delete-database) is high risk: security reviews it"]
    );
    assert_eq!(
        decision.stages[0].reasons,
        ["change freeze `year-end` is active: a freeze exception is needed"]
    );
    assert_eq!(decision.reasons.len(), 3);
}

#[test]
fn finance_comes_after_the_team_lead() {
    let decision = PolicySet::default_policy()
        .decide(&input(json!({"cost": {"monthly_usd": 620.0}})))
        .unwrap();
    let names: Vec<(&str, u32)> = decision
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.order))
        .collect();
    assert_eq!(names, [("team-lead", 0), ("finance", 1)]);
    assert_eq!(
        decision.stages[1].reasons,
        ["estimated cost $620.00/month is over $500: finance approves"]
    );
}

#[test]
fn syntax_error_has_line_and_column() {
    let source = "package lever.approval\n\ndecision := {\n  \"stages\": [1, 2 3]\n}\n";
    match PolicySet::compile(&[("bad.rego".to_string(), source.to_string())]) {
        Err(PolicyError::Syntax {
            file,
            line,
            column,
            message,
        }) => {
            assert_eq!(
                (file.as_str(), line, column),
                ("bad.rego", 4, 19),
                "{message}"
            );
            assert!(!message.contains("-->"), "{message}");
        }
        other => panic!("expected a syntax error, got {:?}", other.err()),
    }
}

#[test]
fn unsafe_variable_is_reported_at_compile_time() {
    let source = "package lever.approval\n\nallow if {\n  x == 1\n}\n";
    match PolicySet::compile(&[("unsafe.rego".to_string(), source.to_string())]) {
        Err(PolicyError::Syntax { file, line, .. }) => {
            assert_eq!((file.as_str(), line), ("unsafe.rego", 4))
        }
        other => panic!("expected a compile error, got {:?}", other.err()),
    }
}

#[test]
fn syntax_error_display() {
    let error = PolicyError::Syntax {
        file: "a.rego".into(),
        line: 3,
        column: 7,
        message: "unexpected token".into(),
    };
    assert_eq!(error.to_string(), "a.rego:3:7: unexpected token");
}

#[test]
fn failing_and_erroring_tests_are_reported() {
    let source = r#"package lever.sample_test

# test_not_a_rule: mentioned in a comment only
test_passes if 1 + 1 == 2

test_fails if 1 + 1 == 3

test_not_true := 7

helper := 1
"#;
    let set = PolicySet::compile(&[("sample_test.rego".to_string(), source.to_string())]).unwrap();
    let outcomes = set.run_tests().unwrap();
    let summary: Vec<(&str, bool)> = outcomes
        .iter()
        .map(|o| (o.name.as_str(), o.passed))
        .collect();
    assert_eq!(
        summary,
        [
            ("test_passes", true),
            ("test_fails", false),
            ("test_not_true", false)
        ]
    );
    assert!(outcomes[1].error.is_some());
    assert_eq!(outcomes[0].package, "lever.sample_test");
}

#[test]
fn undefined_decision_is_an_evaluation_error() {
    let set = PolicySet::compile(&[(
        "p.rego".to_string(),
        "package lever.approval\n\ndecision := 1 if input.x\n".to_string(),
    )])
    .unwrap();
    assert!(matches!(
        set.decide(&json!({})),
        Err(PolicyError::Evaluation(_))
    ));
    let other = PolicySet::compile(&[(
        "q.rego".to_string(),
        "package other\n\nx := 1\n".to_string(),
    )])
    .unwrap();
    assert!(matches!(
        other.decide(&json!({})),
        Err(PolicyError::Evaluation(_))
    ));
}

#[test]
fn defaults_and_auto_are_filled_in() {
    let decision =
        yielding(r#"{"stages": [{"name": "ops", "groups": ["ops"]}], "reasons": ["r"]}"#)
            .decide(&json!({}))
            .unwrap();
    assert!(!decision.auto);
    let stage = &decision.stages[0];
    assert_eq!(stage.required, Required::Count(1));
    assert_eq!(
        (stage.order, stage.sla_minutes, stage.on_expiry),
        (0, 1440, OnExpiry::Reject)
    );
    assert_eq!(
        (
            stage.step.as_ref(),
            stage.escalate_to.as_ref(),
            stage.expire_minutes
        ),
        (None, None, None)
    );
    let all = yielding(r#"{"stages": [{"name": "ops", "groups": ["ops"], "required": "all", "on_expiry": "stay-open"}]}"#)
        .decide(&json!({}))
        .unwrap();
    assert_eq!(
        (all.stages[0].required, all.stages[0].on_expiry),
        (Required::All, OnExpiry::StayOpen)
    );
    assert!(
        yielding(r#"{"stages": [], "reasons": ["fine"]}"#)
            .decide(&json!({}))
            .unwrap()
            .auto
    );
}

#[test]
fn malformed_decisions_are_output_errors() {
    assert!(
        output_error(r#"{"stages": [{"name": "ops"}]}"#).starts_with("stages[0].groups: missing")
    );
    assert!(
        output_error(r#"{"stages": [{"name": "ops", "groups": []}]}"#)
            .starts_with("stages[0].groups:")
    );
    let lots =
        output_error(r#"{"stages": [{"name": "ops", "groups": ["ops"], "required": "lots"}]}"#);
    assert!(lots.starts_with("stages[0].required: expected"), "{lots}");
    assert!(lots.contains("\"lots\""), "{lots}");
    assert!(
        output_error(r#"{"stages": [{"name": "ops", "groups": ["ops"], "required": 0}]}"#)
            .starts_with("stages[0].required:")
    );
    assert!(
        output_error(r#"{"stages": [{"name": "ops", "groups": ["ops"], "colour": "red"}]}"#)
            .starts_with("stages[0].colour: unknown field")
    );
    assert!(
        output_error(r#"{"stages": [{"name": "ops", "groups": ["ops"], "order": "first"}]}"#)
            .starts_with("stages[0].order:")
    );
    assert!(
        output_error(r#"{"stages": [{"name": "ops", "groups": ["ops"], "on_expiry": "explode"}]}"#)
            .starts_with("stages[0].on_expiry:")
    );
    assert!(
        output_error(r#"{"auto": true, "stages": [{"name": "ops", "groups": ["ops"]}]}"#)
            .starts_with("auto:")
    );
    assert!(
        output_error(
            r#"{"stages": [{"name": "a", "groups": ["x"]}, {"name": "a", "groups": ["y"]}]}"#
        )
        .starts_with("stages[1].name:")
    );
    assert!(output_error(r#"{"reasons": []}"#).starts_with("stages: missing"));
    assert!(output_error(r#""yes""#).starts_with("decision: expected an object"));
}

#[test]
fn decision_serializes_required_and_on_expiry() {
    let stage = Stage {
        name: "n".into(),
        groups: vec!["g".into()],
        required: Required::All,
        order: 0,
        step: None,
        sla_minutes: 1440,
        escalate_to: None,
        expire_minutes: None,
        on_expiry: OnExpiry::StayOpen,
        reasons: vec![],
    };
    let json = serde_json::to_value(&stage).unwrap();
    assert_eq!(
        (&json["required"], &json["on_expiry"]),
        (&json!("all"), &json!("stay-open"))
    );
    let back: Stage =
        serde_json::from_value(json!({"name": "n", "groups": ["g"], "required": 2})).unwrap();
    assert_eq!(
        (back.required, back.sla_minutes, back.on_expiry),
        (Required::Count(2), 1440, OnExpiry::Reject)
    );
    assert!(
        serde_json::from_value::<Stage>(json!({"name": "n", "groups": ["g"], "required": "lots"}))
            .is_err()
    );
}

#[test]
fn policy_set_is_shareable() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<PolicySet>();
}

#[test]
fn an_input_the_engine_panics_on_is_an_evaluation_error_not_a_crash() {
    // regorus panics formatting a number this large; schemathesis sent it as the whole input.
    let error = PolicySet::default_policy()
        .decide(&json!(1.797_693_134_862_315_5e308))
        .unwrap_err();
    assert!(matches!(error, PolicyError::Evaluation(_)), "{error}");
}
