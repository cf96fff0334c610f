//! The insights' rollup (kept by triggers on `runs` and `approval_stages`) answers what the rows
//! answer: thousands of runs and stages spread over five weeks, written and then changed the
//! ways the engine changes them (finishing, rolling back, retried after failing), read over
//! windows that start and end mid-hour. The oracle is the same scope read from the rows alone
//! (a team of every requester forces that path) and, for the stages, a model kept in the test.

use std::collections::{BTreeMap, BTreeSet};

use lever_store::{RunAggregates, RunScope, Store, duration_bin};
use lever_tests::databases::TestDatabase;
use sqlx::AnyPool;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
/// 2026-01-01 00:37:13 UTC: aligned to nothing.
const BASE: i64 = 1_767_227_833_000;
const USERS: usize = 12;

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as i64
    }
}

/// A stage as the test remembers it.
struct Stage {
    policy: String,
    name: String,
    opened_at: i64,
    decided_at: Option<i64>,
    sla_ms: i64,
}

async fn seed(pool: &AnyPool) -> (Vec<Stage>, BTreeMap<String, BTreeSet<String>>) {
    let mut dice = Dice(0x5eed_1e7e_2026);
    let mut stages = Vec::new();
    // Every message written per failure kind (the rollup keeps the latest seen).
    let mut messages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in 0..3_000_i64 {
        let created = BASE - 2 * DAY + dice.next(37 * DAY);
        let took = 40 + dice.next(4 * HOUR);
        let (template, action) = match dice.next(6) {
            5 => (None, "debug-log".to_string()),
            t => (Some(format!("template-{t}")), String::new()),
        };
        let status = match dice.next(20) {
            0..=13 => "succeeded",
            14 | 15 => "failed",
            16 => "rolled-back",
            17 => "rollback-failed",
            18 => "running",
            _ => "awaiting-approval",
        };
        let kind = ["plugin-fatal", "deadline-passed", "provider-quota"][dice.next(3) as usize];
        let message = format!("{kind}: attempt {i}");
        let error = match status {
            "failed" | "rolled-back" => {
                Some(format!(r#"{{"kind":"{kind}","message":"{message}"}}"#))
            }
            "rollback-failed" => Some(format!(
                r#"{{"kind":"{kind}","message":"{message}","left_behind":["create-db"]}}"#
            )),
            _ => None,
        };
        if error.is_some() {
            messages.entry(kind.into()).or_default().insert(message);
        }
        let route = match dice.next(4) {
            0 => None,
            1 => Some("stages"),
            _ => Some("automatic"),
        };
        sqlx::query(
            "INSERT INTO runs (id, action, action_version, status, input, error, requester, environment, attempt, created_at, updated_at, template, template_version, approval_route) \
             VALUES ($1, $2, '1', $3, '{}', $4, $5, 'dev', 1, $6, $7, $8, 1, $9)",
        )
        .bind(format!("run-{i}"))
        .bind(action)
        .bind(status)
        .bind(error)
        .bind(format!("user-{}", dice.next(USERS as i64)))
        .bind(created)
        .bind(created + took)
        .bind(template)
        .bind(route)
        .execute(pool)
        .await
        .expect("insert run");
        if i % 4 == 0 {
            let stage = Stage {
                policy: format!("default@{}", 1 + dice.next(2)),
                name: ["team-lead", "security"][dice.next(2) as usize].into(),
                opened_at: created,
                decided_at: None,
                sla_ms: 2 * HOUR,
            };
            sqlx::query(
                "INSERT INTO approval_stages (id, run_id, position, name, stage_order, groups_json, required, status, reasons, sla_ms, on_expiry, context, policy_version, opened_at, created_at) \
                 VALUES ($1, $2, 0, $3, 0, '[]', 1, 'open', '[]', $4, 'reject', '{}', $5, $6, $6)",
            )
            .bind(format!("stage-{i}"))
            .bind(format!("run-{i}"))
            .bind(&stage.name)
            .bind(stage.sla_ms)
            .bind(&stage.policy)
            .bind(stage.opened_at)
            .execute(pool)
            .await
            .expect("insert stage");
            stages.push((i, stage));
        }
    }
    // The changes a run goes through after it finished or while it runs.
    for i in (0..3_000).step_by(7) {
        let id = format!("run-{i}");
        // A succeeded run rolled back on request.
        let rolled = sqlx::query(
            "UPDATE runs SET status = 'rolling-back', updated_at = updated_at + 1000 WHERE id = $1 AND status = 'succeeded'",
        )
        .bind(&id)
        .execute(pool)
        .await
        .expect("rolling back")
        .rows_affected();
        if rolled == 1 {
            sqlx::query(
                "UPDATE runs SET status = 'rolled-back', updated_at = updated_at + 5000 WHERE id = $1",
            )
            .bind(&id)
            .execute(pool)
            .await
            .expect("rolled back");
        }
        // A failed run retried, and succeeding the second time.
        let retried = sqlx::query(
            "UPDATE runs SET status = 'running', error = NULL, updated_at = updated_at + 60000 WHERE id = $1 AND status = 'failed'",
        )
        .bind(&id)
        .execute(pool)
        .await
        .expect("retry")
        .rows_affected();
        if retried == 1 {
            sqlx::query(
                "UPDATE runs SET status = 'succeeded', updated_at = updated_at + 30000 WHERE id = $1",
            )
            .bind(&id)
            .execute(pool)
            .await
            .expect("succeeded on retry");
        }
        // A run in flight finishing.
        sqlx::query(
            "UPDATE runs SET status = 'succeeded', updated_at = updated_at + 1 WHERE id = $1 AND status = 'running'",
        )
        .bind(&id)
        .execute(pool)
        .await
        .expect("finish");
    }
    let mut remembered = Vec::new();
    for (n, (i, mut stage)) in stages.into_iter().enumerate() {
        if n % 5 != 0 {
            let decided = stage.opened_at + dice.next(6 * HOUR);
            sqlx::query(
                "UPDATE approval_stages SET status = 'approved', decided_at = $1 WHERE id = $2",
            )
            .bind(decided)
            .bind(format!("stage-{i}"))
            .execute(pool)
            .await
            .expect("decide");
            stage.decided_at = Some(decided);
            if n % 9 == 0 {
                // Decided again later (a correction): the first decision's count goes away.
                let again = decided + HOUR;
                sqlx::query("UPDATE approval_stages SET decided_at = $1 WHERE id = $2")
                    .bind(again)
                    .bind(format!("stage-{i}"))
                    .execute(pool)
                    .await
                    .expect("decide again");
                stage.decided_at = Some(again);
            }
        }
        remembered.push(stage);
    }
    (remembered, messages)
}

/// The windows read: a whole month from mid-hour, nine days from mid-day, less than an hour,
/// and one that starts before any run.
fn windows() -> Vec<(i64, i64)> {
    vec![
        (BASE, BASE + 30 * DAY),
        (BASE + 3 * HOUR + 17 * 60_000, BASE + 9 * DAY + 5 * HOUR),
        (BASE + 10 * 60_000, BASE + 50 * 60_000),
        (BASE - 10 * DAY, BASE + 40 * DAY + 7),
    ]
}

fn same_runs(rolled: &RunAggregates, rows: &RunAggregates, window: (i64, i64)) {
    let sorted = |mut v: Vec<(String, String, i64)>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(rolled.by_label_status.clone()),
        sorted(rows.by_label_status.clone()),
        "{window:?}"
    );
    let sorted = |mut v: Vec<(String, i64)>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(rolled.by_requester.clone()),
        sorted(rows.by_requester.clone()),
        "{window:?}"
    );
    assert_eq!(rolled.by_week, rows.by_week, "{window:?}");
    assert_eq!(rolled.halves, rows.halves, "{window:?}");
    assert_eq!(rolled.routed, rows.routed, "{window:?}");
    assert_eq!(rolled.durations.len(), rows.durations.len(), "{window:?}");
    for exact in &rows.durations {
        let got = rolled
            .durations
            .iter()
            .find(|d| d.label == exact.label && d.early == exact.early)
            .unwrap_or_else(|| panic!("{window:?}: no durations for {exact:?}"));
        assert_eq!(got.runs, exact.runs, "{window:?} {exact:?}");
        assert_eq!(
            duration_bin(got.p50_ms),
            duration_bin(exact.p50_ms),
            "{window:?}: p50 {got:?} against {exact:?}"
        );
        assert_eq!(
            duration_bin(got.p90_ms),
            duration_bin(exact.p90_ms),
            "{window:?}: p90 {got:?} against {exact:?}"
        );
    }
    let kinds = |a: &RunAggregates| -> Vec<(String, i64)> {
        let mut v: Vec<_> = a
            .failure_kinds
            .iter()
            .map(|k| (k.kind.clone(), k.runs))
            .collect();
        v.sort();
        v
    };
    assert_eq!(kinds(rolled), kinds(rows), "{window:?}");
    assert_eq!(
        rolled.rollback_failed.len(),
        rows.rollback_failed.len(),
        "{window:?}"
    );
}

