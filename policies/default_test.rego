# Tests for the default approval policy (run with `lever policy test`).
package lever.approval_test

import rego.v1

import data.lever.approval

# A low-cost, low-risk dev request by the payments team, touching only its own team, no freeze.
base := {
	"template": {"name": "provision-postgresql-database", "owner": "group:default/payments", "type": "resource", "tags": ["database"]},
	"parameters": {"name": "orders"},
	"environment": "dev",
	"cost": {"monthly_usd": 12},
	"steps": [{"id": "create-db", "action": "infra-pull-request", "risk": "standard", "approval_required": false}],
	"teams_affected": ["payments"],
	"requester": {"id": "alice", "team": "payments", "groups": ["payments"]},
	"time": {"now": "2026-03-10T10:00:00Z", "freeze": {"active": false, "windows": []}},
}

year_end := {"active": true, "windows": [{"name": "year-end", "reason": "year-end freeze"}]}

drop_db := {"id": "drop-db", "action": "delete-database", "risk": "high", "approval_required": false}

# object.union merges nested objects: `changes` overrides base's fields (arrays are replaced whole).
decide(changes) := d if {
	d := approval.decision with input as object.union(base, changes)
}

stage_names(d) := [s.name | some s in d.stages]

stage_named(d, name) := [s | some s in d.stages; s.name == name][0]

# --- environment -------------------------------------------------------------------------------

test_dev_is_automatic if {
	d := decide({})
	d.auto == true
	d.stages == []
	d.reasons == ["dev environment, $12.00/month, no high-risk step, no freeze: automatic"]
}

test_staging_is_automatic if {
	d := decide({"environment": "staging"})
	d.auto == true
	d.stages == []
}

test_production_needs_the_team_lead if {
	d := decide({"environment": "production"})
	d.auto == false
	stage_names(d) == ["team-lead"]
	s := stage_named(d, "team-lead")
	s.groups == ["payments-leads"]
	s.required == 1
	s.order == 0
	s.sla_minutes == 240
	s.escalate_to == "platform-oncall"
	s.expire_minutes == 4320
	s.on_expiry == "reject"
	s.reasons == ["production environment: the payments team lead approves"]
}

test_unknown_environment_fails_closed if {
	d := decide({"environment": "qa"})
	stage_names(d) == ["team-lead"]
}

# --- cost --------------------------------------------------------------------------------------

test_cost_under_100_is_automatic if {
	d := decide({"cost": {"monthly_usd": 99.99}})
	d.auto == true
	d.reasons == ["dev environment, $99.99/month, no high-risk step, no freeze: automatic"]
}

test_missing_cost_counts_as_zero if {
	d := approval.decision with input as object.remove(base, ["cost"])
	d.auto == true
	d.reasons == ["dev environment, $0.00/month, no high-risk step, no freeze: automatic"]
}

test_cost_100_to_500_needs_the_team_lead if {
	d := decide({"cost": {"monthly_usd": 100}})
	stage_names(d) == ["team-lead"]
	stage_named(d, "team-lead").reasons == ["estimated cost $100.00/month is $100-$500: the payments team lead approves"]
	stage_names(decide({"cost": {"monthly_usd": 500}})) == ["team-lead"]
}

test_cost_over_500_needs_the_team_lead_then_finance if {
	d := decide({"cost": {"monthly_usd": 620}})
	stage_names(d) == ["team-lead", "finance"]
	lead := stage_named(d, "team-lead")
	finance := stage_named(d, "finance")
	finance.groups == ["finance"]
	finance.order > lead.order
	finance.sla_minutes == 1440
	finance.escalate_to == "finance-managers"
	finance.reasons == ["estimated cost $620.00/month is over $500: finance approves"]
}

test_production_and_cost_share_one_team_lead_stage if {
	d := decide({"environment": "production", "cost": {"monthly_usd": 250}})
	stage_names(d) == ["team-lead"]
	count(stage_named(d, "team-lead").reasons) == 2
}

