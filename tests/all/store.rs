//! The store, on SQLite and on PostgreSQL: every test runs against both.

use lever_sandbox::{
    Grants, Limits, LogLine, Manifest, PluginKind, Risk, SecretBackend, StateBackend,
};
use lever_secrets::SealedSecrets;
use lever_store::{NewRun, PluginRecord, PublishOutcome, RunStatus, Store, StoreError};
use lever_tests::databases::TestDatabase;
use serde_json::json;

/// Generates `<name>::sqlite` and `<name>::postgres` from one async body taking a `Store`.
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let db = TestDatabase::sqlite();
                let store = Store::connect(&db.url).await.expect("connect sqlite");
                ($body)(store).await;
            }

            #[tokio::test]
            async fn postgres() {
                let db = TestDatabase::postgres().await;
                let store = Store::connect(&db.url).await.expect("connect postgres");
                ($body)(store.clone()).await;
                store.close().await;
            }
        }
    };
}

fn record(version: &str, digest: &str) -> PluginRecord {
    PluginRecord {
        name: "debug-log".into(),
        version: version.into(),
        digest: digest.into(),
        size: 3,
        manifest: Manifest {
            kind: PluginKind::Action,
            name: "debug-log".into(),
            version: version.into(),
            description: "d".into(),
            input_schema: json!({"type": "object"}),
            output_schema: json!(true),
            grants: Grants::default(),
            risk: Risk::Standard,
            undoable: false,
            capabilities: vec![],
        },
        limits: Limits::default(),
        grants: Grants {
            hosts: vec!["example.com".into()],
            secrets: vec![],
            ..Default::default()
        },
        published_at: 1,
        signed_by: None,
    }
}

both_backends!(
    plugins_are_immutable_per_version,
    |store: Store| async move {
        assert_eq!(
            store
                .publish_plugin(&record("0.1.0", "aa"), b"abc")
                .await
                .unwrap(),
            PublishOutcome::Created
        );
        assert_eq!(
            store
                .publish_plugin(&record("0.1.0", "aa"), b"abc")
                .await
                .unwrap(),
            PublishOutcome::Unchanged
        );
        let conflict = store.publish_plugin(&record("0.1.0", "bb"), b"xyz").await;
        assert!(
            matches!(conflict, Err(StoreError::VersionConflict { ref existing, .. }) if existing == "aa"),
            "{conflict:?}"
        );
        // A second version sharing the blob stores it once.
        assert_eq!(
            store
                .publish_plugin(&record("0.2.0", "aa"), b"abc")
                .await
                .unwrap(),
            PublishOutcome::Created
        );
        let versions = store.plugin_versions("debug-log").await.unwrap();
        assert_eq!(
            versions
                .iter()
                .map(|r| r.version.as_str())
                .collect::<Vec<_>>(),
            ["0.1.0", "0.2.0"]
        );
        assert_eq!(versions[0].grants.hosts, ["example.com"]);
        assert_eq!(versions[0].manifest.input_schema, json!({"type": "object"}));
        assert_eq!(
            store.plugin_blob("aa").await.unwrap().as_deref(),
            Some(&b"abc"[..])
        );
        assert!(store.plugin("debug-log", "9.9.9").await.unwrap().is_none());
    }
);

/// A pending run of `debug-log`, as the store tests create them.
fn debug_log_run() -> NewRun {
    NewRun {
        action: "debug-log".into(),
        action_version: "0.1.0".into(),
        input: json!({"message": "hi"}),
        requester: "tester".into(),
        environment: "dev".into(),
        template: None,
        idempotency_key: None,
        resubmitted_from: None,
        steps: vec![],
        approval: None,
        owner_team: None,
        pins: vec![],
        secrets: None,
    }
}

