//! Several nodes on one PostgreSQL database: 300 three-step no-op runs submitted across one,
//! two and three release `lever serve` processes sharing a fresh database, against a raw
//! `FOR UPDATE SKIP LOCKED` claim-and-complete loop on the same server in the same run.

use std::time::Instant;

use futures::StreamExt;
use lever_tests::databases::TestDatabase;
use lever_tests::guests::fixture;
use lever_tests::server::Server;
use sqlx::postgres::PgPoolOptions;

const RUNS: usize = 300;
/// Workers per node, and connections of the raw loop.
const WORKERS: usize = 16;

const TEMPLATE: &str = "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: three-noops\nspec:\n  steps:\n    - {id: a, action: bench-noop, input: {n: 1}}\n    - {id: b, action: bench-noop, input: {n: 2}}\n    - {id: c, action: bench-noop, input: {n: 3}}\n";

/// Steps per second of `WORKERS` connections claiming and completing `steps` rows, each claim
/// and each completion its own transaction: the least a durable engine on PostgreSQL does.
async fn raw_postgres_steps_per_second(steps: usize) -> anyhow::Result<f64> {
    let database = TestDatabase::postgres().await;
    let pool = PgPoolOptions::new()
        .max_connections(WORKERS as u32)
        .connect(&database.url)
        .await?;
    sqlx::raw_sql("CREATE TABLE q (id BIGSERIAL PRIMARY KEY, status TEXT NOT NULL, output TEXT)")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO q (status) SELECT 'pending' FROM generate_series(1, $1)")
        .bind(steps as i64)
        .execute(&pool)
        .await?;
    let started = Instant::now();
    let workers = (0..WORKERS).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            loop {
                let claimed: Option<i64> = sqlx::query_scalar(
                    "UPDATE q SET status = 'running' WHERE id = (SELECT id FROM q WHERE status = 'pending' \
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
                )
                .fetch_optional(&pool)
                .await?;
                let Some(id) = claimed else { break };
                sqlx::query("UPDATE q SET status = 'done', output = '{}' WHERE id = $1")
                    .bind(id)
                    .execute(&pool)
                    .await?;
            }
            anyhow::Ok(())
        })
    });
    for worker in futures::future::join_all(workers).await {
        worker??;
    }
    let rate = steps as f64 / started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(rate)
}

/// Steps per second of `n` nodes on one fresh database, runs submitted round robin, 32 at a
/// time.
async fn nodes_steps_per_second(n: usize) -> anyhow::Result<f64> {
    let database = TestDatabase::postgres().await;
    let dirs: Vec<tempfile::TempDir> = (0..n)
        .map(|_| tempfile::tempdir())
        .collect::<Result<_, _>>()?;
    let workers = WORKERS.to_string();
    let args = ["--database", database.url.as_str(), "--workers", &workers];
    let first = Server::start_in(dirs[0].path(), &args);
    let token = std::fs::read_to_string(dirs[0].path().join("admin-token"))?;
    let mut nodes = vec![first];
    for dir in &dirs[1..] {
        std::fs::write(dir.path().join("admin-token"), &token)?;
        nodes.push(Server::start_in(dir.path(), &args));
    }
    nodes[0].publish_ok(fixture("bench_noop"), &[]).await;
    nodes[0].apply_template(TEMPLATE).await;
    // Every node resolves the plugin and the template once before the clock starts.
    for node in &nodes {
        let id = crate::workflows::submit(node, "three-noops").await?;
        node.wait(&id).await;
    }
    let started = Instant::now();
    let ids: Vec<(usize, String)> = futures::stream::iter(0..RUNS)
        .map(|i| {
            let node = &nodes[i % n];
            async move {
                crate::workflows::submit(node, "three-noops")
                    .await
                    .map(|id| (i % n, id))
            }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    for (node, id) in &ids {
        let run = nodes[*node].wait(id).await;
        anyhow::ensure!(run["status"] == "succeeded", "{run}");
    }
    Ok((RUNS * 3) as f64 / started.elapsed().as_secs_f64())
}

pub(crate) async fn run() -> anyhow::Result<()> {
    let raw = raw_postgres_steps_per_second(RUNS * 3).await?;
    let mut rows = Vec::new();
    for n in 1..=3 {
        rows.push((n, nodes_steps_per_second(n).await?));
    }
    println!("| nodes | steps/s | runs/s | share of the raw loop |");
    println!("| --- | --- | --- | --- |");
    println!("| raw `SKIP LOCKED` loop, {WORKERS} connections | {raw:.0} | — | 100 % |");
    for (n, rate) in rows {
        println!(
            "| {n} × `lever serve` ({WORKERS} workers each) | {rate:.0} | {:.0} | {:.0} % |",
            rate / 3.0,
            rate / raw * 100.0
        );
    }
    Ok(())
}
