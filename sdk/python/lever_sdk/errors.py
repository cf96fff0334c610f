"""The WIT `error` variant as a Python exception: a kind and a message that says what to fix."""

from wit_world.imports import lever_plugin_types as _t

_KINDS = {
    "invalid-input": _t.Error_InvalidInput,
    "retryable": _t.Error_Retryable,
    "fatal": _t.Error_Fatal,
    "not-found": _t.Error_NotFound,
    "denied": _t.Error_Denied,
    "other": _t.Error_Other,
}


class ActionError(Exception):
    """Raise it from an action; the host reports `kind` and `message` and retries `retryable`."""

    def __init__(self, kind: str, message: str):
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message

    @classmethod
    def invalid_input(cls, message: str) -> "ActionError":
        """The input is wrong: name the field and what is expected."""
        return cls("invalid-input", message)

    @classmethod
    def retryable(cls, message: str) -> "ActionError":
        """A transient failure: the host may retry."""
        return cls("retryable", message)

    @classmethod
    def fatal(cls, message: str) -> "ActionError":
        """A permanent failure: retrying will not help."""
        return cls("fatal", message)

    @classmethod
    def not_found(cls, message: str) -> "ActionError":
        """Something the action needed does not exist."""
        return cls("not-found", message)

    @classmethod
    def denied(cls, message: str) -> "ActionError":
        """The provider or the host refused."""
        return cls("denied", message)

    def to_wit(self):
        return _KINDS[self.kind](self.message)