async fn rollup_answers_as_the_rows_do(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    let pool = AnyPool::connect(url).await.expect("pool");
    let (stages, messages) = seed(&pool).await;
    let everyone: Vec<String> = (0..USERS).map(|u| format!("user-{u}")).collect();
    let mut total_runs = 0;
    for (from, to) in windows() {
        let rolled = store
            .run_aggregates(
                &RunScope {
                    from,
                    to,
                    template: None,
                    requesters: None,
                },
                WEEK,
            )
            .await
            .expect("rolled up");
        let rows = store
            .run_aggregates(
                &RunScope {
                    from,
                    to,
                    template: None,
                    requesters: Some(&everyone),
                },
                WEEK,
            )
            .await
            .expect("from the rows");
        same_runs(&rolled, &rows, (from, to));
        // Each template's time to succeed, against the exact nearest-rank percentiles of the
        // rows the test reads itself.
        let rows_read: Vec<(String, i64)> = sqlx::query_as(
            "SELECT COALESCE(template, 'action:' || action), updated_at - created_at FROM runs \
             WHERE status = 'succeeded' AND created_at >= $1 AND created_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&pool)
        .await
        .expect("succeeded runs");
        let mut exact: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (label, took) in rows_read {
            exact.entry(label).or_default().push(took);
        }
        for (label, mut took) in exact {
            took.sort_unstable();
            let rank = |p: usize| took[(p * took.len()).div_ceil(100) - 1];
            let got = rolled
                .durations
                .iter()
                .find(|d| d.label == label && d.early.is_none())
                .expect("durations of every template");
            assert_eq!(got.runs as usize, took.len(), "{label}");
            assert_eq!(
                duration_bin(got.p50_ms),
                duration_bin(rank(50)),
                "{label} p50"
            );
            assert_eq!(
                duration_bin(got.p90_ms),
                duration_bin(rank(90)),
                "{label} p90"
            );
        }
        // The message of each kind is one a run of that kind failed with.
        for kind in &rolled.failure_kinds {
            assert!(
                messages[&kind.kind].contains(&kind.last_message),
                "{kind:?}"
            );
        }
        let runs: i64 = rolled.by_label_status.iter().map(|(_, _, n)| n).sum();
        let weeks: i64 = rolled.by_week.iter().map(|(_, n)| n).sum();
        assert_eq!(runs, weeks);
        assert_eq!(runs, rolled.halves.0 + rolled.halves.1);
        total_runs = total_runs.max(runs);

        // The stages, against the test's own model.
        let waits = store.stage_waits(from, to).await.expect("stage waits");
        let mut expected: BTreeMap<(String, String), (i64, i64, Vec<i64>)> = BTreeMap::new();
        for s in stages
            .iter()
            .filter(|s| s.opened_at >= from && s.opened_at < to)
        {
            let e = expected
                .entry((s.policy.clone(), s.name.clone()))
                .or_default();
            let wait = s.decided_at.unwrap_or(to) - s.opened_at;
            if s.decided_at.is_some() {
                e.0 += 1;
                e.2.push(wait);
            }
            if wait > s.sla_ms {
                e.1 += 1;
            }
        }
        assert_eq!(waits.len(), expected.len(), "{waits:#?}");
        for w in &waits {
            let (decided, breaches, mut all) = expected
                .remove(&(w.policy_version.clone(), w.name.clone()))
                .expect("an expected group");
            assert_eq!((w.decided, w.sla_breaches), (decided, breaches), "{w:?}");
            all.sort_unstable();
            let rank = |p: usize| all[(p * all.len()).div_ceil(100) - 1];
            if !all.is_empty() {
                assert_eq!(
                    duration_bin(w.p50_ms.unwrap()),
                    duration_bin(rank(50)),
                    "{w:?}"
                );
                assert_eq!(
                    duration_bin(w.p90_ms.unwrap()),
                    duration_bin(rank(90)),
                    "{w:?}"
                );
            }
        }
    }
    // The widest window holds every run.
    assert_eq!(total_runs, 3_000);
    store.close().await;
    pool.close().await;
}

#[tokio::test]
async fn the_rollup_answers_as_the_rows_do_on_sqlite() {
    let db = TestDatabase::sqlite();
    rollup_answers_as_the_rows_do(&db.url).await;
}

#[tokio::test]
async fn the_rollup_answers_as_the_rows_do_on_postgresql() {
    let db = TestDatabase::postgres().await;
    rollup_answers_as_the_rows_do(&db.url).await;
}
