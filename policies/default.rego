# Lever's default approval policy.
#
# The host evaluates `data.lever.approval.decision` once per run request with this input:
#
#   {
#     "template":       {"name": "provision-postgresql-database", "version": 3, "owner": "group:default/payments",
#                        "type": "resource", "tags": ["database"]},
#     "parameters":     {...},                      # the form values
#     "environment":    "dev" | "staging" | "production" | ...,
#     "cost":           {"monthly_usd": 120.5},     # the estimate; absent = no estimate ($0)
#     "steps":          [{"id": "create-db", "action": "infra-pull-request",
#                         "risk": "standard" | "high", "approval_required": false}],
#     "teams_affected": ["payments", "search"],
#     "resources":      {"existing": [{"step": "database", "kind": "postgresql-database",   # what exists
#                                      "name": "postgresql_database.orders_dev",          # already, and
#                                      "owner": "payments", "managed": true}],            # whose it is
#                        "affected_owners": ["payments"], "conflicts": 0},               # (docs/resources.md)
#     "requester":      {"id": "alice", "team": "payments", "groups": ["payments"]},
#     "time":           {"now": "2026-11-28T10:00:00Z",
#                        "freeze": {"active": true, "windows": [{"name": "year-end", "reason": "year-end freeze"}]}},
#     "directory":      {"deciders": {"payments-leads": 1, "search-leads": 0},   # members other than the
#                        "platform_groups": ["platform"]}                        # requester, per group
#   }
#
# The host works out whether a change freeze is active (one-off or recurring windows) and passes
# `time.freeze`; the policy does no date arithmetic.
#
# The decision is {"auto": bool, "stages": [...], "reasons": [...]}. Each stage object:
#
#   name            unique in the decision, e.g. "team-lead", "security-review:drop-db"
#   groups          members of any of these groups may approve (non-empty)
#   required        "all" or a number of distinct approvers (default 1)
#   order           stages with the same order run in parallel; a stage opens once every lower order is approved (default 0)
#   step            gate only this step (the run pauses before it) instead of the whole run (default: whole run)
#   sla_minutes     deadline after the stage opens (default 1440)
#   escalate_to     a group that may also approve once the SLA is breached (default none)
#   expire_minutes  final expiry after opening (default: never)
#   on_expiry       "reject" or "stay-open" (default "reject")
#   reasons         why the stage is needed
#
# Five dimensions each contribute stages; the decision is their union:
#   environment  dev and staging are automatic; anything else needs the requester's team lead
#   cost         under $100/month automatic; $100-$500 the team lead; over $500 the team lead, then finance
#   scope        every other affected team's lead
#   risk         a security review gating each high-risk step (in every environment); a team-lead
#                approval gating each step marked approval_required
#   time         during a change freeze, a freeze exception for every production request and for
#                any request that already needs approval
package lever.approval

import rego.v1

# ---------------------------------------------------------------------------------------------
# Facts about the request, with safe defaults for missing fields.

environment := object.get(input, "environment", "unknown")

automatic_environments := {"dev", "staging"}

production if environment == "production"

team := object.get(input, ["requester", "team"], "unknown")

team_leads := sprintf("%s-leads", [team])

monthly_usd := object.get(input, ["cost", "monthly_usd"], 0)

# Dollars with cents: usd(620) == "$620.00". (Built by hand: `%.2f` leaves whole numbers bare in regorus.)
usd(amount) := text if {
	cents := round(amount * 100)
	text := sprintf("$%d.%s", [(cents - (cents % 100)) / 100, two_digits(cents % 100)])
}

two_digits(n) := sprintf("%d", [n]) if n >= 10

two_digits(n) := sprintf("0%d", [n]) if n < 10

steps := object.get(input, "steps", [])

high_risk_steps := [step | some step in steps; step.risk == "high"]

gated_steps := [step |
	some step in steps
	object.get(step, "approval_required", false) == true
	object.get(step, "risk", "standard") != "high"
]

freeze := object.get(input, ["time", "freeze"], {})

freeze_active if freeze.active == true

# One stage per step: the bare name when a single step needs it, "<name>:<step id>" when several do.
step_stage_name(base, step, all_steps) := base if count(all_steps) == 1

step_stage_name(base, step, all_steps) := sprintf("%s:%s", [base, step.id]) if count(all_steps) > 1

step_label(step) := sprintf("step `%s` (%s)", [step.id, object.get(step, "action", "unknown action")])

# ---------------------------------------------------------------------------------------------
# Environment and cost: both ask for the requester's team lead, in a single "team-lead" stage.

lead_reasons contains sprintf("production environment: the %s team lead approves", [team]) if production

lead_reasons contains msg if {
	not production
	not environment in automatic_environments
	msg := sprintf("environment `%s` is not dev or staging: the %s team lead approves", [environment, team])
}

