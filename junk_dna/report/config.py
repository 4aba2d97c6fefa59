"""The parameters of the report notebooks (``figures.ipynb``, ``analysis.ipynb``), checked
before any work: a typo or a bad value is an error naming it and the allowed ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from junk_dna.experiments.parameters import check_field_types, config_from_notebook, param
from junk_dna.report.analysis import SCALES

WHICH: tuple[str, ...] = ("last", "best")
"""Which evaluation of a fine-tuning run a report reads."""


@dataclass(frozen=True)
class ReportConfig:
    """What a report notebook reads and where it writes (paths relative to notebooks/)."""

    runs_dir: str = param("../papermill_runs", "folder holding the sweeps' run folders")
    figures_dir: str = param("../figures", "where the figures, their tables and claims go")
    which: str = param("last", "last evaluation (as the original) | best")
    scale: str = param("dense", "dense (the paper's) | drop (Task_3's % drop) | retention")

    def __post_init__(self) -> None:
        check_field_types(type(self), vars(self))
        for name in ("runs_dir", "figures_dir"):
            if not getattr(self, name).strip():
                raise ValueError(f"{name} {getattr(self, name)!r} must name a folder")
        if self.which not in WHICH:
            raise ValueError(f"which {self.which!r} not in {list(WHICH)}")
        if self.scale not in SCALES:
            raise ValueError(f"scale {self.scale!r} not in {list(SCALES)}")

    @classmethod
    def from_notebook(cls, namespace: Mapping[str, Any],
                      notebook: str = "figures") -> ReportConfig:
        """Build from a report notebook's parameters (its ``globals()``), before any work.

        Raises:
            ValueError: a parameter that is not a field (named, with the allowed names) or a
                bad value.
        """
        return config_from_notebook(cls, namespace, notebook)
