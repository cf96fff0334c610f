"""Write a Lever provider adapter as one decorated function.

    from lever_sdk.adapter import AdapterHandler, adapter, secret, unsupported  # noqa: F401

    @adapter(name="chat", version="0.1.0", description="Messages to a chat API",
             capabilities=["notifier"], settings_schema={"type": "object"},
             hosts=["chat.example.com"])
    def invoke(ctx, function, settings, input):
        if function != "send":
            raise unsupported("chat", function)
        token = secret(settings, "token")
        ...
        return "message-id"

The host calls `invoke` with a capability function's name (`send`), the binding's settings
and the function's input (records of wit/capabilities.wit as JSON objects); the return value is
the function's result as JSON. componentize-py looks for the class `AdapterHandler` in the app
module, so the app imports it; `lever plugin build` then builds the `adapter` world.
"""

import json
from typing import Callable

from wit_world import exports
from wit_world.exports import adapter_handler as _a
from wit_world.imports import lever_plugin_types as _t
from componentize_py_types import Err

from . import _call, _context, secrets
from .errors import ActionError

__all__ = ["adapter", "AdapterHandler", "secret", "unsupported"]

_adapter: dict = {}


def adapter(*, name: str, version: str, description: str, capabilities, settings_schema: dict,
            hosts=(), secrets=()):
    """Registers the decorated function as the adapter's `invoke`."""

    def register(invoke: Callable) -> Callable:
        _adapter.update(
            name=name, version=version, description=description,
            capabilities=list(capabilities), settings_schema=settings_schema,
            hosts=list(hosts), secrets=list(secrets), invoke=invoke,
        )
        return invoke

    return register


def unsupported(adapter_name: str, function: str) -> ActionError:
    """The error for a capability function the adapter does not implement."""
    return ActionError.invalid_input(
        f"the {adapter_name} adapter does not implement `{function}`")


def secret(settings: dict, key: str) -> str:
    """Reveals the secret a setting refers to (`secret://name`); an inline value is refused, so
    a credential never sits in the configuration file."""
    reference = settings.get(key)
    if not isinstance(reference, str):
        raise ActionError.invalid_input(f"the binding settings need `{key}`")
    if not reference.startswith("secret://"):
        raise ActionError.invalid_input(
            f"the binding setting `{key}` must be a secret reference (`secret://name`), not a value")
    return secrets.reveal(reference[len("secret://"):])


def _registered() -> dict:
    if not _adapter:
        raise Err(_t.Error_Fatal("no function is decorated with @lever_sdk.adapter.adapter"))
    return _adapter


class AdapterHandler(exports.AdapterHandler):
    """The `adapter-handler` export, wired to the function `@adapter` registered."""

    def describe(self) -> "_a.AdapterManifest":
        a = _registered()
        return _a.AdapterManifest(
            name=a["name"], version=a["version"], description=a["description"],
            capabilities=a["capabilities"], settings_schema=json.dumps(a["settings_schema"]),
            grants=_t.Grants(hosts=a["hosts"], secrets=a["secrets"], workspace=False),
        )

    def invoke(self, ctx, function: str, settings: str, input: str) -> str:
        a = _registered()
        return json.dumps(_call(a["invoke"], _context(ctx), function, json.loads(settings),
                                json.loads(input)))
