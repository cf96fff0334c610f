//! Stage timers: the request notification when a stage opens, a reminder at half its SLA,
//! escalation when the SLA passes, and the final expiry. Each is a guarded update in the
//! store, so it fires once whatever restarts or other nodes do.

use lever_identity::LinkDecision;
use lever_store::{StageRecord, StageTimer};
use serde_json::{Value, json};

use crate::{ApprovalError, Approvals};

impl Approvals {
    /// One pass over the open stages.
    pub async fn tick(&self) -> Result<(), ApprovalError> {
        let now = self.now();
        for stage in self.store.open_stages().await? {
            let Some(opened) = stage.opened_at else { continue };
            if stage.notified_at.is_none() && self.store.fire_stage_timer(&stage.id, StageTimer::Notified, now).await? {
                self.notify(&stage, "approval-requested", &stage.groups).await?;
            }
            if stage.reminded_at.is_none() && now >= opened + stage.sla_ms / 2 && self.store.fire_stage_timer(&stage.id, StageTimer::Reminded, now).await? {
                self.notify(&stage, "reminder", &stage.groups).await?;
            }
            if stage.escalated_at.is_none() && now >= opened + stage.sla_ms && self.store.fire_stage_timer(&stage.id, StageTimer::Escalated, now).await? {
                let mut targets = stage.groups.clone();
                targets.extend(stage.escalate_to.clone());
                let current = self.store.stage(&stage.id).await?.unwrap_or_else(|| stage.clone());
                self.notify(&current, "escalated", &targets).await?;
            }
            if let Some(expire) = stage.expire_ms
                && stage.expired_at.is_none()
                && now >= opened + expire
            {
                let reject = stage.on_expiry != "stay-open";
                if self.store.expire_stage(&stage.id, reject, now).await? {
                    self.notify(&stage, "expired", &stage.groups).await?;
                }
            }
        }
        Ok(())
    }

    /// The users who may decide on `stage`: members of `groups`, except the requester.
    fn recipients(&self, groups: &[String], requester: &str) -> Vec<String> {
        crate::routing::members(&self.config, groups).into_iter().filter(|id| id != requester).collect()
    }

    /// Sends (stores) a notification with the stage's whole context and, for each recipient,
    /// their own signed approve and reject links.
    async fn notify(&self, stage: &StageRecord, kind: &str, groups: &[String]) -> Result<(), ApprovalError> {
        let run = self.store.run(&stage.run_id).await?;
        let requester = run.as_ref().map(|r| r.requester.clone()).unwrap_or_default();
        let recipients = self.recipients(groups, &requester);
        let mut links = serde_json::Map::new();
        if kind != "expired" {
            for user in &recipients {
                links.insert(
                    user.clone(),
                    json!({
                        "approve": self.link(&stage.id, user, LinkDecision::Approve),
                        "reject": self.link(&stage.id, user, LinkDecision::Reject),
                    }),
                );
            }
        }
        let body = json!({
            "subject": subject(kind, stage, run.as_ref().and_then(|r| r.template.clone()).unwrap_or_default().as_str()),
            "run": stage.run_id,
            "stage": stage.name,
            "stage_id": stage.id,
            "groups": groups,
            "reasons": stage.reasons,
            "due_at": stage.due_at(),
            "context": stage.context,
            "links": Value::Object(links),
        });
        self.store.record_notification(&stage.id, kind, &recipients, &body, self.now()).await?;
        tracing::info!(stage = %stage.name, run = %stage.run_id, kind, recipients = recipients.len(), "approval notification");
        self.email(&recipients, body);
        Ok(())
    }
}

impl Approvals {
    /// Emails each recipient who has an address, in the background: a slow or failing mail
    /// server must not hold the timers (the notification is already stored, and readable at
    /// `GET /api/v1/notifications`).
    fn email(&self, recipients: &[String], body: Value) {
        let Some(email) = self.email.clone() else { return };
        let people: Vec<lever_notify::Recipient> = recipients
            .iter()
            .filter_map(|id| self.config.user(id))
            .filter_map(|u| u.email.clone().map(|email| lever_notify::Recipient { id: u.id.clone(), name: u.name.clone(), email }))
            .collect();
        tokio::spawn(async move {
            for person in people {
                if let Err(e) = email.send(&person, &body).await {
                    tracing::warn!(to = %person.id, error = %e, "approval email not sent");
                }
            }
        });
    }
}

fn subject(kind: &str, stage: &StageRecord, template: &str) -> String {
    match kind {
        "approval-requested" => format!("Approval needed ({}): {template} requested", stage.name),
        "reminder" => format!("Reminder: approval ({}) for {template} is half-way to its deadline", stage.name),
        "escalated" => format!("Escalated: approval ({}) for {template} passed its deadline", stage.name),
        _ => format!("Expired: approval ({}) for {template}", stage.name),
    }
}
