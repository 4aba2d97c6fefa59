"""Figures in the layout of the paper's, drawn with seaborn from collected runs.

Every figure function takes a tidy table from :func:`junk_dna.results.collect` and returns a
Figure that carries the tidy table it draws (:func:`figure_table`): one row per pruned run
and x point, normalized to its dense baseline. :func:`save` writes the figure (PNG, PDF) and
that table (CSV, portable and deterministic); :func:`render` does both for one experiment of
a runs folder, or says why it draws nothing.

Bands: the seed-to-seed spread is a 95 % bootstrap CI over seeds (several seeds only); the
light band around the dense line at 100 is the dense model's binomial 95 % interval,
``1.96 sqrt(p (1 - p) / n)`` of its score ``p`` on its ``n`` test examples or questions,
on the figure's scale (accuracy-type scores only; the widest of a panel's dense baselines).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from junk_dna.data.human_scores import base_task
from junk_dna.pruning.config import matched_sparsity
from junk_dna.report.analysis import (
    SCALE_REFERENCE,
    SCALES,
    human_gap_table,
    pair_gaps,
    retention_table,
)
from junk_dna.report.claims.constants import HUMAN_GAP_PAIRS


class NothingToDraw(ValueError):
    """A figure has nothing to draw (no runs of its experiment, or no pruned run with a
    dense baseline); the message says which."""


MODE_STYLE: dict[str, dict[str, str]] = {
    "sparse_to_dense": {"label": "Sparse to Dense Transfer", "color": "#20b2aa"},
    "sparse": {"label": "Sparse Transfer", "color": "#f5a623"},
    "freeze": {"label": "Dense Transfer with Freezing", "color": "#0000cd"},
}
DENSE_STYLE = {"label": "Dense Transfer", "color": "#e02020", "linestyle": "--"}
#: Controls the paper lacks, drawn as optional curves in each curve's colour (dash pattern).
CRITERION_STYLE: dict[str, dict[str, Any]] = {
    "magnitude": {"dashes": "", "label": "magnitude (the paper's mask)"},
    "random": {"dashes": (1, 1.5), "label": "random mask (control)"},
    "largest": {"dashes": (4, 1.5, 1, 1.5), "label": "largest pruned (control)"},
}
TASK_LABELS = {"sst2": "SST-2", "qnli": "QNLI", "mnli": "MNLI", "cola": "CoLA", "rte": "RTE",
               "mrpc": "MRPC", "qqp": "QQP", "stsb": "STS-B", "winogrande": "WinoGrande",
               "csqa": "CSQA", "piqa": "PIQA", "hellaswag": "HellaSwag", "siqa": "SIQA",
               "copa": "COPA", "boolq": "BoolQ", "openbookqa": "OpenBookQA"}
#: Easy and hard task of a pair in the Task_4 layout.
PAIR_STYLE = {"easy": {"label": "easy task (the paper's label)", "color": "#20b2aa"},
              "hard": {"label": "hard task (the paper's label)", "color": "#f5a623"}}
METHOD_LABELS = {"magnitude": "Magnitude", "sparsegpt": "SparseGPT", "wanda": "Wanda"}
ZERO_SHOT_TITLES = {
    "context_length": "Open-book vs. closed-book QA (context tokens; closed = 0)",
    "option_count": "Multiple-choice QA with k options",
    "kshot": "k-shot in-context examples",
    "factoid_vs_mc": "Factoid QA (containment) vs. multiple-choice QA",
}
#: Display names of zero-shot conditions (``name=value``); Task_3's colours for context.
CONDITION_NAMES: dict[str, Callable[[str], str]] = {
    "context": lambda v: {"0": "Closed Book", "full": "Open Book"}.get(v, f"Open Book, {v} tokens"),
    "k": lambda v: f"{v} options",
    "shots": lambda v: f"{v}-shot",
}
CONDITION_COLORS = {"Closed Book": "#e02020", "Open Book": "#0000cd"}
#: Scores whose dense interval is binomial (a mean of 0/1 outcomes).
BINOMIAL = ("accuracy", "acc", "acc_norm", "exact_match", "containment")
PATTERN_XLABELS = {"unstructured": "Unstructured sparsity (%)",
                   "nm": "N:M sparsity (N kept of M)"}
ORDERED_PALETTE = "crest"
Z95 = 1.959963984540054
TABLE_ATTR = "junk_dna_table"
#: Columns of a figure's CSV, in this order (those the experiment's runs fill).
TABLE_COLUMNS = (
    "experiment", "model", "task", "data_fraction", "mode", "method", "bits", "granularity",
    "pattern", "sparsity", "nm", "criterion", "condition", "score", "metric", "seed", "run_id",
    "panel", "row", "curve", "line", "x", "tick", "value", "dense_value", "n", "chance",
    "normalized", "dense_ci",
)


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
    if scale == "drop":
        return f"% performance drop of {what}{sep}(dense = 0)"
    return f"normalized {what}{sep}(dense = 100)"


def true_gem_figure(df: pd.DataFrame, *, which: str = "last", panel_size: float = 2.3,
                    scale: str = "dense"):
    """The TRUE_GEM layout: rows = unstructured / N:M, one panel per (task, data fraction),
    one curve per transfer mode normalized to the dense model (= 100). Control criteria
    (``random``, ``largest``), when present, are extra curves in the mode's colour with
    their own dash pattern, never mixed into the magnitude curves.

    Args:
        df: :func:`~junk_dna.results.collect` table of ``true_gem`` runs.
        which: ``"last"`` (as the original) or ``"best"`` epoch.
        panel_size: inches per panel.
        scale: ``"dense"`` (the paper's: 100 x score / dense) or ``"retention"`` (chance-
            corrected, the claims' scale: :func:`junk_dna.report.analysis.retention_table`).

    Raises:
        NothingToDraw: the table holds no true_gem runs, or no pruned run with a baseline.
        ValueError: an unknown scale.
    """
    tidy = _tidy(df, "mode", "true_gem", scale=scale, which=which)
    tidy = tidy[tidy["mode"].isin(list(MODE_STYLE))]
    tidy = tidy.sort_values(["task", "data_fraction"], ascending=[True, False], kind="stable")
    tidy["panel"] = [f"{task_label(t)} ({f * 100:g}% data)"
                     for t, f in zip(tidy["task"], tidy["data_fraction"], strict=True)]
    tidy["curve"] = tidy["mode"].map(lambda m: MODE_STYLE[m]["label"])
    return _facets(tidy, f"Are pre-trained magnitude values the true gem?\nmodel: "
                   f"{_models_with_caveat(df)}; {which} epoch",
                   palette={s["label"]: s["color"] for s in MODE_STYLE.values()},
                   ylabel=y_label(scale, "score", "\n"), panel_size=panel_size)


def data_adequacy_figure(df: pd.DataFrame, *, which: str = "last", panel_size: float = 2.6,
                         scale: str = "dense"):
    """The Task_1 layout: rows = unstructured / N:M, one panel per task, one Sparse Transfer
    curve per training fraction (an ordered palette), each normalized to the dense model
    trained on the same fraction (= 100).

    Args:
        df: :func:`~junk_dna.results.collect` table of ``data_adequacy`` runs.
        which: ``"last"`` or ``"best"`` epoch.
        panel_size: inches per panel.
        scale: ``"dense"`` (the paper's: 100 x score / dense) or ``"retention"`` (chance-
            corrected, the claims' scale: :func:`junk_dna.report.analysis.retention_table`).

    Raises:
        NothingToDraw: no data_adequacy runs, or no sparse run with a baseline.
    """
    tidy = _tidy(df, "mode", "data_adequacy", scale=scale, which=which)
    tidy = tidy[tidy["mode"] == "sparse"].sort_values("data_fraction", kind="stable")
    tidy["panel"] = tidy["task"].map(task_label)
    tidy["curve"] = tidy["data_fraction"].map(lambda f: f"{f * 100:g}% data")
    return _facets(tidy, f"Sparse Transfer vs. amount of fine-tuning data (dense on the same "
                   f"data = 100)\nmodel: {_models_with_caveat(df)}; {which} epoch",
                   palette=ORDERED_PALETTE, ylabel=y_label(scale, "score", "\n"),
                   panel_size=panel_size)


def human_gap_figure(
    df: pd.DataFrame, pairs: Sequence[tuple[str, str, str]] | None = None, *,
    which: str = "last", panel_size: float = 2.6, scale: str = "dense",
):
    """The Task_4 layout: rows = unstructured / N:M, one panel per task pair, the easy and
    the hard task of the pair as two Sparse Transfer curves normalized to their own dense
    model (= 100). Easy and hard are the paper's fixed labels, as in the claims; the
    computed human-model gap of each task (:func:`junk_dna.report.analysis.human_gap_table`)
    is shown beside its label in the panel's title, and a pair whose computed gaps disagree
    with its labels says so there (:func:`junk_dna.report.analysis.pair_gaps`; the notebook
    prints :func:`junk_dna.report.analysis.gap_disagreements`).

    Args:
        df: :func:`~junk_dna.results.collect` table of ``human_gap`` runs (one model).
        pairs: (label, easy task, hard task) by base name; default
            :data:`junk_dna.report.claims.HUMAN_GAP_PAIRS` (those with both tasks present).
        which: ``"last"`` or ``"best"`` epoch.
        panel_size: inches per panel.
        scale: ``"dense"`` (the paper's: 100 x score / dense) or ``"retention"`` (chance-
            corrected, the claims' scale: :func:`junk_dna.report.analysis.retention_table`).

    Raises:
        NothingToDraw: no human_gap runs, no pair has dense runs of both its tasks, or no
            sparse run of a pair's task has a baseline.
    """
    _check_runs(df, "mode", "human_gap")
    full = df[df["data_fraction"] == df["data_fraction"].max()]
    gaps = human_gap_table(full, which=which)
    pairs = HUMAN_GAP_PAIRS if pairs is None else pairs
    found = pair_gaps(gaps, pairs)
    if found.empty:
        raise NothingToDraw(f"no pair of {[p[1:] for p in pairs]} has dense runs of both "
                            f"tasks; tasks with dense runs: {sorted(gaps['task'])}")
    tidy = _tidy(full, "mode", "human_gap", scale=scale, which=which)
    parts = []
    for pair in found.itertuples():
        panel = (f"{pair.label}\n{task_label(base_task(pair.easy))} (easy, computed gap "
                 f"{pair.gap_easy:.2f})\n{task_label(base_task(pair.hard))} (hard, computed "
                 f"gap {pair.gap_hard:.2f})")
        if not pair.agrees:
            panel += "\ncomputed gaps disagree with the labels"
        for kind, task in (("easy", pair.easy), ("hard", pair.hard)):
            part = tidy[(tidy["mode"] == "sparse") & (tidy["task"] == task)]
            parts.append(part.assign(panel=panel, curve=PAIR_STYLE[kind]["label"]))
    tidy = pd.concat(parts, ignore_index=True)
    models = _models_with_caveat(df)
    if any(t.endswith("-embedded") for t in gaps["task"]):
        models += " (embedded re-split tasks)"
    fig = _facets(tidy, f"Sparse Transfer on easy vs. hard tasks (the paper's labels; gap = "
                  f"(human - dense) / human; dense = 100)\nmodel: {models}; {which} epoch",
                  palette={s["label"]: s["color"] for s in PAIR_STYLE.values()},
                  ylabel=y_label(scale, "score", "\n"), panel_size=panel_size)
    for ax in fig.axes:
        if ax.get_title().endswith("disagree with the labels"):
            ax.title.set_color(DENSE_STYLE["color"])
    return fig


def zero_shot_figure(df: pd.DataFrame, *, score: str = "acc", panel_size: float = 2.4,
                     scale: str = "dense"):
    """The Task_3 layout for a zero-shot experiment: one panel per (pruning method, pattern),
    one curve per condition (context length, option count, shots, factoid / mc), each
    normalized to the dense model under the same condition (= 100).

    Args:
        df: :func:`~junk_dna.results.collect` table of ONE zero-shot experiment.
        score: ``"acc"`` or ``"acc_norm"`` (factoid conditions use
            :data:`junk_dna.report.analysis.FACTOID_SCORE`).
        panel_size: inches per panel.
        scale: ``"dense"`` (the paper's: 100 x score / dense) or ``"retention"`` (chance-
            corrected, the claims' scale: :func:`junk_dna.report.analysis.retention_table`).

    Raises:
        NothingToDraw: no runs, or no pruned runs with a dense baseline (e.g. dense only).
    """
    _check_runs(df, "method", "zero-shot")
    experiment = str(df["experiment"].iloc[0])
    tidy = _tidy(df, "method", experiment, scale=scale, score=score)
    tidy = tidy[tidy["method"].isin(list(METHOD_LABELS))]
    if tidy.empty:
        raise NothingToDraw(f"no pruned {experiment} runs with a dense baseline")
    tidy["panel"] = [METHOD_LABELS[m] + (" [N:M]" if p == "nm" else "")
                     for m, p in zip(tidy["method"], tidy["pattern"], strict=True)]
    tidy["curve"] = [_condition_name(c) + ("" if s == score else f" ({s})")
                     for c, s in zip(tidy["condition"], tidy["score"], strict=True)]
    order = {k: i for i, k in enumerate(
        [*(METHOD_LABELS[m] + s for s in ("", " [N:M]") for m in METHOD_LABELS),
         *_condition_order(tidy["condition"])])}
    tidy = tidy.sort_values(["panel", "condition"], key=lambda c: c.map(order), kind="stable")
    return _facets(tidy, f"{ZERO_SHOT_TITLES.get(experiment, experiment)}\nmodel: "
                   f"{_models_with_caveat(df)}", palette=_condition_palette(tidy["curve"]),
                   ylabel=y_label(scale, score, "\n"), panel_size=panel_size, rows=False)


def quantization_figure(df: pd.DataFrame, *, score: str = "acc", panel_size: float = 3.2,
                        scale: str = "dense"):
    """RTN weight quantization against pruning at matched compression (the paper's v2 claim
    that quantization does not show the monotonic effect): x = the pruning sparsity with the
    same weight storage as b-bit weights (``1 - b/16``), one dashed curve per quantization
    granularity and one solid curve per pruning method (unstructured), normalized to the
    dense model (``scale`` as :func:`zero_shot_figure`).

    Raises:
        NothingToDraw: no RTN runs with a dense baseline.
    """
    _check_runs(df, "method", "quantization")
    tidy = _tidy(df, "method", "quantization", scale=scale, score=score)
    rtn = tidy[tidy["method"] == "rtn"].copy()
    if rtn.empty:
        raise NothingToDraw("no RTN runs with a dense baseline")
    bits = rtn["bits"].astype(int)
    rtn["x"] = bits.map(lambda b: 100 * matched_sparsity(b))
    rtn["tick"] = [f"{x:g}%\n{b}b" for x, b in zip(rtn["x"], bits, strict=True)]
    rtn["curve"] = rtn["granularity"].map(lambda g: f"RTN {str(g).replace('_', ' ')}")
    rtn["line"] = "quantization"
    pruned = tidy[tidy["method"].isin(list(METHOD_LABELS)) & (tidy["pattern"] == "unstructured")]
    pruned = pruned.assign(curve=pruned["method"].map(lambda m: f"{METHOD_LABELS[m]} pruning"),
                           line="pruning")
    tidy = pd.concat([rtn, pruned], ignore_index=True).assign(panel="", row="")
    return _facets(tidy, f"Quantization vs. pruning\nmodel: {_models_with_caveat(df)}",
                   palette="tab10", ylabel=y_label(scale, score), panel_size=panel_size,
                   rows=False, xlabel="equal-storage sparsity (%) / bits per weight",
                   dashes={"quantization": (4, 2), "pruning": ""})


def run_figure(record: dict[str, Any], run_dir: str | Path | None = None) -> Any:
    """A small figure of one run, for the end of its notebook: a fine-tuning run's main
    metric and training loss per evaluation, and the sparsity of each prunable tensor
    (``sparsity.csv`` in ``run_dir``, when given and present); a zero-shot run's scores per
    condition (``acc`` and ``acc_norm``, or the metrics it has) on a 0..1 axis.

    Raises:
        NothingToDraw: the record has neither evaluations nor final scores.
    """
    plt, sns = _pyplot()
    epochs = record.get("epochs") or []
    if epochs:
        hist = pd.DataFrame([{"step": e.get("step", e["epoch"]), "train loss": e["train_loss"],
                              **e["metrics"]} for e in epochs])
        metric = next(iter(epochs[0]["metrics"]))
        csv = Path(run_dir) / "sparsity.csv" if run_dir else None
        tensors = pd.read_csv(csv) if csv is not None and csv.is_file() else None
        pruned = tensors is not None and bool(tensors["pruned"].any())
        fig, axes = plt.subplots(1, 2 if pruned else 1, figsize=(8 if pruned else 4, 2.8),
                                 squeeze=False)
        ax = axes[0, 0]
        sns.lineplot(data=hist, x="step", y=metric, marker="o", ax=ax, color="#0000cd")
        loss = ax.twinx()
        sns.lineplot(data=hist, x="step", y="train loss", marker=".", ax=loss, color="#999999")
        ax.set_title(f"{metric} (blue) and training loss (grey)", fontsize=9)
        if pruned:
            layer = tensors["name"].str.extract(r"layer\.(\d+)\.")[0].fillna("other")
            sns.stripplot(x=layer, y=100 * tensors["sparsity"], ax=axes[0, 1], color="#f5a623")
            axes[0, 1].set(xlabel="layer", ylabel="tensor sparsity (%)")
            axes[0, 1].set_title("sparsity of each pruned tensor", fontsize=9)
    else:
        scores = (record.get("final") or {}).get("last") or {}
        if not scores:
            raise NothingToDraw(f"run {record.get('run_id')!r}: no evaluation to draw")
        rows = [{"metric": k.split("|", 1)[0], "condition": _condition_name(k.split("|", 1)[1])
                 if "|" in k else "", "score": v} for k, v in scores.items()
                if isinstance(v, (int, float))]
        fig, ax = plt.subplots(figsize=(4.5, 2.8))
        sns.barplot(data=pd.DataFrame(rows), x="condition", y="score", hue="metric", ax=ax)
        ax.set(ylim=(0, 1), xlabel="")
        ax.set_title(f"scores of {record.get('run_id', 'this run')}", fontsize=9)
    fig.tight_layout()
    return fig


def figure_table(fig: Any) -> pd.DataFrame:
    """The tidy table a figure of this module draws (one row per run and x point).

    Raises:
        ValueError: ``fig`` was not drawn by this module.
    """
    table = getattr(fig, TABLE_ATTR, None)
    if table is None:
        raise ValueError("the figure carries no table (not drawn by junk_dna.report.plots)")
    return table


def figure_csv(table: pd.DataFrame) -> str:
    """A figure's table as CSV text: columns and rows in a fixed order, ``\\n`` line ends,
    so the same records give the same bytes wherever they lie."""
    return table.to_csv(index=False, lineterminator="\n", float_format="%.10g")


def save(fig: Any, path_stem: str | Path, formats: Sequence[str] = ("png", "pdf"),
         *, table: bool = True) -> list[Path]:
    """Save ``fig`` as ``path_stem.<fmt>`` for each format and, when ``table`` and the figure
    carries one (:func:`figure_table`), its table as ``path_stem.csv``; folders created.
    Returns the paths written."""
    from junk_dna.results.records import atomic_write_text

    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        # no creation date in the file: the same records give the same bytes
        meta = {"CreationDate": None} if fmt == "pdf" else {}
        fig.savefig(path, dpi=150 if fmt == "png" else None, bbox_inches="tight", metadata=meta)
        out.append(path)
    if table and getattr(fig, TABLE_ATTR, None) is not None:
        path = stem.with_suffix(".csv")
        atomic_write_text(path, figure_csv(figure_table(fig)))
        out.append(path)
    return out


#: The figure of each experiment (the zero-shot ones: :func:`zero_shot_figure`).
FIGURES: dict[str, Callable[..., Any]] = {
    "true_gem": true_gem_figure, "data_adequacy": data_adequacy_figure,
    "human_gap": human_gap_figure, "quantization": quantization_figure,
}


def render(name: str, runs: pd.DataFrame, figures_dir: str | Path, **options: Any):
    """Draw the figure of experiment ``name`` from the ``runs`` of a runs folder and save it
    (PNG, PDF, CSV) as ``figures_dir/name``; returns the Figure, or None after printing why
    there is nothing to draw (no runs, dense runs only, ...).

    Args:
        name: an experiment (:data:`FIGURES`, else a zero-shot experiment).
        runs: a :func:`~junk_dna.results.collect` table (any experiments).
        figures_dir: where the files go.
        **options: passed to the figure function (``which``, ``scale``, ``score``, ...).
    """
    sub = runs[runs["experiment"] == name] if "experiment" in runs.columns else runs.iloc[:0]
    if sub.empty:
        print(f"{name}: no runs (`junk-dna sweep {name}` makes them); figure skipped")
        return None
    try:
        fig = FIGURES.get(name, zero_shot_figure)(sub, **options)
    except NothingToDraw as why:
        print(f"{name}: figure skipped: {why}")
        return None
    save(fig, Path(figures_dir) / name)
    return fig


def _check_runs(df: pd.DataFrame, column: str, what: str) -> None:
    """Raises NothingToDraw when the table holds no ``what`` runs (no ``column``)."""
    if df.empty or column not in df.columns:
        raise NothingToDraw(f"no {what} runs in the table: run a sweep first")


def _tidy(df: pd.DataFrame, column: str, what: str, *, scale: str, which: str = "last",
          score: str | None = None) -> pd.DataFrame:
    """The compressed runs with a dense baseline, ``normalized`` on ``scale``, their x
    position (sparsity %, N:M as its sparsity), tick label, pattern row, control line style
    and ``dense_ci`` (the half-width of the dense model's binomial 95 % interval)."""
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r} not in {list(SCALES)}")
    _check_runs(df, column, what)
    rows = retention_table(df, which=which, score=score or "acc")
    if scale == "retention":
        rows = rows.assign(normalized=rows["retention"])
    elif scale == "drop":
        rows = rows.assign(normalized=rows["normalized"] - 100)
    rows = rows.assign(reference=SCALE_REFERENCE[scale])
    pruned = rows[(rows[column] != "dense") & rows["dense_value"].notna()].copy()
    if pruned.empty:
        raise NothingToDraw(f"no pruned {what} runs with a dense baseline "
                            f"({(rows[column] == 'dense').sum()} dense rows)")
    p, n = pruned["dense_value"].astype(float), pruned["n"].astype(float)
    scored = pruned["score"] if "score" in pruned else pruned["metric"]
    spread = 100 * Z95 * np.sqrt(p * (1 - p) / n).where(scored.isin(BINOMIAL))
    pruned["dense_ci"] = spread / (p - pruned["chance"] if scale == "retention" else p).abs()
    nm = pruned.get("pattern", pd.Series(index=pruned.index, dtype=object)) == "nm"
    pruned["x"] = np.where(nm, pruned.get("nm", pd.Series(index=pruned.index)).map(_nm_sparsity),
                           pd.to_numeric(pruned.get("sparsity"), errors="coerce") * 100)
    pruned["tick"] = np.where(nm, pruned.get("nm"), pruned["x"].map(lambda x: f"{x:g}"))
    pruned["row"] = pruned.get("pattern")
    crit = pruned["criterion"].fillna("magnitude") if "criterion" in pruned else "magnitude"
    pruned["line"] = crit
    return pruned[pruned["line"].isin(list(CRITERION_STYLE))]


def _nm_sparsity(nm: Any) -> float:
    if not isinstance(nm, str) or ":" not in nm:
        return math.nan
    n, m = (int(x) for x in nm.split(":"))
    return 100.0 * (1.0 - n / m)


def _facets(tidy: pd.DataFrame, title: str, *, palette: Any, ylabel: str, panel_size: float,
            rows: bool = True, xlabel: str | None = None,
            dashes: dict[str, Any] | None = None):
    """The grid of a figure: rows = patterns present (``rows``), columns = ``panel``, hue =
    ``curve``, style = ``line``; each panel gets the dense line, its band and its ticks, the
    figure a legend below the panels and a wrapped title. Carries the table it drew."""
    plt, sns = _pyplot()
    dashes = dashes or {k: s["dashes"] for k, s in CRITERION_STYLE.items()}
    hue_order = list(dict.fromkeys(tidy["curve"]))
    if isinstance(palette, dict):  # the palette's order (the paper's legend order)
        hue_order = [h for h in palette if h in hue_order]
    style_order = [k for k in dashes if (tidy["line"] == k).any()]
    if isinstance(palette, str):
        palette = dict(zip(hue_order, sns.color_palette(palette, len(hue_order)), strict=True))
    panels = list(dict.fromkeys(tidy["panel"]))
    row_order = [r for r in PATTERN_XLABELS if (tidy["row"] == r).any()] if rows else None
    n_seeds = int(tidy.groupby(["panel", "curve", "line", "x"], dropna=False)["seed"]
                  .nunique().max()) if "seed" in tidy else 1
    data = tidy.assign(normalized=tidy["normalized"].astype(float))
    # without rows, panels of different patterns (unstructured, N:M) share no x axis: each
    # pattern's panels get that pattern's ticks and range
    grid = sns.FacetGrid(data, col="panel", col_order=panels, row="row" if rows else None,
                         row_order=row_order, height=panel_size,
                         sharex="row" if rows else False, sharey=False,
                         aspect=max(1.0, 4.5 / (panel_size * len(panels))))
    grid.map_dataframe(sns.lineplot, x="x", y="normalized", hue="curve", hue_order=hue_order,
                       palette=palette, style="line", style_order=style_order, dashes=dashes,
                       marker="s", markersize=4, markeredgewidth=0, linewidth=1.2, legend=False,
                       errorbar=("ci", 95) if n_seeds > 1 else None, seed=0,
                       err_kws={"linewidth": 0, "alpha": 0.2})
    grid.set_titles(template="{col_name}", col_template="{col_name}", size=8)
    fig = grid.figure
    ref = float(data["reference"].iloc[0]) if "reference" in data else 100.0
    per_curve_bands = False
    for ax, sub, grid_row in _panel_data(grid, data, panels, row_order):
        ax.axhline(ref, color=DENSE_STYLE["color"], linestyle="--", zorder=2, gid="dense")
        # one band when the panel's curves share their dense interval, else one band per
        # curve in its colour (conditions or data fractions with their own dense model)
        halves = sub.groupby("curve", sort=False)["dense_ci"].max()
        halves = halves[np.isfinite(halves)]
        if len(halves) and float(halves.max() - halves.min()) > 1e-9:
            per_curve_bands = True
            for curve, half in halves.sort_values(ascending=False).items():
                ax.axhspan(ref - half, ref + half, color=palette[curve], alpha=0.08,
                           linewidth=0, zorder=1, gid="dense_ci")
        elif len(halves):
            half = float(halves.max())
            ax.axhspan(ref - half, ref + half, color=DENSE_STYLE["color"], alpha=0.1,
                       linewidth=0, zorder=1, gid="dense_ci")
        if sub["normalized"].isna().all():
            ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", color="gray")
        # the panel's pattern: its grid row, else (one row of panels) that of its data
        row = grid_row if grid_row is not None else (sub["row"].iloc[0] if len(sub) else None)
        same_row = (data if row is None and not len(sub) else
                    data[data["row"].isna()] if pd.isna(row) else data[data["row"] == row])
        ticks = same_row.dropna(subset=["x"]).groupby("x")["tick"].agg(
            lambda t: max(t, key=len))  # shared by the panels of one pattern
        ax.set_xticks(list(ticks.index), list(ticks), fontsize=7,
                      rotation=0 if ticks.str.contains("\n").any() else 90)
        if not rows and len(ticks):  # the same range in every panel of the pattern
            lo, hi = float(min(ticks.index)), float(max(ticks.index))
            pad = 0.05 * (hi - lo) if hi > lo else 5.0
            ax.set_xlim(lo - pad, hi + pad)
        ax.tick_params(labelsize=7)
        ax.grid(True, color="#dddddd", linewidth=0.5)
        ax.set_xlabel(xlabel or PATTERN_XLABELS.get(row, "sparsity (%)"), fontsize=8)
    for ax in grid.axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=8)
    handles = [plt.Line2D([], [], color=palette[h], marker="s", markersize=4, label=h)
               for h in hue_order]
    handles += [plt.Line2D([], [], color="gray", label=CRITERION_STYLE.get(k, {}).get("label", k),
                           **({"dashes": dashes[k]} if dashes[k] else {}))
                for k in style_order if len(style_order) > 1]
    handles += [plt.Line2D([], [], color=DENSE_STYLE["color"], linestyle="--",
                           label=f"{DENSE_STYLE['label'] if rows else 'dense model'} (= {ref:g})")]
    if per_curve_bands:
        handles.append(plt.Rectangle((0, 0), 1, 1, color="gray", alpha=0.15,
                                     label="dense 95% CI per curve, in its colour "
                                           "(binomial, test n)"))
    elif np.isfinite(data["dense_ci"]).any():
        handles.append(plt.Rectangle((0, 0), 1, 1, color=DENSE_STYLE["color"], alpha=0.1,
                                     label="dense 95% CI (binomial, test n)"))
    if n_seeds > 1:
        handles.append(plt.Rectangle((0, 0), 1, 1, color="gray", alpha=0.25,
                                     label=f"95% CI over {n_seeds} seeds (bootstrap)"))
    title += f"; {n_seeds} seeds, mean" if n_seeds > 1 else "; one seed"
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), frameon=False,
               ncol=min(len(handles), max(2, int(fig.get_figwidth() // 2.2))), fontsize=7)
    width = max(40, int(fig.get_figwidth() * 14))
    fig.suptitle("\n".join(textwrap.fill(line, width) for line in title.split("\n")),
                 fontsize=9)
    fig.tight_layout()
    columns = [c for c in TABLE_COLUMNS if c in tidy.columns and (  # the experiment's own
        tidy[c].notna().any() or c in ("n", "chance", "normalized", "dense_ci"))]
    table = tidy[columns].sort_values(
        [c for c in ("panel", "row", "curve", "line", "x", "seed", "run_id") if c in columns],
        key=lambda c: c.map(hue_order.index) if c.name == "curve" else c, kind="stable")
    setattr(fig, TABLE_ATTR, table.reset_index(drop=True))
    return fig


def _pyplot() -> tuple[Any, Any]:
    """matplotlib.pyplot (a non-interactive backend unless one is chosen) and seaborn."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import seaborn as sns

    return plt, sns


def _panel_data(grid: Any, data: pd.DataFrame, panels: list[str], row_order: list[str] | None
                ) -> list[tuple[Any, pd.DataFrame, str | None]]:
    """(axes, rows drawn on it, its grid row or None) for every panel of ``grid``."""
    out = []
    for i, row in enumerate(row_order or [None]):
        for j, panel in enumerate(panels):
            mask = data["panel"] == panel
            if row is not None:
                mask &= data["row"] == row
            out.append((grid.axes[i, j], data[mask], row))
    return out


def _condition_name(condition: str) -> str:
    name, _, value = condition.partition("=")
    return CONDITION_NAMES[name](value) if value and name in CONDITION_NAMES else condition


def _condition_order(conditions: Sequence[str] | pd.Series) -> list[str]:
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


def _condition_palette(curves: pd.Series) -> dict[str, Any]:
    """Task_3's Closed Book red and Open Book blue; other conditions an ordered palette."""
    _, sns = _pyplot()

    names = list(dict.fromkeys(curves))
    rest = [c for c in names if c not in CONDITION_COLORS]
    colors = dict(zip(rest, sns.color_palette(ORDERED_PALETTE, len(rest)), strict=True))
    return {c: CONDITION_COLORS.get(c, colors.get(c)) for c in names}


def _models_with_caveat(df: pd.DataFrame) -> str:
    models = ", ".join(sorted(map(str, df["model"].unique())))
    caveat = df.get("resolved_caveat")
    if caveat is not None and caveat.notna().any():
        models += " (weights went through a 4-bit GGUF: see the caveat in the records)"
    return models
