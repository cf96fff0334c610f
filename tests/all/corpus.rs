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
