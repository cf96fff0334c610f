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
    let mut docs = String::from(
        "/// Every capability with its WIT doc comment (what it is for).\n\
         pub const CAPABILITY_DOCS: &[(&str, &str)] = &[\n",
    );
    for (at, name) in declared {
        let id = resolve.packages[package].interfaces[name];
        let interface = &resolve.interfaces[id];
        let functions: Vec<String> = interface
            .functions
            .keys()
            .map(|f| format!("{f:?}"))
            .collect();
        table.push_str(&format!("    ({name:?}, &[{}]),\n", functions.join(", ")));
        // The interface's own `///` doc comment, read from the text above it (wit-parser's docs
        // also hold the file's `//` header above the first interface), joined into one line.
        let doc = text[..at]
            .lines()
            .rev()
            .take_while(|l| l.trim_start().starts_with("///"))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .map(|l| l.trim_start().trim_start_matches('/').trim())
            .collect::<Vec<_>>()
            .join(" ");
        docs.push_str(&format!("    ({name:?}, {doc:?}),\n"));
    }
    table.push_str("];\n");
    docs.push_str("];\n");
    table.push_str(&docs);
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("capabilities.rs");
    std::fs::write(out, table).expect("write the table");
}
