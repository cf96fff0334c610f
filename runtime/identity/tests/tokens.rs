//! API tokens: generation, hashing, the store round trip and authentication with them.

use lever_identity::{Authenticator, Config, IdentityError, Role, Source, tokens};
use lever_store::Store;

async fn store(dir: &tempfile::TempDir) -> Store {
    Store::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .unwrap()
}

fn unauthenticated(result: Result<lever_identity::Principal, IdentityError>) -> String {
    match result {
        Err(e @ IdentityError::Unauthenticated(_)) => {
            assert_eq!(e.status(), 401);
            e.to_string()
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

#[test]
fn generate_and_hash() {
    let (token, hash) = tokens::generate();
    assert!(token.starts_with("lvr_"));
    assert_eq!(token.len(), 4 + 43);
    assert!(tokens::looks_like_token(&token));
    assert_eq!(hash.len(), 64);
    assert_eq!(tokens::hash(&token), hash);
    assert_ne!(tokens::generate().0, token);
    // SHA-256 of the whole string, prefix included.
    assert_eq!(
        tokens::hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(!tokens::looks_like_token("lvr_short"));
}

#[tokio::test]
async fn store_round_trip_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    assert_eq!(store.count_tokens().await.unwrap(), 0);
    store
        .insert_token("t1", "alice", "laptop", "hash-1", "admin")
        .await
        .unwrap();
    store
        .insert_token("t2", "bob", "ci", "hash-2", "bob")
        .await
        .unwrap();
    assert_eq!(store.count_tokens().await.unwrap(), 2);

    let record = store.token_by_hash("hash-1").await.unwrap().unwrap();
    assert_eq!(
        (
            record.id.as_str(),
            record.user_id.as_str(),
            record.name.as_str()
        ),
        ("t1", "alice", "laptop")
    );
    assert_eq!(record.created_by, "admin");
    assert!(record.last_used_at.is_some());
    assert!(record.revoked_at.is_none());
    assert!(store.token_by_hash("nope").await.unwrap().is_none());

    let json = serde_json::to_string(&record).unwrap();
    assert!(
        !json.contains("hash-1") && !json.contains("token_hash"),
        "{json}"
    );

    assert_eq!(store.tokens_of(Some("alice")).await.unwrap().len(), 1);
    assert_eq!(store.tokens_of(None).await.unwrap().len(), 2);

    assert!(store.revoke_token("t1").await.unwrap());
    assert!(!store.revoke_token("t1").await.unwrap());
    assert!(!store.revoke_token("missing").await.unwrap());
    let revoked = store.token_by_hash("hash-1").await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        store.token("t1").await.unwrap().unwrap().revoked_at,
        revoked.revoked_at
    );
}

#[tokio::test]
async fn authenticate_with_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let auth = Authenticator::new(Config::embedded_default(), store.clone());

    let first = auth
        .bootstrap_admin_token()
        .await
        .unwrap()
        .expect("first start gives a token");
    assert!(auth.bootstrap_admin_token().await.unwrap().is_none());
    let admin = auth
        .authenticate(Some(&format!("Bearer {first}")))
        .await
        .unwrap();
    assert_eq!(admin.id, "admin");
    assert!(admin.is_platform());
    assert_eq!(admin.source, Source::Token);
    assert_eq!(
        store.tokens_of(Some("admin")).await.unwrap()[0].name,
        "first-start"
    );

    let (record, token) = auth.create_token("carol", "laptop", "admin").await.unwrap();
    assert_eq!(record.user_id, "carol");
    assert!(record.id.starts_with("tok_"));
    let carol = auth
        .authenticate(Some(&format!("bearer  {token} ")))
        .await
        .unwrap();
    assert_eq!(carol.id, "carol");
    assert!(carol.has_role(Role::Approver));

    let e = unauthenticated(auth.authenticate(None).await);
    assert!(
        e.contains("Authorization: Bearer <token>") && e.contains("lever token create"),
        "{e}"
    );
    let e = unauthenticated(auth.authenticate(Some("Basic dXNlcjpwYXNz")).await);
    assert!(e.contains("Basic"), "{e}");
    let e = unauthenticated(auth.authenticate(Some("Bearer lvr_notarealtoken")).await);
    assert!(e.contains("unknown API token"), "{e}");
    let e = unauthenticated(auth.authenticate(Some("Bearer what-is-this")).await);
    assert!(e.contains("neither"), "{e}");
    let e = unauthenticated(auth.authenticate(Some("Bearer a.b.c")).await);
    assert!(e.contains("OIDC is not configured on this server"), "{e}");

    assert!(store.revoke_token(&record.id).await.unwrap());
    let e = unauthenticated(auth.authenticate(Some(&format!("Bearer {token}"))).await);
    assert!(e.contains("token was revoked"), "{e}");

    let e = auth
        .create_token("mallory", "x", "admin")
        .await
        .unwrap_err();
    assert_eq!(e.status(), 404);
    assert!(e.to_string().contains("mallory"), "{e}");
}

#[tokio::test]
async fn users_removed_from_config_lose_access_but_admin_stays() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let before = Authenticator::new(Config::embedded_default(), store.clone());
    let (_, alice) = before
        .create_token("alice", "laptop", "admin")
        .await
        .unwrap();
    let (_, admin) = before.create_token("admin", "ops", "admin").await.unwrap();

    let after = Authenticator::new(Config::from_yaml("users: []\n").unwrap(), store);
    let e = unauthenticated(after.authenticate(Some(&format!("Bearer {alice}"))).await);
    assert!(e.contains("user alice is no longer configured"), "{e}");
    let admin = after
        .authenticate(Some(&format!("Bearer {admin}")))
        .await
        .unwrap();
    assert!(admin.is_platform());
    assert!(admin.can_run("anyone", &[]));
    // An empty store still bootstraps admin even with no users configured.
    let dir2 = tempfile::tempdir().unwrap();
    let empty = Authenticator::new(Config::default(), self::store(&dir2).await);
    assert!(empty.bootstrap_admin_token().await.unwrap().is_some());
}
