"""Normalization to the dense baseline and the TRUE_GEM figure, on synthetic tables."""

from __future__ import annotations

import io
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from junk_dna.report.analysis import normalize_to_dense, seed_summary
from junk_dna.report.plots import (
    NothingToDraw,
    data_adequacy_figure,
    figure_csv,
    figure_table,
    render,
    save,
    true_gem_figure,
    zero_shot_figure,
)
from junk_dna.results import collect


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
    lines = [line for line in fig.axes[0].get_lines() if line.get_gid() != "dense"]
    styles = sorted(line.get_linestyle() != "-" for line in lines)
    assert styles == [False, False, False, True]  # 3 magnitude modes + 1 dashed random control
    solid_min = min(min(line.get_ydata()) for line in lines if line.get_linestyle() == "-")
    assert solid_min == pytest.approx(50.0)  # the control did not pull a magnitude curve down
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "random mask (control)" in labels


def test_true_gem_figure_has_the_paper_layout(tmp_path):
    fig = true_gem_figure(_rows())
    assert len(fig.axes) == 2  # 2 rows x 1 panel (one task, one fraction)
    assert "SST-2" in fig.axes[0].get_title() and "100% data" in fig.axes[0].get_title()
    lines = [line for line in fig.axes[0].get_lines() if line.get_gid() != "dense"]
    ys = sorted(y for line in lines for y in line.get_ydata())
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


PILOT = Path(__file__).resolve().parents[2] / "pilot_runs"


def _copy(names: list[str], root: Path, dense_only: bool = False) -> Path:
    """The pilot records of experiments ``names`` copied under ``root`` (dense runs only:
    folders whose name has no pattern)."""
    for name in names:
        for run in sorted((PILOT / name).iterdir()):
            if run.is_dir() and not run.name.startswith(".") and not (
                    dense_only and "unstructured" in run.name):
                shutil.copytree(run, root / name / run.name)
    return root


def test_figure_csv_is_byte_identical_from_a_copy_of_the_records(tmp_path):
    """The table behind a figure: same records in another folder, same bytes; no path."""
    texts = []
    for where in ("a", "b/deeper/still"):
        root = _copy(["data_adequacy"], tmp_path / where)
        fig = data_adequacy_figure(collect(root))
        paths = save(fig, tmp_path / where / "figs" / "data_adequacy")
        assert [p.suffix for p in paths] == [".png", ".pdf", ".csv"]
        texts.append(paths[-1].read_bytes())
    assert texts[0] == texts[1]
    table = pd.read_csv(io.BytesIO(texts[0]))
    assert str(tmp_path) not in texts[0].decode() and "run_dir" not in table.columns
    assert {"run_id", "seed", "x", "normalized", "dense_ci"} <= set(table.columns)
    assert set(table["seed"]) == {41, 42} and table["normalized"].notna().all()
    assert texts[1] == figure_csv(figure_table(fig)).encode()


def test_seed_band_and_dense_band_are_drawn_with_several_seeds(tmp_path):
    fig = data_adequacy_figure(collect(_copy(["data_adequacy"], tmp_path)))
    ax = fig.axes[0]
    seed_bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(seed_bands) == 1  # one per data fraction: the pilot's 25 %
    dense_bands = [p for p in ax.patches if p.get_gid() == "dense_ci"]
    assert len(dense_bands) == 1
    low, high = dense_bands[0].get_y(), dense_bands[0].get_y() + dense_bands[0].get_height()
    assert low < 100 < high and high - 100 == pytest.approx(100 - low)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "95% CI over 2 seeds (bootstrap)" in labels
    assert "dense 95% CI (binomial, test n)" in labels


def test_a_dense_only_zero_shot_experiment_is_skipped_not_a_crash(tmp_path, capsys):
    runs = collect(_copy(["kshot"], tmp_path / "runs", dense_only=True))
    assert set(runs["method"]) == {"dense"}
    with pytest.raises(NothingToDraw, match="no pruned kshot runs with a dense baseline"):
        zero_shot_figure(runs)
    assert render("kshot", runs, tmp_path / "figs") is None
    assert render("true_gem", runs, tmp_path / "figs") is None
    out = capsys.readouterr().out
    assert "kshot: figure skipped" in out and "true_gem: no runs" in out
    assert not (tmp_path / "figs").exists()


