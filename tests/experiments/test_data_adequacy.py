"""Setting 1 (data adequacy): validation, presets, and the Task_1 figure on a known table."""

from __future__ import annotations

import pandas as pd
import pytest

from junk_dna.experiments import get_experiment
from junk_dna.report.plots import data_adequacy_figure, figure_table
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
    assert {n: len(r) for n, r in sizes.items()} == {"smoke": 2, "pilot": 6, "default": 40,
                                                     "paper": 765}
    dense = [r.params for r in sizes["default"] if r.params["mode"] == "dense"]
    assert sorted({p["data_fraction"] for p in dense}) == [0.25, 1.0]
    assert len(dense) == 10  # one dense run per fraction and seed


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
    table = figure_table(fig)  # what the figure draws
    last = table[(table["row"] == "unstructured") & (table["x"] == 90)].set_index("curve")
    assert set(table["curve"]) == {"100% data", "25% data"}
    assert last.loc["100% data", "normalized"] == pytest.approx(90.0)  # 0.8 * 0.9 / 0.8
    assert last.loc["25% data", "normalized"] == pytest.approx(70.0)  # to 0.6, not 0.8
    lines = [line for line in fig.axes[0].get_lines() if line.get_gid() != "dense"]
    assert sorted(line.get_ydata()[-1] for line in lines) == pytest.approx([70.0, 90.0])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["25% data", "100% data"]  # the ordered palette, smallest first
    with pytest.raises(ValueError, match="no data_adequacy runs"):
        data_adequacy_figure(pd.DataFrame())
