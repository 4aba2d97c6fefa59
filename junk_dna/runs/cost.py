"""What a sweep's fine-tuning runs would cost, projected from a measured training step.

``benchmarks/bench_paper_step.py`` times one optimizer step of a model (for example
``roberta-large`` on a GPU) and saves the seconds per training sequence at each length it
measured (:func:`save_step_time`, in :func:`step_times_path`). ``junk-dna sweep --dry-run``
then prints, for the runs of that model, their optimizer steps and the projected
device-hours (:func:`projection_lines`); nothing is printed without a measurement.

A run's optimizer steps: its ``max_steps`` when set, else ``ceil(train examples x
data_fraction / batch_size) x epochs``, with the train split sizes of
:data:`PUBLISHED_TRAIN_SIZES` (tasks not listed are not projected); a multiple-choice step
scores one sequence per option (:func:`sequences_per_example`). Training only (evaluation
is not counted); sequences are padded per batch, so a projection at the preset's
``max_length`` is an upper bound.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from junk_dna.data.glue_tasks import get_task
from junk_dna.models.causal_lm import default_cache_root
from junk_dna.results.records import atomic_write_text

#: Overrides where the measured step times are kept.
STEP_TIMES_ENV = "JUNK_DNA_STEP_TIMES"
STEP_TIMES_NAME = "step_times.json"
#: Train split sizes (GLUE: Wang et al. 2019, table 1; WinoGrande xl: 40,398; CommonsenseQA:
#: 9,741), by base task name (before ``-embedded``).
PUBLISHED_TRAIN_SIZES: dict[str, int] = {
    "cola": 8551, "sst2": 67349, "mrpc": 3668, "qqp": 363846, "stsb": 5749, "mnli": 392702,
    "qnli": 104743, "rte": 2490, "wnli": 635, "winogrande": 40398, "csqa": 9741}


@dataclass(frozen=True)
class StepTime:
    """One measured training step.

    Attributes:
        model: the model name as runs give it (e.g. ``"roberta-large"``).
        device: ``"cpu"``, ``"cuda"``, ...; ``device_name`` what it was (e.g. the GPU).
        precision: ``"fp32"`` or ``"bf16"``.
        length: tokens per sequence.
        seconds_per_sequence: step seconds divided by the measured batch size.
        measured: ISO date of the measurement.
    """

    model: str
    device: str
    device_name: str
    precision: str
    length: int
    seconds_per_sequence: float
    measured: str


def step_times_path() -> Path:
    """``$JUNK_DNA_STEP_TIMES`` when set, else ``step_times.json`` in the package's cache
    folder (``$JUNK_DNA_CACHE`` or ``~/.cache/junk_dna``)."""
    env = os.environ.get(STEP_TIMES_ENV)
    return Path(env).expanduser() if env else default_cache_root() / STEP_TIMES_NAME


def load_step_times(path: str | os.PathLike[str] | None = None) -> list[StepTime]:
    """The saved measurements; ``[]`` when there are none or the file cannot be read."""
    file = Path(path) if path is not None else step_times_path()
    try:
        items = json.loads(file.read_text(encoding="utf-8"))
        return [StepTime(**item) for item in items]
    except (OSError, ValueError, TypeError):
        return []


def save_step_time(step: StepTime, path: str | os.PathLike[str] | None = None) -> Path:
    """Add ``step`` to the saved measurements (atomically), replacing an earlier one of the
    same model, device, precision and length. Returns the file."""
    file = Path(path) if path is not None else step_times_path()
    key = (step.model, step.device, step.precision, step.length)
    kept = [s for s in load_step_times(file)
            if (s.model, s.device, s.precision, s.length) != key]
    file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(file, json.dumps([asdict(s) for s in [*kept, step]], indent=1) + "\n")
    return file


def sequences_per_example(task: str) -> int:
    """Sequences a training example puts through the model: its options for a task with a
    multiple-choice head (the task registry's ``num_labels``), else 1 (also for a task the
    registry does not know)."""
    try:
        spec = get_task(task)
    except ValueError:
        return 1
    return spec.num_labels if spec.head == "multiple_choice" else 1


def run_steps(params: Mapping[str, Any]) -> int | None:
    """Optimizer steps of one fine-tuning run, weighted by the sequences per example (options
    of a multiple-choice task); ``None`` when they cannot be counted (no batch size; no
    ``max_steps`` and no epochs or no published size of the task)."""
    task = str(params.get("task") or "").removesuffix("-embedded")
    weight = sequences_per_example(task)
    batch, epochs = params.get("batch_size"), params.get("epochs")
    if not batch:
        return None
    if params.get("max_steps"):
        return int(params["max_steps"]) * weight
    if task not in PUBLISHED_TRAIN_SIZES or not epochs:
        return None
    n = math.ceil(PUBLISHED_TRAIN_SIZES[task] * float(params.get("data_fraction") or 1.0))
    return math.ceil(n / int(batch)) * int(epochs) * weight


def projection_lines(params: Sequence[Mapping[str, Any]],
                     times: Sequence[StepTime] | None = None) -> list[str]:
    """Lines projecting the training time of fine-tuning runs (their params) from the saved
    step times of their model; ``[]`` when no measurement matches."""
    times = load_step_times() if times is None else times
    out = []
    for model in sorted({str(p.get("model")) for p in params}):
        mine = [p for p in params if str(p.get("model")) == model]
        steps = [run_steps(p) for p in mine]
        counted = [(s, p) for s, p in zip(steps, mine, strict=True) if s is not None]
        measured = sorted((t for t in times if t.model == model),
                          key=lambda t: (t.device, t.precision, t.length))
        if not counted or not measured:
            continue
        sequences = sum(s * int(p["batch_size"]) for s, p in counted)
        total = sum(s for s, _ in counted)
        left = len(mine) - len(counted)
        out.append(f"projected training time of {len(counted)} {model} runs ({total:,} "
                   f"optimizer steps x options, {sequences:,} sequences"
                   + (f"; {left} runs not counted: no step count" if left else "")
                   + "), from measured steps:")
        for t in measured:
            hours = sequences * t.seconds_per_sequence / 3600
            out.append(f"  {hours:,.0f} {t.device}-hours at {t.length} tokens per sequence "
                       f"({t.precision}, {t.device_name}, measured {t.measured})")
    return out
