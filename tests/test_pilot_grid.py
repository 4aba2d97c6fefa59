"""The pre-registered grid rule (docs/PREREGISTRATION.md, stage 2) in tools/pilot_grid.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_window_rule_keeps_the_three_largest_points_inside_the_window() -> None:
    rule = _tool("pilot_grid").window_rule
    pilot = pd.Series({0.6: 74.4, 0.7: 75.0, 0.8: 70.8, 0.9: 39.9})  # stage 3's pilot means
    assert rule(pilot) == [0.7, 0.8, 0.9]
    # one inside: the nearest outside point joins (97 is 7 from 90; 3 is 12 from 15)
    assert rule(pd.Series({0.5: 97.0, 0.7: 60.0, 0.9: 3.0})) == [0.5, 0.7]
    # none inside: the two nearest join (6, 9 and 13 points away)
    assert rule(pd.Series({0.5: 96.0, 0.7: 99.0, 0.9: 2.0})) == [0.5, 0.7]
    with pytest.raises(ValueError, match="no pilot sparsities"):
        rule(pd.Series(dtype=float))
