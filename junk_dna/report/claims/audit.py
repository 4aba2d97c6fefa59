"""The audit of the runs (:func:`audit_runs`): the sparsity guard's flags and the dense runs
that fail the convergence rule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from junk_dna.data.glue_tasks import get_task
from junk_dna.report.claims.conditions import Audit
from junk_dna.report.claims.constants import (
    CONVERGENCE_GAIN,
    CONVERGENCE_LOSS,
    EXPERIMENT,
    FINETUNE_SETTINGS,
)
from junk_dna.report.outcomes import Outcomes


def _convergence(record: dict[str, Any], task: str) -> str | None:
    """Why a dense run fails the convergence rule, or None when it passes."""
    spec = get_task(task)
    epochs = record.get("epochs") or []
    if len(epochs) < 2:
        return "one evaluation only: its gain cannot be measured"
    main = spec.main_metric
    last = epochs[-1]
    params = record.get("params") or {}
    resolved = record.get("resolved") or {}
    n_full = resolved.get("n_train_full") or resolved.get("n_train")
    batch = params.get("batch_size")
    step_key = all("step" in e for e in epochs)
    if step_key and n_full and batch:
        per_epoch = math.ceil(int(n_full) / int(batch))
        target = last["step"] - per_epoch
        earlier = [e for e in epochs[:-1] if e["step"] <= last["step"]]
        prev = min(earlier, key=lambda e: (abs(e["step"] - target), -e["step"]))
        window = [e for e in epochs if e["step"] > target]
        steps = [e["step"] - (epochs[epochs.index(e) - 1]["step"] if epochs.index(e) else 0)
                 for e in window]
        losses = [e.get("train_loss") for e in window]
    else:
        prev = epochs[-2]
        steps, losses = [1], [last.get("train_loss")]
    try:
        gain = 100 * (float(last["metrics"][main]) - float(prev["metrics"][main]))
    except (KeyError, TypeError):
        return f"no {main} in its evaluations"
    reasons = []
    if not gain < CONVERGENCE_GAIN:
        reasons.append(f"the last evaluation gains {gain:.1f} points (>= {CONVERGENCE_GAIN:g})")
    if spec.num_labels >= 2:
        if any(v is None for v in losses):
            reasons.append("no training loss recorded")
        else:
            loss = float(np.average(losses, weights=steps))
            bound = CONVERGENCE_LOSS * math.log(spec.num_labels)
            if not loss < bound:
                reasons.append(f"last-epoch training loss {loss:.3f} >= {CONVERGENCE_LOSS:g} "
                               f"ln({spec.num_labels}) = {bound:.3f}")
    return "; ".join(reasons) or None


def audit_runs(df: pd.DataFrame, outcomes: Outcomes | None = None) -> Audit:
    """The sparsity-guard flags and the non-converged dense runs of a collect table."""
    outcomes = outcomes or Outcomes()
    audit = Audit()
    if df.empty or "run_dir" not in df.columns:
        return audit
    if "experiment" not in df.columns:
        df = df.assign(experiment=EXPERIMENT)
    runs = df.drop_duplicates("run_id")
    for _, r in runs.sort_values(["experiment", "run_id"]).iterrows():
        if r["experiment"] not in FINETUNE_SETTINGS:
            continue
        rec = outcomes.record(r["run_dir"])
        if rec is None:
            continue
        flagged = (rec.get("sparsity") or {}).get("flagged") or []
        if flagged:
            audit.flagged.append((r["experiment"], str(r["run_id"]), ", ".join(flagged)))
        if r.get("mode") == "dense":
            why = _convergence(rec, str(r["task"]))
            if why:
                audit.nonconverged.append((r["experiment"], str(r["run_id"]), why))
    return audit