lead_reasons contains msg if {
	monthly_usd >= 100
	monthly_usd <= 500
	msg := sprintf("estimated cost %s/month is $100-$500: the %s team lead approves", [usd(monthly_usd), team])
}

lead_reasons contains msg if {
	monthly_usd > 500
	msg := sprintf("estimated cost %s/month is over $500: the %s team lead approves", [usd(monthly_usd), team])
}

base_stages contains {
	"name": "team-lead",
	"groups": [team_leads],
	"required": 1,
	"order": 0,
	"sla_minutes": 240,
	"escalate_to": "platform-oncall",
	"expire_minutes": 4320,
	"on_expiry": "reject",
	"reasons": sort(lead_reasons),
} if count(lead_reasons) > 0

# Over $500 finance approves too, after the team lead.
base_stages contains {
	"name": "finance",
	"groups": ["finance"],
	"required": 1,
	"order": 1,
	"sla_minutes": 1440,
	"escalate_to": "finance-managers",
	"reasons": [sprintf("estimated cost %s/month is over $500: finance approves", [usd(monthly_usd)])],
} if monthly_usd > 500

# ---------------------------------------------------------------------------------------------
# Scope: the lead of every other team the request affects.

base_stages contains {
	"name": sprintf("%s-lead", [other]),
	"groups": [sprintf("%s-leads", [other])],
	"required": 1,
	"order": 0,
	"reasons": [sprintf("the request affects the %s team: the %s team lead approves", [other, other])],
} if {
	some other in object.get(input, "teams_affected", [])
	other != team
}

# ---------------------------------------------------------------------------------------------
# Risk: security reviews each high-risk step; the team lead approves each step marked approval_required.

base_stages contains {
	"name": step_stage_name("security-review", step, high_risk_steps),
	"groups": ["security"],
	"required": 1,
	"order": 0,
	"step": step.id,
	"sla_minutes": 480,
	"escalate_to": "security-oncall",
	"reasons": [sprintf("%s is high risk: security reviews it", [step_label(step)])],
} if {
	some step in high_risk_steps
}

base_stages contains {
	"name": step_stage_name("step-approval", step, gated_steps),
	"groups": [team_leads],
	"required": 1,
	"order": 0,
	"step": step.id,
	"reasons": [sprintf("%s requires approval: the %s team lead approves it", [step_label(step), team])],
} if {
	some step in gated_steps
}

# ---------------------------------------------------------------------------------------------
# Time: during a change freeze, production requests and requests that need approval anyway need an
# exception. Low-cost, low-risk dev and staging requests stay automatic.

freeze_reasons contains sprintf("change freeze `%s` is active: a freeze exception is needed", [window.name]) if {
	some window in object.get(freeze, "windows", [])
}

freeze_reasons contains "a change freeze is active: a freeze exception is needed" if {
	count(object.get(freeze, "windows", [])) == 0
}

freeze_applies if {
	freeze_active
	production
}

freeze_applies if {
	freeze_active
	count(base_stages) > 0
}

freeze_stages contains {
	"name": "change-freeze-exception",
	"groups": ["change-freeze-approvers"],
	"required": 1,
	"order": 0,
	"sla_minutes": 120,
	"escalate_to": "platform-oncall",
	"reasons": sort(freeze_reasons),
} if freeze_applies

# ---------------------------------------------------------------------------------------------
# The decision: stages sorted by order, then name.

all_stages := base_stages | freeze_stages

# A stage nobody but the requester could decide (no other member in any of its groups) would
# wait until it expires: the platform team may decide it too, and the stage says why. Only when
# the host says who could decide (`directory.deciders`); a group it does not list has nobody.
nobody_else(s) if {
	input.directory.deciders
	every g in s.groups {
		object.get(input.directory.deciders, g, 0) == 0
	}
}

platform_groups := object.get(input, ["directory", "platform_groups"], [])

reachable(s) := s if not nobody_else(s)

reachable(s) := object.union(s, {
	"groups": array.concat(s.groups, platform_groups),
	"reasons": array.concat(s.reasons, [sprintf("nobody but the requester is in %s: the platform team may decide instead", [concat(" or ", s.groups)])]),
}) if {
	nobody_else(s)
	count(platform_groups) > 0
}

reachable(s) := s if {
	nobody_else(s)
	count(platform_groups) == 0
}

stages := [reachable(entry[2]) | some entry in sort([[s.order, s.name, s] | some s in all_stages])]

auto_reason := sprintf("%s environment, %s/month, no high-risk step, %s: automatic", [environment, usd(monthly_usd), freeze_note])

freeze_note := "no freeze" if not freeze_active

freeze_note := sprintf("change freeze active but not needed for a low-risk %s request", [environment]) if freeze_active

reasons := [auto_reason] if count(stages) == 0

reasons := [r | some s in stages; some r in s.reasons] if count(stages) > 0

decision := {
	"auto": count(stages) == 0,
	"stages": stages,
	"reasons": reasons,
}
