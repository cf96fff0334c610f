//! The manual clock of a test server (`lever serve --manual-clock`): moving it fires what
//! falls due before answering.

use lever_identity::Principal;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::require_platform;
use crate::{ServiceError, Services};

/// The clock after a move.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockView {
    /// Now, in ms since the epoch.
    pub now_ms: i64,
    /// Now, in RFC 3339.
    pub now: String,
}

/// Moves the manual clock `advance_ms` forward (platform role); approval timers that fall due
/// fire before this answers, and parked runs whose time has come wake.
pub async fn advance(
    services: &Services,
    principal: &Principal,
    advance_ms: i64,
) -> Result<ClockView, ServiceError> {
    require_platform(principal, "moving the clock")?;
    let Some(clock) = &services.manual_clock else {
        return Err(ServiceError::not_found(
            "this server runs on the system clock; start it with --manual-clock to move time",
        ));
    };
    let now_ms = clock.advance(advance_ms);
    // Fire what is now due before answering, so the caller sees its effects.
    services.approvals.tick().await?;
    // Parked runs (retry backoff, `waitFor` polls, `debug:wait`) whose time has come wake too.
    services.executor.nudge();
    Ok(ClockView {
        now_ms,
        now: lever_identity::format_rfc3339(now_ms),
    })
}