both_backends!(
    run_transitions_are_committed_and_guarded,
    |store: Store| async move {
        let lease = lever_store::Lease::new("node-a", 60_000);
        let new = debug_log_run();
        let (run, created) = store.create_run(&new).await.unwrap();
        assert!(created);
        assert_eq!(run.status, RunStatus::Pending);
        assert_eq!(store.unfinished_runs().await.unwrap(), vec![run.id.clone()]);
        let started = store.start_run(&run.id, &lease).await.unwrap();
        assert_eq!((started.status, started.attempt), (RunStatus::Running, 1));
        // A resumed run may start again: that counts a second attempt.
        assert_eq!(store.start_run(&run.id, &lease).await.unwrap().attempt, 2);
        store
            .finish_run(&run.id, Ok(&json!({"message": "hi"})))
            .await
            .unwrap();
        let done = store.run(&run.id).await.unwrap().unwrap();
        assert_eq!(done.status, RunStatus::Succeeded);
        assert_eq!(done.output, Some(json!({"message": "hi"})));
        assert!(store.unfinished_runs().await.unwrap().is_empty());
        assert!(matches!(
            store.finish_run(&run.id, Err(&json!({"kind": "x"}))).await,
            Err(StoreError::StaleStatus { .. })
        ));
        assert!(matches!(
            store.start_run(&run.id, &lease).await,
            Err(StoreError::StaleStatus { .. })
        ));

        let (failed, _) = store.create_run(&new).await.unwrap();
        store.start_run(&failed.id, &lease).await.unwrap();
        store
            .finish_run(&failed.id, Err(&json!({"kind": "trap", "message": "boom"})))
            .await
            .unwrap();
        let failed = store.run(&failed.id).await.unwrap().unwrap();
        assert_eq!(failed.status, RunStatus::Failed);
        assert_eq!(failed.error.unwrap()["kind"], "trap");
        assert_eq!(store.recent_runs(10).await.unwrap().len(), 2);
    }
);

both_backends!(logs_append_in_order, |store: Store| async move {
    let run = store
        .create_run(&NewRun {
            action: "a".into(),
            action_version: "0.1.0".into(),
            input: json!({}),
            requester: "t".into(),
            environment: "dev".into(),
            template: None,
            idempotency_key: None,
            resubmitted_from: None,
            steps: vec![],
            approval: None,
            owner_team: Some("payments".into()),
            pins: vec![],
            secrets: None,
        })
        .await
        .unwrap()
        .0;
    assert_eq!(run.owner_team.as_deref(), Some("payments"));
    let line = |m: &str| LogLine {
        at_ms: 1,
        source: "plugin".into(),
        level: "info".into(),
        message: m.into(),
    };
    store
        .append_logs(&run.id, &[line("one"), line("two")])
        .await
        .unwrap();
    store.append_logs(&run.id, &[line("three")]).await.unwrap();
    let logs = store.run_logs(&run.id).await.unwrap();
    assert_eq!(
        logs.iter()
            .map(|l| (l.seq, l.line.message.as_str()))
            .collect::<Vec<_>>(),
        [(1, "one"), (2, "two"), (3, "three")]
    );
});

