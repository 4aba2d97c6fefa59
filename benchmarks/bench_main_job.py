"""Where the main job's time goes, stage by stage, and what the model cache saves.

Reads a finished runs folder (``make reproduce`` writes ``papermill_runs/``) and prints the
wall time of every stage summed over all runs, as a share of the total:

* from each run's ``record.json`` ``timings``: setup (imports inside the run, seeding), data
  loading, model loading, tokenization, pruning / compression, training, evaluation, checks;
* papermill and kernel overhead: the seconds the sweep spent on a run from its side
  (``runner.json`` ``runner_s``: worker and kernel start when the run paid them, kernel reset,
  notebook I/O, the notebook's imports) minus the run's own ``wall_time_s``; for runs
  without ``runner.json`` (older sweeps), the executed notebook's papermill duration (which
  misses the kernel start) minus ``wall_time_s``;
* figures: the figures notebook's papermill duration;
* set-up (``make setup``) when given with ``--setup-seconds`` (it is not in the runs folder).

"Framework overhead" = papermill/kernel + setup + data and model loading + tokenization; the
issue's target is under 10 % of the total.

``--kernels`` measures the persistent workers: the same small fine-tuning sweep
(``true_gem --preset smoke``) with ``--fresh-kernel`` (the named baseline: a kernel per run)
and with the default (one kernel per worker), and prints the ratio.

``--cache`` also measures the converted-model cache: the same small zero-shot sweep
(``quantization --preset smoke``) run twice against a fresh cache folder, cold then warm, and
prints the ratio (the named baseline is the cold sweep).

Usage::

    python benchmarks/bench_main_job.py --runs-dir papermill_runs [--setup-seconds 170]
    python benchmarks/bench_main_job.py --cache
    python benchmarks/bench_main_job.py --kernels
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

FRAMEWORK = ("papermill + kernel", "setup (make setup)", "run setup (imports)", "load_data",
             "load_model", "tokenize")
RENAME = {"setup": "run setup (imports)", "prune": "prune / compress",
          "compress": "prune / compress"}


def papermill_duration(notebook: Path) -> float | None:
    """``metadata.papermill.duration`` of an executed notebook, or None."""
    try:
        meta = json.loads(notebook.read_text())["metadata"].get("papermill", {})
    except (OSError, ValueError, KeyError):
        return None
    value = meta.get("duration")
    return float(value) if isinstance(value, (int, float)) else None


def stage_table(runs_dir: Path, setup_seconds: float | None) -> tuple[dict[str, float], int]:
    """Seconds per stage summed over every run below ``runs_dir`` (and the run count)."""
    stages: dict[str, float] = defaultdict(float)
    n_runs = 0
    for record_path in sorted(runs_dir.glob("*/*/record.json")):
        record = json.loads(record_path.read_text())
        if record.get("status") != "ok" or record.get("reused_from"):
            continue  # a reused run cost nothing in this job
        n_runs += 1
        for stage, seconds in (record.get("timings") or {}).items():
            stages[RENAME.get(stage, stage)] += float(seconds)
        runner = record_path.parent / "runner.json"
        if runner.exists():
            duration = float(json.loads(runner.read_text())["runner_s"])
        else:
            notebooks = [p for p in record_path.parent.glob("*.ipynb")]
            duration = papermill_duration(notebooks[0]) if notebooks else None
        if duration is not None:
            stages["papermill + kernel"] += max(0.0, duration - float(record["wall_time_s"]))
    figures = papermill_duration(runs_dir / "figures" / "figures.ipynb")
    if figures is not None:
        stages["figures"] += figures
    if setup_seconds:
        stages["setup (make setup)"] += setup_seconds
    return dict(stages), n_runs


def experiment_table(runs_dir: Path) -> dict[str, tuple[int, int, float]]:
    """Per experiment below ``runs_dir``: (runs executed, runs reused, seconds the sweep spent
    on its executed runs: runner.json's ``runner_s``, else the record's wall time)."""
    table: dict[str, list] = defaultdict(lambda: [0, 0, 0.0])
    for record_path in sorted(runs_dir.glob("*/*/record.json")):
        record = json.loads(record_path.read_text())
        if record.get("status") != "ok":
            continue
        row = table[record_path.parent.parent.name]
        if record.get("reused_from"):
            row[1] += 1
            continue
        row[0] += 1
        runner = record_path.parent / "runner.json"
        row[2] += float(json.loads(runner.read_text())["runner_s"]) if runner.exists() \
            else float(record.get("wall_time_s") or 0.0)
    return {name: (n, reused, s) for name, (n, reused, s) in table.items()}


def print_experiments(runs_dir: Path) -> None:
    table = experiment_table(runs_dir)
    total = sum(s for _, _, s in table.values())
    if not total:
        return
    print(f"{'experiment':16s} {'runs':>5s} {'reused':>6s} {'seconds':>10s} {'share':>7s}   "
          "(summed over runs)")
    for name, (n, reused, seconds) in sorted(table.items(), key=lambda kv: -kv[1][2]):
        print(f"{name:16s} {n:5d} {reused:6d} {seconds:10.1f} {100 * seconds / total:6.1f} %")
    print()


def print_stages(runs_dir: Path, setup_seconds: float | None) -> None:
    print_experiments(runs_dir)
    stages, n_runs = stage_table(runs_dir, setup_seconds)
    total = sum(stages.values())
    if not total:
        sys.exit(f"no finished runs with timings below {runs_dir}")
    print(f"{n_runs} runs executed (reused runs excluded) under {runs_dir}")
    print(f"{'stage':28s} {'seconds':>10s} {'share':>7s}   (summed over runs; runs overlap "
          "when jobs > 1)")
    for stage, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"{stage:28s} {seconds:10.1f} {100 * seconds / total:6.1f} %")
    overhead = sum(stages.get(s, 0.0) for s in FRAMEWORK)
    print(f"{'TOTAL':28s} {total:10.1f}")
    print(f"framework overhead ({', '.join(FRAMEWORK)}): {overhead:.1f} s = "
          f"{100 * overhead / total:.1f} % of the total (target < 10 %)")


def timed_sweep(runs_dir: Path, cache: Path | None = None, experiment: str = "quantization",
                *flags: str) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if cache is not None:
        env["JUNK_DNA_CACHE"] = os.fspath(cache)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "junk_dna.cli", "sweep", experiment, "--preset",
                    "smoke", "--runs-dir", os.fspath(runs_dir), "--no-progress", *flags],
                   check=True, env=env)
    return time.perf_counter() - start


def print_kernels() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        fresh = timed_sweep(tmp_path / "fresh", None, "true_gem", "--fresh-kernel")
        reused = timed_sweep(tmp_path / "reused", None, "true_gem")
        for name in ("fresh", "reused"):
            stages, n = stage_table(tmp_path / name, None)
            total = sum(stages.values())
            over = sum(stages.get(s, 0.0) for s in FRAMEWORK)
            print(f"  {name:7s}: {n} runs, framework overhead {over:.1f} s of {total:.1f} s "
                  f"({100 * over / total:.1f} %)")
    print(f"true_gem --preset smoke: a kernel per run {fresh:.1f} s (baseline), one kernel per "
          f"worker {reused:.1f} s: reused/fresh = {reused / fresh:.2f} "
          f"({fresh / reused:.2f}x faster)")


def print_cache() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        cold = timed_sweep(tmp_path / "cold", tmp_path / "cache")
        warm = timed_sweep(tmp_path / "warm", tmp_path / "cache")
    print(f"quantization --preset smoke (2 runs, embedded SmolLM2): cold cache {cold:.1f} s "
          f"(baseline), warm cache {warm:.1f} s: warm/cold = {warm / cold:.2f} "
          f"({cold / warm:.2f}x faster)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", type=Path, default=None,
                        help="a finished runs folder (e.g. papermill_runs)")
    parser.add_argument("--setup-seconds", type=float, default=None,
                        help="measured `make setup` time to include as a stage")
    parser.add_argument("--cache", action="store_true",
                        help="measure a cold vs a warm converted-model cache")
    parser.add_argument("--kernels", action="store_true",
                        help="measure a kernel per run vs one kernel per worker")
    args = parser.parse_args()
    if args.runs_dir is None and not args.cache and not args.kernels:
        parser.error("give --runs-dir, --cache and/or --kernels")
    if args.runs_dir is not None:
        print_stages(args.runs_dir, args.setup_seconds)
    if args.cache:
        print_cache()
    if args.kernels:
        print_kernels()


if __name__ == "__main__":
    main()
