//! What a capability call through an adapter component costs: `git-provider.get-pull-request`
//! through the GitHub adapter against the local fake GitHub (fresh instance, secret reveal,
//! one HTTP round trip), next to the same request sent directly with reqwest.

use std::time::{Duration, Instant};

use lever_tests::adapters::AdapterHarness;
use lever_tests::fakes::github::FakeGitHub;
use serde_json::json;

use crate::{median, us};

const TOKEN: &str = "ghp_bench";

pub(crate) async fn run() -> anyhow::Result<()> {
    let fake = FakeGitHub::start(TOKEN).await;
    let harness = AdapterHarness::new(
        "adapter_github",
        &fake.authority(),
        &[("github-token", TOKEN)],
    )
    .await;
    let settings = json!({"base_url": fake.base_url(), "token": "secret://github-token"});
    let repo = json!({"owner": "acme", "name": "bench", "description": "bench", "private": true, "template": null});
    harness
        .call("git-provider", "create-repository", settings.clone(), repo)
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    let pull = json!({"repository": "acme/bench", "title": "t", "body": "b", "head": "bench", "base": "main", "files": []});
    let opened = harness
        .call(
            "git-provider",
            "create-pull-request",
            settings.clone(),
            pull,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    let get = json!({"repository": "acme/bench", "number": opened["number"]});

    let mut through_adapter = Vec::new();
    for i in 0..550 {
        let started = Instant::now();
        harness
            .call(
                "git-provider",
                "get-pull-request",
                settings.clone(),
                get.clone(),
            )
            .await
            .map_err(|e| anyhow::anyhow!(e.message()))?;
        if i >= 50 {
            through_adapter.push(started.elapsed());
        }
    }
    let http = reqwest::Client::new();
    let url = format!(
        "{}/repos/acme/bench/pulls/{}",
        fake.base_url(),
        opened["number"]
    );
    let mut direct: Vec<Duration> = Vec::new();
    for i in 0..550 {
        let started = Instant::now();
        let response = http
            .get(&url)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header("user-agent", "bench")
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "direct request failed: {}",
            response.status()
        );
        response.bytes().await?;
        if i >= 50 {
            direct.push(started.elapsed());
        }
    }
    let (adapter, direct) = (median(through_adapter), median(direct));
    println!(
        "git-provider.get-pull-request through the GitHub adapter: {:.0} µs median of 500",
        us(adapter)
    );
    println!(
        "the same request sent directly (reqwest, kept-alive):      {:.0} µs median of 500",
        us(direct)
    );
    println!(
        "adapter overhead per call:                                  {:.0} µs",
        us(adapter.saturating_sub(direct))
    );
    Ok(())
}
