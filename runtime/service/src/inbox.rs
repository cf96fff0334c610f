//! Each person's Lever inbox: what the built-in notifier delivered to them and the approval
//! requests addressed to them, newest first, with how many are unread.

use lever_identity::Principal;
use lever_store::InboxEntry;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{ServiceError, Services};

/// How many entries an inbox shows.
const SHOWN: i64 = 100;

/// The caller's inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxView {
    /// How many entries are unread.
    pub unread: i64,
    /// The newest entries, newest first.
    pub entries: Vec<InboxEntry>,
}

/// `principal`'s inbox.
pub async fn inbox(services: &Services, principal: &Principal) -> Result<InboxView, ServiceError> {
    let entries = services.store.inbox(&principal.id, SHOWN).await?;
    let unread = services.store.unread_in_inbox(&principal.id).await?;
    Ok(InboxView { unread, entries })
}

/// How many of `principal`'s entries are unread.
pub async fn unread(services: &Services, principal: &Principal) -> Result<i64, ServiceError> {
    Ok(services.store.unread_in_inbox(&principal.id).await?)
}

/// Marks `principal`'s entries read, up to entry `up_to` (every one when `None`).
pub async fn mark_read(
    services: &Services,
    principal: &Principal,
    up_to: Option<i64>,
) -> Result<(), ServiceError> {
    services
        .store
        .mark_inbox_read(
            &principal.id,
            up_to.unwrap_or(i64::MAX),
            services.approvals.now(),
        )
        .await?;
    Ok(())
}
