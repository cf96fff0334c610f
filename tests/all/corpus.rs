//! The Backstage template corpus (tests/corpus/backstage-templates, see its SOURCES.md): every
//! real public template parses as it is and its form compiles.

use lever_templates::{Form, parse};
use lever_tests::repo_root;

fn corpus() -> Vec<(String, String)> {
    let dir = repo_root().join("tests/corpus/backstage-templates");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_corpus_template_parses_and_its_form_compiles() {
    let files = corpus();
    assert_eq!(files.len(), 23, "the corpus holds 23 templates");
    for (file, text) in files {
        let parsed = parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!parsed.template.steps.is_empty(), "{file}: no steps");
        assert!(!parsed.template.pages.is_empty(), "{file}: no form pages");
        let form = Form::new(&parsed.template.pages).unwrap_or_else(|e| panic!("{file}: {e}"));
        // An empty submission is either valid or refused field by field, never a crash.
        let filled = form.with_defaults(&serde_json::json!({}));
        for error in form.validate(&filled) {
            assert!(!error.message.is_empty(), "{file}: empty message");
        }
    }
}

/// `conditional-output-demo`, unchanged: its nunjucks conditions (`===`) render, and the
/// output keeps only the links and texts whose `if` holds.
#[tokio::test]
async fn conditional_output_demo_renders_its_conditional_links() {
    let server = lever_tests::server::Server::start();
    server
        .publish_ok(lever_tests::guests::plugin("debug_log"), &[])
        .await;
    let (_, text) = corpus()
        .into_iter()
        .find(|(file, _)| file.contains("conditional-output-demo"))
        .expect("in the corpus");
    server.apply_template(&text).await;
    let with_ci = server
        .run_template(
            "conditional-output-demo",
            serde_json::json!({"name": "billing", "enableCI": "Yes"}),
        )
        .await;
    assert_eq!(with_ci["status"], "succeeded", "{with_ci:#}");
    let links = with_ci["output"]["links"].as_array().expect("links");
    let titles: Vec<&str> = links.iter().map(|l| l["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Backstage Homepage", "CI Dashboard", "CI Docs"]);
    assert_eq!(links[1]["url"], "https://ci.example.com/billing");
    assert!(links.iter().all(|l| l.get("if").is_none()), "{links:?}");
    let without = server
        .run_template(
            "conditional-output-demo",
            serde_json::json!({"name": "billing", "enableCI": "No", "showDetails": false}),
        )
        .await;
    assert_eq!(without["status"], "succeeded", "{without:#}");
    assert_eq!(without["output"]["links"].as_array().unwrap().len(), 1);
    let texts = without["output"]["text"].as_array().expect("text");
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(texts[0]["title"], "Summary");
}

/// An output that parses but fails to render (an unknown method) ends the run `failed` with
/// the expression and its line, never `succeeded` with an error object as its output.
#[tokio::test]
async fn an_output_that_does_not_render_fails_the_run_visibly() {
    let server = lever_tests::server::Server::start();
    server
        .publish_ok(lever_tests::guests::plugin("debug_log"), &[])
        .await;
    server
        .apply_template(
            "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: broken-output\nspec:\n  parameters:\n    - properties:\n        name: {type: string}\n  steps:\n    - id: log\n      action: debug:log\n      input:\n        message: hello\n  output:\n    text:\n      - title: Name\n        content: ${{ parameters.name.frobnicate() }}\n",
        )
        .await;
    let run = server
        .run_template("broken-output", serde_json::json!({"name": "x"}))
        .await;
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["error"]["kind"], "invalid-output", "{run:#}");
    let message = run["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("line 17")
            && message.contains("frobnicate")
            && message.contains("effects are kept"),
        "{message}"
    );
    assert!(run["output"].is_null(), "{run:#}");
}
