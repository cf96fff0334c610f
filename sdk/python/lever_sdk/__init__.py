"""Lever's Python SDK: write an action as one decorated function.

    from lever_sdk import action, log, ActionError, ActionHandler  # noqa: F401

    @action(name="hello", version="0.1.0", description="Says hello",
            input_schema={"type": "object", "properties": {"name": {"type": "string"}}},
            output_schema={"type": "object"})
    def run(ctx, input):
        log.info(f"hello {input['name']}")
        return {"greeting": f"hello {input['name']}"}

componentize-py looks for the class `ActionHandler` in the app module, so the app imports it.
A provider adapter imports `AdapterHandler` and `adapter` from `lever_sdk.adapter` instead.
The decorator also takes `hosts=[...]`, `secrets=[...]` (grants the action asks for),
`risk="high"`, `undoable=True`, `plan=fn` and `rollback=fn`, as the Rust SDK's `#[action]` does.
"""

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import lever_plugin_types as _t

from . import http, log, secrets, state  # noqa: F401
from .errors import ActionError

__all__ = ["action", "ActionError", "ActionHandler", "Context", "Plan", "Resource",
           "http", "log", "secrets", "state"]


@dataclass
class Context:
    """Who and what the current invocation belongs to."""

    run_id: str
    step_id: str
    attempt: int
    idempotency_key: str
    requester: str
    environment: str


@dataclass
class Resource:
    """One resource a plan would create, change or delete."""

    kind: str
    name: str
    change: str = "create"
    monthly_cost_cents: Optional[int] = None


@dataclass
class Plan:
    """What `run` would do, for the preview."""

    summary: str
    resources: tuple = ()
    permissions: tuple = ()


_action: dict = {}


def action(*, name: str, version: str, description: str, input_schema: dict,
           output_schema: dict, hosts=(), secrets=(), workspace: bool = False,
           risk: str = "standard", undoable: Optional[bool] = None,
           plan: Optional[Callable] = None, rollback: Optional[Callable] = None):
    """Registers the decorated function as the action's `run`."""
    if risk not in ("standard", "high"):
        raise ValueError(f"risk must be 'standard' or 'high', not {risk!r}")

    def register(run: Callable) -> Callable:
        _action.update(
            name=name, version=version, description=description,
            input_schema=input_schema, output_schema=output_schema,
            hosts=list(hosts), secrets=list(secrets), workspace=workspace, risk=risk,
            undoable=(rollback is not None) if undoable is None else undoable,
            run=run, plan=plan, rollback=rollback,
        )
        return run

    return register


def _context(ctx: "_t.Context") -> Context:
    return Context(ctx.run_id, ctx.step_id, ctx.attempt, ctx.idempotency_key,
                   ctx.requester, ctx.environment)


def _call(fn: Callable, *args: Any) -> Any:
    """Runs the author's function; every exception becomes the WIT error variant."""
    try:
        return fn(*args)
    except ActionError as e:
        raise Err(e.to_wit())
    except Err:
        raise
    except Exception as e:  # an unexpected bug still reaches the run log with its type
        raise Err(_t.Error_Other(f"{type(e).__name__}: {e}"))


def _registered() -> dict:
    if not _action:
        raise Err(_t.Error_Fatal("no function is decorated with @lever_sdk.action"))
    return _action


# The bindings of the `adapter` world have no `ActionHandler` to implement: an adapter's app
# takes `AdapterHandler` from `lever_sdk.adapter`, and this module still gives it log, secrets,
# state, http and the errors.
_ActionHandlerBase = getattr(exports, "ActionHandler", object)


class ActionHandler(_ActionHandlerBase):
    """The `action-handler` export, wired to the function `@action` registered."""

    def describe(self) -> "_t.Manifest":
        a = _registered()
        return _t.Manifest(
            name=a["name"], version=a["version"], description=a["description"],
            input_schema=json.dumps(a["input_schema"]),
            output_schema=json.dumps(a["output_schema"]),
            grants=_t.Grants(hosts=a["hosts"], secrets=a["secrets"], workspace=a["workspace"]),
            risk=_t.Risk.HIGH if a["risk"] == "high" else _t.Risk.STANDARD,
            undoable=a["undoable"],
        )

    def plan(self, ctx, input: str):
        a = _registered()
        if a["plan"] is None:
            return None
        p = _call(a["plan"], _context(ctx), json.loads(input))
        if p is None:
            return None
        return _t.ExecutionPlan(
            summary=p.summary,
            resources=[_t.PlannedResource(r.kind, r.name, r.change, r.monthly_cost_cents)
                       for r in p.resources],
            permissions=list(p.permissions),
        )

    def run(self, ctx, input: str) -> str:
        a = _registered()
        return json.dumps(_call(a["run"], _context(ctx), json.loads(input)))

    def rollback(self, ctx, input: str, output: str) -> None:
        a = _registered()
        if a["rollback"] is not None:
            _call(a["rollback"], _context(ctx), json.loads(input), json.loads(output))
