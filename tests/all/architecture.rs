//! The crate graph is what `docs/architecture.md` says it is, read from `cargo metadata`: each
//! crate's workspace dependencies are the ones its row lists, the crates of plain types compile
//! no wasmtime, and no transport depends on another.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Transports: each parses its own requests and calls the application layer (`lever-service`).
const TRANSPORTS: &[&str] = &["lever-api", "lever-web", "lever-backstage"];

/// Crates that hold plain types or talk to the database: they must build without the sandbox.
const WITHOUT_WASMTIME: &[&str] = &[
    "lever-plugin",
    "lever-store",
    "lever-identity",
    "lever-insights",
    "lever-secrets",
    "lever-policy",
    "lever-templates",
    "lever-metrics",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
}

/// The resolved graph: package id to name, and each package's normal (not dev or build)
/// dependencies by id.
struct Graph {
    names: HashMap<String, String>,
    normal: HashMap<String, Vec<String>>,
    members: Vec<String>,
}

impl Graph {
    fn read() -> Graph {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // This machine's platform only: the others' packages are never downloaded here.
        let rustc = Command::new("rustc")
            .arg("-vV")
            .output()
            .expect("rustc runs");
        let host = String::from_utf8_lossy(&rustc.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
            .expect("rustc -vV names the host");
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--offline", "--locked"])
            .args(["--filter-platform", &host])
            .current_dir(root())
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let metadata: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
        let names = metadata["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_string(),
                    p["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let members = metadata["workspace_members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string())
            .collect();
        let normal = metadata["resolve"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|node| {
                let deps = node["deps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|d| {
                        d["dep_kinds"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|k| k["kind"].is_null())
                    })
                    .map(|d| d["pkg"].as_str().unwrap().to_string())
                    .collect();
                (node["id"].as_str().unwrap().to_string(), deps)
            })
            .collect();
        Graph {
            names,
            normal,
            members,
        }
    }

    fn id(&self, name: &str) -> &str {
        self.members
            .iter()
            .find(|id| self.names[*id] == name)
            .unwrap_or_else(|| panic!("{name} is not a workspace member"))
    }

    /// The names of the workspace crates `name` depends on directly.
    fn direct(&self, name: &str) -> BTreeSet<String> {
        self.normal[self.id(name)]
            .iter()
            .filter(|id| self.members.contains(id))
            .map(|id| self.names[id].clone())
            .collect()
    }

    /// The names of every crate `name` builds with (normal dependencies, transitively).
    fn closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![self.id(name).to_string()];
        while let Some(id) = todo.pop() {
            for dep in &self.normal[&id] {
                if seen.insert(self.names[dep].clone()) {
                    todo.push(dep.clone());
                }
            }
        }
        seen
    }
}

#[test]
fn plain_types_and_the_database_compile_without_wasmtime() {
    let graph = Graph::read();
    for name in WITHOUT_WASMTIME {
        let pulled: Vec<String> = graph
            .closure(name)
            .into_iter()
            .filter(|d| {
                d.starts_with("wasmtime") || d.starts_with("cranelift") || d == "lever-sandbox"
            })
            .collect();
        assert!(pulled.is_empty(), "{name} builds with {pulled:?}");
    }
}

#[test]
fn no_transport_depends_on_another_and_each_calls_the_application_layer() {
    let graph = Graph::read();
    for transport in TRANSPORTS {
        let closure = graph.closure(transport);
        for other in TRANSPORTS.iter().filter(|o| *o != transport) {
            assert!(!closure.contains(*other), "{transport} depends on {other}");
        }
        assert!(
            graph.direct(transport).contains("lever-service"),
            "{transport} does not call the application layer"
        );
    }
}

#[test]
fn the_architecture_table_lists_each_crates_workspace_dependencies() {
    let graph = Graph::read();
    let text = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let mut rows = 0;
    for line in text.lines().filter(|l| l.starts_with("| `lever-")) {
        let cells: Vec<&str> = line.split(" | ").collect();
        let crate_name = cells[0]
            .trim_start_matches("| `")
            .split('`')
            .next()
            .unwrap();
        if !graph.members.iter().any(|id| graph.names[id] == crate_name) {
            continue; // the SDKs live in their own workspaces
        }
        rows += 1;
        let listed_cell = cells
            .last()
            .unwrap()
            .trim_end_matches(" |")
            .trim_end_matches('|');
        // The column names workspace crates without their `lever-` prefix, then other crates.
        let listed: BTreeSet<String> = listed_cell
            .split(',')
            .map(|d| d.split_whitespace().next().unwrap_or("").to_string())
            .map(|d| format!("lever-{d}"))
            .filter(|d| graph.members.iter().any(|id| graph.names[id] == *d))
            .collect();
        assert_eq!(
            listed,
            graph.direct(crate_name),
            "docs/architecture.md's row of {crate_name} lists other workspace dependencies than Cargo.toml"
        );
    }
    let members = graph.members.len();
    assert_eq!(
        rows, members,
        "every workspace crate has its row in docs/architecture.md"
    );
}
