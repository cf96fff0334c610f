//! `lever-bench corpus`: Backstage's templates as Lever runs them. (1) `fetch:template`'s render
//! throughput on the springboot-grpc skeleton (16 files: templated names, an executable
//! script), the component called in process in the sandbox with a workspace; (2)
//! `create-react-app` end to end — skeleton rendered, repository created and pushed through
//! the GitHub adapter to the local GitHub fake, entity registered — submit to `succeeded`, as
//! a client sees it with `?wait=`; (3) that template's `fetch:template` step alone as a run, the
//! part the Backstage peer can dry-run (`runtime/bench/peer/dry-run.js`).

use std::time::{Duration, Instant};

use lever_sandbox::{Call, Limits, Plugin, Sandbox, Workspace};
use lever_tests::fakes::github::FakeGitHub;
use lever_tests::guests::{plugin, plugins_dir};
use lever_tests::repo_root;
use lever_tests::server::Server;
use serde_json::{Value, json};

const GITHUB_TOKEN: &str = "ghp_bench0000000000000000000000000001";

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// (p50, p90) of `samples`.
fn p50_p90(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (
        samples[samples.len() / 2],
        samples[(samples.len() - 1) * 9 / 10],
    )
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Render throughput of `fetch:template` (files per second), in process.
async fn render(sandbox: &Sandbox, base: &Call) -> anyhow::Result<(usize, Duration)> {
    let compiled = sandbox.load(&plugin("fetch_template"))?;
    let manifest = sandbox.describe(&compiled).await?;
    let grants = manifest.grants.clone();
    let fetch = Plugin::new(compiled, manifest, Limits::default(), grants)?;
    let repo = repo_root().join("tests/corpus/backstage-repos/backstage__software-templates");
    let work = tempfile::tempdir()?;
    let mut call = Call {
        context: base.context.clone(),
        services: base.services.clone(),
        log: base.log.clone(),
        http: lever_sandbox::HttpPolicy::default(),
        workspace: Some(Workspace {
            dir: work.path().to_path_buf(),
            template: Some(repo),
            template_folder: "scaffolder-templates/springboot-grpc-template".into(),
        }),
    };
    let input = json!({
        "url": "./skeleton", "replace": true, "copyWithoutRender": [".github/workflows/*"],
        "values": {"component_id": "grpc-svc", "artifact_id": "grpc-svc", "java_package_name": "com.acme.grpc",
                   "description": "A gRPC service", "owner": "group:default/payments", "http_port": 8080,
                   "destination": {"host": "github.com", "owner": "acme", "repo": "grpc-svc"}},
    });
    let mut files = 0;
    let mut samples = Vec::new();
    for i in 0..60 {
        call.log = lever_sandbox::LogBook::new(64 * 1024);
        let started = Instant::now();
        let output = sandbox.run(&fetch, &call, &input).await?;
        if i >= 10 {
            samples.push(started.elapsed());
        }
        files = output["files"].as_u64().unwrap_or(0) as usize;
    }
    Ok((files, median(samples)))
}

/// `create-react-app` end to end against the GitHub fake: (median, p90) of submit → done.
async fn create_react_app() -> anyhow::Result<(Duration, Duration, usize, (Duration, Duration))> {
    let github = FakeGitHub::start(GITHUB_TOKEN).await;
    let config = lever_tests::corpus::config_with_bindings(&format!(
        "  git-provider: {{adapter: github, hosts: [github.com], settings: {{base_url: '{}', token: 'secret://github-token'}}}}\n",
        github.base_url()
    ));
    let plugins = plugins_dir().to_string_lossy().into_owned();
    let server = Server::start_configured(&config, &["--publish", &plugins]);
    let response = server
        .http
        .put(format!("{}/api/v1/secrets/github-token", server.url))
        .json(&json!({"value": GITHUB_TOKEN}))
        .send()
        .await?;
    anyhow::ensure!(response.status().as_u16() == 204, "storing the token");
    let bundle =
        lever_tests::corpus::corpus_bundle("backstage__software-templates__create-react-app.yaml");
    let response = server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(bundle.to_tar())
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "apply: {}",
        response.text().await?
    );
    let alice = server.client_for("alice").await;
    let runs = 25;
    let mut samples = Vec::new();
    for i in 0..runs {
        let parameters = json!({"component_id": format!("web-{i}"), "description": "A web app",
            "owner": "group:default/payments", "repoUrl": format!("github.com?owner=acme&repo=web-{i}")});
        let took = timed_run(&server, &alice, "create-react-app-template", parameters).await?;
        if i >= 5 {
            samples.push(took);
        }
    }
    let (p50, p90) = p50_p90(samples);
    let render = render_run(&server, &alice).await?;
    Ok((p50, p90, github.tree("acme/web-0", "master").len(), render))
}

