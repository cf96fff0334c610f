//! Stage timers: the request notification when a stage opens, a reminder at half its SLA,
//! escalation when the SLA passes, and the final expiry. Each is a guarded update in the
//! store, so it fires once whatever restarts or other nodes do.

use std::sync::Arc;

use lever_identity::LinkDecision;
use lever_store::{InboxLink, NewInboxEntry, StageRecord, StageTimer};
use serde_json::{Value, json};

use crate::{ApprovalError, Approvals};

impl Approvals {
    /// One pass over the open stages.
    pub async fn tick(&self) -> Result<(), ApprovalError> {
        let now = self.now();
        for stage in self.store.open_stages().await? {
            let Some(opened) = stage.opened_at else {
                continue;
            };
            if stage.notified_at.is_none()
                && self
                    .store
                    .fire_stage_timer(&stage.id, StageTimer::Notified, now)
                    .await?
            {
                self.notify(&stage, "approval-requested", &stage.groups)
                    .await?;
            }
            if stage.reminded_at.is_none()
                && now >= opened + stage.sla_ms / 2
                && self
                    .store
                    .fire_stage_timer(&stage.id, StageTimer::Reminded, now)
                    .await?
            {
                self.notify(&stage, "reminder", &stage.groups).await?;
            }
            if stage.escalated_at.is_none()
                && now >= opened + stage.sla_ms
                && self
                    .store
                    .fire_stage_timer(&stage.id, StageTimer::Escalated, now)
                    .await?
            {
                let mut targets = stage.groups.clone();
                targets.extend(stage.escalate_to.clone());
                let current = self
                    .store
                    .stage(&stage.id)
                    .await?
                    .unwrap_or_else(|| stage.clone());
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
        crate::routing::members(&self.config, groups)
            .into_iter()
            .filter(|id| id != requester)
            .collect()
    }

    /// Sends (stores) a notification with the stage's whole context and, for each recipient,
    /// their own signed approve and reject links.
    async fn notify(
        &self,
        stage: &StageRecord,
        kind: &str,
        groups: &[String],
    ) -> Result<(), ApprovalError> {
        let run = self.store.run(&stage.run_id).await?;
        let requester = run
            .as_ref()
            .map(|r| r.requester.clone())
            .unwrap_or_default();
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
        self.store
            .record_notification(&stage.id, kind, &recipients, &body, self.now())
            .await?;
        self.to_inboxes(stage, kind, &recipients, &body).await?;
        tracing::info!(stage = %stage.name, run = %stage.run_id, kind, recipients = recipients.len(), "approval notification");
        self.deliver(&recipients, body);
        Ok(())
    }
}

impl Approvals {
    /// Puts the notification in each recipient's Lever inbox with their own links, whatever
    /// else delivers it: the web UI's bell counts what waits for them.
    async fn to_inboxes(
        &self,
        stage: &StageRecord,
        kind: &str,
        recipients: &[String],
        body: &Value,
    ) -> Result<(), ApprovalError> {
        let run_link = InboxLink {
            label: "Open the run".into(),
            url: format!("/runs/{}", stage.run_id),
            kind: "link".into(),
        };
        let addressed: Vec<(String, Vec<InboxLink>)> = recipients
            .iter()
            .map(|user| {
                let mine = &body["links"][user];
                let mut links = Vec::new();
                for (label, decision) in [("Approve", "approve"), ("Reject", "reject")] {
                    if let Some(url) = mine[decision].as_str() {
                        links.push(InboxLink {
                            label: label.into(),
                            url: url.into(),
                            kind: decision.into(),
                        });
                    }
                }
                links.push(run_link.clone());
                (user.clone(), links)
            })
            .collect();
        let reasons: Vec<&str> = stage.reasons.iter().map(String::as_str).collect();
        let what = match kind {
            "expired" => "expired without a decision",
            "reminder" => "is half-way to its deadline and still waits for your decision",
            "escalated" => "passed its deadline and is escalated to you",
            _ => "waits for your decision",
        };
        let text = format!(
            "Stage **{}** of run `{}` {what}. Why: {}.",
            stage.name,
            stage.run_id,
            reasons.join("; ")
        );
        self.store
            .deliver_to_inbox(
                &NewInboxEntry {
                    run_id: Some(&stage.run_id),
                    kind,
                    subject: body["subject"].as_str().unwrap_or_default(),
                    body: &text,
                    at: self.now(),
                    delivery_key: None,
                },
                &addressed,
            )
            .await?;
        Ok(())
    }

    /// Delivers a stored notification in the background — through the `notifier` capability
    /// when it is bound to an adapter, else by email — so a slow or failing provider never
    /// holds the timers (the notification is stored, and readable at `GET /api/v1/notifications`).
    fn deliver(&self, recipients: &[String], body: Value) {
        let through_adapter = self
            .capabilities
            .bindings()
            .get("notifier")
            .is_some_and(|b| !b.is_builtin());
        if through_adapter {
            self.send_through_notifier(self.capabilities.clone(), recipients, body)
        } else {
            self.email(recipients, body)
        }
    }

    /// One `notifier.send` per recipient, with their own approve and reject links as buttons;
    /// each call is recorded in the run's log.
    fn send_through_notifier(
        &self,
        capabilities: Arc<lever_capabilities::Capabilities>,
        recipients: &[String],
        body: Value,
    ) {
        let messages: Vec<Value> = recipients
            .iter()
            .filter_map(|id| self.config.user(id))
            .map(|u| {
                let to = u.slack.clone().or_else(|| u.email.clone()).unwrap_or_else(|| u.id.clone());
                let links = &body["links"][&u.id];
                json!({
                    "to": to,
                    "subject": body["subject"],
                    "text": format!(
                        "{}\nRun {} · stage {} · requested by {}\nWhy: {}",
                        body["subject"].as_str().unwrap_or_default(),
                        body["run"].as_str().unwrap_or_default(),
                        body["stage"].as_str().unwrap_or_default(),
                        body["context"]["requested_by"]["id"].as_str().unwrap_or_default(),
                        body["reasons"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; ")).unwrap_or_default(),
                    ),
                    "links": [
                        {"label": "Approve", "url": links["approve"], "kind": "approve"},
                        {"label": "Reject", "url": links["reject"], "kind": "reject"},
                    ],
                })
            })
            .collect();
        let store = self.store.clone();
        let run_id = body["run"].as_str().unwrap_or_default().to_string();
        tokio::spawn(async move {
            let log = lever_sandbox::LogBook::new(64 * 1024);
            let context = lever_sandbox::CallContext {
                run_id: run_id.clone(),
                step_id: "approval".into(),
                attempt: 1,
                requester: "lever".into(),
                ..Default::default()
            };
            let scope = lever_capabilities::Scope {
                context,
                log: log.clone(),
                host: None,
                owner: None,
                template: None,
            };
            for message in messages {
                if let Err(e) = capabilities.call(&scope, "notifier", "send", message).await {
                    tracing::warn!(error = %e, "approval notification not sent");
                }
            }
            if let Err(e) = store.append_logs(&run_id, &log.lines()).await {
                tracing::warn!(error = %e, "the notifier's log lines were not stored");
            }
        });
    }

    /// Emails each recipient who has an address.
    fn email(&self, recipients: &[String], body: Value) {
        let Some(email) = self.email.clone() else {
            return;
        };
        let people: Vec<lever_notify::Recipient> = recipients
            .iter()
            .filter_map(|id| self.config.user(id))
            .filter_map(|u| {
                u.email.clone().map(|email| lever_notify::Recipient {
                    id: u.id.clone(),
                    name: u.name.clone(),
                    email,
                })
            })
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
        "reminder" => format!(
            "Reminder: approval ({}) for {template} is half-way to its deadline",
            stage.name
        ),
        "escalated" => format!(
            "Escalated: approval ({}) for {template} passed its deadline",
            stage.name
        ),
        _ => format!("Expired: approval ({}) for {template}", stage.name),
    }
}
