//! Against the real local PostgreSQL (`LEVER_TEST_POSTGRES_ADMIN`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`): the database and role exist, the stored
//! credentials log in to it, a retry changes nothing, and destroy removes all three.

use lever_provider_postgres::{Credentials, PostgresProvider};
use lever_secrets::SealedSecrets;
use lever_store::Store;

fn admin_url() -> String {
    std::env::var("LEVER_TEST_POSTGRES_ADMIN")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[tokio::test]
async fn provisions_a_database_whose_stored_credentials_log_in_and_destroy_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/lever.db", dir.path().display()))
        .await
        .unwrap();
    let secrets = SealedSecrets::new(store.clone(), &[3u8; 32]);
    let provider = PostgresProvider::connect(&admin_url(), "127.0.0.1", 5432, secrets.clone())
        .await
        .expect("PostgreSQL at 127.0.0.1:5432");
    let name = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);

    let made = provider.provision(&name, "dev", false).await.unwrap();
    assert!(made.created);
    assert_eq!(made.database, format!("{name}_dev"));
    assert_eq!(made.secret_ref, format!("secret://databases/{name}/dev"));
    let stored = secrets
        .get(&format!("databases/{name}/dev"))
        .await
        .unwrap()
        .expect("credentials stored");
    let credentials: Credentials = serde_json::from_str(&stored).unwrap();
    assert!(
        !serde_json::to_string(&made)
            .unwrap()
            .contains(&credentials.password),
        "the password is only in the secrets store"
    );

    // The stored credentials connect to the new database as its owner.
    let url = format!(
        "postgres://{}:{}@127.0.0.1:5432/{}",
        credentials.username, credentials.password, credentials.database
    );
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("log in with the stored credentials");
    let (user, database): (String, String) =
        sqlx::query_as("SELECT current_user::text, current_database()::text")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (user.as_str(), database.as_str()),
        (made.role.as_str(), made.database.as_str())
    );
    sqlx::query("CREATE TABLE orders (id int)")
        .execute(&pool)
        .await
        .expect("the role owns its database");
    pool.close().await;
    // The role really has a password (this server trusts local connections, so also check it is set).
    let admin = sqlx::PgPool::connect(&admin_url()).await.unwrap();
    let hashed: Option<String> =
        sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
            .bind(&made.role)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(
        hashed
            .clone()
            .unwrap_or_default()
            .starts_with("SCRAM-SHA-256$")
    );

    // Asked again as a first attempt, it refuses and changes nothing: not its own.
    let refused = provider.provision(&name, "dev", false).await.unwrap_err();
    assert!(
        matches!(&refused, lever_provider_postgres::ProvisionError::Exists { owner, .. } if *owner == made.role),
        "{refused}"
    );
    // A retried step (the caller's records say it is its own) changes nothing.
    let again = provider.provision(&name, "dev", true).await.unwrap();
    assert!(!again.created);
    assert_eq!(
        secrets
            .get(&format!("databases/{name}/dev"))
            .await
            .unwrap()
            .as_deref(),
        Some(stored.as_str())
    );

    // Rotating: the old password stops working, the new stored one logs in.
    provider.rotate(&name, "dev").await.unwrap();
    let rotated: Credentials = serde_json::from_str(
        &secrets
            .get(&format!("databases/{name}/dev"))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_ne!(rotated.password, credentials.password);
    let hashed_after: Option<String> =
        sqlx::query_scalar("SELECT rolpassword FROM pg_authid WHERE rolname = $1")
            .bind(&made.role)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert_ne!(hashed_after, hashed, "the role has a new password");

    provider.destroy(&name, "dev").await.unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&made.database)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(!exists, "the database is dropped");
    let role: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&made.role)
            .fetch_one(&admin)
            .await
            .unwrap();
    assert!(!role, "the role is dropped");
    assert_eq!(
        secrets.get(&format!("databases/{name}/dev")).await.unwrap(),
        None,
        "the credentials are deleted"
    );
    provider
        .destroy(&name, "dev")
        .await
        .expect("destroying twice is fine");
}

#[tokio::test]
async fn names_that_are_not_safe_identifiers_are_refused_before_any_sql() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/lever.db", dir.path().display()))
        .await
        .unwrap();
    let provider = PostgresProvider::connect(
        &admin_url(),
        "127.0.0.1",
        5432,
        SealedSecrets::new(store, &[3u8; 32]),
    )
    .await
    .unwrap();
    for bad in ["x", "Orders", "a\"; DROP DATABASE postgres; --", "9lives"] {
        let error = provider
            .provision(bad, "dev", false)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("must be 2 to 31"), "{bad}: {error}");
    }
}
