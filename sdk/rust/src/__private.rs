//! Glue called by the code `#[action]` expands to. Not a public API.

use crate::bindings::lever::plugin::types::{self as wit, Error as WitError};
use crate::{ActionError, Context, Plan};
use serde::{Serialize, de::DeserializeOwned};

fn parse<I: DeserializeOwned>(input: &str) -> Result<I, WitError> {
    serde_json::from_str(input).map_err(|e| {
        WitError::InvalidInput(format!(
            "the input does not match this action's schema: {e}"
        ))
    })
}

/// Builds the manifest from the attribute's arguments and the function's types.
pub fn manifest<I: schemars::JsonSchema, O: schemars::JsonSchema>(
    name: &str,
    version: &str,
    description: &str,
    hosts: &[&str],
    secrets: &[&str],
    workspace: bool,
    high_risk: bool,
    undoable: bool,
) -> wit::Manifest {
    wit::Manifest {
        name: name.into(),
        version: version.into(),
        description: description.into(),
        input_schema: schemars::schema_for!(I).as_value().to_string(),
        output_schema: schemars::schema_for!(O).as_value().to_string(),
        grants: wit::Grants {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
            workspace,
        },
        risk: if high_risk {
            wit::Risk::High
        } else {
            wit::Risk::Standard
        },
        undoable,
    }
}

/// Parses the input, calls the action and serialises its output.
pub fn run<I: DeserializeOwned, O: Serialize>(
    ctx: wit::Context,
    input: &str,
    f: fn(&Context, I) -> Result<O, ActionError>,
) -> Result<String, WitError> {
    let output = f(&ctx.into(), parse(input)?)?;
    serde_json::to_string(&output)
        .map_err(|e| WitError::Fatal(format!("the action's output could not be serialised: {e}")))
}

/// Parses the input and calls the action's plan function.
pub fn plan<I: DeserializeOwned>(
    ctx: wit::Context,
    input: &str,
    f: fn(&Context, I) -> Result<Plan, ActionError>,
) -> Result<Option<wit::ExecutionPlan>, WitError> {
    Ok(Some(f(&ctx.into(), parse(input)?)?.into()))
}

/// Parses input and output and calls the action's rollback function.
pub fn rollback<I: DeserializeOwned, O: DeserializeOwned>(
    ctx: wit::Context,
    input: &str,
    output: &str,
    f: fn(&Context, I, O) -> Result<(), ActionError>,
) -> Result<(), WitError> {
    let output = serde_json::from_str(output).map_err(|e| {
        WitError::InvalidInput(format!(
            "the output to roll back does not match this action's schema: {e}"
        ))
    })?;
    Ok(f(&ctx.into(), parse(input)?, output)?)
}
