//! Who may do what, where it is not a single crate's own rule.

use lever_identity::Principal;

use crate::ServiceError;

/// Forbidden unless `principal` has the platform role; `what` names what needs it.
pub fn require_platform(principal: &Principal, what: &str) -> Result<(), ServiceError> {
    if principal.is_platform() {
        return Ok(());
    }
    Err(ServiceError::forbidden(format!(
        "{what} needs the platform role; {} does not have it",
        principal.id
    )))
}
