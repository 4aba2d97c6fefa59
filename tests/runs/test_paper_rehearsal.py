"""A rehearsal of every experiment's ``paper`` preset through the hub code path, on a CPU.

The ``paper`` presets load their models and data from the Hugging Face hub, which this
machine cannot reach. ``tests/hub_cache.py`` (fixture ``hub_cache``) writes a local cache in
the hub's layout holding every model id and dataset they load, shrunk but with the real
architectures, tokenizer kinds, column names and splits. Here a few runs of each paper preset
(:data:`PLAN`: a dense baseline and one or two compressed runs, 19 in all) go through one
``junk-dna sweep <the 8 experiments> --preset FOLDER/`` in a child process whose only
difference is its environment (``HF_HOME`` on the cache, ``HF_HUB_OFFLINE=1``): the sweep
validates them (resolving each hub id from the cache), runs each notebook in a kernel (one
worker for all), and every run must write a record with finite metrics whose model (and, for
fine-tuning, data) came from the hub.

The preset folder holds one file per experiment with the chosen runs of its paper preset,
each with its parameters as expanded, changed only by the overrides below, which limit the
work to seconds on a CPU (and nothing else):

* fine-tuning (true_gem, data_adequacy, human_gap): ``max_steps: 2``. The hub datasets of the
  cache have 32 training rows and 16 per evaluation split, which bounds the examples; the
  paper's max_length 512, batch 16, learning rate, warm-up and pruning are kept.
* zero-shot (context_length, option_count, kshot, factoid_vs_mc, quantization):
  ``n_questions: 4``, ``n_calibration: 2``, ``calibration_seqlen: 64``, and ``dtype:
  float32`` for the paper's ``float16``: a CPU has no fast fp16 kernels (this plan in
  float16 passed too, at several times the evaluation time). ``device_map: auto``
  (accelerate's placement) is kept: on a machine without a GPU it places the model on the
  CPU.
* not used: each paper preset's ``slurm`` block and ``jobs`` (the local executor, one job).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from junk_dna.experiments.true_gem import TrueGemConfig
from junk_dna.runs.presets import (
    Run,
    expand_preset,
    list_experiments,
    load_preset,
    lookup_experiment,
    presets_file,
)
from tests.hub_cache import HubCache

FINETUNE_OVERRIDES: dict[str, Any] = {"max_steps": 2}
ZERO_SHOT_OVERRIDES: dict[str, Any] = {"n_questions": 4, "n_calibration": 2,
                                       "calibration_seqlen": 64, "dtype": "float32"}

Pick = Callable[[Run], bool]


def _first(**wanted: Any) -> Pick:
    """Picks the first run whose parameters have these values."""
    return lambda run: all(run.params.get(k) == v for k, v in wanted.items())


DENSE_FT, DENSE_LM = _first(mode="dense"), _first(method="dense")
PLAN: dict[str, list[Pick]] = {
    # dense; freezing (claim C) and N:M sparse transfer
    "true_gem": [DENSE_FT, _first(mode="freeze", pattern="unstructured"),
                 _first(mode="sparse", pattern="nm")],
    # dense and sparse at 10 % of MNLI (3 labels, two evaluation splits; true_gem has
    # no MNLI run, so none is reused)
    "data_adequacy": [_first(mode="dense", task="mnli", data_fraction=0.1),
                      _first(mode="sparse", task="mnli", data_fraction=0.1)],
    # the multiple-choice head (WinoGrande dense, CSQA sparse) and the regression head (STS-B)
    "human_gap": [_first(mode="dense", task="winogrande"),
                  _first(mode="sparse", task="csqa", pattern="unstructured"),
                  _first(mode="dense", task="stsb")],
    # dense; SparseGPT with C4 calibration on TriviaQA rc open vs closed book
    "context_length": [DENSE_LM, _first(method="sparsegpt", pattern="unstructured")],
    "option_count": [DENSE_LM, _first(method="wanda", pattern="nm")],
    "kshot": [DENSE_LM, _first(method="wanda")],
    "factoid_vs_mc": [DENSE_LM, _first(method="sparsegpt")],
    "quantization": [DENSE_LM, _first(method="rtn", granularity="per_group"),
                     _first(method="wanda")],
}
REHEARSAL_RUNS = 19
"""Runs of the whole rehearsal (the sum over :data:`PLAN`)."""


def overrides_for(experiment: str) -> dict[str, Any]:
    """The CPU overrides of an experiment's runs (see the module docstring)."""
    config = lookup_experiment(experiment).config
    return dict(FINETUNE_OVERRIDES if config is TrueGemConfig else ZERO_SHOT_OVERRIDES)


