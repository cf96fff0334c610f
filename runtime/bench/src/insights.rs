//! `lever-bench insights`: the insights over 100,000 seeded runs on SQLite (p50, p99 of
//! `lever_insights::compute`, as `GET /api/v1/insights` runs it), and a `/metrics` render with
//! a realistic label set (time and size).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use lever_insights::{Inputs, PublishedTemplate};

const RUNS: usize = 100_000;
const TEMPLATES: usize = 40;
const USERS: usize = 300;
const DAY: i64 = 86_400_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Seeds `RUNS` runs over 28 days (9 in 10 succeed, some roll back, a quarter routed to an
/// approval stage), 5,000 ratings and 300 NPS answers.
async fn seed(url: &str, now: i64) -> anyhow::Result<()> {
    let pool = sqlx::SqlitePool::connect(url).await?;
    let mut tx = pool.begin().await?;
    for i in 0..RUNS {
        let created = now - 28 * DAY + (i as i64 * 28 * DAY / RUNS as i64);
        let status = match i % 20 {
            0 => "failed",
            1 => "rolled-back",
            _ => "succeeded",
        };
        let error = (status != "succeeded").then_some(
            r#"{"kind":"plugin-fatal","message":"the provider refused: check the quota"}"#,
        );
        let route = if i % 4 == 0 { "stages" } else { "automatic" };
        sqlx::query(
            "INSERT INTO runs (id, action, action_version, status, input, error, requester, environment, attempt, created_at, updated_at, template, template_version, approval_route) \
             VALUES ($1, '', '', $2, '{}', $3, $4, 'dev', 1, $5, $6, $7, 1, $8)",
        )
        .bind(format!("run-{i}"))
        .bind(status)
        .bind(error)
        .bind(format!("user-{}", i % USERS))
        .bind(created)
        .bind(created + 60_000 + (i as i64 % 600) * 1000)
        .bind(format!("template-{}", i % TEMPLATES))
        .bind(route)
        .execute(&mut *tx)
        .await?;
        if i % 4 == 0 {
            sqlx::query(
                "INSERT INTO approval_stages (id, run_id, position, name, stage_order, groups_json, required, status, reasons, sla_ms, on_expiry, context, policy_version, opened_at, decided_at, created_at) \
                 VALUES ($1, $2, 0, 'team-lead', 0, '[]', 1, 'approved', '[]', 14400000, 'reject', '{}', 'default@1', $3, $4, $3)",
            )
            .bind(format!("stage-{i}"))
            .bind(format!("run-{i}"))
            .bind(created)
            .bind(created + (i as i64 % 7200) * 1000)
            .execute(&mut *tx)
            .await?;
        }
        if i % 20 == 5 {
            sqlx::query("INSERT INTO run_ratings (run_id, user_id, score, comment, created_at) VALUES ($1, $2, $3, 'fine', $4)")
                .bind(format!("run-{i}"))
                .bind(format!("user-{}", i % USERS))
                .bind(1 + (i as i64 % 5))
                .bind(created + 120_000)
                .execute(&mut *tx)
                .await?;
        }
    }
    for u in 0..USERS {
        sqlx::query("INSERT INTO nps_responses (user_id, score, comment, created_at) VALUES ($1, $2, '', $3)")
            .bind(format!("user-{u}"))
            .bind((u % 11) as i64)
            .bind(now - DAY)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    pool.close().await;
    Ok(())
}

/// `lever-bench insights`.
pub(crate) async fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("lever.db").display());
    let store = lever_store::Store::connect(&url).await?;
    let now = lever_store::now_ms();
    let started = Instant::now();
    seed(&url, now).await?;
    println!(
        "seeded {RUNS} runs, {} stages, {} ratings, {USERS} NPS answers in {:.1} s",
        RUNS / 4,
        RUNS / 20,
        started.elapsed().as_secs_f64()
    );
    let users: HashMap<String, Option<String>> = (0..USERS)
        .map(|u| (format!("user-{u}"), Some(format!("team-{}", u % 12))))
        .collect();
    let published: Vec<PublishedTemplate> = (0..TEMPLATES)
        .map(|t| PublishedTemplate {
            name: format!("template-{t}"),
            title: format!("Template {t}"),
            baseline: Some((3 * DAY, "3-5d".into())),
        })
        .collect();
    let inputs = Inputs {
        from: now - 28 * DAY,
        to: now + 1,
        template: None,
        requesters: None,
        users: &users,
        published: &published,
    };
    let mut samples = Vec::new();
    let mut findings = 0;
    for i in 0..22 {
        let started = Instant::now();
        let insights = lever_insights::compute(&store, &inputs).await?;
        if i >= 2 {
            samples.push(started.elapsed());
        }
        findings = insights.interpretation.len();
        assert_eq!(insights.adoption.runs, RUNS);
    }
    samples.sort();
    println!(
        "insights over {RUNS} runs (28 days, {TEMPLATES} templates, {USERS} users): p50 {:.1} ms, p99 {:.1} ms ({} samples, {findings} findings)",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.len()
    );
    // One template, and one team of 25 (read from the rows through their indexes).
    let team: Vec<String> = (0..USERS)
        .filter(|u| u % 12 == 0)
        .map(|u| format!("user-{u}"))
        .collect();
    for (what, template, requesters) in [
        ("one template", Some("template-3"), None),
        ("one team of 25", None, Some(team.as_slice())),
    ] {
        let inputs = Inputs {
            template,
            requesters,
            ..inputs
        };
        let mut samples = Vec::new();
        for _ in 0..12 {
            let started = Instant::now();
            lever_insights::compute(&store, &inputs).await?;
            samples.push(started.elapsed());
        }
        samples.sort();
        println!(
            "  {what}: p50 {:.1} ms, p99 {:.1} ms",
            percentile(&samples, 0.5).as_secs_f64() * 1e3,
            percentile(&samples, 0.99).as_secs_f64() * 1e3,
        );
    }
    // The part of it that is the run aggregates (the rest: stages, ratings, NPS).
    let scope = lever_store::RunScope {
        from: now - 28 * DAY,
        to: now + 1,
        template: None,
        requesters: None,
    };
    let mut reads = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        store.run_aggregates(&scope, 7 * DAY).await?;
        reads.push(started.elapsed());
    }
    reads.sort();
    println!(
        "  of which the run aggregates: p50 {:.1} ms",
        percentile(&reads, 0.5).as_secs_f64() * 1e3
    );
    store.close().await;

    // /metrics: the label set of a busy server.
    lever_metrics::install("bench").map_err(anyhow::Error::msg)?;
    for t in 0..TEMPLATES {
        for status in [
            "succeeded",
            "failed",
            "rolled-back",
            "rollback-failed",
            "cancelled",
        ] {
            lever_metrics::run_finished(&format!("template-{t}"), status, 42.0);
        }
    }
    for a in 0..30 {
        for outcome in ["ok", "plugin-fatal", "deadline-passed", "fuel-exhausted"] {
            lever_metrics::step_finished(&format!("action-{a}"), outcome, 0.2);
            lever_metrics::invocation(outcome, 1_000_000);
        }
    }
    for r in 0..40 {
        for status in [200, 201, 400, 404, 429] {
            lever_metrics::http_request(&format!("/api/v1/route-{r}"), "GET", status, 0.003);
        }
    }
    let mut renders = Vec::new();
    let mut size = 0;
    for _ in 0..50 {
        let started = Instant::now();
        size = lever_metrics::render().expect("installed").len();
        renders.push(started.elapsed());
    }
    renders.sort();
    println!(
        "/metrics render with {TEMPLATES} templates, 30 actions, 40 routes: p50 {:.2} ms, p99 {:.2} ms, {size} bytes",
        percentile(&renders, 0.5).as_secs_f64() * 1e3,
        percentile(&renders, 0.99).as_secs_f64() * 1e3,
    );
    Ok(())
}
