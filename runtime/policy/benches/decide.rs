//! `cargo bench -p lever-policy`: what routing a request through the default approval policy
//! costs (regorus, in process): compile once, then evaluate an automatic dev request and the
//! combined freeze example (three stages) many times; medians reported.

use std::time::Instant;

use lever_policy::PolicySet;
use serde_json::{Value, json};

fn input(environment: &str, risk: &str, freeze: bool) -> Value {
    json!({
        "template": {"name": "db", "owner": "group:default/payments", "type": "resource", "tags": ["database"]},
        "parameters": {"name": "orders"},
        "environment": environment,
        "cost": {"monthly_usd": 150.0},
        "steps": [
            {"id": "backup", "action": "backup-database", "risk": "standard", "approval_required": false},
            {"id": "drop", "action": "delete-database", "risk": risk, "approval_required": false},
        ],
        "teams_affected": ["payments"],
        "requester": {"id": "alice", "team": "payments", "groups": ["payments"]},
        "time": {"now": "2026-12-24T10:00:00Z", "freeze": {"active": freeze, "windows": []}},
    })
}

fn median_us(set: &PolicySet, input: &Value, n: usize) -> f64 {
    let mut samples: Vec<f64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            let decision = set.decide(input).expect("the default policy decides");
            std::hint::black_box(decision);
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[n / 2]
}

fn main() {
    let start = Instant::now();
    let set = PolicySet::default_policy();
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;
    let automatic = median_us(&set, &input("dev", "standard", false), 2000);
    let combined = median_us(&set, &input("production", "high", true), 2000);
    println!("default policy: compile {compile_ms:.1} ms");
    println!("decide, automatic dev request: median {automatic:.0} µs");
    println!("decide, production delete during a freeze (3 stages): median {combined:.0} µs");
}
