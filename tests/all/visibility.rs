//! Who may see a run, through the API: its requester and their team, its approvers from the
//! moment a stage opens to them, and the platform team; to anyone else it does not exist (404
//! on the run, its events, stages, ratings and audit rows, and absent from their run list).

use serde_json::json;

use crate::approvals::{User, approval_server, stage};

/// The answers a caller gets for a run's pages: the run, its events, its stages, its audit
/// rows and its ratings.
async fn statuses(user: &User, run: &str) -> [u16; 5] {
    [
        user.get(&format!("/api/v1/runs/{run}")).await.0,
        user.get(&format!("/api/v1/runs/{run}/events")).await.0,
        user.get(&format!("/api/v1/approvals?run={run}")).await.0,
        user.get(&format!("/api/v1/audit?run={run}")).await.0,
        user.get(&format!("/api/v1/runs/{run}/rating")).await.0,
    ]
}

async fn lists(user: &User, run: &str) -> bool {
    let (status, body) = user.get("/api/v1/runs").await;
    assert_eq!(status, 200, "{body}");
    body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == run)
}

#[tokio::test]
async fn a_run_is_seen_by_its_requester_their_team_its_approvers_once_asked_and_the_platform() {
    let server = approval_server("").await;
    let alice = User::of(&server, "alice").await;
    // Team lead first, then finance: erin (finance) is asked only once the lead approved.
    let costly = alice.submit("provision", json!({"monthly_usd": 600})).await;
    let id = costly["id"].as_str().unwrap();

    let bob = User::of(&server, "bob").await; // alice's team
    let carol = User::of(&server, "carol").await; // the team lead, asked at once
    let dave = User::of(&server, "dave").await; // another team, never asked
    let erin = User::of(&server, "erin").await; // finance, asked second
    let admin = User::of(&server, "admin").await;
    for (who, user) in [
        ("alice", &alice),
        ("bob", &bob),
        ("carol", &carol),
        ("admin", &admin),
    ] {
        assert_eq!(statuses(user, id).await, [200; 5], "{who} sees the run");
        assert!(lists(user, id).await, "{who} has it in the run list");
    }
    for (who, user) in [("dave", &dave), ("erin", &erin)] {
        assert_eq!(statuses(user, id).await, [404; 5], "{who} may not see it");
        assert!(!lists(user, id).await, "{who} does not have it listed");
    }
    // A stranger is told the run does not exist, in the same words as for a run that does
    // not: nothing says it is there.
    let (_, hidden) = dave.get(&format!("/api/v1/runs/{id}")).await;
    let (_, missing) = dave.get("/api/v1/runs/no-such-run").await;
    assert_eq!(
        hidden["error"]["message"]
            .as_str()
            .unwrap()
            .replace(id, "ID"),
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .replace("no-such-run", "ID")
    );
    // Nor can a stranger act on it: a cancel is 404 too, and the run goes on.
    let (status, body) = dave
        .post(&format!("/api/v1/runs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, 404, "{body}");

    let lead = stage(&server, id, "team-lead").await;
    let (status, body) = carol.approve(lead["id"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        statuses(&erin, id).await,
        [200; 5],
        "erin sees the run once the finance stage opens to her"
    );
    assert!(lists(&erin, id).await);
    assert_eq!(statuses(&dave, id).await, [404; 5]);
}