both_backends!(state_and_secrets_round_trip, |store: Store| async move {
    assert_eq!(StateBackend::get(&store, "run:1", "k").await.unwrap(), None);
    StateBackend::set(&store, "run:1", "k", b"v1")
        .await
        .unwrap();
    StateBackend::set(&store, "run:1", "k", b"v2")
        .await
        .unwrap();
    StateBackend::set(&store, "plugin:x", "k", &[0, 159, 255])
        .await
        .unwrap();
    assert_eq!(
        StateBackend::get(&store, "run:1", "k").await.unwrap(),
        Some(b"v2".to_vec())
    );
    assert_eq!(
        StateBackend::get(&store, "plugin:x", "k").await.unwrap(),
        Some(vec![0, 159, 255])
    );
    StateBackend::delete(&store, "run:1", "k").await.unwrap();
    StateBackend::delete(&store, "run:1", "missing")
        .await
        .unwrap();
    assert_eq!(StateBackend::get(&store, "run:1", "k").await.unwrap(), None);

    // Secrets go through the sealed store: what the database holds opens only with the key,
    // and only under the secret's own name.
    let sealed = SealedSecrets::new(store.clone(), &[7u8; 32]);
    sealed.put("db/password", "one").await.unwrap();
    sealed.put("db/password", "two").await.unwrap();
    assert_eq!(
        SecretBackend::get(&sealed, "db/password")
            .await
            .unwrap()
            .as_deref(),
        Some("two")
    );
    assert_eq!(SecretBackend::get(&sealed, "nope").await.unwrap(), None);
    let raw = store.secret("db/password").await.unwrap().unwrap();
    assert!(
        raw.starts_with("lever-sealed:v1:") && !raw.contains("two"),
        "{raw}"
    );
    let other_key = SealedSecrets::new(store.clone(), &[8u8; 32]);
    assert!(
        other_key
            .get("db/password")
            .await
            .unwrap_err()
            .to_string()
            .contains("does not open")
    );
    store.put_secret("moved", &raw).await.unwrap();
    assert!(
        sealed.get("moved").await.is_err(),
        "a sealed value copied to another name does not open"
    );
    // Values stored before sealing existed are sealed in place.
    store.put_secret("legacy", "plain-text").await.unwrap();
    assert_eq!(sealed.seal_plaintext().await.unwrap(), 1);
    assert!(
        !store
            .secret("legacy")
            .await
            .unwrap()
            .unwrap()
            .contains("plain-text")
    );
    assert_eq!(
        sealed.get("legacy").await.unwrap().as_deref(),
        Some("plain-text")
    );
    assert!(sealed.delete("legacy").await.unwrap());
    assert!(!sealed.delete("legacy").await.unwrap());
});

#[tokio::test]
async fn migrations_apply_once_and_reopen_cleanly_on_both_backends() {
    let sqlite = TestDatabase::sqlite();
    let postgres = TestDatabase::postgres().await;
    for url in [&sqlite.url, &postgres.url] {
        let store = Store::connect(url).await.expect("first open");
        store.put_secret("kept", "yes").await.unwrap();
        store.close().await;
        let again = Store::connect(url).await.expect("reopen");
        assert_eq!(again.secret("kept").await.unwrap().as_deref(), Some("yes"));
        again.close().await;
    }
}

#[tokio::test]
async fn an_unsupported_url_says_what_is_supported() {
    let error = Store::connect("mysql://localhost/x")
        .await
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("sqlite://PATH or postgres://"),
        "{error}"
    );
}

