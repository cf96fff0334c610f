//! Declares an integer `count` output but returns a string: must end with output-schema.
use lever_sdk::bindings::exports::lever::plugin::action_handler::Guest;
use lever_sdk::bindings::lever::plugin::types::{
    Context, Error, ExecutionPlan, Grants, Manifest, Risk,
};

struct OffSchema;

impl Guest for OffSchema {
    fn describe() -> Manifest {
        Manifest {
            name: "sandbox-output-off-schema".into(),
            version: "0.1.0".into(),
            description: "Breaks its own output schema".into(),
            input_schema: "{}".into(),
            output_schema: r#"{"type":"object","required":["count"],"properties":{"count":{"type":"integer"}}}"#.into(),
            grants: Grants {
                hosts: vec![],
                secrets: vec![],
                workspace: false,
            },
            risk: Risk::Standard,
            undoable: false,
        }
    }
    fn plan(_: Context, _: String) -> Result<Option<ExecutionPlan>, Error> {
        Ok(None)
    }
    fn run(_: Context, _: String) -> Result<String, Error> {
        Ok(r#"{"count":"three"}"#.into())
    }
    fn rollback(_: Context, _: String, _: String) -> Result<(), Error> {
        Ok(())
    }
}

lever_sdk::bindings::export!(OffSchema with_types_in lever_sdk::bindings);
