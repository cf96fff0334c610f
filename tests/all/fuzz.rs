//! Property-based fuzzing (proptest: cargo-fuzz needs a nightly toolchain, which this project
//! does not use) of what takes untrusted input: the template parser, expression rendering, form
//! validation and the plugin loader. Each runs a bounded number of generated cases inside the
//! normal test run; a failing case is shrunk and saved under `tests/all/proptest-regressions/`,
//! which is committed, so it is replayed first from then on. (The policy input builder is
//! fuzzed beside it in `lever-approvals`, the masker in `lever-sandbox`.)

use std::sync::OnceLock;

use lever_sandbox::{Sandbox, SandboxConfig};
use lever_templates::{Expressions, Form, parse};
use lever_tests::guests::fixture;
use lever_tests::repo_root;
use proptest::prelude::*;
use serde_json::{Value, json};

fn corpus() -> &'static Vec<String> {
    static CORPUS: OnceLock<Vec<String>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut texts = Vec::new();
        for dir in ["tests/corpus/backstage-templates", "demo/templates"] {
            for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    texts.push(std::fs::read_to_string(path).unwrap());
                }
            }
        }
        texts
    })
}

/// A corpus template with `cut` bytes replaced by `insert` at a char boundary near `at`.
fn mutated(index: usize, at: usize, cut: usize, insert: &str) -> String {
    let text = &corpus()[index % corpus().len()];
    let mut start = at % (text.len() + 1);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + cut).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    format!("{}{insert}{}", &text[..start], &text[end..])
}

/// Pieces YAML and Backstage templates are made of, so mutations reach deep into the parser.
fn yaml_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(":".to_string()),
        Just("\n  - ".to_string()),
        Just("${{ parameters.name }}".to_string()),
        Just("{{".to_string()),
        Just("&anchor ".to_string()),
        Just("*anchor".to_string()),
        Just("!!binary ".to_string()),
        Just("\t".to_string()),
        Just("\"".to_string()),
        Just("[".to_string()),
        "\\PC{0,12}",
    ]
}

/// Expressions as templates write them, and broken ones.
fn expression() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("parameters.name".to_string()),
        Just("parameters.list[0]".to_string()),
        Just("steps.a.output.x".to_string()),
        Just("user.entity.metadata.name".to_string()),
        Just("'text'".to_string()),
        Just("42".to_string()),
        Just("none".to_string()),
        "[a-z]{1,6}",
    ];
    let op = prop_oneof![
        Just(" == ".to_string()),
        Just(" === ".to_string()),
        Just(" | parseRepoUrl".to_string()),
        Just(" | pick('owner')".to_string()),
        Just(" | projectSlug".to_string()),
        Just(" ~ ".to_string()),
        Just(" if ".to_string()),
        Just(" else ".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(".".to_string()),
        "\\PC{0,3}",
    ];
    (prop::collection::vec((atom, op), 0..6), any::<bool>()).prop_map(|(parts, closed)| {
        let body: String = parts.into_iter().map(|(a, o)| a + &o).collect();
        let end = if closed { " }}" } else { "" };
        format!("x ${{{{ {body}{end} y")
    })
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: Some(Box::new(
        proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"))), ..ProptestConfig::default() })]

    #[test]
    fn the_template_parser_answers_arbitrary_text_naming_a_line_inside_it(text in "\\PC{0,400}") {
        if let Err(e) = parse(&text) {
            prop_assert!(e.line.is_none_or(|l| l >= 1 && l <= text.lines().count().max(1)), "{e} in {} lines", text.lines().count());
        }
    }

    #[test]
    fn the_template_parser_answers_mutated_real_templates(
        index in any::<usize>(), at in any::<usize>(), cut in 0usize..200, insert in yaml_piece()
    ) {
        let text = mutated(index, at, cut, &insert);
        match parse(&text) {
            // Whatever parses compiles into a form or says which page is not JSON Schema.
            Ok(parsed) => { let _ = Form::new(&parsed.template.pages); }
            // A parse error that names a line names one of the input's.
            Err(e) => prop_assert!(
                e.line.is_none_or(|l| l >= 1 && l <= text.lines().count().max(1)),
                "{e} in {} lines", text.lines().count()
            ),
        }
    }

    #[test]
    fn expressions_render_or_say_why(expr in expression(), parameters in json_value()) {
        let context = json!({"parameters": parameters, "steps": {"a": {"output": {"x": 1}}}, "user": {}});
        let _ = Expressions::new().render(&Value::String(expr), &context);
    }

    #[test]
    fn a_parameter_is_rendered_as_its_value_never_evaluated(value in "\\PC{0,80}", expr in expression()) {
        // Whatever a requester types, expression syntax included, comes out as typed.
        for typed in [value, expr] {
            let context = json!({"parameters": {"v": typed}, "user": {}});
            let rendered = Expressions::new()
                .render(&json!("${{ parameters.v }}"), &context)
                .expect("a parameter renders");
            prop_assert_eq!(rendered, json!(typed));
        }
    }

    #[test]
    fn defaults_never_make_a_valid_request_invalid(index in any::<usize>(), parameters in json_value()) {
        let text = &corpus()[index % corpus().len()];
        let parsed = parse(text).expect("corpus templates parse");
        let form = Form::new(&parsed.template.pages).expect("corpus forms compile");
        let filled = form.with_defaults(&parameters);
        // Filling defaults is done once and for all, and what validated still does after.
        prop_assert_eq!(form.with_defaults(&filled), filled.clone());
        if parameters.is_object() && form.validate(&parameters).is_empty() {
            prop_assert_eq!(form.validate(&filled), Vec::new());
        }
    }
}

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| Sandbox::new(&SandboxConfig::default()).expect("sandbox"))
}

fn component() -> &'static Vec<u8> {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| fixture("workflow_flaky"))
}

proptest! {
    // Each case may compile a component: fewer of them.
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: Some(Box::new(
        proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"))), ..ProptestConfig::default() })]

    #[test]
    fn the_plugin_loader_refuses_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert!(sandbox().load(&bytes).is_err());
    }

    #[test]
    fn the_plugin_loader_answers_a_corrupted_component(
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<Option<usize>>()
    ) {
        let mut bytes = component().clone();
        for (at, byte) in flips {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut % bytes.len());
        }
        let _ = sandbox().load(&bytes);
    }
}
