"""Secrets the action was granted; each reveal is recorded by name in the run log."""

from componentize_py_types import Err
from wit_world.imports import secrets as _s

from .errors import ActionError


def reveal(name: str) -> str:
    """The value of the secret `name`; `ActionError` (denied / not-found) when it cannot be read."""
    try:
        with _s.Secret.open(name) as secret:
            return secret.reveal()
    except Err as e:
        value = e.value
        if isinstance(value, _s.Error_NotGranted):
            raise ActionError.denied(f"secret `{name}` is not granted: {value.value}")
        if isinstance(value, _s.Error_NotFound):
            raise ActionError.not_found(f"secret `{name}` does not exist: {value.value}")
        raise ActionError("other", f"secret `{name}`: {value.value}")
