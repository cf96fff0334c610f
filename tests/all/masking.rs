//! A plugin that reveals a granted secret and echoes it on every channel it has: the value (and
//! its base64, JSON-escaped and URL-encoded forms) appears in no API answer, event, audit entry,
//! database file or server log, and `***` stands where it was.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lever_tests::guests::fixture;
use lever_tests::server::Server;
use serde_json::{Value, json};

/// Quote, ampersand, slash and spaces, so JSON escaping and URL encoding change it.
const SECRET: &str = "Tr0ub4dor&3 \"horse\"/staple";

fn forms() -> Vec<String> {
    let (head, tail) = SECRET.split_at(SECRET.len() / 2);
    // The value and each half the plugin logged, as they are and as JSON escapes them.
    let mut forms: Vec<String> = [SECRET, head, tail]
        .into_iter()
        .flat_map(|s| {
            let escaped = serde_json::to_string(s).unwrap();
            [s.to_string(), escaped.trim_matches('"').to_string()]
        })
        .collect();
    forms.push(STANDARD.encode(SECRET));
    forms.push("Tr0ub4dor%263%20%22horse%22%2Fstaple".to_string());
    forms
}

fn assert_hidden(what: &str, text: &str) {
    for form in forms() {
        assert!(
            !text.contains(&form),
            "{what} shows the secret as `{form}`:\n{text}"
        );
    }
}

fn messages(run: &Value) -> Vec<String> {
    run["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect()
}

async fn template_run(server: &Server) -> Value {
    let yaml = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: echo-secret\nspec:\n  parameters:\n    - properties:\n        name: {type: string, default: x}\n  steps:\n    - id: echo\n      action: masking-echo\n      input: {secret: echo/token}\n  output:\n    token: ${{ steps.echo.output.token }}\n    said: \"got ${{ steps.echo.output.nested.list[0] }}\"\n";
    server.apply_template(yaml).await;
    server.run_template("echo-secret", json!({})).await
}

#[tokio::test]
async fn a_revealed_secret_is_masked_on_every_channel_and_stored_nowhere() {
    let server = Server::start();
    server.publish_ok(fixture("masking_echo"), &[]).await;
    server.put_secret("echo/token", SECRET).await;

    // An action run: output and every log channel.
    let ok = server
        .run("masking-echo", json!({"secret": "echo/token"}))
        .await;
    assert_eq!(ok["status"], "succeeded", "{ok:#}");
    assert_eq!(ok["output"]["token"], "***");
    assert_eq!(ok["output"]["nested"]["list"][0], "Bearer ***");
    assert_eq!(ok["output"]["encoded"], "***");
    let lines = messages(&ok);
    for expected in [
        "the value is ***",
        "stdout: ***",
        "stderr: ***",
        "50% connecting with ***",
        "first half ***",
        "*** second half",
        "base64 ***",
        "json {\"token\":\"***\"}",
        "url ?token=***",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "no log line `{expected}`: {lines:#?}"
        );
    }

    // Its error message.
    let failed = server
        .run(
            "masking-echo",
            json!({"secret": "echo/token", "fail": true}),
        )
        .await;
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(failed["error"]["message"], "the server refused ***");

    // A template run: step output, template output, the events of its log and progress.
    let run = template_run(&server).await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(run["output"]["token"], "***", "{run:#}");
    assert_eq!(run["output"]["said"], "got Bearer ***", "{run:#}");
    let id = run["id"].as_str().unwrap();
    let (_, events) = server.get_json(&format!("/api/v1/runs/{id}/events")).await;
    assert!(
        events.to_string().contains("connecting with ***"),
        "{events}"
    );

    let mut answers = String::new();
    for path in [
        format!("/api/v1/runs/{}", ok["id"].as_str().unwrap()),
        format!("/api/v1/runs/{}", failed["id"].as_str().unwrap()),
        format!("/api/v1/runs/{id}"),
        format!("/api/v1/runs/{id}/events"),
        "/api/v1/runs".to_string(),
        "/api/v1/audit".to_string(),
    ] {
        let (status, body) = server.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        answers.push_str(&body.to_string());
    }
    assert!(answers.contains("***"));
    assert_hidden("the API", &answers);
    assert_hidden("the server log", &server.log());
    for file in ["lever.db", "lever.db-wal"] {
        let path = server.data_dir.join(file);
        if let Ok(bytes) = std::fs::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            assert_hidden(&format!("{}", path.display()), &text);
        }
    }
}
