"""Figures in the layout of the paper's, drawn from collected runs.

Only matplotlib; every function takes a tidy table from :func:`junk_dna.results.collect`
and returns a Figure (saving is the caller's choice, see :func:`save`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from junk_dna.analysis import normalize_to_dense, seed_summary

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
               "mrpc": "MRPC", "qqp": "QQP", "stsb": "STS-B"}


def task_label(task: str) -> str:
    """Display name of a task ("sst2-embedded" -> "SST-2 (embedded)")."""
    base, _, suffix = task.partition("-")
    label = TASK_LABELS.get(base, base)
    return f"{label} ({suffix})" if suffix else label


def _nm_sparsity(nm: str) -> float:
    n, m = (int(x) for x in str(nm).split(":"))
    return 1.0 - n / m


def true_gem_figure(df: pd.DataFrame, *, which: str = "last", panel_size: float = 2.3):
    """The TRUE_GEM layout: rows = unstructured / N:M, one panel per (task, data fraction),
    one curve per transfer mode normalized to the dense model (= 100), mean over seeds with
    a band from the minimum to the maximum seed when there is more than one seed. Runs of the
    control criteria (``random``, ``largest``), when present, are extra curves in the
    mode's colour with their own line style, never mixed into the magnitude curves.

    Args:
        df: :func:`~junk_dna.results.collect` table of ``true_gem`` runs.
        which: ``"last"`` (as the original) or ``"best"`` epoch.
        panel_size: inches per panel.

    Returns:
        A matplotlib Figure.

    Raises:
        ValueError: the table holds no true_gem runs.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if df.empty or "mode" not in df.columns:
        raise ValueError("no true_gem runs in the table: run a sweep first")
    norm = normalize_to_dense(df, which=which)
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
                ax.set_ylabel("normalized score\n(dense = 100)", fontsize=8)
        axes[0][len(panels) // 2].set_xlabel("Unstructured sparsity (%)", fontsize=9)
        axes[1][len(panels) // 2].set_xlabel("N:M sparsity (N kept of M)", fontsize=9)
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
    ax.axhline(100, **{k: v for k, v in DENSE_STYLE.items() if k != "label"}, zorder=3)
    ax.grid(True, color="#cccccc", linewidth=0.5)
    ax.tick_params(labelsize=7)
    pruned = sub[sub["mode"] != "dense"].dropna(subset=["normalized"])
    if pruned.empty:
        ax.text(0.5, 0.5, "no runs", transform=ax.transAxes, ha="center", va="center",
                color="gray")
        return
    xcol = "sparsity" if pattern == "unstructured" else "nm"
    pruned = pruned.assign(criterion=pruned.get("criterion", "magnitude"))
    stats = seed_summary(pruned, ["mode", "criterion", xcol])
    if pattern == "unstructured":
        stats["x"] = stats[xcol].astype(float) * 100
        ticks = sorted(stats["x"].unique())
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks], rotation=90)
    else:
        stats["x"] = stats[xcol].map(_nm_sparsity)
        order = stats.drop_duplicates(xcol).sort_values("x")
        ax.set_xticks(order["x"], order[xcol], rotation=90)
    for (mode, criterion), line in stats.groupby(["mode", "criterion"], sort=False):
        if mode not in MODE_STYLE or criterion not in CRITERION_STYLE:
            continue
        style, line = MODE_STYLE[mode], line.sort_values("x")
        ax.plot(line["x"], line["mean"], color=style["color"], marker=style["marker"],
                markersize=3, linewidth=1.2,
                linestyle=CRITERION_STYLE[criterion]["linestyle"])
        if (line["count"] > 1).any():
            ax.fill_between(line["x"], line["min"], line["max"], color=style["color"],
                            alpha=0.15, linewidth=0)


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
