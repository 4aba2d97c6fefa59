"""The two error-message helpers every config of the package validates with.

Each names the parameter, the bad value and what is allowed, so that a bad preset or notebook
parameter fails before any long work with a message that says how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def check_choice(what: str, value: Any, allowed: Sequence[Any]) -> None:
    """Raise ``ValueError("unknown <what> <value!r>; allowed: [...]")`` unless ``value`` is
    one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {list(allowed)}")


def check_int(name: str, value: Any, minimum: int) -> None:
    """Raise ``ValueError("<name> <value!r> must be an integer >= <minimum>")`` unless
    ``value`` is such an integer (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} {value!r} must be an integer >= {minimum}")
