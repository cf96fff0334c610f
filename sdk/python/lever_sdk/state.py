"""Durable key-value state, per run (`scope="run"`) or per plugin (`scope="plugin"`)."""

from typing import Optional

from componentize_py_types import Err
from wit_world.imports import state as _s

from .errors import ActionError

_SCOPES = {"run": _s.Scope.RUN, "plugin": _s.Scope.PLUGIN}


def _scope(scope: str):
    if scope not in _SCOPES:
        raise ValueError(f"scope must be 'run' or 'plugin', not {scope!r}")
    return _SCOPES[scope]


def get(key: str, scope: str = "run") -> Optional[bytes]:
    """The value under `key`, or None."""
    try:
        return _s.get(_scope(scope), key)
    except Err as e:
        raise ActionError("other", f"state `{key}`: {e.value.value}")


def set(key: str, value: bytes, scope: str = "run") -> None:
    """Writes `value` under `key` (bounded by the host's quota)."""
    try:
        _s.set(_scope(scope), key, value)
    except Err as e:
        raise ActionError("other", f"state `{key}`: {e.value.value}")


def delete(key: str, scope: str = "run") -> None:
    """Removes `key`."""
    try:
        _s.delete(_scope(scope), key)
    except Err as e:
        raise ActionError("other", f"state `{key}`: {e.value.value}")
