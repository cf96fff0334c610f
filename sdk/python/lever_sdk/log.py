"""Log lines, streamed to the run page as they happen (masked by the host)."""

from wit_world.imports import progress as _p


def debug(message: str) -> None:
    """A debug line."""
    _p.log(_p.Level.DEBUG, message)


def info(message: str) -> None:
    """An info line."""
    _p.log(_p.Level.INFO, message)


def warn(message: str) -> None:
    """A warning."""
    _p.log(_p.Level.WARN, message)


def error(message: str) -> None:
    """An error line (the step still decides whether it fails)."""
    _p.log(_p.Level.ERROR, message)


def progress(percent: int, message: str) -> None:
    """Reports the step's progress: `percent` from 0 to 100 and a short message."""
    _p.report(max(0, min(100, int(percent))), message)
