//! The 23 corpus templates run end to end, unchanged, each applied from its bundle, against
//! the local GitHub, GitLab and Slack fakes: Backstage's built-in actions are Lever's
//! first-party components (`plugins/`), `repoUrl`'s host picks the GitHub or the GitLab
//! binding, `debug:wait` parks the run (the test moves the server's manual clock). The
//! published repositories are checked file by file against what Backstage would write, and
//! every template that does not run must say why.

use std::collections::BTreeMap;

use lever_tests::fakes::backstage_catalog::FakeBackstageCatalog;
use lever_tests::fakes::github::FakeGitHub;
use lever_tests::fakes::gitlab::FakeGitLab;
use lever_tests::fakes::slack::FakeSlack;
use lever_tests::guests::plugins_dir;
use lever_tests::repo_root;
use lever_tests::server::Server;
use serde_json::{Value, json};

const GITHUB_TOKEN: &str = "ghp_corpus000000000000000000000000001";
const GITLAB_TOKEN: &str = "glpat-corpus00000000000000002";
const SLACK_TOKEN: &str = "xoxb-corpus-0000000000000003";
const SLACK_SIGNING: &str = "slacksigningcorpus0000000000004";
const BACKSTAGE_TOKEN: &str = "backstage-static-corpus-0000005";

/// The providers, the server bound to them, and the repositories the templates act on.
struct Stage {
    github: FakeGitHub,
    gitlab: FakeGitLab,
    slack: FakeSlack,
    /// A Backstage catalog, bound as `software-catalog` when the stage asks for one.
    catalog: FakeBackstageCatalog,
    server: Server,
    /// alice, a payments developer: what she asks for is approved automatically.
    alice: reqwest::Client,
}

impl Stage {
    /// Lever bound to the GitHub, GitLab and Slack fakes; registering into Lever's own list.
    async fn start() -> Self {
        Self::bound(false).await
    }

    /// As [`Stage::start`], and with `backstage_catalog` the Backstage catalog fake bound as
    /// `software-catalog` (it reads what is registered from the GitHub fake).
    async fn bound(backstage_catalog: bool) -> Self {
        let github = FakeGitHub::start(GITHUB_TOKEN).await;
        let gitlab = FakeGitLab::start(GITLAB_TOKEN).await;
        let slack = FakeSlack::start(SLACK_TOKEN, &["broadcast"]).await;
        let catalog = FakeBackstageCatalog::start(BACKSTAGE_TOKEN, github.blob_reader()).await;
        let mut bindings = format!(
            "  git-provider: {{adapter: github, hosts: [github.com], settings: {{base_url: '{}', token: 'secret://github-token'}}}}\n  git-provider/gitlab: {{adapter: gitlab, hosts: [gitlab.com], settings: {{base_url: '{}', token: 'secret://gitlab-token'}}}}\n  notifier: {{adapter: slack, settings: {{base_url: '{}', token: 'secret://slack-bot-token', signing_secret: 'secret://slack-signing-secret'}}}}\n",
            github.base_url(),
            gitlab.base_url(),
            slack.base_url(),
        );
        if backstage_catalog {
            bindings.push_str(&format!(
                "  software-catalog: {{adapter: backstage-catalog, settings: {{base_url: '{}', token: 'secret://backstage-token'}}}}\n",
                catalog.base_url()
            ));
        }
        let config = lever_tests::corpus::config_with_bindings(&bindings);
        let plugins = plugins_dir().to_string_lossy().into_owned();
        let server = Server::start_configured(&config, &["--publish", &plugins, "--manual-clock"]);
        for (name, value) in [
            ("github-token", GITHUB_TOKEN),
            ("gitlab-token", GITLAB_TOKEN),
            ("slack-bot-token", SLACK_TOKEN),
            ("slack-signing-secret", SLACK_SIGNING),
            ("backstage-token", BACKSTAGE_TOKEN),
        ] {
            server.put_secret(name, value).await;
        }
        // The existing repositories templates open pull requests on or fetch from.
        let catalog_info = b"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: legacy\nspec:\n  type: service\n  owner: payments\n";
        for repo in [
            "acme/existing",
            "acme/ansible-jobs",
            "acme/legacy-svc",
            "acme/legacy-tekton",
        ] {
            github.seed(
                repo,
                &[
                    ("README.md", b"# existing\n", false),
                    ("catalog-info.yaml", catalog_info, false),
                ],
            );
        }
        github.seed(
            "backstage/community",
            &[
                ("README.md", b"# community\n", false),
                (
                    "backstage-community-sessions/README.md",
                    b"# Sessions\n",
                    false,
                ),
                (
                    "backstage-community-sessions/assets/logo.png",
                    &[0x89, b'P', b'N', b'G', 0, 1, 2, 255],
                    false,
                ),
            ],
        );
        gitlab.seed("acme/existing", &[("README.md", b"# existing\n", false)]);
        let alice = server.client_for("alice").await;
        Stage {
            alice,
            github,
            gitlab,
            slack,
            catalog,
            server,
        }
    }

