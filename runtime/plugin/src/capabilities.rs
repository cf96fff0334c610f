//! Every capability and its functions, as `wit/capabilities.wit` declares them: the table is
//! generated from the WIT at build time (`build.rs`), so a function added to the contract is
//! known to the host, the binding checks and the API without being written again.

include!(concat!(env!("OUT_DIR"), "/capabilities.rs"));

/// The functions of `capability`, or `None` when it is not one.
pub fn functions_of(capability: &str) -> Option<&'static [&'static str]> {
    CAPABILITIES
        .iter()
        .find(|(name, _)| *name == capability)
        .map(|(_, functions)| *functions)
}

/// What `capability` is for, in the words of its WIT doc comment ("Dashboards and alerts
/// (Datadog…)."), or `None` when it is not one.
pub fn purpose_of(capability: &str) -> Option<&'static str> {
    CAPABILITY_DOCS
        .iter()
        .find(|(name, _)| *name == capability)
        .map(|(_, doc)| *doc)
        .filter(|doc| !doc.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_the_wit_interfaces_and_their_functions() {
        assert_eq!(
            functions_of("secrets-store"),
            Some(&["put", "reference", "rotate", "delete"][..])
        );
        assert!(
            functions_of("infrastructure")
                .unwrap()
                .contains(&"rotate-credentials")
        );
        assert_eq!(functions_of("types"), None, "`types` is not a capability");
        assert!(purpose_of("observability").unwrap().contains("Dashboards"));
        assert_eq!(
            purpose_of("git-provider"),
            Some("Source hosting: repositories, pull (merge) requests, access.")
        );
        assert!(
            purpose_of("infrastructure")
                .unwrap()
                .ends_with("PostgreSQL provider).")
        );
    }
}
