"""Shared-run reuse between experiments with the same protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from junk_dna.runs.local import run_sweep
from tests.runs.helpers import records, write_preset

pytestmark = pytest.mark.usefixtures("sleepy_plugin")  # tests/conftest.py


def test_runs_of_an_experiment_with_the_same_protocol_are_reused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    first = write_preset(tmp_path, "base: {sleep: 0}\nblocks:\n  - {x: [1, 2]}\n", "a.yaml")
    second = write_preset(tmp_path, "base: {sleep: 0}\nblocks:\n  - {x: [1, 2, 3]}\n",
                          "b.yaml")
    done = run_sweep("sleepy", first, runs_dir=runs, progress=False)
    assert done.ran == 2
    twin = run_sweep("sleepy_twin", second, runs_dir=runs, progress=False)
    assert (twin.reused, twin.skipped, twin.ran) == (2, 2, 1)  # only x=3 was executed
    copies = records(runs / "sleepy_twin")
    assert len(copies) == 3
    originals = records(runs / "sleepy")
    for rid, rec in copies.items():
        if rid in originals:  # (the fixture notebook itself always writes "sleepy")
            assert rec["experiment"] == "sleepy_twin"
            assert rec["params"] == originals[rid]["params"]
            assert rec["reused_from"] == str((runs / "sleepy" / rid).resolve())
        else:
            assert "reused_from" not in rec
    # a resumed sweep reuses nothing more and runs nothing
    again = run_sweep("sleepy_twin", second, runs_dir=runs, progress=False)
    assert (again.reused, again.skipped, again.ran) == (0, 3, 0)
    assert not list((runs / "sleepy_twin").glob(".reuse-*"))  # no temporary folder left
