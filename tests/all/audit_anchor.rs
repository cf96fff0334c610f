//! The audit head anchored outside the database: cutting the newest rows off the trail, or
//! restoring an older copy of the database, leaves a chain that holds by itself — `lever audit
//! verify` reports both from the anchor file, an edited anchor too, and `anchor --reset`
//! accepts the trail as it is.

use std::path::Path;
use std::time::{Duration, Instant};

use lever_tests::server::{Server, lever_binary};
use serde_json::Value;

fn lever(data_dir: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(lever_binary())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Publishes policy `name` (one audit row each).
async fn publish_policy(server: &Server, name: &str) {
    let response = server
        .http
        .put(format!("{}/api/v1/policies/{name}", server.url))
        .body(format!(
            "package lever.{name}\n\nimport rego.v1\n\nallowed if true\n"
        ))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

/// Waits until the anchor file names the newest audit row.
async fn anchored(server: &Server) -> i64 {
    let (_, audit) = server.get_json("/api/v1/audit").await;
    let newest = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .max()
        .expect("some audit rows");
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(server.data_dir.join("audit-anchor.json"));
        if let Ok(text) = text {
            let anchor: Value = serde_json::from_str(&text).unwrap();
            if anchor["seq"] == newest {
                return newest;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "row {newest} was never anchored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn cut_rows_and_an_older_copy_of_the_database_are_reported_from_the_anchor() {
    let mut server = Server::start();
    publish_policy(&server, "first").await;
    publish_policy(&server, "second").await;
    anchored(&server).await;
    let dir = server.data_dir.clone();
    let url = format!("sqlite://{}", dir.join("lever.db").display());
    let older = dir.join("older.db");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query(&format!("VACUUM INTO '{}'", older.display()))
        .execute(&pool)
        .await
        .unwrap();
    publish_policy(&server, "third").await;
    publish_policy(&server, "fourth").await;
    let newest = anchored(&server).await;
    let (_, verification) = server.get_json("/api/v1/audit/verify").await;
    assert_eq!(verification["intact"], true, "{verification}");
    server.kill();

    let (ok, report) = lever(&dir, &["audit", "verify"]);
    assert!(ok, "{report}");
    assert!(
        report.contains(&format!("row {newest} matches its anchor")),
        "{report}"
    );

    // The two newest rows deleted: the chain alone still holds, the anchor does not.
    sqlx::query("DELETE FROM audit_log WHERE seq > $1")
        .bind(newest - 2)
        .execute(&pool)
        .await
        .unwrap();
    let store = lever_store::Store::connect(&url).await.unwrap();
    assert!(store.verify_audit().await.unwrap().intact);
    store.close().await;
    let (ok, report) = lever(&dir, &["audit", "verify"]);
    assert!(!ok, "{report}");
    assert!(
        report.contains(&format!("names row {newest}"))
            && report.contains("removed from the end of the trail"),
        "{report}"
    );
    pool.close().await;

    // An older copy of the whole database put back: reported the same way.
    for file in ["lever.db-wal", "lever.db-shm"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    std::fs::copy(&older, dir.join("lever.db")).unwrap();
    let (ok, report) = lever(&dir, &["audit", "verify"]);
    assert!(!ok, "{report}");
    assert!(
        report.contains("restored from an older copy")
            && report.contains(&format!("names row {newest}")),
        "{report}"
    );

    // The anchor itself edited (to name the older head): its signature no longer holds.
    let path = dir.join("audit-anchor.json");
    let mut anchor: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    anchor["seq"] = Value::from(newest - 2);
    std::fs::write(&path, anchor.to_string()).unwrap();
    let (ok, report) = lever(&dir, &["audit", "verify"]);
    assert!(!ok, "{report}");
    assert!(
        report.contains("does not carry a valid signature"),
        "{report}"
    );

    // An operator who has looked into it anchors the trail as it now is.
    let (ok, report) = lever(&dir, &["audit", "anchor"]);
    assert!(!ok && report.contains("--reset"), "{report}");
    let (ok, report) = lever(&dir, &["audit", "anchor", "--reset"]);
    assert!(ok, "{report}");
    let (ok, report) = lever(&dir, &["audit", "verify"]);
    assert!(ok, "{report}");
}
