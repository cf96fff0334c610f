//! Web UI figures, against a real release `lever serve` with the demo catalog, over HTTP on
//! loopback: the catalog and form pages (p50, p99), the live check behind the preview (what
//! the browser waits for after a change), the size of the form page's first load, and how long
//! after a step's event is committed the run page's stream delivers the re-rendered page.

use std::time::{Duration, Instant};

use futures::StreamExt;
use lever_tests::forms::{hidden, set_cookie};
use lever_tests::guests::plugins_dir;
use lever_tests::server::Server;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn time<F, Fut>(n: usize, mut f: F) -> anyhow::Result<(Duration, Duration)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..n / 10 {
        f().await?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        f().await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok((percentile(&samples, 0.5), percentile(&samples, 0.99)))
}

/// `lever-bench web`.
pub(crate) async fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let plugins = plugins_dir().to_string_lossy().into_owned();
    let templates = lever_tests::repo_root()
        .join("demo/templates")
        .to_string_lossy()
        .into_owned();
    let server = Server::start_in(
        dir.path(),
        &["--publish", &plugins, "--templates", &templates],
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = http.get(format!("{}/sign-in", server.url)).send().await?;
    let sign_in_cookie =
        set_cookie(&page, "lever_sign_in").ok_or_else(|| anyhow::anyhow!("no sign-in cookie"))?;
    let csrf = hidden(&page.text().await?, "csrf");
    let signed = http
        .post(format!("{}/sign-in/demo", server.url))
        .header("cookie", &sign_in_cookie)
        .form(&[("csrf", csrf.as_str()), ("user", "alice")])
        .send()
        .await?;
    let session =
        set_cookie(&signed, "lever_session").ok_or_else(|| anyhow::anyhow!("no session cookie"))?;
    let get = |path: String| {
        let http = http.clone();
        let session = session.clone();
        async move {
            let response = http.get(path).header("cookie", session).send().await?;
            anyhow::ensure!(response.status() == 200, "{}", response.status());
            response.bytes().await?;
            Ok(())
        }
    };
    let catalog = time(300, || get(format!("{}/", server.url))).await?;
    let form_url = format!("{}/templates/provision-postgresql-database", server.url);
    let form = time(300, || get(form_url.clone())).await?;
    let html = http
        .get(&form_url)
        .header("cookie", &session)
        .send()
        .await?
        .text()
        .await?;
    let form_csrf = hidden(&html, "csrf");
    let check_url = format!("{form_url}/check");
    let check = time(300, || {
        let http = http.clone();
        let session = session.clone();
        let url = check_url.clone();
        let csrf = form_csrf.clone();
        async move {
            let response = http
                .post(url)
                .header("cookie", session)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("name", "orders"),
                    ("owner", "payments"),
                    ("environment", "production"),
                    ("size", "medium"),
                ])
                .send()
                .await?;
            anyhow::ensure!(response.status() == 200, "{}", response.status());
            response.bytes().await?;
            Ok(())
        }
    })
    .await?;
    // As a browser fetches them: the assets gzip-encoded (reqwest here does not decode, so
    // the body is the bytes on the wire), the page itself not compressed.
    let mut first_load = html.len();
    for asset in ["style.css", "htmx.min.js", "sse.js", "lever.js"] {
        first_load += http
            .get(format!("{}/assets/{asset}", server.url))
            .header("accept-encoding", "gzip")
            .send()
            .await?
            .bytes()
            .await?
            .len();
    }

    // A step's event committed → the stream's re-rendered page arrives. A one-step template
    // (debug-log) submitted through the API as admin, followed through alice's session.
    let yaml = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: bench-web\n  tags: [recommended]\nspec:\n  owner: platform-team\n  steps:\n    - id: one\n      action: debug-log\n      input: {message: hi}\n";
    server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(yaml)
        .send()
        .await?;
    let mut lags = Vec::new();
    for _ in 0..30 {
        let (_, created) = server
            .post_json(
                "/api/v1/runs",
                serde_json::json!({"template": "bench-web", "parameters": {}}),
            )
            .await;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        let response = http
            .get(format!("{}/runs/{id}/live?after=0", server.url))
            .header("cookie", &session)
            .send()
            .await?;
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        let mut arrived = None;
        while let Some(chunk) = stream.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk?));
            if arrived.is_none() && buffer.contains("data-status=\"succeeded\"") {
                arrived = Some(lever_store::now_ms());
            }
            if buffer.contains("event: finished") {
                break;
            }
        }
        let (_, events) = server.get_json(&format!("/api/v1/runs/{id}/events")).await;
        let committed = events["events"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["kind"] == "step-succeeded")
            .and_then(|e| e["at_ms"].as_i64());
        if let (Some(a), Some(c)) = (arrived, committed) {
            lags.push(Duration::from_millis((a - c).max(0) as u64));
        }
    }
    lags.sort();
    println!("web UI (release lever serve, demo catalog, loopback, signed in as alice):");
    println!(
        "  catalog page            p50 {:.2} ms  p99 {:.2} ms",
        ms(catalog.0),
        ms(catalog.1)
    );
    println!(
        "  form page               p50 {:.2} ms  p99 {:.2} ms",
        ms(form.0),
        ms(form.1)
    );
    println!(
        "  live check (preview)    p50 {:.2} ms  p99 {:.2} ms",
        ms(check.0),
        ms(check.1)
    );
    println!(
        "  form page first load    {} bytes on the wire (HTML + CSS + JS; assets gzip)",
        first_load
    );
    if !lags.is_empty() {
        println!(
            "  step committed → page   p50 {:.0} ms  max {:.0} ms (the stream's whole page, {} runs; ms clock)",
            ms(percentile(&lags, 0.5)),
            ms(*lags.last().unwrap_or(&Duration::ZERO)),
            lags.len()
        );
    }
    Ok(())
}