both_backends!(
    a_run_is_held_by_one_node_at_a_time_until_its_lease_expires,
    |store: Store| async move {
        let new = debug_log_run();
        let (run, _) = store.create_run(&new).await.unwrap();
        // Both nodes read one clock the test moves: an expiry is made, not waited for.
        let clock = std::sync::Arc::new(lever_store::ManualClock::default());
        let a = lever_store::Lease::on("node-a", 300, clock.clone());
        let b = lever_store::Lease::on("node-b", 300, clock.clone());
        let now = || lever_store::Clock::now_ms(&*clock);
        let started = store.start_run(&run.id, &a).await.unwrap();
        assert_eq!(started.lease_owner.as_deref(), Some("node-a"));
        assert!(a.holds(&store.run(&run.id).await.unwrap().unwrap()));
        // While a's lease is valid, b cannot claim the run and it is nobody's orphan.
        let refused = store.start_run(&run.id, &b).await.unwrap_err();
        assert!(
            refused.to_string().contains("held by node node-a"),
            "{refused}"
        );
        assert!(!b.holds(&store.run(&run.id).await.unwrap().unwrap()));
        assert!(
            store
                .orphaned_runs(now(), 60_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // The heartbeat keeps it: past the first expiry, a still holds it.
        clock.advance(200);
        assert_eq!(store.renew_leases(&a).await.unwrap(), 1);
        clock.advance(200);
        assert!(a.holds(&store.run(&run.id).await.unwrap().unwrap()));
        // a stops renewing (it died): the lease runs out, the run is an orphan, b takes it
        // (resuming counts an attempt) and a's fence fails.
        clock.advance(350);
        assert!(!a.holds(&store.run(&run.id).await.unwrap().unwrap()));
        assert_eq!(
            store.orphaned_runs(now(), 60_000, 10).await.unwrap(),
            vec![run.id.clone()]
        );
        let taken = store.start_run(&run.id, &b).await.unwrap();
        assert_eq!(taken.lease_owner.as_deref(), Some("node-b"));
        assert_eq!(taken.attempt, 2);
        assert!(!a.holds(&store.run(&run.id).await.unwrap().unwrap()));
        assert!(store.start_run(&run.id, &a).await.is_err());
        // Released after its execution, the run is claimable by whoever picks it up next.
        store
            .release_run(&run.id, &lever_store::RunClaim::of(&taken, "node-b"))
            .await
            .unwrap();
        assert!(
            store
                .run(&run.id)
                .await
                .unwrap()
                .unwrap()
                .lease_owner
                .is_none()
        );
        // An unclaimed pending run is an orphan only after the grace.
        let (queued, _) = store.create_run(&new).await.unwrap();
        assert!(
            !store
                .orphaned_runs(now(), 60_000, 10)
                .await
                .unwrap()
                .contains(&queued.id)
        );
        clock.advance(20);
        assert!(
            store
                .orphaned_runs(now(), 10, 10)
                .await
                .unwrap()
                .contains(&queued.id)
        );
    }
);

/// Step `step`'s successful end, with one log line `message`.
fn succeeded(step: &str, message: &str) -> lever_store::StepEnd {
    lever_store::StepEnd {
        step_id: step.into(),
        lines: vec![LogLine {
            at_ms: 1,
            source: "plugin".into(),
            level: "info".into(),
            message: message.into(),
        }],
        log_limit: u64::MAX,
        change: Some(lever_store::StepChange {
            status: lever_store::StepStatus::Succeeded,
            output: Some(json!({"done": step})),
            error: None,
            event: ("step-succeeded".into(), json!({"attempt": 1})),
        }),
    }
}

both_backends!(
    a_step_starts_only_behind_the_lease_and_the_cancel_flag,
    |store: Store| async move {
        use lever_store::{StepEnd, StepStart};
        let new = NewRun {
            steps: vec!["a".into(), "b".into(), "c".into()],
            ..debug_log_run()
        };
        let (run, _) = store.create_run(&new).await.unwrap();
        let lease = lever_store::Lease::new("node-a", 60_000);
        let claimed = store.start_run(&run.id, &lease).await.unwrap();
        let claim = lever_store::RunClaim::of(&claimed, "node-a");
        let started = |step: &'static str| {
            let store = store.clone();
            let (run_id, lease, claim) = (run.id.clone(), lease.clone(), claim.clone());
            move |end: Option<StepEnd>| async move {
                store
                    .start_step(
                        &run_id,
                        &lease,
                        &claim,
                        end,
                        step,
                        1,
                        &json!({"step": step}),
                        ("step-started", &json!({"attempt": 1})),
                    )
                    .await
            }
        };
        let end_of = succeeded;
        let kinds = |events: Vec<lever_store::EventRecord>| -> Vec<(String, Option<String>)> {
            events.into_iter().map(|e| (e.kind, e.step_id)).collect()
        };
        let before = store.run_events(&run.id, 0).await.unwrap().len();

        // a starts; then a's end (its log line and events) and b's start in one transition,
        // the events in their order.
        assert!(matches!(
            started("a")(None).await.unwrap(),
            StepStart::Started
        ));
        assert!(matches!(
            started("b")(Some(end_of("a", "one"))).await.unwrap(),
            StepStart::Started
        ));
        let steps = store.run_steps(&run.id).await.unwrap();
        assert_eq!(
            (steps[0].status.as_str(), steps[1].status.as_str()),
            ("succeeded", "running")
        );
        assert_eq!(steps[1].input, Some(json!({"step": "b"})));
        let events = store.run_events(&run.id, 0).await.unwrap();
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            kinds(events.iter().skip(before).cloned().collect()),
            vec![
                ("step-started".into(), some("a")),
                ("log".into(), some("a")),
                ("step-succeeded".into(), some("a")),
                ("step-started".into(), some("b")),
            ]
        );

        // A cancel asked for: b's end is committed, c does not start.
        store.request_cancel(&run.id).await.unwrap();
        let refused = started("c")(Some(end_of("b", "two"))).await.unwrap();
        assert!(matches!(refused, StepStart::Cancelled(_)));
        let steps = store.run_steps(&run.id).await.unwrap();
        assert_eq!(
            (steps[1].status.as_str(), steps[2].status.as_str()),
            ("succeeded", "pending")
        );
        let after_cancel = store.run_events(&run.id, 0).await.unwrap();
        assert_eq!(
            kinds(after_cancel.into_iter().skip(events.len()).collect()),
            vec![
                ("log".into(), some("b")),
                ("step-succeeded".into(), some("b"))
            ]
        );
        let logs = store.run_logs(&run.id).await.unwrap();
        assert_eq!(
            logs.iter()
                .map(|l| l.line.message.as_str())
                .collect::<Vec<_>>(),
            vec!["one", "two"]
        );

        // Another node holds the run now: the start is refused and rolls back the end with it.
        let (other, _) = store.create_run(&new).await.unwrap();
        let clock = std::sync::Arc::new(lever_store::ManualClock::default());
        let short = lever_store::Lease::on("node-a", 50, clock.clone());
        let stale = store.start_run(&other.id, &short).await.unwrap();
        clock.advance(120);
        let b = lever_store::Lease::on("node-b", 60_000, clock.clone());
        store.start_run(&other.id, &b).await.unwrap();
        let events_before = store.run_events(&other.id, 0).await.unwrap().len();
        let lost = store
            .start_step(
                &other.id,
                &short,
                &lever_store::RunClaim::of(&stale, "node-a"),
                Some(end_of("a", "lost")),
                "b",
                1,
                &json!({}),
                ("step-started", &json!({})),
            )
            .await;
        assert!(matches!(lost, Err(StoreError::LeaseLost(_))), "{lost:?}");
        assert_eq!(
            store.run_events(&other.id, 0).await.unwrap().len(),
            events_before
        );
        assert!(store.run_logs(&other.id).await.unwrap().is_empty());
        let steps = store.run_steps(&other.id).await.unwrap();
        assert!(
            steps
                .iter()
                .all(|s| s.status == lever_store::StepStatus::Pending),
            "{steps:?}"
        );
    }
);