    /// Applies the template `template.yaml` of folder `dir` as a bundle with its folders.
    async fn apply_dir(&self, dir: &std::path::Path) {
        let bundle =
            lever_templates::bundle::Bundle::from_dir(dir, &dir.join("template.yaml")).unwrap();
        let response = self
            .server
            .http
            .post(format!("{}/api/v1/templates", self.server.url))
            .body(bundle.to_tar())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            201,
            "{}",
            response.text().await.unwrap()
        );
    }

    /// Runs `template` with `parameters` to its end, moving the manual clock past every
    /// durable wait. `Err` is the refusal of the submission (status, message).
    async fn run(&self, template: &str, parameters: Value) -> Result<Value, (u16, String)> {
        let response = self
            .alice
            .post(format!("{}/api/v1/runs", self.server.url))
            .json(&json!({"template": template, "parameters": parameters}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let created: Value = response.json().await.unwrap();
        if status != 201 {
            return Err((status, created["error"].to_string()));
        }
        let id = created["id"].as_str().unwrap().to_string();
        for _ in 0..400 {
            let (_, run) = self
                .server
                .get_json(&format!("/api/v1/runs/{id}?wait=1"))
                .await;
            match run["status"].as_str().unwrap_or_default() {
                "pending" | "running" => {}
                "waiting" => {
                    let (status, moved) = self
                        .server
                        .post_json("/api/v1/admin/clock", json!({"advance_ms": 30_000}))
                        .await;
                    assert_eq!(status, 200, "{moved}");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                _ => return Ok(run),
            }
        }
        panic!("run {id} of {template} did not end")
    }
}

/// What each corpus template is run with: the values a developer would fill in.
fn parameters(template: &str) -> Value {
    let docs = |repo: &str| json!({"name": repo, "description": "Docs for the payments team", "owner": "group:default/payments", "repoUrl": format!("github.com?owner=acme&repo={repo}")});
    match template {
        "docs-long-running-template" => docs("docs-long"),
        "docs-mocks-idempotent-template" => docs("docs-idempotent"),
        "docs-mocks-template" => docs("docs-mocks"),
        "docs-to-fail-template" => docs("docs-fail"),
        "docs-template" => docs("docs-plain"),
        "docs-template-cookiecutter" => docs("docs-cookiecutter"),
        "conditional-output-demo" => json!({"name": "billing", "enableCI": "Yes"}),
        "wait-action" => json!({"name": "some value"}),
        "notifications-demo" => {
            json!({"recipients": "broadcast", "title": "Payments deploy done", "description": "v2 is live", "link": "https://deploys.example.com/42", "severity": "normal"})
        }
        "create-react-app-template" => {
            json!({"component_id": "web-app", "description": "A web app", "owner": "group:default/payments", "repoUrl": "github.com?owner=acme&repo=web-app"})
        }
        "springboot-template" => {
            json!({"component_id": "grpc-svc", "java_package_name": "com.acme.grpc", "description": "A gRPC service", "owner": "group:default/payments", "repoUrl": "github.com?owner=acme&repo=grpc-svc"})
        }
        "gitlab-merge-request" => {
            json!({"name": "billing", "description": "Register billing", "targetPath": "billing", "branchName": "add-billing", "repoUrl": "gitlab.com?owner=acme&repo=existing"})
        }
        "pull-request" => {
            json!({"name": "billing", "description": "Add billing", "targetPath": "billing", "repoUrl": "github.com?owner=acme&repo=existing"})
        }
        "rails-demo" => {
            json!({"name": "shop", "owner": "group:default/payments", "repoUrl": "github.com?owner=acme&repo=shop", "dryRun": false})
        }
        "argocd-template" => {
            json!({"orgName": "acme", "repoName": "argo-app", "componentName": "argo-app", "port": 8080, "owner": "payments", "system": "payments", "imageRepository": "quay.io", "imageUrl": "acme/argo-app", "namespace": "payments", "hostUrl": "https://api.cluster.example.com"})
        }
        "dotnet-frontend-template" => {
            json!({"orgName": "acme", "projectName": "web", "repoName": "dotnet-web", "owner": "payments", "system": "payments", "port": 5000})
        }
        "define-ansible-job-template" => {
            json!({"githubOrg": "acme", "owner": "payments", "repoName": "ansible-jobs", "system": "system:default/payments", "name": "nightly", "playbook": "site.yml", "description": "Nightly patching", "namespace": "aap", "inventory": "aap", "project": "aap", "ask_vars_on_launch": false})
        }
        "python-backend-template" => {
            json!({"orgName": "acme", "repoName": "py-backend", "description": "A Python backend", "owner": "payments", "system": "payments", "port": 5000})
        }
        "launch-ansible-job-template" => {
            json!({"orgName": "acme", "owner": "payments", "repoName": "ansible-jobs", "system": "system:default/payments", "name": "launch-nightly", "jobTemplate": "nightly", "description": "Launch nightly patching", "extra_vars": ""})
        }
        "register-component" => {
            json!({"githubHost": "github.com", "githubOrganization": "acme", "repositoryName": "legacy-svc", "componentName": "legacy", "componentOwner": "payments", "componentType": "service", "componentLifecycle": "production"})
        }
        "tekton-template" => {
            json!({"orgName": "acme", "repoName": "legacy-tekton", "prBranch": "add-tekton", "catalogInfoPath": "catalog-info.yaml", "imageBuilder": "s2i-go", "imageRepository": "quay.io", "imageUrl": "acme/legacy", "namespace": "legacy", "port": 8080})
        }
        other => panic!("no parameters for {other}"),
    }
}

/// How a template ended: `succeeded`, or the status and the message that says why not.
fn outcome(result: &Result<Value, (u16, String)>) -> (bool, String) {
    match result {
        Ok(run) if run["status"] == "succeeded" => (true, "succeeded".into()),
        Ok(run) => (
            false,
            format!(
                "{} at {}: {} {}",
                run["status"].as_str().unwrap_or_default(),
                run["steps"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|s| s["status"] == "failed")
                    .map(|s| s["id"].as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(","),
                run["error"]["kind"].as_str().unwrap_or_default(),
                run["error"]["message"].as_str().unwrap_or_default()
            ),
        ),
        Err((status, message)) => (false, format!("refused {status}: {message}")),
    }
}

fn text(tree: &BTreeMap<String, (Vec<u8>, bool)>, path: &str) -> String {
    String::from_utf8(
        tree.get(path)
            .unwrap_or_else(|| panic!("no {path} in {:?}", tree.keys()))
            .0
            .clone(),
    )
    .unwrap()
}

fn skeleton(path: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/corpus/backstage-repos").join(path)).unwrap()
}

#[tokio::test]
async fn the_corpus_runs_unchanged_against_the_providers() {
    let stage = Stage::start().await;
    let mut files: Vec<String> =
        std::fs::read_dir(repo_root().join("tests/corpus/backstage-templates"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.ends_with(".yaml"))
            .collect();
    files.sort();
    assert_eq!(files.len(), 23);
    let mut results: BTreeMap<String, Result<Value, (u16, String)>> = BTreeMap::new();
    for file in &files {
        let bundle = lever_tests::corpus::corpus_bundle(file);
        let response = stage
            .server
            .http
            .post(format!("{}/api/v1/templates", stage.server.url))
            .body(bundle.to_tar())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let applied: Value = response.json().await.unwrap();
        if status != 201 && status != 200 {
            results.insert(file.clone(), Err((status, applied["error"].to_string())));
            continue;
        }
        let name = applied["name"].as_str().unwrap().to_string();
        let result = stage.run(&name, parameters(&name)).await;
        if let Ok(run) = &result
            && run["status"] != "succeeded"
        {
            for line in run["logs"].as_array().into_iter().flatten() {
                println!("{name}: {line}");
            }
        }
        results.insert(file.clone(), result);
    }
    let mut report = String::from("corpus templates run against the fakes:\n");
    let mut succeeded = 0;
    for (file, result) in &results {
        let (ok, said) = outcome(result);
        succeeded += usize::from(ok);
        report.push_str(&format!("  {file}: {said}\n"));
    }
    report.push_str(&format!("{succeeded} of 23 succeed\n"));
    println!("{report}");

    // Every template that does not run says why, naming what is missing.
    let said = |file: &str| outcome(&results[file]).1;
    for (file, expected) in [
        ("janus-idp__software-templates__obc.yaml", "./template"),
        (
            "janus-idp__software-templates__sdlc-app.yaml",
            "./app-gitops",
        ),
        (
            "janus-idp__software-templates__argocd.yaml",
            "argocd:create-resources",
        ),
        (
            "janus-idp__software-templates__azure-dotnet-frontend.yaml",
            "publish:azure",
        ),
        (
            "backstage__software-templates__rails-demo.yaml",
            "fetch:rails",
        ),
        (
            "backstage__backstage__longrunning-wait-action.yaml",
            "stress:waitWorkflow",
        ),
        // It publishes the same repository twice; GitHub refuses the second, as it would
        // refuse Backstage.
        (
            "acierto__software-templates__to-fail-recovery.yaml",
            "already exists",
        ),
    ] {
        let message = said(file);
        assert!(message.contains(expected), "{file}: {message}\n{report}");
    }
    assert!(succeeded >= 16, "{report}");

    // recovery-mocks names a step it does not have in its output: the run succeeds (its
    // repository is published, as in Backstage) and says which values it left out.
    let mocks = results["acierto__software-templates__recovery-mocks.yaml"]
        .as_ref()
        .unwrap();
    assert_eq!(mocks["status"], "succeeded", "{report}");
    let (_, events) = stage
        .server
        .get_json(&format!(
            "/api/v1/runs/{}/events",
            mocks["id"].as_str().unwrap()
        ))
        .await;
    let warned = events.to_string();
    assert!(
        warned.contains("output-warning")
            && warned.contains("steps.register.output.catalogInfoUrl"),
        "{warned}"
    );

    // create-react-app: the skeleton rendered as Backstage renders it, published, registered.
    let run = results["backstage__software-templates__create-react-app.yaml"]
        .as_ref()
        .unwrap();
    assert_eq!(run["status"], "succeeded", "{report}");
    let tree = stage.github.tree("acme/web-app", "master");
    assert_eq!(
        text(&tree, "catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: \"web-app\"\n  description: \"A web app\"\n  annotations:\n    github.com/project-slug: acme/web-app\n    backstage.io/techdocs-ref: dir:.\nspec:\n  type: website\n  lifecycle: experimental\n  owner: \"group:default/payments\"\n"
    );
    assert!(text(&tree, "package.json").contains("\"name\": \"web-app\","));
    // `values.name` is not given: nunjucks prints nothing for it.
    assert!(text(&tree, "docs/index.md").starts_with("## \n\nA web app\n"));
    let skeleton_dir =
        "backstage__software-templates/scaffolder-templates/create-react-app/skeleton";
    for binary in ["public/logo512.png", "public/favicon.ico"] {
        assert_eq!(
            tree[binary].0,
            skeleton(&format!("{skeleton_dir}/{binary}")),
            "{binary}"
        );
    }
    // Every skeleton file, at its path, and nothing else (no `.lever-executables`, no README
    // of the auto-initialised repository: the first commit is the workspace).
    let mut expected = Vec::new();
    let root = repo_root()
        .join("tests/corpus/backstage-repos")
        .join(skeleton_dir);
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                expected.push(
                    path.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    expected.sort();
    assert_eq!(tree.keys().cloned().collect::<Vec<_>>(), expected);
    let (default_branch, visibility, _, protected) = stage.github.settings("acme/web-app").unwrap();
    assert_eq!(
        (default_branch.as_str(), visibility.as_str()),
        ("master", "private")
    );
    assert_eq!(protected, ["master"]);
    let links = run["output"]["links"].as_array().unwrap();
    assert_eq!(
        links[0]["url"],
        format!("{}/acme/web-app.git", stage.github.base_url())
    );
    assert_eq!(links[1]["entityRef"], "component:default/web-app");

    // springboot-grpc: a templated file name, its executable bit kept; workflows copied
    // without rendering.
    let tree = stage.github.tree("acme/grpc-svc", "master");
    let script = tree
        .get("grpc-svc.sh")
        .unwrap_or_else(|| panic!("{:?}", tree.keys()));
    assert!(script.1, "grpc-svc.sh lost its executable bit");
    let grpc =
        "backstage__software-templates/scaffolder-templates/springboot-grpc-template/skeleton";
    for (path, (bytes, _)) in &tree {
        if path.starts_with(".github/workflows/") {
            assert_eq!(
                bytes,
                &skeleton(&format!("{grpc}/{path}")),
                "{path} was rendered"
            );
        }
    }

    // The GitLab templates went to GitLab, chosen by repoUrl's host.
    let tree = stage.gitlab.tree("acme/py-backend", "main");
    assert!(tree.contains_key("catalog-info.yaml"), "{:?}", tree.keys());
    assert!(!stage.github.repo_exists("acme/py-backend"));
    let merge_request = stage.gitlab.tree("acme/existing", "add-billing");
    assert!(
        merge_request.keys().any(|p| p.starts_with("billing/")),
        "{:?}",
        merge_request.keys()
    );

    // pull-request: files of another repository fetched through the provider, binary intact.
    let pull = stage.github.tree("acme/existing", "create-billing");
    assert_eq!(
        pull["billing/community/assets/logo.png"].0,
        [0x89, b'P', b'N', b'G', 0, 1, 2, 255]
    );

    // tekton: the fetched catalog-info.yaml merged with the annotation.
    let tekton = stage.github.tree("acme/legacy-tekton", "add-tekton");
    assert!(
        text(&tekton, "catalog-info.yaml").contains("tektonci/build-namespace: legacy"),
        "{}",
        text(&tekton, "catalog-info.yaml")
    );

    // notification:send reached Slack.
    assert!(
        stage
            .slack
            .messages()
            .iter()
            .any(|m| m.to_string().contains("Payments deploy done"))
    );
}

/// A failure after `publish:github` rolls the run back through the plugins' own rollbacks:
/// the repository is deleted and the registered entity leaves the entity list (its step is
/// `rolled-back`, and only succeeded steps' entities are offered).
/// Applies `publish-then-fail`: render, `publish:github` (with a user and a team given
/// access), `catalog:register`, then a step that always fails.
async fn apply_publish_then_fail(stage: &Stage) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("skeleton")).unwrap();
    std::fs::write(
        dir.path().join("skeleton/catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${{ values.name }}\nspec:\n  type: service\n  owner: payments\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("template.yaml"),
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: publish-then-fail\nspec:\n  owner: payments\n  parameters:\n    - properties:\n        name: {type: string}\n  steps:\n    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values: {name: '${{ parameters.name }}'}\n    - id: publish\n      action: publish:github\n      input:\n        repoUrl: github.com?owner=acme&repo=${{ parameters.name }}\n        access: acme/payments\n        collaborators:\n          - {user: bob, access: push}\n    - id: register\n      action: catalog:register\n      input:\n        repoContentsUrl: ${{ steps.publish.output.repoContentsUrl }}\n    - id: boom\n      action: debug:fail\n      input:\n        timesToFail: 5\n",
    )
    .unwrap();
    stage.apply_dir(dir.path()).await;
}

/// The step `id` of a run.
fn step(run: &Value, id: &str) -> Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}: {run:#}"))
        .clone()
}

#[tokio::test]
async fn a_failure_after_publishing_deletes_the_repository_and_unregisters_the_entity() {
    let stage = Stage::start().await;
    apply_publish_then_fail(&stage).await;
    let run = stage
        .run("publish-then-fail", json!({"name": "doomed"}))
        .await
        .unwrap();
    assert_eq!(run["status"], "rolled-back", "{run:#}");
    assert_eq!(step(&run, "publish")["status"], "rolled-back", "{run:#}");
    assert_eq!(step(&run, "register")["status"], "rolled-back", "{run:#}");
    assert_eq!(
        step(&run, "register")["output"]["entityRef"],
        "component:default/doomed"
    );
    assert!(
        !stage.github.repo_exists("acme/doomed"),
        "the repository is still there"
    );
    // Access was given as Backstage gives it before the repository went: `access: owner/team`
    // to the team as admin, a collaborator `user` invited with their permission.
    let invited = stage
        .github
        .recorder
        .matching("PUT /repos/acme/doomed/collaborators/bob");
    assert_eq!(invited.len(), 1, "bob was not invited");
    assert_eq!(invited[0].json, json!({"permission": "push"}));
    let team = stage
        .github
        .recorder
        .matching("PUT /orgs/acme/teams/payments/repos/acme/doomed");
    assert_eq!(team.len(), 1, "the payments team got no access");
    assert_eq!(team[0].json, json!({"permission": "admin"}));
    // No Backstage catalog is bound: nothing went there.
    assert!(stage.catalog.recorder.requests().is_empty());
}

/// With a Backstage catalog bound as `software-catalog`, `catalog:register` does what
/// Backstage's does: the published `catalog-info.yaml` becomes a location there, the entity ref
/// comes from the catalog's reading of it, and a rollback removes the location.
#[tokio::test]
async fn catalog_register_goes_to_a_bound_backstage_catalog_and_its_rollback_removes_the_location()
{
    let stage = Stage::bound(true).await;
    let bundle =
        lever_tests::corpus::corpus_bundle("backstage__software-templates__create-react-app.yaml");
    let response = stage
        .server
        .http
        .post(format!("{}/api/v1/templates", stage.server.url))
        .body(bundle.to_tar())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let name = "create-react-app-template";
    let run = stage
        .run(name, parameters(name))
        .await
        .expect("create-react-app submitted");
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let register = step(&run, "register");
    let target = format!(
        "{}/acme/web-app/blob/master/catalog-info.yaml",
        stage.github.base_url()
    );
    assert_eq!(stage.catalog.targets(), vec![target.clone()]);
    assert_eq!(register["output"]["catalogInfoUrl"], target.as_str());
    assert_eq!(register["output"]["entityRef"], "component:default/web-app");
    assert_eq!(
        stage.catalog.entity_refs(),
        vec!["component:default/web-app".to_string()]
    );
    let token = stage
        .catalog
        .recorder
        .matching("POST /api/catalog/locations");
    assert_eq!(token.len(), 2, "a registration and a dry run");
    assert_eq!(
        token[0].header("authorization"),
        Some(format!("Bearer {BACKSTAGE_TOKEN}").as_str())
    );

    apply_publish_then_fail(&stage).await;
    let run = stage
        .run("publish-then-fail", json!({"name": "doomed"}))
        .await
        .unwrap();
    assert_eq!(run["status"], "rolled-back", "{run:#}");
    let register = step(&run, "register");
    assert_eq!(register["status"], "rolled-back", "{run:#}");
    assert_eq!(register["output"]["entityRef"], "component:default/doomed");
    let id = register["output"]["locationId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        stage
            .catalog
            .recorder
            .matching(&format!("DELETE /api/catalog/locations/{id}"))
            .len(),
        1
    );
    // Only create-react-app's location is left.
    assert_eq!(stage.catalog.targets(), vec![target]);
}

/// A skeleton's symbolic links are copied as they are (Backstage copies them): the link's name
/// rendered, its target not, and published as a link (mode 120000 in GitHub's tree).
#[cfg(unix)]
#[tokio::test]
async fn a_skeletons_symbolic_links_are_published_as_links() {
    let stage = Stage::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("skeleton/docs")).unwrap();
    std::fs::write(
        dir.path().join("skeleton/README.md"),
        "# ${{ values.name }}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("../README.md", dir.path().join("skeleton/docs/index.md")).unwrap();
    std::os::unix::fs::symlink(
        "README.md",
        dir.path().join("skeleton/${{ values.name }}.md"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("template.yaml"),
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: linked\nspec:\n  owner: payments\n  parameters:\n    - properties:\n        name: {type: string}\n  steps:\n    - id: fetch\n      action: fetch:template\n      input:\n        url: ./skeleton\n        values: {name: '${{ parameters.name }}'}\n    - id: publish\n      action: publish:github\n      input:\n        repoUrl: github.com?owner=acme&repo=${{ parameters.name }}\n",
    )
    .unwrap();
    stage.apply_dir(dir.path()).await;
    let run = stage.run("linked", json!({"name": "links"})).await.unwrap();
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let tree = stage.github.tree("acme/links", "master");
    assert_eq!(text(&tree, "README.md"), "# links\n");
    assert_eq!(
        stage.github.links("acme/links", "master"),
        BTreeMap::from([
            ("docs/index.md".to_string(), "../README.md".to_string()),
            ("links.md".to_string(), "README.md".to_string()),
        ])
    );
    // Nothing of the host's bookkeeping is published.
    assert!(!tree.contains_key(".lever-links"), "{:?}", tree.keys());
}

/// `publish:gitlab:merge-request` with `commitAction: delete` removes the repository's files at
/// the workspace files' paths (under `targetPath`) on the new branch, and keeps the rest.
#[tokio::test]
async fn a_gitlab_merge_request_can_delete_files() {
    let stage = Stage::start().await;
    stage.gitlab.seed(
        "acme/retiring",
        &[
            ("README.md", b"# retiring\n", false),
            ("billing/old.txt", b"old\n", false),
            ("billing/keep.txt", b"keep\n", false),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("retired")).unwrap();
    std::fs::write(dir.path().join("retired/old.txt"), "any content\n").unwrap();
    std::fs::write(
        dir.path().join("template.yaml"),
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: retire-files\nspec:\n  owner: payments\n  steps:\n    - id: fetch\n      action: fetch:plain\n      input: {url: ./retired}\n    - id: mr\n      action: publish:gitlab:merge-request\n      input:\n        repoUrl: gitlab.com?owner=acme&repo=retiring\n        title: Retire old billing files\n        branchName: retire-old\n        targetPath: billing\n        commitAction: delete\n",
    )
    .unwrap();
    stage.apply_dir(dir.path()).await;
    let run = stage.run("retire-files", json!({})).await.unwrap();
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let branch = stage.gitlab.tree("acme/retiring", "retire-old");
    assert_eq!(
        branch.keys().cloned().collect::<Vec<_>>(),
        vec!["README.md".to_string(), "billing/keep.txt".to_string()]
    );
    assert!(
        stage
            .gitlab
            .tree("acme/retiring", "main")
            .contains_key("billing/old.txt")
    );
    let commit = stage
        .gitlab
        .recorder
        .matching("POST /api/v4/projects/acme%2Fretiring/repository/commits");
    assert_eq!(
        commit[0].json["actions"],
        json!([{"action": "delete", "file_path": "billing/old.txt"}])
    );
    assert!(
        step(&run, "mr")["output"]["mergeRequestUrl"]
            .as_str()
            .is_some_and(|u| u.contains("merge_requests")),
        "{run:#}"
    );
}
