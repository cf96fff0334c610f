//! API tokens: create one (for oneself, or for anyone with the platform role), list them (never
//! their secrets), revoke one; each creation and revocation is audited.

use lever_identity::Principal;
use lever_store::TokenRecord;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::access::require_platform;
use crate::{ServiceError, Services};

/// A new token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    /// The secret to send as `Authorization: Bearer`.
    pub token: String,
    /// What is stored about it.
    pub record: TokenRecord,
}

/// Tokens, never their secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// The tokens.
    pub tokens: Vec<TokenRecord>,
}

/// Creates a token named `name` for `user` (the caller when `None`; someone else needs the
/// platform role).
pub async fn create(
    services: &Services,
    principal: &Principal,
    user: Option<String>,
    name: &str,
) -> Result<TokenCreated, ServiceError> {
    let user = user.unwrap_or_else(|| principal.id.clone());
    if user != principal.id {
        require_platform(principal, "creating tokens for someone else")?;
    }
    if name.trim().is_empty() {
        return Err(ServiceError::invalid(
            "invalid-name",
            "give the token a name, e.g. {\"name\": \"laptop\"}",
        ));
    }
    let (record, token) = services
        .identity
        .create_token(&user, name, &principal.id)
        .await?;
    services
        .store
        .append_audit(&lever_store::AuditEntry {
            run_id: None,
            kind: "token-created",
            actor: &principal.id,
            data: json!({"token": record.id, "user": user}),
            policy_version: None,
        })
        .await?;
    Ok(TokenCreated { token, record })
}

/// The caller's tokens; everyone's for the platform role.
pub async fn list(services: &Services, principal: &Principal) -> Result<TokenList, ServiceError> {
    let user = (!principal.is_platform()).then_some(principal.id.as_str());
    Ok(TokenList {
        tokens: services.store.tokens_of(user).await?,
    })
}

/// Revokes token `id` (someone else's needs the platform role).
pub async fn revoke(
    services: &Services,
    principal: &Principal,
    id: &str,
) -> Result<(), ServiceError> {
    let token = services
        .store
        .token(id)
        .await?
        .ok_or_else(|| ServiceError::not_found(format!("no token `{id}`")))?;
    if token.user_id != principal.id {
        require_platform(principal, "revoking someone else's token")?;
    }
    services.store.revoke_token(id).await?;
    services
        .store
        .append_audit(&lever_store::AuditEntry {
            run_id: None,
            kind: "token-revoked",
            actor: &principal.id,
            data: json!({"token": id, "user": token.user_id}),
            policy_version: None,
        })
        .await?;
    Ok(())
}