both_backends!(
    a_write_under_a_stale_claim_never_lands_after_a_takeover_a_release_or_a_restart,
    |store: Store| async move {
        use lever_store::{Lease, RunClaim};
        let new = NewRun {
            steps: vec!["a".into(), "b".into()],
            ..debug_log_run()
        };
        let (run, _) = store.create_run(&new).await.unwrap();
        let clock = std::sync::Arc::new(lever_store::ManualClock::default());
        let a = Lease::on("node-a", 100, clock.clone());
        let b = Lease::on("node-b", 100, clock.clone());
        let end = |message: &str| succeeded("a", message);
        let lost = |result: Result<(), StoreError>, what: &str| {
            assert!(
                matches!(result, Err(StoreError::LeaseLost(_))),
                "{what}: {result:?}"
            );
        };
        let messages = |store: Store, id: String| async move {
            store
                .run_logs(&id)
                .await
                .unwrap()
                .into_iter()
                .map(|l| l.line.message)
                .collect::<Vec<_>>()
        };

        // a claims and starts step a; cut off, its lease runs out and b takes the run over.
        let first = store.start_run(&run.id, &a).await.unwrap();
        let old = RunClaim::of(&first, "node-a");
        store
            .start_step(
                &run.id,
                &a,
                &old,
                None,
                "a",
                1,
                &json!({}),
                ("step-started", &json!({})),
            )
            .await
            .unwrap();
        clock.advance(150);
        let second = store.start_run(&run.id, &b).await.unwrap();
        assert!(second.lease_token > first.lease_token);
        let current = RunClaim::of(&second, "node-b");
        // Back, a finishes its step, ends its run, releases it: none of it lands.
        lost(
            store
                .end_step(&run.id, Some(&old), end("a, late"))
                .await
                .map(drop),
            "a's step end after the takeover",
        );
        lost(
            store
                .set_run_status_with_event(
                    &run.id,
                    &[RunStatus::Running],
                    RunStatus::Succeeded,
                    Some(&json!({})),
                    None,
                    "run-finished",
                    &json!({"status": "succeeded"}),
                    Some(end("a, late")),
                    Some(&old),
                )
                .await,
            "a's run end after the takeover",
        );
        lost(
            store
                .start_step(
                    &run.id,
                    &a,
                    &old,
                    None,
                    "b",
                    1,
                    &json!({}),
                    ("step-started", &json!({})),
                )
                .await
                .map(drop),
            "a's next step after the takeover",
        );
        store.release_run(&run.id, &old).await.unwrap();
        let now = store.run(&run.id).await.unwrap().unwrap();
        assert_eq!(now.lease_owner.as_deref(), Some("node-b"), "a's release");
        assert_eq!(now.status, RunStatus::Running);
        assert!(messages(store.clone(), run.id.clone()).await.is_empty());
        // b's end of the same step lands.
        store
            .end_step(&run.id, Some(&current), end("b"))
            .await
            .unwrap();

        // b releases the run (it parked): a's old claim is still refused.
        store.release_run(&run.id, &current).await.unwrap();
        lost(
            store
                .end_step(&run.id, Some(&old), end("a, later"))
                .await
                .map(drop),
            "a's step end after a takeover and a release",
        );

        // a restarts with the same node id and claims the run again: a new token, so a write
        // under its claim from before the restart is refused, one under the new claim lands.
        let third = store.start_run(&run.id, &a).await.unwrap();
        assert!(third.lease_token > second.lease_token);
        lost(
            store
                .end_step(&run.id, Some(&old), end("a, before"))
                .await
                .map(drop),
            "a write under the claim from before the restart",
        );
        store
            .end_step(
                &run.id,
                Some(&RunClaim::of(&third, "node-a")),
                end("a, now"),
            )
            .await
            .unwrap();
        assert_eq!(
            messages(store.clone(), run.id.clone()).await,
            vec!["b".to_string(), "a, now".to_string()]
        );
    }
);

