//! Config loading and validation, principals, roles, runs rules and freeze windows.

use lever_identity::{
    Config, IdentityError, Role, Schedule, Source, Weekday, format_rfc3339, parse_rfc3339,
};

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn config_error(yaml: &str) -> String {
    match Config::from_yaml(yaml) {
        Err(e @ IdentityError::InvalidConfig(_)) => {
            assert_eq!(e.status(), 400);
            e.to_string()
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

#[test]
fn demo_config_parses_with_the_expected_people() {
    let config = Config::embedded_default();
    for id in [
        "admin", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ] {
        assert!(
            config.user(id).is_some(),
            "{id} missing from demo/lever.yaml"
        );
    }
    for group in [
        "platform",
        "payments",
        "search",
        "finance-managers",
        "security-oncall",
    ] {
        assert!(config.group(group).is_some(), "group {group} missing");
    }
    assert!(config.oidc.is_none());
    assert_eq!(config.links.ttl_minutes, 1440);
    assert!(config.links.key.is_none());
    assert!(config.freeze_active(lever_store::now_ms()).is_empty());
    assert_eq!(config.members_of("payments"), ["alice", "bob", "carol"]);
}

#[test]
fn demo_principals_have_groups_and_roles() {
    let config = Config::embedded_default();
    let admin = config.principal("admin").unwrap();
    assert!(admin.is_platform());
    assert_eq!(admin.source, Source::Config);

    let alice = config.principal("alice").unwrap();
    assert_eq!(alice.name, "Alice Example");
    assert_eq!(alice.team.as_deref(), Some("payments"));
    assert!(alice.in_group("payments"));
    assert_eq!(alice.roles, [Role::Developer]);
    assert!(!alice.is_platform());

    let carol = config.principal("carol").unwrap();
    assert!(carol.in_group("payments") && carol.in_group("payments-leads"));
    assert_eq!(carol.roles, [Role::Developer, Role::Approver]);

    let dave = config.principal("dave").unwrap();
    assert!(dave.in_group("search") && dave.in_group("search-leads"));
    assert!(dave.has_role(Role::Approver));

    for (id, group) in [
        ("erin", "finance"),
        ("frank", "security"),
        ("grace", "change-freeze-approvers"),
        ("heidi", "platform-oncall"),
    ] {
        let p = config.principal(id).unwrap();
        assert!(p.in_group(group), "{id} not in {group}");
        assert!(p.has_role(Role::Approver), "{id} is no approver");
    }
    assert!(config.principal("nobody").is_none());
}

#[test]
fn can_run_by_team_owner_tag_and_platform() {
    let config = Config::embedded_default();
    let alice = config.principal("alice").unwrap();
    assert!(alice.can_run("group:default/payments", &[]));
    assert!(alice.can_run("payments", &[]));
    assert!(alice.can_run("platform-team", &tags(&["database", "payments"])));
    assert!(alice.can_run("platform-team", &tags(&["recommended"])));
    assert!(!alice.can_run("group:default/search", &tags(&["search"])));
    assert!(!alice.can_run("platform-team", &tags(&["internal"])));

    let dave = config.principal("dave").unwrap();
    assert!(dave.can_run("group:default/search", &[]));
    assert!(!dave.can_run("group:default/payments", &[]));

    let admin = config.principal("admin").unwrap();
    assert!(admin.can_run("anyone", &tags(&["anything"])));

    // The team owner always matches, even without a group definition for the team.
    let erin = config.principal("erin").unwrap();
    assert!(erin.can_run("group:default/finance", &[]));
    assert!(!erin.can_run("group:default/payments", &[]));
}

#[test]
fn group_side_members_and_wildcards() {
    let config = Config::from_yaml(
        r#"
users:
  - id: zoe
    team: data
groups:
  - name: ops
    roles: [approver]
    members: [zoe, someone-from-oidc]
    runs: {tags: ["*"]}
"#,
    )
    .unwrap();
    let zoe = config.principal("zoe").unwrap();
    assert_eq!(zoe.name, "zoe");
    assert_eq!(zoe.groups, ["data", "ops"]);
    assert_eq!(zoe.roles, [Role::Developer, Role::Approver]);
    // "*" matches any template.
    assert!(zoe.can_run("whoever", &tags(&["x"])));
    assert!(zoe.can_run("whoever", &[]));
    assert_eq!(config.members_of("ops"), ["zoe", "someone-from-oidc"]);
}

#[test]
fn empty_config_is_default() {
    let config = Config::from_yaml("# nothing yet\n").unwrap();
    assert!(config.users.is_empty());
    assert_eq!(config.links.ttl_minutes, 1440);
}

#[test]
fn bad_configs_name_the_field() {
    let e = config_error("groups:\n  - name: x\n    roles: [admin]\n");
    assert!(
        e.contains("groups[0].roles") && e.contains("unknown role `admin`"),
        "{e}"
    );

    let e = config_error("users:\n  - id: a\n    groups: [ghosts]\n");
    assert!(
        e.contains("users[0].groups") && e.contains("unknown group `ghosts`"),
        "{e}"
    );

    let e = config_error("users:\n  - id: a\n  - id: a\n");
    assert!(
        e.contains("users[1].id") && e.contains("defined twice"),
        "{e}"
    );

    let e = config_error("users:\n  - id: a\n    gruops: [x]\n");
    assert!(e.contains("users[0]") && e.contains("gruops"), "{e}");

    let e = config_error("links:\n  key: nothex\n");
    assert!(e.contains("links.key"), "{e}");

    let e = config_error("oidc:\n  issuer: idp.example.com\n  audience: lever\n");
    assert!(e.contains("oidc.issuer"), "{e}");

    let e = config_error(
        "freeze_windows:\n  - name: w\n    start: 2026-13-01T00:00:00Z\n    end: 2027-01-04T00:00:00Z\n",
    );
    assert!(
        e.contains("freeze_windows") && e.contains("window `w`: start"),
        "{e}"
    );

    let e = config_error(
        "freeze_windows:\n  - name: w\n    start: 2027-01-04T00:00:00Z\n    end: 2026-12-20T00:00:00Z\n",
    );
    assert!(e.contains("not after start"), "{e}");

    let e = config_error(
        "freeze_windows:\n  - name: w\n    weekly: {days: [funday], from: '15:00', to: '23:59'}\n",
    );
    assert!(e.contains("freeze_windows") && e.contains("funday"), "{e}");

    let e = config_error(
        "freeze_windows:\n  - name: w\n    weekly: {days: [fri], from: '25:00', to: '23:59'}\n",
    );
    assert!(e.contains("weekly.from"), "{e}");

    let e = config_error("freeze_windows:\n  - name: w\n    reason: r\n");
    assert!(e.contains("either `start` and `end`"), "{e}");
}

const WINDOWS: &str = r#"
freeze_windows:
  - name: year-end
    reason: year-end freeze
    start: 2026-12-20T00:00:00Z
    end: 2027-01-04T00:00:00Z
  - name: friday-deploys
    reason: no production changes on Friday afternoons
    weekly: {days: [fri], from: "15:00", to: "23:59"}
  - name: overnight
    reason: batch window
    weekly: {days: [wednesday], from: "22:00", to: "02:00"}
"#;

fn ms(text: &str) -> i64 {
    parse_rfc3339(text).unwrap()
}

fn active(config: &Config, at: &str) -> Vec<String> {
    config
        .freeze_active(ms(at))
        .into_iter()
        .map(|w| w.name.clone())
        .collect()
}

#[test]
fn one_off_and_weekly_windows() {
    let config = Config::from_yaml(WINDOWS).unwrap();
    assert_eq!(
        config.freeze_windows[0].schedule,
        Schedule::Once {
            start_ms: ms("2026-12-20T00:00:00Z"),
            end_ms: ms("2027-01-04T00:00:00Z")
        }
    );
    // One-off: start inclusive, end exclusive.
    assert!(active(&config, "2026-12-19T23:59:59Z").is_empty());
    assert_eq!(active(&config, "2026-12-20T00:00:00Z"), ["year-end"]);
    assert_eq!(active(&config, "2027-01-03T23:59:59Z"), ["year-end"]);
    assert!(active(&config, "2027-01-04T00:00:00Z").is_empty());

    // 2026-07-03 is a Friday.
    assert_eq!(Weekday::of_ms(ms("2026-07-03T12:00:00Z")), Weekday::Fri);
    assert!(active(&config, "2026-07-03T14:59:59Z").is_empty());
    assert_eq!(active(&config, "2026-07-03T15:00:00Z"), ["friday-deploys"]);
    assert_eq!(active(&config, "2026-07-03T23:59:30Z"), ["friday-deploys"]);
    assert!(active(&config, "2026-07-04T00:00:00Z").is_empty());
    assert!(active(&config, "2026-07-02T16:00:00Z").is_empty());
    // An offset is honoured: 17:00+02:00 is 15:00 UTC.
    assert_eq!(
        active(&config, "2026-07-03T17:00:00+02:00"),
        ["friday-deploys"]
    );

    // Overnight: Wednesday 22:00 to Thursday 02:00 (2026-07-08 is a Wednesday).
    assert!(active(&config, "2026-07-08T21:59:00Z").is_empty());
    assert_eq!(active(&config, "2026-07-08T22:00:00Z"), ["overnight"]);
    assert_eq!(active(&config, "2026-07-09T01:30:00Z"), ["overnight"]);
    assert!(active(&config, "2026-07-09T02:01:00Z").is_empty());
    assert!(active(&config, "2026-07-10T01:00:00Z").is_empty());
    assert!(active(&config, "2026-07-08T01:00:00Z").is_empty());
}

#[test]
fn rfc3339_round_trip_and_epoch_math() {
    assert_eq!(ms("1970-01-01T00:00:00Z"), 0);
    assert_eq!(ms("2000-02-29T12:34:56.789Z"), 951_827_696_789);
    assert_eq!(format_rfc3339(951_827_696_789), "2000-02-29T12:34:56Z");
    assert_eq!(Weekday::of_ms(0), Weekday::Thu);
    assert_eq!(Weekday::of_ms(-1), Weekday::Wed);
    for text in [
        "1969-12-31T23:59:59Z",
        "2026-12-20T00:00:00Z",
        "2100-03-01T00:00:00Z",
    ] {
        assert_eq!(format_rfc3339(ms(text)), text);
    }
    assert!(parse_rfc3339("2026-02-29T00:00:00Z").is_err());
    assert!(parse_rfc3339("2026-12-20").is_err());
    assert!(parse_rfc3339("2026-12-20T00:00:00").is_err());
}

#[test]
fn freeze_windows_serialise_back() {
    let config = Config::from_yaml(WINDOWS).unwrap();
    let json = serde_json::to_value(&config.freeze_windows).unwrap();
    assert_eq!(json[0]["start"], "2026-12-20T00:00:00Z");
    assert_eq!(json[1]["weekly"]["days"][0], "fri");
    assert_eq!(json[1]["weekly"]["to"], "23:59");
    assert_eq!(json[2]["weekly"]["days"][0], "wed");
}
