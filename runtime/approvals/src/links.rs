//! One-click links: `GET /approve/{token}` shows the request and one confirm button (a GET
//! never decides, so mail scanners that follow links cannot approve); the POST behind the
//! button decides. A token is HMAC-signed, expires, names one approver and one decision,
//! and is spent on first use.

use lever_identity::{LinkClaims, LinkDecision, LinkError, Principal};
use lever_store::{DecideOutcome, StageRecord};

use crate::{ApprovalError, Approvals};

/// A checked link, ready to show or to confirm.
#[derive(Debug, Clone)]
pub struct CheckedLink {
    /// What the token says.
    pub claims: LinkClaims,
    /// The stage it decides.
    pub stage: StageRecord,
}

impl Approvals {
    /// A signed link for `approver` to take `decision` on a stage.
    pub fn link(&self, stage_id: &str, approver: &str, decision: LinkDecision) -> String {
        let claims = LinkClaims::new(stage_id, approver, decision, self.link_ttl_ms, self.now());
        format!("{}/approve/{}", self.base_url, self.signer.sign(&claims))
    }

    /// Checks a token's signature, expiry and single use, and finds its stage.
    pub async fn check_link(&self, token: &str) -> Result<CheckedLink, ApprovalError> {
        let claims = self.signer.verify(token, self.now()).map_err(|e| match e {
            LinkError::Expired => ApprovalError::LinkExpired(
                "this approval link has expired; decide in Lever or ask for a new link".into(),
            ),
            other => ApprovalError::BadLink(other.to_string()),
        })?;
        if self.store.link_nonce_spent(&claims.nonce).await? {
            return Err(ApprovalError::Conflict(
                "this approval link was already used; each link works once".into(),
            ));
        }
        let stage = self.store.stage(&claims.stage_id).await?.ok_or_else(|| {
            ApprovalError::NotFound(format!(
                "the link names approval `{}`, which does not exist",
                claims.stage_id
            ))
        })?;
        Ok(CheckedLink { claims, stage })
    }

    /// Confirms a link: the decision is the link's, made as the link's approver. When the
    /// caller is signed in as someone else, the link is refused.
    pub async fn decide_by_link(
        &self,
        token: &str,
        caller: Option<&Principal>,
        comment: &str,
    ) -> Result<(CheckedLink, DecideOutcome), ApprovalError> {
        let link = self.check_link(token).await?;
        if let Some(caller) = caller
            && caller.id != link.claims.approver
        {
            return Err(ApprovalError::Forbidden(format!(
                "this link belongs to {}; {} cannot use it",
                link.claims.approver, caller.id
            )));
        }
        let approver = self
            .config
            .principal(&link.claims.approver)
            .ok_or_else(|| {
                ApprovalError::Forbidden(format!(
                    "{} is no longer a configured user",
                    link.claims.approver
                ))
            })?;
        if !self
            .store
            .spend_link_nonce(&link.claims.nonce, self.now())
            .await?
        {
            return Err(ApprovalError::Conflict(
                "this approval link was already used; each link works once".into(),
            ));
        }
        let approve = link.claims.decision == LinkDecision::Approve;
        let outcome = self
            .decide(&approver, &link.stage.id, approve, comment, "link")
            .await?;
        Ok((link, outcome))
    }
}
