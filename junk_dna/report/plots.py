"""Figures in the layout of the paper's, drawn from collected runs.

Only matplotlib; every function takes a tidy table from :func:`junk_dna.results.collect`
and returns a Figure (saving is the caller's choice, see :func:`save`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from junk_dna.data.human_scores import base_task
from junk_dna.pruning.config import matched_sparsity
from junk_dna.report.analysis import (
    human_gap_table,
    pair_gaps,
    scaled,
    seed_summary,
)
from junk_dna.report.claims.constants import HUMAN_GAP_PAIRS

MODE_STYLE: dict[str, dict[str, str]] = {
    "sparse_to_dense": {"label": "Sparse to Dense Transfer", "color": "#20b2aa", "marker": "s"},
    "sparse": {"label": "Sparse Transfer", "color": "#f5a623", "marker": "s"},
    "freeze": {"label": "Dense Transfer with Freezing", "color": "#0000cd", "marker": "s"},
}
DENSE_STYLE = {"label": "Dense Transfer", "color": "#e02020", "linestyle": "--"}
#: Controls the paper lacks, drawn as optional curves in each mode's colour.
CRITERION_STYLE: dict[str, dict[str, str]] = {
    "magnitude": {"linestyle": "-", "label": ""},
    "random": {"linestyle": ":", "label": "random mask (control)"},
    "largest": {"linestyle": "-.", "label": "largest pruned (control)"},
}
TASK_LABELS = {"sst2": "SST-2", "qnli": "QNLI", "mnli": "MNLI", "cola": "CoLA", "rte": "RTE",
               "mrpc": "MRPC", "qqp": "QQP", "stsb": "STS-B", "winogrande": "WinoGrande",
               "csqa": "CSQA", "piqa": "PIQA", "hellaswag": "HellaSwag", "siqa": "SIQA",
               "copa": "COPA", "boolq": "BoolQ", "openbookqa": "OpenBookQA"}
#: Easy and hard task of a pair in the Task_4 layout.
PAIR_STYLE = {"easy": {"color": "#20b2aa", "marker": "s"},
              "hard": {"color": "#f5a623", "marker": "s"}}


def task_label(task: str) -> str:
    """Display name of a task ("sst2-embedded" -> "SST-2 (embedded)")."""
    base, _, suffix = task.partition("-")
    label = TASK_LABELS.get(base, base)
    return f"{label} ({suffix})" if suffix else label


def y_label(scale: str, what: str, sep: str = " ") -> str:
    """The y axis of a figure on ``scale``: the paper's ``dense = 100`` or the chance-corrected
    retention (:func:`junk_dna.report.analysis.retention_table`)."""
    if scale == "retention":
        return f"retention R of {what}{sep}(chance = 0, dense = 100)"
    return f"normalized {what}{sep}(dense = 100)"


def _nm_sparsity(nm: str) -> float:
    n, m = (int(x) for x in str(nm).split(":"))
    return 1.0 - n / m


def true_gem_figure(df: pd.DataFrame, *, which: str = "last", panel_size: float = 2.3,
                    scale: str = "dense"):
    """The TRUE_GEM layout: rows = unstructured / N:M, one panel per (task, data fraction),
    one curve per transfer mode normalized to the dense model (= 100), mean over seeds with
    a band from the minimum to the maximum seed when there is more than one seed. Runs of the
    control criteria (``random``, ``largest``), when present, are extra curves in the
    mode's colour with their own line style, never mixed into the magnitude curves.

    Args:
        df: :func:`~junk_dna.results.collect` table of ``true_gem`` runs.
        which: ``"last"`` (as the original) or ``"best"`` epoch.
        panel_size: inches per panel.
        scale: ``"dense"`` (the paper's: 100 x score / dense) or ``"retention"`` (chance-
            corrected, the claims' scale: :func:`junk_dna.report.analysis.retention_table`).

    Returns:
        A matplotlib Figure.

    Raises:
        ValueError: the table holds no true_gem runs.
    """
    plt = _pyplot()
    _check_runs(df, "mode", "true_gem")
    norm = scaled(df, scale=scale, which=which)
    panels = (norm[["task", "data_fraction"]].drop_duplicates()
              .sort_values(["task", "data_fraction"], ascending=[True, False])
              .itertuples(index=False))
    panels = list(panels)
    fig, axes = plt.subplots(2, len(panels), figsize=(panel_size * len(panels) + 0.6,
                                                      2 * panel_size + 1.2),
                             squeeze=False)
    n_seeds = norm["seed"].nunique()
    for col, (task, frac) in enumerate(panels):
        sub = norm[(norm["task"] == task) & (norm["data_fraction"] == frac)]
        for row, pattern in enumerate(("unstructured", "nm")):
            ax = axes[row][col]
            _true_gem_panel(ax, sub[sub["pattern"] == pattern], pattern)
            ax.set_title(f"{task_label(task)} ({frac * 100:g}% data)", fontsize=9)
            if col == 0:
                ax.set_ylabel(y_label(scale, "score", "\n"), fontsize=8)
        _pattern_xlabels(axes, len(panels) // 2)
    handles = [plt.Line2D([], [], color=s["color"], marker=s["marker"], label=s["label"])
               for s in MODE_STYLE.values()]
    handles.insert(2, plt.Line2D([], [], **DENSE_STYLE))
    present = set(norm["criterion"].dropna()) if "criterion" in norm else set()
    handles += [plt.Line2D([], [], color="gray", linestyle=c["linestyle"], label=c["label"])
                for name, c in CRITERION_STYLE.items() if name != "magnitude" and name in present]
    spread = f"mean over {n_seeds} seeds, band = min..max" if n_seeds > 1 else "one seed"
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    models = ", ".join(sorted(map(str, norm["model"].unique())))
    fig.suptitle(f"Are pre-trained magnitude values the true gem?  model: {models}; "
                 f"{which} epoch; {spread}", fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return fig


def _true_gem_panel(ax, sub: pd.DataFrame, pattern: str) -> None:
    pruned = sub[sub["mode"] != "dense"].dropna(subset=["normalized"])
    if not _panel_frame(ax, has_runs=not pruned.empty):
        return
    xcol = "sparsity" if pattern == "unstructured" else "nm"
    pruned = pruned.assign(criterion=pruned.get("criterion", "magnitude"))
    stats = seed_summary(pruned, ["mode", "criterion", xcol])
    stats["x"] = (stats[xcol].astype(float) * 100 if pattern == "unstructured"
                  else stats[xcol].map(_nm_sparsity))
    _x_ticks(ax, pruned, pattern)
    for (mode, criterion), line in stats.groupby(["mode", "criterion"], sort=False):
        if mode not in MODE_STYLE or criterion not in CRITERION_STYLE:
            continue
        style, line = MODE_STYLE[mode], line.sort_values("x")
        _draw_curve(ax, line, style["color"], marker=style["marker"],
                    linestyle=CRITERION_STYLE[criterion]["linestyle"])


FRACTION_COLORS = ("#800080", "#e02020", "#0000cd", "#f5a623", "#20b2aa", "#555555", "#8b4513")


def data_adequacy_figure(df: pd.DataFrame, *, which: str = "last", panel_size: float = 2.6,
                         scale: str = "dense"):
    """The Task_1 layout: rows = unstructured / N:M, one panel per task, one Sparse Transfer
    curve per training fraction, each normalized to the dense model trained on the same
    fraction (= 100); mean over seeds with a min..max band when there are several.

    Args:
        df: :func:`~junk_dna.results.collect` table of ``data_adequacy`` runs.
        which: ``"last"`` or ``"best"`` epoch.
        panel_size: inches per panel.
        scale: ``"dense"`` (the paper's: 100 x score / dense) or ``"retention"`` (chance-
            corrected, the claims' scale: :func:`junk_dna.report.analysis.retention_table`).

    Raises:
        ValueError: the table holds no data_adequacy runs.
    """
    plt = _pyplot()
    _check_runs(df, "mode", "data_adequacy")
    norm = scaled(df, scale=scale, which=which)
    norm = norm[norm["mode"] == "sparse"].dropna(subset=["normalized"])
    norm = _with_criterion(norm)
    tasks = sorted(df["task"].unique())
    fractions = sorted(df["data_fraction"].unique(), reverse=True)
    fig, axes = plt.subplots(2, len(tasks), figsize=(panel_size * len(tasks) + 0.8,
                                                     2 * panel_size + 1.0), squeeze=False)
    for col, task in enumerate(tasks):
        for row, pattern in enumerate(("unstructured", "nm")):
            ax = axes[row][col]
            ax.set_ylabel(task_label(task), fontsize=9)
            sub = norm[(norm["task"] == task) & (norm["pattern"] == pattern)]
            if not _panel_frame(ax, has_runs=not sub.empty):
                continue
            for crit, part in _by_criterion(sub):
                for i, frac in enumerate(fractions):
                    line = _curve(part[part["data_fraction"] == frac], pattern)
                    if line.empty:
                        continue
                    _draw_curve(ax, line, FRACTION_COLORS[i % len(FRACTION_COLORS)],
                                marker="s", linestyle=CRITERION_STYLE[crit]["linestyle"],
                                label=_control_label(f"{frac * 100:g}% data", crit))
            _x_ticks(ax, sub, pattern)
            ax.legend(fontsize=7, loc="lower left")
        _pattern_xlabels(axes, col)
    models, spread = _models_and_seeds(df, norm)
    fig.suptitle(f"Sparse Transfer vs. amount of fine-tuning data (dense on the same data = "
                 f"100)  model: {models}; {which} epoch; {spread}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def human_gap_figure(
    df: pd.DataFrame, pairs: Sequence[tuple[str, str, str]] | None = None, *,
    which: str = "last", panel_size: float = 2.6, scale: str = "dense",
):
    """The Task_4 layout: rows = unstructured / N:M, one panel per task pair, the easy and
    the hard task of the pair as two Sparse Transfer curves normalized to their own dense
    model (= 100). Easy and hard are the paper's fixed labels, as in the claims; the
    computed human-model gap of each task (:func:`junk_dna.report.analysis.human_gap_table`)
    is shown beside its label in the legend, and a pair whose computed gaps disagree with
    its labels is titled so (:func:`junk_dna.report.analysis.pair_gaps`; the notebook prints
    :func:`junk_dna.report.analysis.gap_disagreements`).

    Args:
        df: :func:`~junk_dna.results.collect` table of ``human_gap`` runs (one model).
        pairs: (label, easy task, hard task) by base name; default
            :data:`junk_dna.report.claims.HUMAN_GAP_PAIRS` (those with both tasks present).
        which: ``"last"`` or ``"best"`` epoch.
        panel_size: inches per panel.
        scale: ``"dense"`` (the paper's: 100 x score / dense) or ``"retention"`` (chance-
            corrected, the claims' scale: :func:`junk_dna.report.analysis.retention_table`).

    Raises:
        ValueError: no human_gap runs, or no pair has runs of both its tasks.
    """
    plt = _pyplot()
    _check_runs(df, "mode", "human_gap")
    if pairs is None:
        pairs = HUMAN_GAP_PAIRS
    full = df[df["data_fraction"] == df["data_fraction"].max()]
    gaps = human_gap_table(full, which=which)
    found = pair_gaps(gaps, pairs)
    if found.empty:
        raise ValueError(f"no pair of {[p[1:] for p in pairs]} has dense runs of both tasks; "
                         f"tasks with dense runs: {sorted(gaps['task'])}")
    gap_of = dict(zip(gaps["task"], gaps["gap"], strict=True))
    norm = scaled(full, scale=scale, which=which)
    norm = norm[norm["mode"] == "sparse"].dropna(subset=["normalized"])
    norm = _with_criterion(norm)
    fig, axes = plt.subplots(2, len(found), figsize=(panel_size * len(found) + 0.8,
                                                     2 * panel_size + 1.0), squeeze=False)
    for col, pair in enumerate(found.itertuples()):
        label, easy, hard = pair.label, pair.easy, pair.hard
        if not pair.agrees:
            axes[0][col].set_title("computed gaps disagree with the labels", fontsize=7,
                                   color="#e02020")
        for row, pattern in enumerate(("unstructured", "nm")):
            ax = axes[row][col]
            sub = norm[norm["pattern"] == pattern]
            has = not sub[sub["task"].isin([easy, hard])].empty
            ax.set_ylabel(label, fontsize=8)
            if not _panel_frame(ax, has_runs=has):
                continue
            for crit, part in _by_criterion(sub):
                for kind, task in (("easy", easy), ("hard", hard)):
                    line = _curve(part[part["task"] == task], pattern)
                    if not line.empty:
                        name = (f"{task_label(base_task(task))} ({kind}, computed gap "
                                f"{gap_of[task]:.2f})")
                        _draw_curve(ax, line, label=_control_label(name, crit),
                                    linestyle=CRITERION_STYLE[crit]["linestyle"],
                                    **PAIR_STYLE[kind])
            _x_ticks(ax, sub[sub["task"].isin([easy, hard])], pattern)
            ax.legend(fontsize=7, loc="lower left")
        _pattern_xlabels(axes, col)
    models, spread = _models_and_seeds(df, norm)
    if any(t.endswith("-embedded") for t in gaps["task"]):
        models += " (embedded re-split tasks)"
    fig.suptitle(f"Sparse Transfer on easy vs. hard tasks (the paper's labels; gap = (human - "
                 f"dense) / human; dense = 100)  model: {models}; {which} epoch; {spread}",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


METHOD_LABELS = {"magnitude": "Magnitude", "sparsegpt": "SparseGPT", "wanda": "Wanda"}
CONDITION_COLORS = ("#0000cd", "#20b2aa", "#f5a623", "#800080", "#e02020", "#555555")
ZERO_SHOT_TITLES = {
    "context_length": "Open-book vs. closed-book QA (context tokens; closed = 0)",
    "option_count": "Multiple-choice QA with k options",
    "kshot": "k-shot in-context examples",
    "factoid_vs_mc": "Factoid QA (exact match) vs. multiple-choice QA",
}


def _condition_order(conditions: Sequence[str]) -> list[str]:
    """Conditions in reading order: numbers ascending (full context last)."""
    def key(c: str) -> tuple[int, float, str]:
        value = c.split("=", 1)[-1]
        if value == "full":
            return (1, 0.0, c)
        try:
            return (0, float(value), c)
        except ValueError:
            return (2, 0.0, c)
    return sorted(set(conditions), key=key)


def zero_shot_figure(df: pd.DataFrame, *, score: str = "acc", panel_size: float = 2.4,
                     scale: str = "dense"):
    """The Task_3 layout for a zero-shot experiment: one panel per (pruning method, pattern),
    one curve per condition (context length, option count, shots, factoid / mc), each
    normalized to the dense model under the same condition (= 100); mean over seeds with a
    min..max band when there are several.

    Args:
        df: :func:`~junk_dna.results.collect` table of ONE zero-shot experiment.
        score: ``"acc"`` or ``"acc_norm"`` (factoid conditions use exact match).
        panel_size: inches per panel.
        scale: ``"dense"`` (the paper's: 100 x score / dense) or ``"retention"`` (chance-
            corrected, the claims' scale: :func:`junk_dna.report.analysis.retention_table`).

    Raises:
        ValueError: no runs, or no pruned runs with a dense baseline.
    """

    plt = _pyplot()
    _check_runs(df, "method", "zero-shot")
    experiment = str(df["experiment"].iloc[0])
    norm = scaled(df, scale=scale, score=score)
    pruned = norm[norm["method"].isin(list(METHOD_LABELS))].dropna(subset=["normalized"])
    if pruned.empty:
        raise ValueError(f"no pruned {experiment} runs with a dense baseline")
    panels = [(m, p) for p in ("unstructured", "nm") for m in METHOD_LABELS
              if not pruned[(pruned["method"] == m) & (pruned["pattern"] == p)].empty]
    conditions = _condition_order(pruned["condition"].unique())
    fig, axes = plt.subplots(1, len(panels), figsize=(panel_size * len(panels) + 0.6,
                                                      panel_size + 1.3), squeeze=False)
    for ax, (method, pattern) in zip(axes[0], panels, strict=True):
        sub = pruned[(pruned["method"] == method) & (pruned["pattern"] == pattern)]
        _panel_frame(ax, has_runs=True)
        for i, cond in enumerate(conditions):
            line = _curve(sub[sub["condition"] == cond], pattern)
            if not line.empty:
                scored = sub[sub["condition"] == cond]["score"].iloc[0]
                label = cond if scored == score else f"{cond} ({scored})"
                _draw_curve(ax, line, CONDITION_COLORS[i % len(CONDITION_COLORS)],
                            marker="s", label=label)
        _x_ticks(ax, sub, pattern)
        ax.set_title(METHOD_LABELS[method] + (" [N:M]" if pattern == "nm" else ""), fontsize=9)
        ax.set_xlabel("Sparsity (%)" if pattern == "unstructured" else "N:M (N kept of M)",
                      fontsize=8)
        ax.legend(fontsize=6, loc="lower left")
    axes[0][0].set_ylabel(y_label(scale, score, "\n"), fontsize=8)
    n_seeds = pruned["seed"].nunique()
    spread = f"mean over {n_seeds} seeds, band = min..max" if n_seeds > 1 else "one seed"
    fig.suptitle(f"{ZERO_SHOT_TITLES.get(experiment, experiment)}  model: "
                 f"{_models_with_caveat(df)}; {spread}", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def quantization_figure(df: pd.DataFrame, *, score: str = "acc", panel_size: float = 3.2,
                        scale: str = "dense"):
    """RTN weight quantization against pruning at matched compression (the paper's v2 claim
    that quantization does not show the monotonic effect): x = the pruning sparsity with the
    same weight storage as b-bit weights (``1 - b/16``), one curve per quantization
    granularity and per pruning method (unstructured), normalized to the dense model
    (``scale`` as :func:`zero_shot_figure`).

    Raises:
        ValueError: no quantization runs with a dense baseline.
    """

    plt = _pyplot()
    _check_runs(df, "method", "quantization")
    norm = scaled(df, scale=scale, score=score).dropna(subset=["normalized"])
    rtn = norm[norm["method"] == "rtn"].copy()
    if rtn.empty:
        raise ValueError("no RTN runs with a dense baseline")
    rtn["x"] = rtn["bits"].astype(int).map(lambda b: 100 * matched_sparsity(b))
    fig, ax = plt.subplots(figsize=(panel_size + 1.2, panel_size))
    _panel_frame(ax, has_runs=True)
    for i, (gran, sub) in enumerate(rtn.groupby("granularity")):
        stats = seed_summary(sub, ["bits", "x"]).sort_values("x")
        _draw_curve(ax, stats, CONDITION_COLORS[i], marker="o", linestyle="--",
                    label=f"RTN {str(gran).replace('_', ' ')}")
    pruned = norm[norm["method"].isin(list(METHOD_LABELS)) & (norm["pattern"] == "unstructured")]
    for j, (method, sub) in enumerate(pruned.groupby("method")):
        line = _curve(sub, "unstructured")
        _draw_curve(ax, line, CONDITION_COLORS[2 + j], marker="s",
                    label=f"{METHOD_LABELS[method]} pruning")
    ticks = sorted(rtn[["x", "bits"]].drop_duplicates().itertuples(index=False))
    ax.set_xticks([t.x for t in ticks], [f"{t.x:g}%\n{int(t.bits)}b" for t in ticks],
                  fontsize=7)
    ax.set_xlabel("equal-storage sparsity / bits per weight", fontsize=8)
    ax.set_ylabel(y_label(scale, score, " "), fontsize=8)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"Quantization vs. pruning  model: {_models_with_caveat(df)}", fontsize=8)
    fig.tight_layout()
    return fig


def _models_with_caveat(df: pd.DataFrame) -> str:
    models = ", ".join(sorted(map(str, df["model"].unique())))
    caveat = df.get("resolved_caveat")
    if caveat is not None and caveat.notna().any():
        models += " (weights went through a 4-bit GGUF: see the caveat in the records)"
    return models


def _with_criterion(norm: pd.DataFrame) -> pd.DataFrame:
    """Rows of the known criteria, with ``criterion`` filled (runs before it existed:
    magnitude)."""
    crit = norm["criterion"].fillna("magnitude") if "criterion" in norm else "magnitude"
    norm = norm.assign(criterion=crit)
    return norm[norm["criterion"].isin(list(CRITERION_STYLE))]


def _by_criterion(sub: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Magnitude first, then the controls present (drawn as optional curves)."""
    return [(c, sub[sub["criterion"] == c]) for c in CRITERION_STYLE
            if (sub["criterion"] == c).any()]


def _control_label(name: str, criterion: str) -> str:
    extra = CRITERION_STYLE[criterion]["label"]
    return f"{name}, {extra}" if extra else name


def _pattern_xlabels(axes: Any, col: int) -> None:
    """The x-axis labels of the unstructured row and the N:M row, under column ``col``."""
    axes[0][col].set_xlabel("Unstructured sparsity (%)", fontsize=9)
    axes[1][col].set_xlabel("N:M sparsity (N kept of M)", fontsize=9)


def _models_and_seeds(df: pd.DataFrame, norm: pd.DataFrame) -> tuple[str, str]:
    """For a figure's title: the models of its runs, and how the seeds are summarized."""
    n_seeds = norm["seed"].nunique() if len(norm) else 0
    spread = f"mean over {n_seeds} seeds, band = min..max" if n_seeds > 1 else "one seed"
    return ", ".join(sorted(map(str, df["model"].unique()))), spread


def _check_runs(df: pd.DataFrame, column: str, what: str) -> None:
    """Raises ValueError when the table holds no ``what`` runs (no ``column``)."""
    if df.empty or column not in df.columns:
        raise ValueError(f"no {what} runs in the table: run a sweep first")


def _pyplot():
    """matplotlib.pyplot on a non-interactive backend unless one is already chosen."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _panel_frame(ax, *, has_runs: bool) -> bool:
    """Dense = 100 line, grid and tick size; a 'no runs' note when empty. Returns has_runs."""
    ax.axhline(100, **{k: v for k, v in DENSE_STYLE.items() if k != "label"}, zorder=3)
    ax.grid(True, color="#cccccc", linewidth=0.5)
    ax.tick_params(labelsize=7)
    if not has_runs:
        ax.text(0.5, 0.5, "no runs", transform=ax.transAxes, ha="center", va="center",
                color="gray")
    return has_runs


def _draw_curve(ax, line: pd.DataFrame, color: str | None = None, **style) -> None:
    """One seed-summarized curve (x, mean) with a min..max band when seeds > 1."""
    ax.plot(line["x"], line["mean"], color=color, markersize=3, linewidth=1.2, **style)
    if (line["count"] > 1).any():
        ax.fill_between(line["x"], line["min"], line["max"], color=color, alpha=0.15,
                        linewidth=0)


def _curve(sub: pd.DataFrame, pattern: str) -> pd.DataFrame:
    """Seed summary of one curve with its x positions (sparsity % or N:M sparsity)."""
    if sub.empty:
        return sub
    xcol = "sparsity" if pattern == "unstructured" else "nm"
    stats = seed_summary(sub, [xcol])
    stats["x"] = (stats[xcol].astype(float) * 100 if pattern == "unstructured"
                  else stats[xcol].map(_nm_sparsity))
    return stats.sort_values("x")


def _x_ticks(ax, sub: pd.DataFrame, pattern: str) -> None:
    if pattern == "unstructured":
        ticks = sorted(sub["sparsity"].astype(float).unique() * 100)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks], rotation=90)
    else:
        order = sorted(sub["nm"].unique(), key=_nm_sparsity)
        ax.set_xticks([_nm_sparsity(v) for v in order], order, rotation=90)


def save(fig, path_stem: str | Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``path_stem.<fmt>`` for each format (folders created); returns paths."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, dpi=150 if fmt == "png" else None, bbox_inches="tight")
        out.append(path)
    return out