/// The same template's render alone, as the Backstage peer can dry-run it (it has no GitHub
/// module): create-react-app with only its `fetch:template` step, run end to end through the
/// API — (p50, p90) of submit → done.
async fn render_run(
    server: &Server,
    alice: &reqwest::Client,
) -> anyhow::Result<(Duration, Duration)> {
    let folder = repo_root().join("tests/corpus/backstage-repos/backstage__software-templates/scaffolder-templates/create-react-app");
    let dir = tempfile::tempdir()?;
    copy_dir(&folder.join("skeleton"), &dir.path().join("skeleton"))?;
    let yaml = std::fs::read_to_string(folder.join("template.yaml"))?;
    let cut = yaml
        .find("\n    - id: publish")
        .ok_or_else(|| anyhow::anyhow!("no publish step"))?;
    let yaml = yaml[..cut].replace(
        "name: create-react-app-template",
        "name: create-react-app-render",
    ) + "\n";
    std::fs::write(dir.path().join("template.yaml"), yaml)?;
    let bundle =
        lever_templates::bundle::Bundle::from_dir(dir.path(), &dir.path().join("template.yaml"))?;
    let response = server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(bundle.to_tar())
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "apply: {}",
        response.text().await?
    );
    let mut samples = Vec::new();
    for i in 0..30 {
        let parameters = json!({"component_id": format!("web-{i}"), "description": "A web app",
            "owner": "group:default/payments", "repoUrl": "github.com?owner=acme&repo=web-app"});
        let took = timed_run(server, alice, "create-react-app-render", parameters).await?;
        if i >= 5 {
            samples.push(took);
        }
    }
    Ok(p50_p90(samples))
}

/// Submits `template` as `alice` and waits for it: the time from submit to `succeeded`.
async fn timed_run(
    server: &Server,
    alice: &reqwest::Client,
    template: &str,
    parameters: Value,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let created: Value = alice
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": template, "parameters": parameters}))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"].as_str().unwrap_or_default();
    let run: Value = alice
        .get(format!("{}/api/v1/runs/{id}?wait=60", server.url))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(run["status"] == "succeeded", "{template}: {run}");
    Ok(started.elapsed())
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Prints the figures.
pub async fn run(sandbox: &Sandbox, call: &Call) -> anyhow::Result<()> {
    let (files, took) = render(sandbox, call).await?;
    println!(
        "fetch:template, springboot-grpc skeleton: {files} files in {:.2} ms (median of 50) = {:.0} files/s",
        ms(took),
        files as f64 / took.as_secs_f64()
    );
    let (p50, p90, published, (render50, render90)) = create_react_app().await?;
    println!(
        "create-react-app end to end (render {published} files, create + push through the GitHub adapter, register): p50 {:.1} ms, p90 {:.1} ms (20 runs)",
        ms(p50),
        ms(p90)
    );
    println!(
        "create-react-app's fetch:template step alone, as a run through the API: p50 {:.1} ms, p90 {:.1} ms (25 runs)",
        ms(render50),
        ms(render90)
    );
    Ok(())
}
