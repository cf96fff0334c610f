//! Workflow figures, against a real release `lever serve` on SQLite, over HTTP:
//! throughput of 3-step no-op runs against a raw SQLite claim-and-complete loop, engine
//! overhead on 40 sequential ~10 ms steps, submit-to-done latency, and resident memory of
//! 10,000 runs waiting on a timer.

use std::time::{Duration, Instant};

use lever_tests::guests::{fixture, plugin};
use lever_tests::server::Server;
use serde_json::{Value, json};
use sqlx::{Connection, Row, SqliteConnection};

fn template(name: &str, steps: &str) -> String {
    format!(
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata:\n  name: {name}\nspec:\n  steps:\n{steps}"
    )
}

async fn apply(server: &Server, yaml: String) -> anyhow::Result<()> {
    let response = server
        .http
        .post(format!("{}/api/v1/templates", server.url))
        .body(yaml)
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "apply: {}",
        response.text().await?
    );
    Ok(())
}

pub(crate) async fn submit(server: &Server, template: &str) -> anyhow::Result<String> {
    let body: Value = server
        .http
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": template, "parameters": {}}))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no id: {body}"))?
        .to_string())
}

/// Submits a run of `template` and answers its id, the HTTP round trip and the pieces the
/// server's `Server-Timing` header reports (ms).
async fn submit_timed(
    server: &Server,
    template: &str,
) -> anyhow::Result<(String, Duration, Vec<(String, f64)>)> {
    let started = Instant::now();
    let response = server
        .http
        .post(format!("{}/api/v1/runs", server.url))
        .json(&json!({"template": template, "parameters": {}}))
        .send()
        .await?;
    let pieces = response
        .headers()
        .get_all("server-timing")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(", "))
        .filter_map(|piece| {
            let (name, dur) = piece.split_once(";dur=")?;
            Some((name.to_string(), dur.parse().ok()?))
        })
        .collect();
    let body: Value = response.json().await?;
    let round_trip = started.elapsed();
    let id = body["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no id: {body}"))?
        .to_string();
    Ok((id, round_trip, pieces))
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

/// CPU time process `pid` has used so far, user and system (`/proc/PID/stat`, in clock ticks
/// of `getconf CLK_TCK` a second).
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat
        .rsplit_once(')')
        .ok_or_else(|| anyhow::anyhow!("unreadable /proc/{pid}/stat"))?
        .1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    let per_second: u64 = String::from_utf8(
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()?
            .stdout,
    )?
    .trim()
    .parse()?;
    Ok(Duration::from_secs_f64(ticks as f64 / per_second as f64))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Claims and completes `steps` rows one by one, each in its own transaction: what any
