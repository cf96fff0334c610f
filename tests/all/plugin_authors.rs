//! Plugin authors: `lever plugin new` → `build` → `test` in Rust, Python and JavaScript, each
//! project then published to a real server and run in a template beside Rust steps (actions)
//! or bound as its `notifier` (adapters); the sandbox
//! limits on Python and JavaScript guests; the harness's recorded HTTP; a real step's replay;
//! signed plugins.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use lever_tests::fakes::chat::FakeChat;
use lever_tests::fakes::greetings::FakeGreetings;
use lever_tests::guests::{plugin, plugins_dir};
use lever_tests::server::{Server, lever_binary};
use serde_json::{Value, json};

const TOKEN: &str = "greetings-s3cret-token";
const CHAT_TOKEN: &str = "chat-s3cret-token";

/// Runs `lever` with `args` off the test's runtime (a build takes a while, and the fakes
/// serve on that runtime).
async fn lever(args: Vec<String>, envs: Vec<(String, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(lever_binary());
        command.args(&args).env_remove("LEVER_TOKEN");
        for (k, v) in envs {
            command.env(k, v);
        }
        // Generated Rust projects share one target dir beside the first-party plugins' (same
        // profile, same locked dependencies: they compile once), but not the plugins' own
        // output folder, which `lever serve --publish` publishes whole.
        command.env(
            "CARGO_TARGET_DIR",
            plugins_dir()
                .parent()
                .unwrap()
                .parent()
                .unwrap()
                .join("projects"),
        );
        command.output().expect("run lever")
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `lever plugin new NAME --lang LANG --dir DIR` then `lever plugin build DIR`; the component.
async fn new_and_build(name: &str, lang: &str, dir: &Path) -> Vec<u8> {
    let made = lever(
        args(&["plugin", "new", name, "--lang", lang, "--dir", &path(dir)]),
        vec![],
    )
    .await;
    assert!(made.status.success(), "plugin new: {}", text(&made));
    assert!(
        dir.join("wit/types.wit").is_file(),
        "the WIT travels with it"
    );
    assert!(dir.join("lever-test.yaml").is_file());
    let built = lever(args(&["plugin", "build", &path(dir)]), vec![]).await;
    let out = text(&built);
    assert!(built.status.success(), "plugin build: {out}");
    assert!(out.contains(&format!("{name}@0.1.0 (action)")), "{out}");
    assert!(out.contains("hosts [greetings.example.com]"), "{out}");
    assert!(out.contains("secrets [greetings-token]"), "{out}");
    assert!(out.contains("sha256:"), "{out}");
    std::fs::read(dir.join("build/plugin.wasm")).expect("the build leaves build/plugin.wasm")
}

/// The Rust template project, generated and built once for the tests that only read it.
async fn rust_project() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    if let Some((_, dir)) = DIR.get() {
        return dir;
    }
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("hello-rust");
    new_and_build("hello-rust", "rust", &dir).await;
    &DIR.get_or_init(|| (temp, dir)).1
}

/// Publishes the component (granting it the fake's host), applies a template that runs it
/// between two Rust `debug:log` steps, runs it, and checks the greeting went through.
async fn run_beside_rust_steps(server: &Server, name: &str, wasm: Vec<u8>) {
    let greetings = FakeGreetings::start(TOKEN).await;
    server.publish_ok(plugin("debug_log"), &[]).await;
    let published = server
        .publish_ok(wasm, &[("hosts", &greetings.authority())])
        .await;
    assert_eq!(published["name"], name);
    server.put_secret("greetings-token", TOKEN).await;
    let template = format!(
        r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: greet-{name}
spec:
  parameters:
    - properties:
        who: {{type: string, default: world}}
  steps:
    - id: before
      action: debug:log
      input: {{message: "asking for ${{{{ parameters.who }}}}"}}
    - id: greet
      action: {name}
      input: {{name: "${{{{ parameters.who }}}}", api_url: "{api}"}}
    - id: after
      action: debug:log
      input: {{message: "got ${{{{ steps.greet.output.greeting }}}}"}}
"#,
        api = greetings.base_url()
    );
    server.apply_template(&template).await;
    let run = server
        .run_template(&format!("greet-{name}"), json!({"who": "ada"}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let step = |id: &str| {
        run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(step("greet")["output"]["greeting"], "hello ada");
    assert_eq!(step("after")["output"]["message"], "got hello ada");
    assert_eq!(greetings.seen_tokens(), vec![TOKEN.to_string()]);
    let log = run["log"].to_string();
    assert!(!log.contains(TOKEN), "the revealed token is masked: {log}");
}

/// `lever plugin test DIR`, which must pass every case of the project's own fixtures.
async fn passes_its_own_tests(dir: &Path) {
    let tested = lever(args(&["plugin", "test", &path(dir)]), vec![]).await;
    let out = text(&tested);
    assert!(tested.status.success(), "plugin test: {out}");
    assert!(out.contains("all 2 cases passed"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_plugin_goes_from_new_to_a_template_run_beside_rust_steps() {
    let dir = rust_project().await;
    passes_its_own_tests(dir).await;
    let server = Server::start();
    let wasm = std::fs::read(dir.join("build/plugin.wasm")).unwrap();
    run_beside_rust_steps(&server, "hello-rust", wasm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_plugin_goes_from_new_to_a_template_run_beside_rust_steps() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("hello-python");
    let wasm = new_and_build("hello-python", "python", &dir).await;
    passes_its_own_tests(&dir).await;
    let server = Server::start();
    run_beside_rust_steps(&server, "hello-python", wasm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_plugin_goes_from_new_to_a_template_run_beside_rust_steps() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("hello-js");
    let wasm = new_and_build("hello-js", "js", &dir).await;
    passes_its_own_tests(&dir).await;
    let server = Server::start();
    run_beside_rust_steps(&server, "hello-js", wasm).await;
}

/// `lever plugin new NAME --lang LANG --kind adapter` → `build` → `test`, then the adapter
/// bound as a real server's `notifier`: a template's `notification:send` step reaches the chat
/// API through it, with the token its binding refers to, and the token stays out of the log.
async fn an_adapter_goes_from_new_to_a_bound_notifier(lang: &str) {
    let temp = tempfile::tempdir().unwrap();
    let name = format!("chat-{lang}");
    let dir = temp.path().join(&name);
    let made = lever(
        args(&[
            "plugin",
            "new",
            &name,
            "--lang",
            lang,
            "--kind",
            "adapter",
            "--dir",
            &path(&dir),
        ]),
        vec![],
    )
    .await;
    assert!(made.status.success(), "plugin new: {}", text(&made));
    let built = lever(args(&["plugin", "build", &path(&dir)]), vec![]).await;
    let out = text(&built);
    assert!(built.status.success(), "plugin build: {out}");
    assert!(out.contains(&format!("{name}@0.1.0 (adapter)")), "{out}");
    assert!(out.contains("hosts [chat.example.com]"), "{out}");
    assert!(out.contains("capabilities: [notifier]"), "{out}");
    let tested = lever(args(&["plugin", "test", &path(&dir)]), vec![]).await;
    let out = text(&tested);
    assert!(tested.status.success(), "plugin test: {out}");
    assert!(out.contains("all 3 cases passed"), "{out}");

    let chat = FakeChat::start(CHAT_TOKEN).await;
    let config = format!(
        "bindings:\n  notifier:\n    adapter: {name}\n    settings: {{base_url: '{}', token: 'secret://chat-token'}}\n",
        chat.base_url()
    );
    let server = Server::start_configured(&config, &[]);
    let wasm = std::fs::read(dir.join("build/plugin.wasm")).unwrap();
    let published = server.publish_ok(wasm, &[]).await;
    assert_eq!(published["kind"], "adapter", "{published}");
    server.publish_ok(plugin("notification_send"), &[]).await;
    server.put_secret("chat-token", CHAT_TOKEN).await;
    let template = format!(
        r#"apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata:
  name: tell-{name}
spec:
  steps:
    - id: tell
      action: notification:send
      input: {{recipients: broadcast, title: Database ready, info: orders-db is up}}
"#
    );
    server.apply_template(&template).await;
    let run = server
        .run_template(&format!("tell-{name}"), json!({}))
        .await;
    assert_eq!(run["status"], "succeeded", "{run:#}");
    assert_eq!(
        run["steps"][0]["output"]["sent"],
        json!(["msg-1"]),
        "{run:#}"
    );
    let sent = chat.recorder.matching("POST /messages");
    assert_eq!(sent.len(), 1, "one message");
    assert_eq!(sent[0].json["channel"], "broadcast");
    assert_eq!(sent[0].json["subject"], "Database ready");
    assert_eq!(sent[0].json["text"], "orders-db is up");
    let bearer = format!("Bearer {CHAT_TOKEN}");
    assert_eq!(sent[0].header("authorization"), Some(bearer.as_str()));
    let log = run["log"].to_string();
    assert!(
        !log.contains(CHAT_TOKEN),
        "the revealed token is masked: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_adapter_goes_from_new_to_a_bound_notifier() {
    an_adapter_goes_from_new_to_a_bound_notifier("rust").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_adapter_goes_from_new_to_a_bound_notifier() {
    an_adapter_goes_from_new_to_a_bound_notifier("python").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_adapter_goes_from_new_to_a_bound_notifier() {
    an_adapter_goes_from_new_to_a_bound_notifier("js").await;
}

const PYTHON_PROBE: &str = r#"
from lever_sdk import ActionHandler, action, http  # noqa: F401

@action(name="probe-py", version="0.1.0", description="Misbehaves on request",
        input_schema={"type": "object"}, output_schema={"type": "object"})
def run(ctx, input):
    if input.get("mode") == "loop":
        n = 0
        while True:
            n += 1
    if input.get("mode") == "ungranted":
        http.get("https://not-granted.example.com/")
    return {"ok": True}
"#;

const JS_PROBE: &str = r#"
import { action } from "./sdk/js/lever-sdk.js";
export const actionHandler = action({
  name: "probe-js", version: "0.1.0", description: "Misbehaves on request",
  inputSchema: { type: "object" }, outputSchema: { type: "object" },
  async run(ctx, input) {
    if (input.mode === "loop") { let n = 0; for (;;) { n++; } }
    if (input.mode === "ungranted") { await fetch("https://not-granted.example.com/"); }
    return { ok: true };
  },
});
"#;

const PROBE_CASES: &str = r#"
cases:
  - name: behaves
    input: {}
    expect: {output: {ok: true}}
  - name: an endless loop runs out of fuel
    input: {mode: loop}
    limits: {fuel: 200000000}
    expect: {error: fuel-exhausted}
  - name: an endless loop with fuel to spare passes its deadline
    input: {mode: loop}
    limits: {fuel: 1000000000000000, timeout_ms: 1500}
    expect: {error: deadline-passed}
  - name: a host it was not granted is refused
    input: {mode: ungranted}
    expect: {error: host-not-granted, message: not-granted.example.com}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_javascript_guests_are_held_to_the_sandbox_limits() {
    let temp = tempfile::tempdir().unwrap();
    for (lang, file, source) in [
        ("python", "app.py", PYTHON_PROBE),
        ("js", "app.js", JS_PROBE),
    ] {
        let dir = temp.path().join(lang);
        let made = lever(
            args(&[
                "plugin",
                "new",
                "probe",
                "--lang",
                lang,
                "--dir",
                &path(&dir),
            ]),
            vec![],
        )
        .await;
        assert!(made.status.success(), "{}", text(&made));
        std::fs::write(dir.join(file), source).unwrap();
        std::fs::write(dir.join("lever-test.yaml"), PROBE_CASES).unwrap();
        let built = lever(args(&["plugin", "build", &path(&dir)]), vec![]).await;
        assert!(built.status.success(), "{lang}: {}", text(&built));
        let tested = lever(args(&["plugin", "test", &path(&dir)]), vec![]).await;
        let out = text(&tested);
        assert!(tested.status.success(), "{lang}: {out}");
        assert!(out.contains("all 4 cases passed"), "{lang}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_harness_answers_recorded_requests_and_names_the_rest() {
    let dir = rust_project().await;
    let temp = tempfile::tempdir().unwrap();
    let fixtures = temp.path().join("cases.yaml");
    std::fs::write(
        &fixtures,
        r#"
cases:
  - name: a recorded exchange answers
    input: {name: ada}
    secrets: {greetings-token: t}
    http:
      - request: {method: GET, url: "https://greetings.example.com/greeting?name=ada"}
        response: {body: {greeting: hi ada}}
    expect:
      output: {greeting: hi ada}
      requests: ["GET https://greetings.example.com/greeting?name=ada"]
      all_http_used: true
  - name: an unrecorded request fails and says which it was
    input: {name: bob}
    secrets: {greetings-token: t}
    http:
      - request: {method: GET, url: "https://greetings.example.com/greeting?name=ada"}
        response: {body: {greeting: hi ada}}
    expect:
      error: unrecorded-request
      message: "GET https://greetings.example.com/greeting?name=bob"
  - name: a secret the fixtures do not hold is refused
    input: {name: ada}
    expect: {error: not-found, message: greetings-token}
"#,
    )
    .unwrap();
    let tested = lever(
        args(&["plugin", "test", &path(dir), "--fixtures", &path(&fixtures)]),
        vec![],
    )
    .await;
    let out = text(&tested);
    assert!(tested.status.success(), "{out}");
    assert!(out.contains("all 3 cases passed"), "{out}");

    // A wrong expectation fails the command and says what differed.
    std::fs::write(
        &fixtures,
        r#"
cases:
  - name: expects the wrong kind
    input: {name: ada}
    secrets: {greetings-token: t}
    http:
      - request: {method: GET, url: "https://greetings.example.com/greeting?name=ada"}
        response: {status: 503}
    expect: {error: fatal}
"#,
    )
    .unwrap();
    let tested = lever(
        args(&["plugin", "test", &path(dir), "--fixtures", &path(&fixtures)]),
        vec![],
    )
    .await;
    let out = text(&tested);
    assert!(!tested.status.success(), "{out}");
    assert!(out.contains("FAIL expects the wrong kind"), "{out}");
    assert!(
        out.contains("expected error `fatal`, got `plugin-retryable`"),
        "{out}"
    );

    // `lever plugin run` calls it once with a case's secrets and answers.
    std::fs::write(
        &fixtures,
        r#"
cases:
  - name: answers
    secrets: {greetings-token: t}
    http:
      - request: {method: GET, url: "https://greetings.example.com/greeting?name=cy"}
        response: {body: {greeting: hi cy}}
"#,
    )
    .unwrap();
    let ran = lever(
        args(&[
            "plugin",
            "run",
            &path(&dir.join("build/plugin.wasm")),
            "--input",
            r#"{"name": "cy"}"#,
            "--fixtures",
            &path(&fixtures),
        ]),
        vec![],
    )
    .await;
    assert!(ran.status.success(), "{}", text(&ran));
    let output: Value = serde_json::from_slice(&ran.stdout).unwrap();
    assert_eq!(output["greeting"], "hi cy");
}

/// The Rust template's `run`, made strict about the answer's shape (the bug), and then taught
/// the API's newer `message` field (the fix).
const STRICT: &str = r#"let greeting = body["greeting"].as_str().ok_or_else(|| ActionError::Fatal(format!("{url} answered without a greeting: {body}")))?.to_string();"#;
const FIXED: &str = r#"let greeting = body["greeting"].as_str().or(body["message"].as_str()).ok_or_else(|| ActionError::Fatal(format!("{url} answered without a greeting: {body}")))?.to_string();"#;
const ORIGINAL: &str =
    r#"let greeting = body["greeting"].as_str().unwrap_or_default().to_string();"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_failed_on_the_server_replays_locally_and_passes_after_the_fix() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("hello-strict");
    let made = lever(
        args(&[
            "plugin",
            "new",
            "hello-strict",
            "--lang",
            "rust",
            "--dir",
            &path(&dir),
        ]),
        vec![],
    )
    .await;
    assert!(made.status.success(), "{}", text(&made));
    let source = dir.join("src/lib.rs");
    let original = std::fs::read_to_string(&source).unwrap();
    assert!(
        original.contains(ORIGINAL),
        "the template reads the greeting"
    );
    std::fs::write(&source, original.replace(ORIGINAL, STRICT)).unwrap();
    let built = lever(args(&["plugin", "build", &path(&dir)]), vec![]).await;
    assert!(built.status.success(), "{}", text(&built));

    let server = Server::start();
    let greetings = FakeGreetings::start(TOKEN).await;
    greetings.answer_with_message();
    server
        .publish_ok(
            std::fs::read(dir.join("build/plugin.wasm")).unwrap(),
            &[("hosts", &greetings.authority())],
        )
        .await;
    server.put_secret("greetings-token", TOKEN).await;
    server
        .apply_template(&format!(
            "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: strict\nspec:\n  steps:\n    - id: greet\n      action: hello-strict\n      input: {{name: ada, api_url: \"{}\"}}\n",
            greetings.base_url()
        ))
        .await;
    let run = server.run_template("strict", json!({})).await;
    assert_eq!(run["status"], "failed", "{run:#}");
    let id = run["id"].as_str().unwrap().to_string();

    // What the server kept of the attempt: the exchange, with the token masked.
    let (status, recorded) = server
        .get_json(&format!("/api/v1/runs/{id}/steps/greet/replay"))
        .await;
    assert_eq!(status, 200, "{recorded}");
    let exchange = &recorded["exchanges"][0];
    assert_eq!(exchange["response"]["body"]["message"], "hello ada");
    assert!(!recorded.to_string().contains(TOKEN), "{recorded}");
    assert_eq!(recorded["error"]["kind"], "plugin-fatal");

    let target = format!("{id}/greet");
    let replay = || {
        lever(
            args(&[
                "plugin",
                "test",
                &path(&dir),
                "--replay",
                &target,
                "--server",
                &server.url,
                "--secret",
                "greetings-token=local",
            ]),
            vec![("LEVER_TOKEN".into(), server.admin_token.clone())],
        )
    };
    let replayed = replay().await;
    let out = text(&replayed);
    assert!(!replayed.status.success(), "{out}");
    assert!(
        out.contains("reproduced: the local build fails with `plugin-fatal`"),
        "{out}"
    );

    std::fs::write(&source, original.replace(ORIGINAL, FIXED)).unwrap();
    let built = lever(args(&["plugin", "build", &path(&dir)]), vec![]).await;
    assert!(built.status.success(), "{}", text(&built));
    let replayed = replay().await;
    let out = text(&replayed);
    assert!(replayed.status.success(), "{out}");
    assert!(out.contains("the replay succeeds"), "{out}");
    // The replay answered from the recording: the API saw only the server's one request.
    assert_eq!(greetings.seen_tokens().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_requires_a_signature_by_a_trusted_key() {
    let temp = tempfile::tempdir().unwrap();
    let key = temp.path().join("platform");
    let other = temp.path().join("stranger");
    for k in [&key, &other] {
        let made = lever(args(&["plugin", "keygen", "--out", &path(k)]), vec![]).await;
        assert!(made.status.success(), "{}", text(&made));
    }
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let server = Server::start_configured(
        &format!(
            "{}\nplugins:\n  require_signatures: true\n  trusted_keys:\n    - name: platform-team\n      key: {}\n",
            lever_identity::EMBEDDED_CONFIG,
            public.trim()
        ),
        &[],
    );
    let wasm = temp.path().join("debug_log.wasm");
    std::fs::write(&wasm, plugin("debug_log")).unwrap();

    let (status, body) = server.publish(std::fs::read(&wasm).unwrap(), &[]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "unsigned");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("platform-team") && message.contains(public.trim()),
        "{message}"
    );

    let by_stranger = temp.path().join("stranger.wasm");
    let signed = lever(
        args(&[
            "plugin",
            "sign",
            &path(&wasm),
            "--key",
            &path(&other.with_extension("key")),
            "--out",
            &path(&by_stranger),
        ]),
        vec![],
    )
    .await;
    assert!(signed.status.success(), "{}", text(&signed));
    let (status, body) = server
        .publish(std::fs::read(&by_stranger).unwrap(), &[])
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "untrusted-signature");

    let signed = lever(
        args(&[
            "plugin",
            "sign",
            &path(&wasm),
            "--key",
            &path(&key.with_extension("key")),
        ]),
        vec![],
    )
    .await;
    assert!(signed.status.success(), "{}", text(&signed));
    let good = std::fs::read(&wasm).unwrap();
    let mut tampered = good.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    let (status, body) = server.publish(tampered, &[]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad-signature");

    let published = server.publish_ok(good, &[]).await;
    assert_eq!(published["signed_by"], "platform-team", "{published}");
    let run = server.run("debug-log", json!({"message": "signed"})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
}