/// The window a late write of a cut-off node could slip through on PostgreSQL: its transaction
/// began while it held the run, and another node claims the run before that transaction
/// commits. Every write of the executor first takes the run's row behind its claim (the guard's
/// statement, as `lever_store`'s `leases::guard` runs it), so the claim waits for the
/// transaction, then reads the run's steps with the write in them; the old node's next write
/// is refused.
#[tokio::test]
async fn on_postgresql_a_takeover_waits_for_the_old_owners_write_in_flight_and_reads_it() {
    use sqlx::Connection;
    let db = TestDatabase::postgres().await;
    let store = Store::connect(&db.url).await.expect("connect postgres");
    let new = NewRun {
        steps: vec!["a".into(), "b".into()],
        ..debug_log_run()
    };
    let (run, _) = store.create_run(&new).await.unwrap();
    let clock = std::sync::Arc::new(lever_store::ManualClock::default());
    let a = lever_store::Lease::on("node-a", 100, clock.clone());
    let b = lever_store::Lease::on("node-b", 100, clock.clone());
    let first = store.start_run(&run.id, &a).await.unwrap();

    // a's transaction: the guard, then its step's end; not committed yet (a is cut off).
    let mut connection = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut late = connection.begin().await.unwrap();
    let held = sqlx::query(
        "UPDATE runs SET lease_token = lease_token WHERE id = $1 AND lease_owner = $2 AND lease_token = $3",
    )
    .bind(&run.id)
    .bind("node-a")
    .bind(first.lease_token)
    .execute(&mut *late)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(held, 1);
    sqlx::query("UPDATE run_steps SET status = 'succeeded' WHERE run_id = $1 AND step_id = 'a'")
        .bind(&run.id)
        .execute(&mut *late)
        .await
        .unwrap();

    // a's lease runs out; b claims the run: it waits for a's transaction.
    clock.advance(150);
    let claiming = {
        let (store, id, b) = (store.clone(), run.id.clone(), b.clone());
        tokio::spawn(async move { store.claim_run(&id, &b).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(
        !claiming.is_finished(),
        "the claim did not wait for the transaction holding the run"
    );
    late.commit().await.unwrap();
    let (claimed, steps) = claiming.await.unwrap().unwrap();
    assert_eq!(claimed.lease_owner.as_deref(), Some("node-b"));
    assert!(claimed.lease_token > first.lease_token);
    assert_eq!(
        steps[0].status,
        lever_store::StepStatus::Succeeded,
        "the claim read the steps before the write it waited for: {steps:?}"
    );
    // a's next write, under its old claim, is refused.
    let refused = store
        .start_step(
            &run.id,
            &a,
            &lever_store::RunClaim::of(&first, "node-a"),
            None,
            "b",
            1,
            &json!({}),
            ("step-started", &json!({})),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::LeaseLost(_))),
        "{refused:?}"
    );
    store.close().await;
}

both_backends!(
    a_resource_is_claimed_once_resumed_by_its_step_and_held_against_other_runs,
    |store: Store| async move {
        use lever_store::{Claim, NewResource, resource_state};
        let new = |run: &str| NewResource {
            binding: "infrastructure".into(),
            provider: "builtin:postgres".into(),
            scope: "orders-dev".into(),
            kind: "workspace".into(),
            name: "orders-dev".into(),
            environment: "dev".into(),
            owner: "payments".into(),
            requester: "alice".into(),
            run_id: run.into(),
            step_id: "database".into(),
            template: Some("provision-postgresql-database".into()),
        };
        let Claim::New(first) = store.claim_resource(&new("run-1")).await.unwrap() else {
            panic!("the first claim is new");
        };
        assert_eq!(first.state, resource_state::CREATING);
        // The same step again (a retry, a resume): its own claim, not a second row.
        let Claim::Resumed(again) = store.claim_resource(&new("run-1")).await.unwrap() else {
            panic!("the same step resumes its claim");
        };
        assert_eq!(again.id, first.id);
        // Another run: held.
        let Claim::Held(held) = store.claim_resource(&new("run-2")).await.unwrap() else {
            panic!("another run finds it held");
        };
        assert_eq!(held.run_id, "run-1");
        store
            .resource_live(
                &first.id,
                "postgresql-database",
                "orders_dev",
                Some(5_000),
                &["secret://databases/orders/dev".into()],
            )
            .await
            .unwrap();
        let live = store.resource(&first.id).await.unwrap().unwrap();
        assert_eq!(
            (live.state.as_str(), live.name.as_str()),
            ("live", "orders_dev")
        );
        assert_eq!(
            live.secrets,
            vec!["secret://databases/orders/dev".to_string()]
        );
        let filter = lever_store::ResourceFilter {
            owner: Some("payments".into()),
            state: Some("live".into()),
            ..Default::default()
        };
        assert_eq!(store.resources(&filter, 10).await.unwrap().len(), 1);
        let other = lever_store::ResourceFilter {
            owner: Some("search".into()),
            ..Default::default()
        };
        assert!(store.resources(&other, 10).await.unwrap().is_empty());
        // Destroyed, it holds nothing: a later run claims the name anew.
        store
            .end_resource(&first.id, resource_state::DESTROYED, Some("run-3"), None)
            .await
            .unwrap();
        let Claim::New(second) = store.claim_resource(&new("run-4")).await.unwrap() else {
            panic!("a destroyed resource no longer holds its name");
        };
        assert_ne!(second.id, first.id);
        store.release_claim(&second.id).await.unwrap();
        assert!(
            store
                .held_resource("infrastructure", "orders-dev")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.resources_of_run("run-3").await.unwrap().len(), 1);
    }
);

both_backends!(
    a_runs_template_secrets_are_kept_sealed_until_it_finishes_and_gone_after,
    |store: Store| async move {
        let sealed = SealedSecrets::new(store.clone(), &[7u8; 32]);
        let values =
            std::collections::BTreeMap::from([("TOKEN".to_string(), "s3cr3t-value".to_string())]);
        let secrets = sealed.seal_run_secrets(&values);
        let name = secrets.name.clone();
        let template = NewRun {
            template: Some(("hello".into(), 1)),
            secrets: Some(secrets),
            ..debug_log_run()
        };
        let (run, _) = store.create_run(&template).await.unwrap();
        assert_eq!(run.secrets_ref.as_deref(), Some(name.as_str()));
        // Sealed at rest, opened by the secrets store only.
        let stored = store
            .secret(&name)
            .await
            .unwrap()
            .expect("kept while the run runs");
        assert!(!stored.contains("s3cr3t-value"), "{stored}");
        let opened = SealedSecrets::get(&sealed, &name).await.unwrap().unwrap();
        assert_eq!(opened, r#"{"TOKEN":"s3cr3t-value"}"#);
        // Not finished yet: kept.
        store
            .set_run_status(
                &run.id,
                &[RunStatus::Pending],
                RunStatus::Running,
                None,
                None,
            )
            .await
            .unwrap();
        assert!(store.secret(&name).await.unwrap().is_some());
        // The transaction that finishes it deletes them, whichever way it finishes.
        store
            .set_run_status(
                &run.id,
                &[RunStatus::Running],
                RunStatus::Failed,
                None,
                Some(&json!({"kind": "x", "message": "y"})),
            )
            .await
            .unwrap();
        assert!(
            store.secret(&name).await.unwrap().is_none(),
            "deleted with the run's end"
        );

        // A retry's secrets replace them for the next attempt.
        let again = sealed.seal_run_secrets(&values);
        store.set_run_secrets(&run.id, &again).await.unwrap();
        assert!(store.secret(&again.name).await.unwrap().is_some());
        assert_eq!(
            store.run(&run.id).await.unwrap().unwrap().secrets_ref,
            Some(again.name.clone())
        );
    }
);

both_backends!(
    a_page_of_template_runs_filters_orders_and_counts,
    |store: Store| async move {
        for (requester, template) in [("ann", "a"), ("bob", "b"), ("ann", "c")] {
            let new = NewRun {
                requester: requester.into(),
                template: Some((template.into(), 1)),
                ..debug_log_run()
            };
            store.create_run(&new).await.unwrap();
        }
        // A single-action run is not a task.
        store.create_run(&debug_log_run()).await.unwrap();
        let page = |filter: lever_store::RunPageFilter| {
            let store = store.clone();
            async move { store.run_page(&filter).await.unwrap() }
        };
        let (all, total) = page(lever_store::RunPageFilter {
            limit: 10,
            ..Default::default()
        })
        .await;
        assert_eq!((all.len(), total), (3, 3));
        let (anns, total) = page(lever_store::RunPageFilter {
            requesters: Some(vec!["ann".into()]),
            limit: 1,
            order: vec![(lever_store::RunOrder::CreatedAt, false)],
            ..Default::default()
        })
        .await;
        assert_eq!(total, 2);
        assert_eq!(anns.len(), 1);
        assert_eq!(anns[0].template.as_deref(), Some("a"), "oldest first");
        let (none, total) = page(lever_store::RunPageFilter {
            statuses: vec![RunStatus::Succeeded],
            limit: 10,
            ..Default::default()
        })
        .await;
        assert_eq!((none.len(), total), (0, 0));
        let (second, _) = page(lever_store::RunPageFilter {
            requesters: Some(vec!["ann".into(), "bob".into()]),
            order: vec![(lever_store::RunOrder::Requester, true)],
            limit: 1,
            offset: 1,
            ..Default::default()
        })
        .await;
        assert_eq!(second[0].requester, "ann");
    }
);
