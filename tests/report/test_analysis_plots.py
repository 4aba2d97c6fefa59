"""Normalization to the dense baseline and the TRUE_GEM figure, on synthetic tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from junk_dna.report.analysis import normalize_to_dense, seed_summary
from junk_dna.report.plots import save, true_gem_figure


def _rows():
    rows = []
    for seed, dense in ((1, 0.80), (2, 0.90)):
        base = {"experiment": "true_gem", "task": "sst2-embedded", "data_fraction": 1.0,
                "model": "m", "seed": seed, "which": "last", "metric": "accuracy"}
        rows.append({**base, "run_id": f"d{seed}", "mode": "dense", "pattern": None,
                     "sparsity": None, "nm": None, "value": dense})
        for mode in ("sparse", "freeze", "sparse_to_dense"):
            for s, factor in ((0.5, 0.9), (0.9, 0.5)):
                rows.append({**base, "run_id": f"{mode}{s}{seed}", "mode": mode,
                             "pattern": "unstructured", "sparsity": s, "nm": None,
                             "value": dense * factor})
            rows.append({**base, "run_id": f"{mode}nm{seed}", "mode": mode, "pattern": "nm",
                         "sparsity": None, "nm": "2:8", "value": dense * 0.75})
        rows.append({**base, "which": "last", "metric": "loss", "run_id": "x", "mode": "sparse",
                     "pattern": "nm", "sparsity": None, "nm": "4:8", "value": 9.0})
    return pd.DataFrame(rows)


def test_normalization_uses_the_same_seed_dense_run():
    norm = normalize_to_dense(_rows())
    assert set(norm["metric"]) == {"accuracy"}  # only the task's main metric
    sparse = norm[(norm["mode"] == "sparse") & (norm["sparsity"] == 0.9)]
    assert sorted(sparse["normalized"].round(6)) == [50.0, 50.0]
    assert (norm[norm["mode"] == "dense"]["normalized"] == 100).all()
    stats = seed_summary(norm[norm["mode"] == "sparse"], ["pattern", "sparsity"])
    assert stats["count"].max() == 2


def test_missing_baseline_gives_nan_not_a_number():
    df = _rows()
    df = df[~((df["mode"] == "dense") & (df["seed"] == 2))]
    norm = normalize_to_dense(df)
    assert norm[norm["seed"] == 2]["normalized"].isna().all()
    assert not norm[norm["seed"] == 1]["normalized"].isna().any()


def test_control_runs_are_separate_curves_not_mixed_in():
    df = _rows()
    df["criterion"] = "magnitude"
    control = df[(df["mode"] == "sparse") & (df["pattern"] == "unstructured")].copy()
    control["criterion"] = "random"
    control["run_id"] += "-random"
    control["value"] = control["value"] * 0 + 0.1  # far below every magnitude run
    fig = true_gem_figure(pd.concat([df, control], ignore_index=True))
    lines = fig.axes[0].get_lines()[1:]  # [0] is the dense line at 100
    styles = sorted(line.get_linestyle() for line in lines)
    assert styles == ["-", "-", "-", ":"]  # 3 magnitude modes + 1 random control
    solid_min = min(min(line.get_ydata()) for line in lines if line.get_linestyle() == "-")
    assert solid_min == pytest.approx(50.0)  # the control did not pull a magnitude curve down
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "random mask (control)" in labels


def test_true_gem_figure_has_the_paper_layout(tmp_path):
    fig = true_gem_figure(_rows())
    assert len(fig.axes) == 2  # 2 rows x 1 panel (one task, one fraction)
    assert "SST-2" in fig.axes[0].get_title() and "100% data" in fig.axes[0].get_title()
    lines = fig.axes[0].get_lines()
    ys = sorted(y for line in lines[1:] for y in line.get_ydata())
    assert ys[0] == pytest.approx(50.0) and not any(math.isnan(y) for y in ys)
    paths = save(fig, tmp_path / "fig" / "true_gem")
    assert all(p.stat().st_size > 1000 for p in paths)
    with pytest.raises(ValueError, match="no true_gem runs"):
        true_gem_figure(pd.DataFrame())


def test_figures_take_the_retention_scale(tmp_path):
    """scale="retention" draws R from the per-example labels (here none: the accuracy's
    chance level is unknown, so the pruned curves are empty but the figure still draws)."""
    from junk_dna.report.plots import y_label

    fig = true_gem_figure(_rows(), scale="retention")
    assert fig.axes[0].get_ylabel() == y_label("retention", "score", "\n")
    assert "chance = 0" in y_label("retention", "acc")
    with pytest.raises(ValueError, match="scale"):
        true_gem_figure(_rows(), scale="percent")
