//! One-click approval links: sign, verify, tampering, expiry and key handling.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lever_identity::{LinkClaims, LinkDecision, LinkError, LinkSigner, LinksConfig};

const NOW: i64 = 1_800_000_000_000;

fn claims() -> LinkClaims {
    LinkClaims::new("stage-1", "carol", LinkDecision::Approve, 60_000, NOW)
}

#[test]
fn sign_then_verify() {
    let signer = LinkSigner::new(&LinkSigner::generate_key());
    let claims = claims();
    assert_eq!(claims.nonce.len(), 32);
    assert_eq!(claims.expires_at_ms, NOW + 60_000);
    let token = signer.sign(&claims);
    assert!(!token.contains(['+', '/', '=']), "{token}");
    assert_eq!(signer.verify(&token, NOW).unwrap(), claims);
    let json = String::from_utf8(
        URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(json.contains(r#""decision":"approve""#), "{json}");
    assert_ne!(
        LinkClaims::new("s", "a", LinkDecision::Reject, 1, NOW).nonce,
        claims.nonce
    );
}

#[test]
fn tampered_or_foreign_links_are_forged() {
    let signer = LinkSigner::new(b"0123456789abcdef0123456789abcdef");
    let token = signer.sign(&claims());
    let (_, signature) = token.split_once('.').unwrap();

    let mut altered = claims();
    altered.decision = LinkDecision::Reject;
    let altered_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&altered).unwrap());
    let err = signer
        .verify(&format!("{altered_payload}.{signature}"), NOW)
        .unwrap_err();
    assert_eq!(err, LinkError::Forged);
    assert!(
        err.to_string()
            .contains("altered or not issued by this server")
    );

    let other = LinkSigner::new(b"another key entirely, 32 bytes!!");
    assert_eq!(other.verify(&token, NOW).unwrap_err(), LinkError::Forged);
}

#[test]
fn expired_links_are_refused() {
    let signer = LinkSigner::new(&LinkSigner::generate_key());
    let token = signer.sign(&claims());
    assert!(signer.verify(&token, NOW + 59_999).is_ok());
    assert_eq!(
        signer.verify(&token, NOW + 60_000).unwrap_err(),
        LinkError::Expired
    );
}

#[test]
fn garbage_is_malformed() {
    let signer = LinkSigner::new(&LinkSigner::generate_key());
    for garbage in ["", "nodot", "!!!.???", "abc.def.ghi", "e30.@@"] {
        assert_eq!(
            signer.verify(garbage, NOW).unwrap_err(),
            LinkError::Malformed,
            "{garbage}"
        );
    }
    // Well-signed but not link claims.
    let key = LinkSigner::generate_key();
    let payload = URL_SAFE_NO_PAD.encode(b"{}");
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(payload.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    assert_eq!(
        LinkSigner::new(&key)
            .verify(&format!("{payload}.{signature}"), NOW)
            .unwrap_err(),
        LinkError::Malformed
    );
}

#[test]
fn key_from_config_or_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let generated = LinkSigner::from_config(&LinksConfig::default(), dir.path()).unwrap();
    let token = generated.sign(&claims());
    let stored = std::fs::read_to_string(dir.path().join(lever_identity::links::KEY_FILE)).unwrap();
    assert_eq!(stored.len(), 64);
    // The next start reads the same key.
    let again = LinkSigner::from_config(&LinksConfig::default(), dir.path()).unwrap();
    assert!(again.verify(&token, NOW).is_ok());
    // A configured key wins over the file.
    let configured = LinksConfig {
        key: Some("00".repeat(32)),
        ttl_minutes: 5,
    };
    assert_eq!(configured.ttl_ms(), 300_000);
    let signer = LinkSigner::from_config(&configured, dir.path()).unwrap();
    assert_eq!(signer.verify(&token, NOW).unwrap_err(), LinkError::Forged);
    assert!(
        LinkSigner::new(&[0u8; 32])
            .verify(&signer.sign(&claims()), NOW)
            .is_ok()
    );
}
