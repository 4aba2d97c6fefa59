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


def test_the_committed_pilot_records_give_the_committed_grid(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The rule on pilot_runs gives the sparsities of the decisive presets
    (tests/runs/test_presets.py pins those)."""
    assert _tool("pilot_grid").main([str(ROOT / "pilot_runs")]) == 0
    out = capsys.readouterr().out
    assert "S = [0.7, 0.8, 0.9] (window [15.0, 90.0]); claim C on [0.8, 0.9]" in out


def test_the_committed_zero_shot_pilot_gives_the_decisive_zero_shot_presets() -> None:
    """docs/PREREGISTRATION.md, stage 4: per experiment and method, the default preset's
    unstructured sparsities are the rule's grid on the committed pilot; the decisive questions
    lie after the pilot's block, at least 250 per condition, with the pilot's conditions."""
    from junk_dna.results import collect
    from junk_dna.runs.presets import expand_preset, load_preset

    pilot = ROOT / "pilot_runs"
    df = collect(pilot)
    grids = _tool("pilot_grid").zero_shot_grids(df[df["which"] == "last"])
    assert {e for e, _ in grids} == {"option_count", "kshot", "context_length"}
    for experiment in ("option_count", "kshot", "context_length"):
        runs = [r.params for r in expand_preset(experiment, load_preset(experiment, "default"),
                                                check_hub=False)]
        pilot_runs = [r.params for r in expand_preset(
            experiment, load_preset(experiment, "pilot"), check_hub=False)]
        methods = {p["method"] for p in runs} - {"dense"}
        assert methods == {m for e, m in grids if e == experiment}
        for method in methods:
            got = sorted(p["sparsity"] for p in runs if p["method"] == method)
            assert _values(runs, "pattern", method) == {"unstructured"}
            assert got == grids[(experiment, method)][1], (experiment, method)
        # the pilot's block, with kshot's few-shot pool (25 more questions), ends before 150
        pilot_end = max(p["offset"] + p["n_questions"] for p in pilot_runs) + 25
        assert all(p["n_questions"] >= 250 and p["offset"] >= 150 >= pilot_end for p in runs)
        assert {str(p["conditions"]) for p in runs} == {str(p["conditions"]) for p in pilot_runs}


def _values(runs: list[dict], key: str, method: str) -> set:
    """The values of ``key`` over the runs of ``method``."""
    return {p[key] for p in runs if p["method"] == method}
