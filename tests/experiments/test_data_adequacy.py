"""Setting 1 (data adequacy): validation, presets, and the Task_1 figure on a known table."""

from __future__ import annotations

import pandas as pd
import pytest

from junk_dna.experiments import get_experiment
from junk_dna.report.plots import data_adequacy_figure
from junk_dna.runs.presets import expand_preset, load_preset, preset_names


def test_only_sparse_transfer_and_its_baselines():
    validate = get_experiment("data_adequacy").validate
    assert validate({"mode": "sparse", "sparsity": 0.5})["mode"] == "sparse"
    assert validate({"mode": "dense"})["sparsity"] is None
    with pytest.raises(ValueError, match="'freeze'"):
        validate({"mode": "freeze", "sparsity": 0.5})
    with pytest.raises(ValueError, match="1.5"):
        validate({"mode": "sparse", "sparsity": 1.5})


def test_presets_expand_with_a_dense_baseline_per_fraction():
    sizes = {n: expand_preset("data_adequacy", load_preset("data_adequacy", n), check_hub=False)
             for n in preset_names("data_adequacy")}
    assert {n: len(r) for n, r in sizes.items()} == {"smoke": 2, "pilot": 6, "default": 18,
                                                     "paper": 765}
    dense = [r.params for r in sizes["default"] if r.params["mode"] == "dense"]
    assert sorted(p["data_fraction"] for p in dense) == [0.25, 0.5, 1.0]


def _table() -> pd.DataFrame:
    rows = []
    base = {"experiment": "data_adequacy", "task": "sst2-embedded", "model": "m", "seed": 1,
            "which": "last", "metric": "accuracy", "criterion": "magnitude"}
    for frac, dense, drop in ((1.0, 0.8, 0.1), (0.25, 0.6, 0.3)):
        rows.append({**base, "data_fraction": frac, "mode": "dense", "pattern": None,
                     "sparsity": None, "nm": None, "criterion": None, "value": dense})
        for s in (0.5, 0.9):
            rows.append({**base, "data_fraction": frac, "mode": "sparse",
                         "pattern": "unstructured", "sparsity": s, "nm": None,
                         "value": dense * (1 - drop * s / 0.9)})
        rows.append({**base, "data_fraction": frac, "mode": "sparse", "pattern": "nm",
                     "sparsity": None, "nm": "2:8", "value": dense * 0.5})
    return pd.DataFrame(rows)


def test_one_curve_per_fraction_normalized_to_its_own_dense_model():
    fig = data_adequacy_figure(_table())
    ax = fig.axes[0]  # unstructured row, the only task
    curves = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()[1:]}
    assert set(curves) == {"100% data", "25% data"}
    assert curves["100% data"][-1] == pytest.approx(90.0)  # 0.8 * 0.9 / 0.8
    assert curves["25% data"][-1] == pytest.approx(70.0)  # normalized to 0.6, not 0.8
    with pytest.raises(ValueError, match="no data_adequacy runs"):
        data_adequacy_figure(pd.DataFrame())
