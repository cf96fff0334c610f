//! Secrets: stored and deleted by the platform team, revealed to those allowed to read them.

use lever_capabilities::Reader;
use lever_identity::Principal;

use crate::access::require_platform;
use crate::{Kind, ServiceError, Services};

/// Stores secret `name` (sealed at rest), replacing its value: the platform role only.
pub async fn put(
    services: &Services,
    principal: &Principal,
    name: &str,
    value: &str,
) -> Result<(), ServiceError> {
    require_platform(principal, "storing secrets")?;
    let valid = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if !valid {
        return Err(ServiceError::invalid(
            "invalid-secret-name",
            "secret names are 1 to 200 characters of letters, digits, '-', '_', '.' and '/'",
        ));
    }
    services.secrets.put(name, value).await?;
    Ok(())
}

/// Deletes secret `name`: the platform role only; not found when there is none.
pub async fn delete(
    services: &Services,
    principal: &Principal,
    name: &str,
) -> Result<(), ServiceError> {
    require_platform(principal, "deleting secrets")?;
    if services.secrets.delete(name).await? {
        Ok(())
    } else {
        Err(ServiceError::not_found(format!("no secret `{name}`")))
    }
}

/// The value of secret `name` if `principal` may read it (the platform role, or a reader
/// recorded when a built-in provider wrote it); every reveal is audited by name.
pub async fn reveal(
    services: &Services,
    principal: &Principal,
    name: &str,
) -> Result<String, ServiceError> {
    let readers = lever_capabilities::secret_readers(&services.store, name)
        .await
        .map_err(|e| ServiceError::new(Kind::Internal, "store", e.to_string()))?;
    let allowed = principal.is_platform()
        || readers.iter().any(|r| match r {
            Reader::User(id) => *id == principal.id,
            Reader::Team(team) => {
                principal.team.as_deref() == Some(team) || principal.in_group(team)
            }
        });
    if !allowed {
        let others: Vec<String> = readers.iter().map(Reader::to_string).collect();
        return Err(ServiceError::forbidden(format!(
            "`{}` may not read secret `{name}`: it is readable by the platform role and by {}",
            principal.id,
            if others.is_empty() {
                "no one else".to_string()
            } else {
                others.join(", ")
            }
        )));
    }
    let Some(value) = services.secrets.get(name).await? else {
        return Err(ServiceError::not_found(format!("no secret `{name}`")));
    };
    services
        .store
        .append_audit(&lever_store::AuditEntry {
            run_id: None,
            kind: "secret-revealed",
            actor: &principal.id,
            data: serde_json::json!({"secret": name}),
            policy_version: None,
        })
        .await?;
    Ok(value)
}

/// A revealed secret.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SecretView {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}
