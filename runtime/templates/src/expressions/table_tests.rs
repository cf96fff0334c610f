//! Backstage expressions from the corpus templates and nunjucks' own behaviour, each with the
//! value Backstage's scaffolder gives it.

use serde_json::{Value, json};

use super::{Expressions, is_truthy};

fn context() -> Value {
    json!({
        "parameters": {
            "name": "billing-api",
            "enableCI": "Yes",
            "dryRun": false,
            "repoUrl": "github.com?owner=acme&repo=billing",
            "gitlabUrl": "gitlab.com?owner=group&repo=svc",
            "owner": "group:default/payments",
            "team": "payments",
            "description": "",
            "targetPath": "",
            "tags": ["java", "grpc"],
            "size": 3,
            "ratio": 2.0,
            "nested": {"a": 1},
        },
        "steps": {"publish": {"output": {"remoteUrl": "https://github.com/acme/billing"}}},
        "secrets": {"USER_OAUTH_TOKEN": "t0ken"},
        "user": {"entity": {"metadata": {"name": "alice"}}, "ref": "user:default/alice"},
    })
}

#[test]
fn backstage_expressions_give_what_nunjucks_gives() {
    let cases: Vec<(&str, Value)> = vec![
        // The corpus.
        (r#"${{ parameters.enableCI === "Yes" }}"#, json!(true)),
        (r#"${{ parameters.enableCI !== "Yes" }}"#, json!(false)),
        ("${{ parameters.dryRun !== true }}", json!(true)),
        (
            "${{ parameters.repoUrl.includes('github.com') }}",
            json!(true),
        ),
        (
            "${{ parameters.repoUrl.includes('gitlab.com') }}",
            json!(false),
        ),
        (
            "${{ parameters.repoUrl | projectSlug }}",
            json!("acme/billing"),
        ),
        (
            "${{ parameters.repoUrl | parseRepoUrl }}",
            json!({"host": "github.com", "owner": "acme", "repo": "billing"}),
        ),
        (
            "${{ parameters.description if parameters.description }}",
            Value::Null,
        ),
        (
            "${{ parameters.targetPath if parameters.targetPath else parameters.name }}",
            json!("billing-api"),
        ),
        (
            "${{ parameters.targetPath if parameters.targetPath else '.' }}",
            json!("."),
        ),
        ("${{ secrets.USER_OAUTH_TOKEN }}", json!("t0ken")),
        ("${{ user.entity.metadata.name }}", json!("alice")),
        // JavaScript's methods and properties.
        ("${{ parameters.name.startsWith('billing') }}", json!(true)),
        ("${{ parameters.name.endsWith('-api') }}", json!(true)),
        ("${{ parameters.name.toUpperCase() }}", json!("BILLING-API")),
        (
            "${{ parameters.name.split('-') }}",
            json!(["billing", "api"]),
        ),
        (
            "${{ parameters.name.replace('-', '_') }}",
            json!("billing_api"),
        ),
        ("${{ 'a-b-c'.replace('-', '') }}", json!("ab-c")),
        ("${{ 'a-b-c'.replaceAll('-', '') }}", json!("abc")),
        ("${{ '  x '.trim() }}", json!("x")),
        ("${{ parameters.name.length }}", json!(11)),
        ("${{ parameters.tags.length > 1 }}", json!(true)),
        ("${{ parameters.tags.includes('grpc') }}", json!(true)),
        ("${{ parameters.tags.join('+') }}", json!("java+grpc")),
        ("${{ parameters.name.indexOf('api') }}", json!(8)),
        ("${{ parameters.name.slice(0, 7) }}", json!("billing")),
        ("${{ parameters.name.slice(-3) }}", json!("api")),
        // Filters.
        ("${{ parameters.nested | dump }}", json!(r#"{"a":1}"#)),
        ("${{ parameters.tags | length }}", json!(2)),
        ("${{ parameters.team | lower }}", json!("payments")),
        (
            "${{ parameters.team | replace('pay', 'bill') }}",
            json!("billments"),
        ),
        (
            "${{ parameters.owner | parseEntityRef }}",
            json!({"kind": "group", "namespace": "default", "name": "payments"}),
        ),
        (
            r#"${{ parameters.team | parseEntityRef({ defaultKind:"group", defaultNamespace:"corp" }) }}"#,
            json!({"kind": "group", "namespace": "corp", "name": "payments"}),
        ),
        (
            "${{ parameters.owner | parseEntityRef | pick('name') }}",
            json!("payments"),
        ),
        ("${{ parameters.dryRun == null }}", json!(false)),
        // Mixed text prints values as JavaScript does.
        ("v${{ parameters.ratio }}", json!("v2")),
        ("tags: ${{ parameters.tags }}", json!("tags: java,grpc")),
        ("[${{ parameters.missing }}]", json!("[]")),
        (
            "${{ parameters.name }} at ${{ steps.publish.output.remoteUrl }}",
            json!("billing-api at https://github.com/acme/billing"),
        ),
        (
            r#"{% if parameters.enableCI === "Yes" %}ci{% else %}none{% endif %}"#,
            json!("ci"),
        ),
    ];
    let x = Expressions::new();
    let ctx = context();
    for (expression, expected) in cases {
        let got = x
            .render(&json!(expression), &ctx)
            .unwrap_or_else(|e| panic!("{expression}: {e}"));
        assert_eq!(got, expected, "{expression}");
    }
}

#[test]
fn truthiness_is_backstages() {
    for (value, truthy) in [
        (json!(""), false),
        (json!("false"), true),
        (json!("0"), true),
        (json!(0), false),
        (json!(0.0), false),
        (json!(1), true),
        (json!([]), false),
        (json!([0]), true),
        (json!({}), true),
        (Value::Null, false),
        (json!(false), false),
    ] {
        assert_eq!(is_truthy(&value), truthy, "{value}");
    }
    let x = Expressions::new();
    let ctx = context();
    assert!(
        !x.is_true(Some(&json!("${{ parameters.description }}")), &ctx)
            .unwrap()
    );
    assert!(
        x.is_true(Some(&json!("${{ parameters.tags }}")), &ctx)
            .unwrap()
    );
    assert!(
        !x.is_true(Some(&json!("${{ parameters.dryRun }}")), &ctx)
            .unwrap()
    );
}

#[test]
fn syntax_errors_are_found_without_rendering() {
    let x = Expressions::new();
    assert!(
        x.check(&json!({"a": ["${{ parameters.name.includes('x') }}", "plain"]}))
            .is_ok()
    );
    let error = x
        .check(&json!({"message": "${{ parameters.name ==== 'x' }}"}))
        .unwrap_err();
    assert_eq!(error.expression, "${{ parameters.name ==== 'x' }}");
    assert!(error.message.contains("syntax error"), "{error}");
    assert!(x.check(&json!("text {% if a %} unclosed")).is_err());
    // An unknown method is a run-time error, named with what Lever knows.
    let error = x
        .render(&json!("${{ parameters.name.frobnicate() }}"), &context())
        .unwrap_err();
    assert!(error.message.contains("no method `frobnicate`"), "{error}");
}