def paper_runs(experiment: str) -> list[dict[str, Any]]:
    """The parameters of the paper preset's runs chosen by :data:`PLAN`, as expanded.

    Raises:
        AssertionError: a pick matches no run of the preset (the plan is stale).
    """
    runs = expand_preset(experiment, load_preset(experiment, "paper"), check_hub=False)
    chosen = []
    for i, pick in enumerate(PLAN[experiment]):
        run = next((r for r in runs if pick(r)), None)
        assert run is not None, f"{experiment}: pick {i + 1} matches no run of the paper preset"
        chosen.append(dict(run.params))
    return chosen


def rehearsal_runs(experiment: str) -> list[dict[str, Any]]:
    """:func:`paper_runs` with the CPU overrides (validation sets a field a run does not use,
    such as a dense run's ``n_calibration``, back to ``None``)."""
    return [{**params, **overrides_for(experiment)} for params in paper_runs(experiment)]


def without_overrides(experiment: str, params: Mapping[str, Any]) -> str:
    """``params`` minus the overridden fields, as canonical JSON (to compare runs)."""
    overrides = overrides_for(experiment)
    return json.dumps({k: v for k, v in params.items() if k not in overrides}, sort_keys=True)


def write_rehearsal_presets(folder: Path) -> dict[str, int]:
    """A folder of preset files, ``<experiment>.yaml`` each holding the rehearsal runs of
    one experiment (one block per run); returns experiment -> run count."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for experiment in PLAN:
        runs = rehearsal_runs(experiment)
        preset = {"description": f"{experiment} paper preset rehearsed on a CPU ({len(runs)} "
                                 f"of its runs, overrides {overrides_for(experiment)})",
                  "blocks": [{k: [v] for k, v in params.items()} for params in runs]}
        (folder / f"{experiment}.yaml").write_text(yaml.safe_dump(preset, sort_keys=False),
                                                   encoding="utf-8")
        counts[experiment] = len(runs)
    return counts


@dataclass(frozen=True)
class Rehearsal:
    """One ``junk-dna sweep`` of every experiment's rehearsal preset (one worker pool).

    Attributes:
        runs_dir: its runs folder.
        counts: experiment -> runs in its rehearsal preset.
        returncode, stderr: the command's.
        seconds: its wall time.
    """

    runs_dir: Path
    counts: dict[str, int]
    returncode: int
    stderr: str
    seconds: float

    def records(self, experiment: str) -> list[dict[str, Any]]:
        """The records the sweep wrote for ``experiment``."""
        return [json.loads(p.read_text()) for p in
                sorted(self.runs_dir.glob(f"{experiment}/*/record.json"))]


@pytest.fixture(scope="module")
def rehearsal(hub_cache: HubCache, tmp_path_factory: pytest.TempPathFactory) -> Rehearsal:
    """Every rehearsal run through ``junk-dna sweep EXPERIMENT... --preset FOLDER/`` in a
    child process whose environment points the hub libraries at :func:`hub_cache`."""
    root = tmp_path_factory.mktemp("rehearsal")
    counts = write_rehearsal_presets(root / "rehearsal")
    runs_dir = root / "runs"
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "junk_dna.cli", "sweep", *PLAN, "--preset",
         f"{root / 'rehearsal'}/", "--runs-dir", str(runs_dir), "--jobs", "1", "--no-progress"],
        env={**os.environ, **hub_cache.env()}, capture_output=True, text=True, timeout=900,
        check=False)
    seconds = time.monotonic() - start
    print(f"\nrehearsal of {sum(counts.values())} paper runs: {seconds:.1f} s")
    return Rehearsal(runs_dir, counts, done.returncode, done.stderr, seconds)


def finite_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    """The last evaluation's numeric metrics of a record; every one must be finite."""
    last = record["final"]["last"]
    numbers = {k: v for k, v in last.items() if isinstance(v, (int, float))}
    bad = {k: v for k, v in numbers.items() if not math.isfinite(v)}
    assert not bad, f"{record['run_id']}: metrics not finite: {bad}"
    return numbers