# --- scope -------------------------------------------------------------------------------------

test_other_team_needs_its_lead if {
	d := decide({"teams_affected": ["payments", "search"]})
	stage_names(d) == ["search-lead"]
	s := stage_named(d, "search-lead")
	s.groups == ["search-leads"]
	s.order == 0
}

# --- risk --------------------------------------------------------------------------------------

test_high_risk_step_in_dev_needs_security_gating_the_step if {
	d := decide({"steps": [base.steps[0], drop_db]})
	d.auto == false
	stage_names(d) == ["security-review"]
	s := stage_named(d, "security-review")
	s.groups == ["security"]
	s.step == "drop-db"
	s.sla_minutes == 480
	s.escalate_to == "security-oncall"
	s.reasons == ["step `drop-db` (delete-database) is high risk: security reviews it"]
}

test_several_high_risk_steps_get_one_stage_each if {
	other := object.union(drop_db, {"id": "drop-replica"})
	d := decide({"steps": [drop_db, other]})
	stage_names(d) == ["security-review:drop-db", "security-review:drop-replica"]
}

test_approval_required_step_is_gated_by_the_team_lead if {
	d := decide({"steps": [{"id": "rotate-keys", "action": "rotate", "risk": "standard", "approval_required": true}]})
	stage_names(d) == ["step-approval"]
	s := stage_named(d, "step-approval")
	s.groups == ["payments-leads"]
	s.step == "rotate-keys"
}

# --- time --------------------------------------------------------------------------------------

test_freeze_in_production_needs_an_exception if {
	d := decide({"environment": "production", "time": {"now": "2026-12-28T10:00:00Z", "freeze": year_end}})
	stage_names(d) == ["change-freeze-exception", "team-lead"]
	s := stage_named(d, "change-freeze-exception")
	s.groups == ["change-freeze-approvers"]
	s.sla_minutes == 120
	s.escalate_to == "platform-oncall"
	s.reasons == ["change freeze `year-end` is active: a freeze exception is needed"]
}

test_freeze_in_dev_low_risk_stays_automatic if {
	d := decide({"time": {"now": "2026-12-28T10:00:00Z", "freeze": year_end}})
	d.auto == true
	d.stages == []
}

test_freeze_in_dev_with_a_costly_request_needs_an_exception if {
	d := decide({"cost": {"monthly_usd": 300}, "time": {"now": "2026-12-28T10:00:00Z", "freeze": year_end}})
	stage_names(d) == ["change-freeze-exception", "team-lead"]
}

# --- combined ----------------------------------------------------------------------------------

test_deleting_a_production_database_during_a_freeze if {
	d := decide({
		"environment": "production",
		"steps": [drop_db],
		"time": {"now": "2026-12-28T10:00:00Z", "freeze": year_end},
	})
	d.auto == false
	stage_names(d) == ["change-freeze-exception", "security-review", "team-lead"]
	stage_named(d, "security-review").step == "drop-db"
	not stage_named(d, "team-lead").step
	count(d.reasons) == 3
}

# --- who could decide --------------------------------------------------------------------------

test_a_stage_nobody_else_could_decide_goes_to_the_platform_team_too if {
	d := decide({
		"environment": "production",
		"directory": {"deciders": {"payments-leads": 0}, "platform_groups": ["platform"]},
	})
	s := stage_named(d, "team-lead")
	s.groups == ["payments-leads", "platform"]
	s.reasons[count(s.reasons) - 1] == "nobody but the requester is in payments-leads: the platform team may decide instead"
}

test_a_stage_someone_else_can_decide_stays_with_its_group if {
	d := decide({
		"environment": "production",
		"directory": {"deciders": {"payments-leads": 1}, "platform_groups": ["platform"]},
	})
	stage_named(d, "team-lead").groups == ["payments-leads"]
}
