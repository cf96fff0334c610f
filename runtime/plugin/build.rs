//! Generates the capability table from `wit/capabilities.wit` with `wit-parser`, the parser
//! wasmtime's bindings use: each interface of the `lever:plugin` package that is a capability
//! (every one but `types` and the handlers) with its functions in declaration order.

use std::path::Path;

fn main() {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    println!(
        "cargo:rerun-if-changed={}",
        wit.join("capabilities.wit").display()
    );
    println!("cargo:rerun-if-changed={}", wit.join("types.wit").display());
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(&wit).expect("wit/ parses");
    // The interfaces `capabilities.wit` declares, in file order.
    let text = std::fs::read_to_string(wit.join("capabilities.wit")).expect("capabilities.wit");
    let mut declared: Vec<(usize, &str)> = resolve.packages[package]
        .interfaces
        .keys()
        .filter_map(|name| {
            text.find(&format!("interface {name} "))
                .map(|at| (at, name.as_str()))
        })
        .collect();
    declared.sort();
    let mut table = String::from(
        "/// Every capability (`wit/capabilities.wit`'s interfaces) with its functions.\n\
         pub const CAPABILITIES: &[(&str, &[&str])] = &[\n",
    );
    for (_, name) in declared {
        let id = resolve.packages[package].interfaces[name];
        let functions: Vec<String> = resolve.interfaces[id]
            .functions
            .keys()
            .map(|f| format!("{f:?}"))
            .collect();
        table.push_str(&format!("    ({name:?}, &[{}]),\n", functions.join(", ")));
    }
    table.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("capabilities.rs");
    std::fs::write(out, table).expect("write the table");
}
