//! The approval decision a policy yields.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a policy decided for one run request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// True when no human approval is needed (stages empty).
    pub auto: bool,
    /// Approval stages, in the order they were written.
    pub stages: Vec<Stage>,
    /// Human-readable reasons for the whole decision (also for `auto`: e.g. "dev environment: automatic").
    pub reasons: Vec<String>,
}

/// One approval stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Short name, e.g. "team-lead", "finance", "security-review", "change-freeze-exception", "payments-lead".
    pub name: String,
    /// Groups whose members may approve (a member of any of them).
    pub groups: Vec<String>,
    /// How many distinct approvers: `Required::All` (every member of the groups) or `Required::Count(n)`.
    /// Serialized as "all" or a number; default Count(1).
    #[serde(default)]
    pub required: Required,
    /// Stages with the same order run in parallel; a stage opens only when every stage with a lower
    /// order is approved. Default 0.
    #[serde(default)]
    pub order: u32,
    /// Gate only this template step (the run pauses before it) instead of the whole run. Default None.
    #[serde(default)]
    pub step: Option<String>,
    /// Deadline after the stage opens, in minutes. Default 1440.
    #[serde(default = "default_sla_minutes")]
    pub sla_minutes: u64,
    /// Group that may also approve once the SLA is breached (escalation target). Default None.
    #[serde(default)]
    pub escalate_to: Option<String>,
    /// Final expiry after opening, in minutes; None = never. Default None.
    #[serde(default)]
    pub expire_minutes: Option<u64>,
    /// What expiry does: `OnExpiry::Reject` or `OnExpiry::StayOpen` (serde "reject" / "stay-open"). Default Reject.
    #[serde(default)]
    pub on_expiry: OnExpiry,
    /// Why this stage is needed.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// The SLA a stage gets when the policy does not say: one day.
pub(crate) const DEFAULT_SLA_MINUTES: u64 = 1440;

fn default_sla_minutes() -> u64 {
    DEFAULT_SLA_MINUTES
}

/// How many distinct approvers a stage needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// Every member of the stage's groups.
    All,
    /// This many distinct members (at least 1).
    Count(u32),
}

impl Default for Required {
    fn default() -> Self {
        Required::Count(1)
    }
}

impl Serialize for Required {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Required::All => serializer.serialize_str("all"),
            Required::Count(n) => serializer.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Required {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Word(String),
            Count(u32),
        }
        match Repr::deserialize(deserializer)? {
            Repr::Word(word) if word == "all" => Ok(Required::All),
            Repr::Count(n) if n >= 1 => Ok(Required::Count(n)),
            _ => Err(serde::de::Error::custom(
                r#"expected "all" or a number of approvers >= 1"#,
            )),
        }
    }
}

/// What happens when a stage reaches its `expire_minutes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnExpiry {
    /// The stage, and so the request, is rejected.
    #[default]
    Reject,
    /// The stage stays open (it can still be approved).
    StayOpen,
}
