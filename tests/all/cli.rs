//! The `lever` command line: publish and run, against the data dir and against a server.

use std::process::Command;

use lever_tests::guests::plugins_dir;
use lever_tests::server::{Server, lever_binary};

fn lever(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(lever_binary())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("LEVER_TOKEN")
        .output()
        .expect("run lever")
}

/// `lever` talking to a server with `token`.
fn lever_with_token(
    data_dir: &std::path::Path,
    token: &str,
    args: &[&str],
) -> std::process::Output {
    Command::new(lever_binary())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("LEVER_TOKEN", token)
        .output()
        .expect("run lever")
}

#[test]
fn publish_and_run_debug_log_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = plugins_dir().join("debug_log.wasm");
    let published = lever(dir.path(), &["plugin", "publish", wasm.to_str().unwrap()]);
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    assert!(String::from_utf8_lossy(&published.stdout).contains("debug-log@0.2.0"));

    let run = lever(
        dir.path(),
        &["run", "debug-log", "--input", r#"{"message":"hi"}"#],
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(run.status.success(), "{stdout}{stderr}");
    let result: serde_json::Value = serde_json::from_str(&stdout).expect("json result");
    assert_eq!(result["status"], "succeeded");
    assert!(
        stderr.contains("[plugin] info: hi"),
        "the log holds `hi`: {stderr}"
    );

    let bad = lever(dir.path(), &["run", "debug-log", "--input", "{nope"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--input is not valid JSON"));
}

#[tokio::test]
async fn run_against_a_server() {
    let server = Server::start();
    let wasm = plugins_dir().join("debug_log.wasm");
    let dir = tempfile::tempdir().unwrap();
    let publish = lever_with_token(
        dir.path(),
        &server.admin_token,
        &[
            "plugin",
            "publish",
            wasm.to_str().unwrap(),
            "--server",
            &server.url,
        ],
    );
    assert!(
        publish.status.success(),
        "{}",
        String::from_utf8_lossy(&publish.stderr)
    );
    let run = lever_with_token(
        dir.path(),
        &server.admin_token,
        &[
            "run",
            "debug-log",
            "--input",
            r#"{"message":"remote"}"#,
            "--server",
            &server.url,
        ],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stderr).contains("remote"));
    let failed = lever_with_token(
        dir.path(),
        &server.admin_token,
        &[
            "run",
            "debug-log",
            "--input",
            r#"{"message":7}"#,
            "--server",
            &server.url,
        ],
    );
    assert!(!failed.status.success());
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("400"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    let anonymous = lever(
        dir.path(),
        &[
            "run",
            "debug-log",
            "--input",
            r#"{"message":"x"}"#,
            "--server",
            &server.url,
        ],
    );
    assert!(!anonymous.status.success());
    assert!(
        String::from_utf8_lossy(&anonymous.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&anonymous.stderr)
    );
}

#[test]
fn template_validate_reports_the_line_and_apply_adds_a_version() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: x\nspec:\n  steps:\n    - id: a\n      name: b\n").unwrap();
    let out = lever(dir.path(), &["template", "validate", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml:7: step `a` has no action"),
        "{stderr}"
    );

    let good = lever_tests::repo_root()
        .join("tests/corpus/backstage-templates/backstage__software-templates__rails-demo.yaml");
    let out = lever(
        dir.path(),
        &["template", "validate", good.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Alone, its `fetch:rails` of `./template` has nothing to read: refused, naming it.
    let out = lever(dir.path(), &["template", "apply", good.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("url: ./template"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its folder in the repository brings the files.
    let folder = lever_tests::repo_root()
        .join("tests/corpus/backstage-repos/backstage__software-templates/scaffolder-templates/rails-demo");
    let out = lever(dir.path(), &["template", "apply", folder.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("applied rails-demo version 1 (template.yaml, 2 files)"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let again = lever(dir.path(), &["template", "apply", folder.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("(unchanged)"));
}

#[test]
fn run_a_template_with_parameters_and_watch_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    let template =
        lever_tests::repo_root().join("demo/templates/provision-postgresql-database.yaml");
    assert!(
        lever(
            dir.path(),
            &["template", "apply", template.to_str().unwrap()]
        )
        .status
        .success()
    );
    let name = lever_tests::databases::unique_name("cli");
    let name_param = format!("name={name}");
    let out = lever(
        dir.path(),
        &[
            "run",
            "provision-postgresql-database",
            "-p",
            &name_param,
            "-p",
            "owner=platform-team",
            "-p",
            "size=medium",
            "--watch",
        ],
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let object = format!("{}_dev", name.replace('-', "_"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let existed = runtime.block_on(lever_tests::databases::provisioned_exists(&object));
    runtime.block_on(lever_tests::databases::drop_provisioned(&object));
    assert!(out.status.success(), "{stdout}{stderr}");
    for line in [
        "✓ database succeeded",
        "infrastructure.apply via builtin:postgres: ok",
    ] {
        assert!(stderr.contains(line), "missing `{line}` in:\n{stderr}");
    }
    assert!(existed, "the in-process run created the database");
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["status"], "succeeded");
    let bad = lever(
        dir.path(),
        &["run", "provision-postgresql-database", "-p", "name=X"],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("name"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn the_default_data_dir_is_relative_to_where_lever_runs() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = plugins_dir().join("debug_log.wasm");
    let out = Command::new(lever_binary())
        .current_dir(dir.path())
        .args(["plugin", "publish", wasm.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join(".lever/lever.db").exists());
    assert!(
        dir.path().join(".lever/cache").is_dir(),
        "the compiled-code cache lives in ./.lever"
    );
}

#[tokio::test]
async fn lever_token_create_makes_a_token_the_server_accepts_for_that_user() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &[]);
    server.kill();
    let out = lever(
        dir.path(),
        &["token", "create", "--user", "alice", "--name", "laptop"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.starts_with("lvr_"), "{token}");
    let unknown = lever(
        dir.path(),
        &["token", "create", "--user", "nobody", "--name", "x"],
    );
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("nobody"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    let server = Server::start_in(dir.path(), &[]);
    let alice = lever_tests::server::client(Some(&token));
    let me: serde_json::Value = alice
        .get(format!("{}/api/v1/me", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], "alice");
    let listed = lever(dir.path(), &["token", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("laptop"));
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains(&token),
        "the secret is never shown again"
    );
}

#[test]
fn serve_refuses_a_binding_with_an_inline_credential_or_an_unknown_capability() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lever.yaml");
    std::fs::write(
        &config,
        "bindings:\n  git-provider:\n    adapter: github\n    settings: {token: ghp_inline}\n",
    )
    .unwrap();
    let out = lever(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bindings.git-provider.settings.token") && stderr.contains("secret://"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("ghp_inline"),
        "the refused value is not echoed: {stderr}"
    );

    std::fs::write(&config, "bindings:\n  git-hosting:\n    adapter: github\n").unwrap();
    let out = lever(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bindings.git-hosting: not a capability"),
        "{stderr}"
    );
}

/// `lever template apply DIR` on the whole corpus of repositories: every template in them is
/// applied with the folders its fetch steps name; the two whose folders do not exist upstream
/// are reported (with the step and path) and the command says how many were not applied.
#[test]
fn template_apply_dir_applies_every_template_of_the_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let repos = lever_tests::repo_root().join("tests/corpus/backstage-repos");
    let out = lever(dir.path(), &["template", "apply", repos.to_str().unwrap()]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout.matches("applied ").count(), 21, "{stdout}{stderr}");
    assert!(
        stdout.contains("applied create-react-app-template version 1 (backstage__software-templates/scaffolder-templates/create-react-app/template.yaml, 23 files)"),
        "{stdout}"
    );
    assert!(stderr.contains("`url: ./app-gitops`"), "{stderr}");
    assert!(stderr.contains("`url: ./template`"), "{stderr}");
    assert!(
        stderr.contains("2 of 23 templates were not applied"),
        "{stderr}"
    );
}