def test_a_runs_folder_with_one_experiment_draws_only_its_figure(tmp_path, capsys):
    """What the figures notebook does for every experiment, over the pilot's true_gem only."""
    from junk_dna.experiments.zero_shot import EXPERIMENT_DEFAULTS

    runs = collect(_copy(["true_gem"], tmp_path / "runs"))
    drawn = {name: render(name, runs, tmp_path / "figs", which="last")
             for name in ("true_gem", "data_adequacy", "human_gap")}
    drawn |= {name: render(name, runs, tmp_path / "figs") for name in EXPERIMENT_DEFAULTS}
    assert [name for name, fig in drawn.items() if fig is not None] == ["true_gem"]
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "true_gem.csv", "true_gem.pdf", "true_gem.png"]
    out = capsys.readouterr().out
    assert all(f"{name}: no runs" in out for name in drawn if name != "true_gem")


def test_the_task_3_axis_is_an_option_performance_drop_with_dense_at_0():
    """scale="drop": the paper's Task_3 axis, 100 score / dense - 100; the dense line and its
    band move to 0, the values are the dense scale's minus 100."""
    from junk_dna.report.plots import y_label

    runs = collect(PILOT / "context_length")
    dense = figure_table(zero_shot_figure(runs))
    fig = zero_shot_figure(runs, scale="drop")
    drop = figure_table(fig)
    assert (drop["normalized"] - (dense["normalized"] - 100)).abs().max() < 1e-9
    assert fig.axes[0].get_ylabel() == y_label("drop", "acc", "\n")
    lines = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == "dense"]
    assert lines and all(set(ln.get_ydata()) == {0} for ln in lines)
    bands = [p for ax in fig.axes for p in ax.patches if p.get_gid() == "dense_ci"]
    assert bands and all(abs(b.get_y() + b.get_height() / 2) < 1e-9 for b in bands)


def test_unstructured_and_nm_panels_keep_their_own_ticks():
    """factoid_vs_mc draws unstructured and N:M panels side by side: 50 % and 4:8 share an x
    value, but each panel is labelled in its own pattern's terms (committed records)."""
    runs = collect(PILOT.parent / "papermill_runs" / "factoid_vs_mc")
    fig = zero_shot_figure(runs)
    by_title = {ax.get_title(): [t.get_text() for t in ax.get_xticklabels()]
                for ax in fig.axes if ax.get_title()}
    assert by_title == {"Magnitude": ["10", "30", "50"], "Magnitude [N:M]": ["6:8", "4:8"]}
    assert "factoid (containment)" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_conditions_with_their_own_dense_model_get_their_own_band():
    """context_length's open- and closed-book dense scores differ, so does the binomial
    interval of each: one band per curve, in its colour, each symmetric around 100."""
    from matplotlib.colors import to_rgb

    fig = zero_shot_figure(collect(PILOT / "context_length"))
    table = figure_table(fig)
    for ax in (a for a in fig.axes if a.get_title()):
        bands = [p for p in ax.patches if p.get_gid() == "dense_ci"]
        halves = sorted(round(b.get_height() / 2, 9) for b in bands)
        assert len(bands) == 2 and halves[0] < halves[1], halves
        for b in bands:
            assert b.get_y() + b.get_height() / 2 == pytest.approx(100)
        colours = {to_rgb(line.get_color()) for line in ax.get_lines() if line.get_gid() != "dense"}
        assert {to_rgb(b.get_facecolor()[:3]) for b in bands} <= colours
    expected = sorted(round(h, 9) for h in table.groupby("curve")["dense_ci"].max())
    assert halves == expected  # the last panel's bands are the table's intervals
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "dense 95% CI per curve, in its colour (binomial, test n)" in labels
    import matplotlib.pyplot as plt

    plt.close("all")  # the figures of this module's tests
