//! Implements the exports by hand and returns text that is not JSON: must end with output-not-json.
use lever_sdk::bindings::exports::lever::plugin::action_handler::Guest;
use lever_sdk::bindings::lever::plugin::types::{
    Context, Error, ExecutionPlan, Grants, Manifest, Risk,
};

struct NotJson;

impl Guest for NotJson {
    fn describe() -> Manifest {
        Manifest {
            name: "sandbox-output-not-json".into(),
            version: "0.1.0".into(),
            description: "Returns text that is not JSON".into(),
            input_schema: "{}".into(),
            output_schema: "{}".into(),
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
        Ok("this is {not json".into())
    }
    fn rollback(_: Context, _: String, _: String) -> Result<(), Error> {
        Ok(())
    }
}

lever_sdk::bindings::export!(NotJson with_types_in lever_sdk::bindings);