def target_sparsity(params: Mapping[str, Any]) -> float | None:
    """The share of weights a run prunes (0 for dense; ``None`` for RTN, which prunes none
    on purpose)."""
    method = params.get("mode", params.get("method"))
    if method == "rtn":
        return None
    if method == "dense":
        return 0.0
    if params["pattern"] == "nm":
        n, m = (int(x) for x in params["nm"].split(":"))
        return 1 - n / m
    return float(params["sparsity"])


def test_the_plan_covers_every_paper_preset() -> None:
    built_in = sorted(e for e in list_experiments() if presets_file(e).is_file())
    assert sorted(PLAN) == built_in and len(built_in) == 8
    counts = {e: len(rehearsal_runs(e)) for e in PLAN}
    assert sum(counts.values()) == REHEARSAL_RUNS, counts
    for experiment in PLAN:  # a dense baseline and compressed runs
        runs = rehearsal_runs(experiment)
        dense = [r.get("mode", r.get("method")) == "dense" for r in runs]
        assert any(dense) and not all(dense), experiment


def test_the_rehearsal_sweep_succeeds(rehearsal: Rehearsal) -> None:
    assert rehearsal.returncode == 0, rehearsal.stderr[-6000:]
    assert sum(rehearsal.counts.values()) == REHEARSAL_RUNS
    # every run executed by this sweep: none done before, none reused from another experiment
    for experiment, n in rehearsal.counts.items():
        assert (f"{experiment}/rehearsal: {n} runs: 0 already done, {n} ran now, 0 failed; "
                in rehearsal.stderr), rehearsal.stderr[-3000:]


@pytest.mark.parametrize("experiment", list(PLAN))
def test_paper_preset_rehearses_through_the_hub(experiment: str, rehearsal: Rehearsal) -> None:
    records = rehearsal.records(experiment)
    assert len(records) == rehearsal.counts[experiment], rehearsal.stderr[-6000:]
    # the records are the chosen paper runs: every parameter but the overrides is the paper's
    assert sorted(without_overrides(experiment, r["params"]) for r in records) == sorted(
        without_overrides(experiment, p) for p in paper_runs(experiment))
    fine_tuning = lookup_experiment(experiment).config is TrueGemConfig
    for record in records:
        assert record["status"] == "ok" and record["experiment"] == experiment
        assert finite_metrics(record), record["run_id"]
        target = target_sparsity(record["params"])
        if target is not None:  # pruned as asked (dense: nothing)
            assert abs(record["sparsity"]["reached"] - target) < 0.01, record["sparsity"]
        resolved = record["resolved"]
        model = record["params"]["model"]
        assert (resolved["model_source"], resolved["model_location"]) == ("hub", model)
        if fine_tuning:
            assert resolved["data_source"] == "hub"
            assert record["steps"] == FINETUNE_OVERRIDES["max_steps"]
        else:
            assert record["params"]["n_questions"] == ZERO_SHOT_OVERRIDES["n_questions"]
