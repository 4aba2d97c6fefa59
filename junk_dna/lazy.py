"""Lazy re-exports for the ``__init__`` of a subpackage (PEP 562).

``from junk_dna.pruning import compute_masks`` imports :mod:`junk_dna.pruning.masks` on first
use only, so importing one light module of a subpackage (``junk_dna.pruning.config``,
``junk_dna.runs.presets``) does not import its heavy siblings (torch, pandas), and
``python -m junk_dna.runs.worker`` does not find its own module imported by its package.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` of ``package``, which re-exports the
    public names of its modules: ``{"masks": ["compute_masks", ...], ...}``.

    Usage, in the package's ``__init__``: ``__all__, __getattr__, __dir__ =
    lazy_exports(__name__, {...})``.
    """
    home = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home[name]}"), name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(home))

    return sorted(home), __getattr__, __dir__
