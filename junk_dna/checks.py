"""The error-message helpers every config of the package validates with.

Each names the parameter, the bad value and what is allowed, so that a bad preset or notebook
parameter fails before any long work with a message that says how to fix it. A value is
shown through :func:`shown`, which never formats more than a few hundred characters of it
(a preset's YAML aliases can nest a value into millions of items).
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from typing import Any

SHOWN_CHARS = 200
"""The most characters of a value an error message shows."""

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 3, 8, 8, 8
_REPR.maxset = _REPR.maxfrozenset = 8
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 120, 120, 60


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters: nested
    containers are shown to 3 levels and 8 items each (``...`` marks what is left out), so
    formatting costs the same for a value of any size."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def clipped(text: str, limit: int = 20 * SHOWN_CHARS) -> str:
    """``text`` (an error message holding values) cut to ``limit`` characters."""
    return text if len(text) <= limit else f"{text[:limit - 30]}... ({len(text)} characters)"


def check_choice(what: str, value: Any, allowed: Sequence[Any]) -> None:
    """Raise ``ValueError("unknown <what> <value!r>; allowed: [...]")`` unless ``value`` is
    one of ``allowed``."""
    try:
        ok = value in allowed
    except TypeError:  # an unhashable value against a set or mapping
        ok = False
    if not ok:
        raise ValueError(f"unknown {what} {shown(value)}; allowed: {list(allowed)}")


def check_int(name: str, value: Any, minimum: int) -> None:
    """Raise ``ValueError("<name> <value!r> must be an integer >= <minimum>")`` unless
    ``value`` is such an integer (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} {shown(value)} must be an integer >= {minimum}")
