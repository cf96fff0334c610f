//! Reads the decision rule's value into a [`Decision`], naming the field when the shape is wrong.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::decision::{DEFAULT_SLA_MINUTES, Decision, OnExpiry, Required, Stage};
use crate::error::PolicyError;

const DECISION_KEYS: &[&str] = &["auto", "stages", "reasons"];
const STAGE_KEYS: &[&str] = &[
    "name",
    "groups",
    "required",
    "order",
    "step",
    "sla_minutes",
    "escalate_to",
    "expire_minutes",
    "on_expiry",
    "reasons",
];

/// Parses the decision object `{"auto"?, "stages", "reasons"?}`.
pub(crate) fn parse_decision(value: &Value) -> Result<Decision, PolicyError> {
    let object = value
        .as_object()
        .ok_or_else(|| wrong("decision", "an object", value))?;
    reject_unknown(object, DECISION_KEYS, "decision")?;
    let stages = match object.get("stages") {
        None => {
            return Err(PolicyError::Output(
                "stages: missing (an array of stages)".into(),
            ));
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_stage(item, &format!("stages[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => return Err(wrong("stages", "an array of stages", other)),
    };
    let mut names = HashSet::new();
    for (i, stage) in stages.iter().enumerate() {
        if !names.insert(stage.name.as_str()) {
            return Err(PolicyError::Output(format!(
                "stages[{i}].name: `{}` is used by two stages; names must be unique",
                stage.name
            )));
        }
    }
    let reasons = strings(object.get("reasons"), "reasons")?.unwrap_or_default();
    let auto = match object.get("auto") {
        None => stages.is_empty(),
        Some(Value::Bool(auto)) => *auto,
        Some(other) => return Err(wrong("auto", "a boolean", other)),
    };
    if auto && !stages.is_empty() {
        return Err(PolicyError::Output(format!(
            "auto: true, but there are {} stages (auto means no stages)",
            stages.len()
        )));
    }
    if !auto && stages.is_empty() {
        return Err(PolicyError::Output(
            "auto: false, but there are no stages: nobody could approve".into(),
        ));
    }
    Ok(Decision {
        auto,
        stages,
        reasons,
    })
}

fn parse_stage(value: &Value, at: &str) -> Result<Stage, PolicyError> {
    let object = value
        .as_object()
        .ok_or_else(|| wrong(at, "a stage object", value))?;
    reject_unknown(object, STAGE_KEYS, at)?;
    let field = |key: &str| format!("{at}.{key}");
    let name = match object.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        Some(other) => return Err(wrong(&field("name"), "a non-empty string", other)),
        None => return Err(missing(&field("name"), "a non-empty string")),
    };
    let groups = strings(object.get("groups"), &field("groups"))?
        .ok_or_else(|| missing(&field("groups"), "a non-empty array of group names"))?;
    if groups.is_empty() || groups.iter().any(|g| g.trim().is_empty()) {
        return Err(PolicyError::Output(format!(
            "{}: expected a non-empty array of non-empty group names",
            field("groups")
        )));
    }
    let required = match object.get("required") {
        None | Some(Value::Null) => Required::default(),
        Some(Value::String(word)) if word == "all" => Required::All,
        Some(other) => match whole_number(other).and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n >= 1 => Required::Count(n),
            _ => {
                return Err(wrong(
                    &field("required"),
                    r#""all" or a number of approvers >= 1"#,
                    other,
                ));
            }
        },
    };
    let order = match optional_number(object.get("order"), &field("order"), "a whole number >= 0")?
    {
        None => 0,
        Some(n) => u32::try_from(n)
            .map_err(|_| PolicyError::Output(format!("{}: {n} is too large", field("order"))))?,
    };
    let step = optional_string(object.get("step"), &field("step"))?;
    let sla_minutes = optional_number(
        object.get("sla_minutes"),
        &field("sla_minutes"),
        "a number of minutes >= 1",
    )?
    .unwrap_or(DEFAULT_SLA_MINUTES);
    if sla_minutes == 0 {
        return Err(PolicyError::Output(format!(
            "{}: expected a number of minutes >= 1, got 0",
            field("sla_minutes")
        )));
    }
    let escalate_to = optional_string(object.get("escalate_to"), &field("escalate_to"))?;
    let expire_minutes = optional_number(
        object.get("expire_minutes"),
        &field("expire_minutes"),
        "a number of minutes >= 1 or null",
    )?;
    if expire_minutes == Some(0) {
        return Err(PolicyError::Output(format!(
            "{}: expected a number of minutes >= 1 or null, got 0",
            field("expire_minutes")
        )));
    }
    let on_expiry = match object.get("on_expiry") {
        None | Some(Value::Null) => OnExpiry::default(),
        Some(Value::String(s)) if s == "reject" => OnExpiry::Reject,
        Some(Value::String(s)) if s == "stay-open" => OnExpiry::StayOpen,
        Some(other) => {
            return Err(wrong(
                &field("on_expiry"),
                r#""reject" or "stay-open""#,
                other,
            ));
        }
    };
    let reasons = strings(object.get("reasons"), &field("reasons"))?.unwrap_or_default();
    Ok(Stage {
        name,
        groups,
        required,
        order,
        step,
        sla_minutes,
        escalate_to,
        expire_minutes,
        on_expiry,
        reasons,
    })
}

fn reject_unknown(
    object: &Map<String, Value>,
    known: &[&str],
    at: &str,
) -> Result<(), PolicyError> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(PolicyError::Output(format!(
            "{at}.{key}: unknown field (expected one of: {})",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

/// An optional array of strings (`null` counts as absent).
fn strings(value: Option<&Value>, at: &str) -> Result<Option<Vec<String>>, PolicyError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong(&format!("{at}[{i}]"), "a string", other)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(wrong(at, "an array of strings", other)),
    }
}

fn optional_string(value: Option<&Value>, at: &str) -> Result<Option<String>, PolicyError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(other) => Err(wrong(at, "a non-empty string or null", other)),
    }
}

fn optional_number(
    value: Option<&Value>,
    at: &str,
    expected: &str,
) -> Result<Option<u64>, PolicyError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(other) => whole_number(other)
            .map(Some)
            .ok_or_else(|| wrong(at, expected, other)),
    }
}

/// A non-negative whole number; Rego arithmetic may hand integers over as floats (`240.0`).
fn whole_number(value: &Value) -> Option<u64> {
    let number = value.as_number()?;
    if let Some(n) = number.as_u64() {
        return Some(n);
    }
    let f = number.as_f64()?;
    // Exact conversion: whole, non-negative and within u64 (2^64 itself is excluded).
    (f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0).then_some(f as u64)
}

fn wrong(at: &str, expected: &str, got: &Value) -> PolicyError {
    let mut shown = got.to_string();
    if shown.len() > 80 {
        let cut = (0..=77)
            .rev()
            .find(|&i| shown.is_char_boundary(i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push_str("...");
    }
    PolicyError::Output(format!("{at}: expected {expected}, got {shown}"))
}

fn missing(at: &str, expected: &str) -> PolicyError {
    PolicyError::Output(format!("{at}: missing ({expected})"))
}
