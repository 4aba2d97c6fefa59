"""Cost projections of fine-tuning runs from a saved step time, and the dry run that prints
them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from junk_dna.cli import main
from junk_dna.results.records import write_record
from junk_dna.runs.cost import (
    PUBLISHED_TRAIN_SIZES,
    STEP_TIMES_ENV,
    StepTime,
    load_step_times,
    projection_lines,
    run_steps,
    save_step_time,
)
from junk_dna.runs.presets import expand_preset, load_preset
from junk_dna.runs.slurm import CLUSTER_ENV

GPU = StepTime("roberta-large", "cuda", "NVIDIA H200", "bf16", 512, 0.01, "2026-12-02")


def test_run_steps_count_steps_and_options() -> None:
    base = {"batch_size": 16, "epochs": 3}
    assert run_steps({**base, "task": "qnli"}) == math.ceil(104743 / 16) * 3
    assert run_steps({**base, "task": "qnli", "data_fraction": 0.1}) == \
        math.ceil(math.ceil(104743 * 0.1) / 16) * 3
    assert run_steps({**base, "task": "csqa"}) == math.ceil(9741 / 16) * 3 * 5  # 5 options
    assert run_steps({**base, "task": "sst2-embedded", "max_steps": 234}) == 234
    assert run_steps({**base, "task": "csqa-embedded", "max_steps": 10}) == 50
    assert run_steps({**base, "task": "mytask"}) is None  # no published size
    assert run_steps({"task": "qnli"}) is None
    assert run_steps({"task": "sst2", "max_steps": 10}) is None  # no batch size
    assert set(PUBLISHED_TRAIN_SIZES) >= {"sst2", "cola", "qqp", "stsb", "qnli", "rte", "mnli",
                                          "winogrande", "csqa"}


def test_step_times_are_saved_atomically_replaced_by_key_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "steps.json"
    assert load_step_times(path) == []
    save_step_time(GPU, path)
    cpu = StepTime("roberta-large", "cpu", "x86_64", "fp32", 128, 7.0, "2026-12-01")
    save_step_time(cpu, path)
    newer = StepTime("roberta-large", "cuda", "NVIDIA H200", "bf16", 512, 0.02, "2026-12-03")
    save_step_time(newer, path)  # same model, device, precision, length: replaces
    assert load_step_times(path) == [cpu, newer]
    assert not list(path.parent.glob("*.tmp*"))
    path.write_text("{not json")
    assert load_step_times(path) == []


def test_projection_of_a_paper_preset() -> None:
    params = [r.params for r in expand_preset("true_gem", load_preset("true_gem", "paper"),
                                              check_hub=False)]
    steps = sum(run_steps(p) for p in params)
    (head, line) = projection_lines(params, [GPU])
    assert head.startswith(f"projected training time of {len(params)} roberta-large runs "
                           f"({steps:,} optimizer steps x options, {steps * 16:,} sequences)")
    assert line.strip() == (f"{steps * 16 * 0.01 / 3600:,.0f} cuda-hours at 512 tokens per "
                            "sequence (bf16, NVIDIA H200, measured 2026-12-02)")
    assert projection_lines(params, []) == []  # no measurement, no projection
    other = StepTime("bert-base", "cpu", "x", "fp32", 64, 1.0, "2026-12-02")
    assert projection_lines(params, [other]) == []  # another model's measurement


def test_the_dry_run_prints_the_projection_from_saved_step_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sweep", "human_gap", "--preset", "paper", "--dry-run", "--runs-dir",
            str(tmp_path / "runs")]
    assert main(argv) == 0
    assert "projected training time" not in capsys.readouterr().out  # nothing saved
    saved = tmp_path / "steps.json"
    save_step_time(GPU, saved)
    monkeypatch.setenv(STEP_TIMES_ENV, str(saved))
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "projected training time of 408 roberta-large runs" in out
    # runs already done are not projected again
    runs = expand_preset("human_gap", load_preset("human_gap", "paper"), check_hub=False)
    for run in runs[:8]:
        write_record(tmp_path / "runs" / "human_gap" / run.run_id,
                     {"experiment": "human_gap", "run_id": run.run_id, "status": "ok",
                      "params": run.params, "final": {"last": {}, "best": {}}})
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "408 runs: 8 done" in out, out[-500:]
    assert "projected training time of 400 roberta-large runs" in out
    assert "cuda-hours at 512 tokens per sequence (bf16, NVIDIA H200" in out
    assert json.loads(saved.read_text())[0]["model"] == "roberta-large"
    # the SLURM executor's dry run: the same projection for the runs it would submit
    # (submitit's local cluster: no SLURM client needed for a dry run here)
    monkeypatch.setenv(CLUSTER_ENV, "local")
    assert main([*argv, "--executor", "slurm"]) == 0
    assert "projected training time of 400 roberta-large runs" in capsys.readouterr().out