/// durable engine must at least do per step.
async fn raw_sqlite_steps_per_second(steps: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("raw.db").display());
    let mut conn = SqliteConnection::connect(&url).await?;
    sqlx::raw_sql("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE q (id INTEGER PRIMARY KEY, status TEXT NOT NULL, output TEXT)")
        .execute(&mut conn)
        .await?;
    for _ in 0..steps {
        sqlx::query("INSERT INTO q (status) VALUES ('pending')")
            .execute(&mut conn)
            .await?;
    }
    let started = Instant::now();
    loop {
        let mut tx = conn.begin().await?;
        let row = sqlx::query("UPDATE q SET status = 'running' WHERE id = (SELECT id FROM q WHERE status = 'pending' ORDER BY id LIMIT 1) RETURNING id")
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { break };
        tx.commit().await?;
        let id: i64 = row.try_get(0)?;
        let mut tx = conn.begin().await?;
        sqlx::query("UPDATE q SET status = 'done', output = '{}' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(steps as f64 / started.elapsed().as_secs_f64())
}

/// The server's `/metrics` text.
async fn metrics_text(server: &Server) -> anyhow::Result<String> {
    Ok(server
        .http
        .get(format!("{}/metrics", server.url))
        .send()
        .await?
        .text()
        .await?)
}

/// The sum of the series `series` whose labels contain `label`, in the metrics `text`.
fn metric_sum(text: &str, series: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(series) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// What the server had spent so far: in `bench-compute`'s invocations (the guest's own time,
/// instantiation included, `lever_step_duration_seconds`) and in the engine's phases of a
/// step (`lever_engine_step_phase_seconds`).
#[derive(Clone, Copy, Default)]
struct Spent {
    in_guests: f64,
    prepare: f64,
    commit: f64,
    invoke: f64,
}

impl Spent {
    async fn read(server: &Server) -> anyhow::Result<Self> {
        let text = metrics_text(server).await?;
        let phase = |name: &str| {
            metric_sum(
                &text,
                "lever_engine_step_phase_seconds_sum",
                &format!("phase=\"{name}\""),
            )
        };
        Ok(Self {
            in_guests: metric_sum(
                &text,
                "lever_step_duration_seconds_sum",
                "action=\"bench-compute\"",
            ),
            prepare: phase("prepare"),
            commit: phase("commit"),
            invoke: phase("invoke"),
        })
    }

    fn since(self, before: Self) -> Self {
        Self {
            in_guests: (self.in_guests - before.in_guests).max(0.0),
            prepare: (self.prepare - before.prepare).max(0.0),
            commit: (self.commit - before.commit).max(0.0),
            invoke: (self.invoke - before.invoke).max(0.0),
        }
    }
}

/// One run of 40 sequential ~10 ms steps: its submit-to-done time, and where the server spent
/// it.
struct FortySteps {
    wall: Duration,
    spent: Spent,
}

impl FortySteps {
    fn in_guests(&self) -> Duration {
        Duration::from_secs_f64(self.spent.in_guests)
    }

    /// What the engine added to each step: (wall − time in the guests) / 40.
    fn overhead_per_step(&self) -> Duration {
        self.wall.saturating_sub(self.in_guests()) / 40
    }
}

/// Runs 40 sequential steps of about 10 ms of compute `times` times, one after another, sorted
/// by wall time. Publishes `bench-compute` itself.
async fn forty_sieves(server: &Server, times: usize) -> anyhow::Result<Vec<FortySteps>> {
    server.publish_ok(fixture("bench_compute"), &[]).await;
    let forty: String = (0..40).map(|i| format!("    - id: s{i}\n      action: bench-compute\n      input: {{kind: sieve, iterations: 20}}\n")).collect();
    apply(server, template("forty-sieves", &forty)).await?;
    let mut runs = Vec::new();
    for _ in 0..times {
        let before = Spent::read(server).await?;
        let started = Instant::now();
        let id = submit(server, "forty-sieves").await?;
        let run = server.wait(&id).await;
        let wall = started.elapsed();
        anyhow::ensure!(run["status"] == "succeeded", "{run}");
        let spent = Spent::read(server).await?.since(before);
        runs.push(FortySteps { wall, spent });
    }
    runs.sort_by_key(|r| r.wall);
    Ok(runs)
}

/// `lever-bench steps`: the overhead on 40 sequential ~10 ms steps alone, with guest work on
/// its own threads (the default) and on the API's (`guest_threads: 0`), in one run. The
/// overhead is the run's wall time less the time the server spent in the guests (its
/// `/metrics`), so it does not move with the guests' speed, which varies by half on this
/// machine from one minute to the next; the in-process compute (`step_compute`) is printed
/// for scale.
pub(crate) async fn steps(step_compute: Duration) -> anyhow::Result<()> {
    println!(
        "one step's compute in process (sieve, median of 21): {:.2} ms",
        step_compute.as_secs_f64() * 1e3
    );
    for (label, engine) in [
        ("guest threads of their own (default)", ""),
        (
            "guests on the API's threads (guest_threads: 0)",
            "  guest_threads: 0\n",
        ),
    ] {
        let config = if engine.is_empty() {
            lever_identity::EMBEDDED_CONFIG.to_string()
        } else {
            format!("{}\nengine:\n{engine}", lever_identity::EMBEDDED_CONFIG)
        };
        let server = Server::start_configured(&config, &["--workers", "16"]);
        let runs = forty_sieves(&server, 7).await?;
        let median = &runs[runs.len() / 2];
        let mut per_step: Vec<Duration> = runs.iter().map(FortySteps::overhead_per_step).collect();
        per_step.sort();
        println!(
            "{label}: 40 steps in {:.0} ms, {:.0} ms of it in the guests (median run of 7); engine overhead {:.1} %, {:.2} ms a step (median {:.2}, min {:.2}, max {:.2})",
            median.wall.as_secs_f64() * 1e3,
            median.in_guests().as_secs_f64() * 1e3,
            (median.wall.as_secs_f64() / median.in_guests().as_secs_f64() - 1.0) * 100.0,
            median.overhead_per_step().as_secs_f64() * 1e3,
            per_step[per_step.len() / 2].as_secs_f64() * 1e3,
            per_step[0].as_secs_f64() * 1e3,
            per_step[per_step.len() - 1].as_secs_f64() * 1e3,
        );
        let ms_a_step = |seconds: f64| seconds / 40.0 * 1e3;
        let spent = median.spent;
        let outside = median.wall.as_secs_f64() - spent.prepare - spent.commit - spent.invoke;
        println!(
            "  a step's overhead, median run: prepare {:.3} ms, commit {:.3} ms, host around the call {:.3} ms (invoke {:.3} − guest {:.3}), outside the steps {:.3} ms (submit, claim, run end, the client's wait; over 40)",
            ms_a_step(spent.prepare),
            ms_a_step(spent.commit),
            ms_a_step(spent.invoke - spent.in_guests),
            ms_a_step(spent.invoke),
            ms_a_step(spent.in_guests),
            ms_a_step(outside),
        );
    }
    Ok(())
}

pub(crate) async fn run(step_compute: Duration) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = Server::start_in(dir.path(), &["--workers", "16"]);
    server.publish_ok(fixture("bench_noop"), &[]).await;
    server.publish_ok(fixture("workflow_flaky"), &[]).await;
    server.publish_ok(plugin("debug_log"), &[]).await;
    let noop = "    - id: a\n      action: bench-noop\n      input: {n: 1}\n    - id: b\n      action: bench-noop\n      input: {n: 2}\n    - id: c\n      action: bench-noop\n      input: {n: 3}\n";
    apply(&server, template("three-noops", noop)).await?;

    // Submit-to-done latency, one run at a time.
    for _ in 0..20 {
        let id = submit(&server, "three-noops").await?;
        server.wait(&id).await;
    }
    let mut latencies = Vec::new();
    let mut round_trips = Vec::new();
    let mut pieces: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let cpu_before = cpu_time(server.pid())?;
    for _ in 0..300 {
        let started = Instant::now();
        let (id, round_trip, timing) = submit_timed(&server, "three-noops").await?;
        let run = server.wait(&id).await;
        latencies.push(started.elapsed());
        round_trips.push(round_trip);
        for (name, ms) in timing {
            pieces.entry(name).or_default().push(ms);
        }
        anyhow::ensure!(run["status"] == "succeeded", "{run}");
    }
    let cpu_per_run = (cpu_time(server.pid())? - cpu_before) / 300;
    latencies.sort();
    round_trips.sort();

    // Throughput: 500 runs submitted at once, counted in steps.
    const RUNS: usize = 500;
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..RUNS {
        ids.push(submit(&server, "three-noops").await?);
    }
    for id in &ids {
        server.wait(id).await;
    }
    let engine_steps_per_second = (RUNS * 3) as f64 / started.elapsed().as_secs_f64();
    let raw_steps_per_second = raw_sqlite_steps_per_second(RUNS * 3).await?;

    let forty_runs = forty_sieves(&server, 5).await?;

    // Resident memory with 10,000 runs waiting on a retry timer.
    let waiting = "    - id: w\n      action: workflow-flaky\n      retry: {attempts: 2, backoff: constant, delay: 1h}\n      input: {succeed_on: 2}\n";
    apply(&server, template("waits-an-hour", waiting)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(server.pid())?;
    const WAITING: usize = 10_000;
    let mut last = String::new();
    for _ in 0..WAITING {
        last = submit(&server, "waits-an-hour").await?;
    }
    loop {
        let run: Value = server
            .http
            .get(format!("{}/api/v1/runs/{last}", server.url))
            .send()
            .await?
            .json()
            .await?;
        if run["status"] == "waiting" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(server.pid())?;

    println!("| figure | result | target |");
    println!("| --- | --- | --- |");
    println!(
        "| throughput, 3-step no-op runs ({RUNS} at once, 16 workers), SQLite | {engine_steps_per_second:.0} steps/s ({:.0} runs/s) | — |",
        engine_steps_per_second / 3.0
    );
    println!(
        "| raw SQLite claim-and-complete loop, same machine, same run | {raw_steps_per_second:.0} steps/s | — |"
    );
    println!(
        "| engine / raw | {:.0} % | ≥ 50 % |",
        engine_steps_per_second / raw_steps_per_second * 100.0
    );
    let forty = &forty_runs[forty_runs.len() / 2];
    println!(
        "| 40 sequential steps of ~{:.1} ms of compute (sieve, in process), whole run over HTTP, median of 5 | {:.0} ms, {:.0} ms of it in the guests | — |",
        step_compute.as_secs_f64() * 1e3,
        forty.wall.as_secs_f64() * 1e3,
        forty.in_guests().as_secs_f64() * 1e3
    );
    println!(
        "| engine overhead on those 40 steps: (run − time in the guests) / time in the guests | {:.1} % ({:.2} ms a step) | ≤ 2 % |",
        (forty.wall.as_secs_f64() / forty.in_guests().as_secs_f64() - 1.0) * 100.0,
        forty.overhead_per_step().as_secs_f64() * 1e3
    );
    println!(
        "| submit → done over HTTP, 3 no-op steps, 300 sequential runs | p50 {:.1} ms, p99 {:.1} ms | p50 ≤ 5 ms, p99 ≤ 20 ms |",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "| server CPU per run (user + system, those 300 runs: submit, 3 steps, the client's polls) | {:.2} ms | — |",
        cpu_per_run.as_secs_f64() * 1e3
    );
    let median_ms = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let mut breakdown: Vec<String> = ["auth", "preview", "route", "commit", "total"]
        .iter()
        .filter_map(|name| {
            let values = pieces.get_mut(*name)?;
            Some(format!("{name} {:.2}", median_ms(values)))
        })
        .collect();
    breakdown.push(format!(
        "HTTP round trip {:.2}",
        percentile(&round_trips, 0.5).as_secs_f64() * 1e3
    ));
    println!(
        "| submit broken down (server's `Server-Timing`, p50 of each piece over those 300, ms) | {} | — |",
        breakdown.join(", ")
    );
    println!(
        "| resident memory growth, {WAITING} runs waiting on a timer | {:.1} MB ({before} KiB → {after} KiB) | ≤ 50 MB |",
        (after.saturating_sub(before)) as f64 / 1024.0
    );
    Ok(())
}
