"""Run records: atomic writes, corruption detection, and the tidy table."""

from __future__ import annotations

import os
import stat

import pytest

from junk_dna.results.records import CorruptRecordError, read_record, write_record
from junk_dna.results.table import collect


def _record(run_id: str, mode: str, acc: float) -> dict:
    return {"experiment": "true_gem", "run_id": run_id, "status": "ok",
            "params": {"task": "sst2-embedded", "mode": mode, "seed": 1},
            "final": {"last": {"accuracy": acc}, "best": {"accuracy": acc + 0.01}},
            "sparsity": {"reached": 0.5}, "wall_time_s": 1.0}


def test_write_read_and_collect(tmp_path):
    write_record(tmp_path / "a", _record("a", "dense", 0.8))
    write_record(tmp_path / "b", _record("b", "sparse", 0.7))
    assert read_record(tmp_path / "a")["final"]["last"]["accuracy"] == 0.8
    assert read_record(tmp_path / "missing") is None
    df = collect(tmp_path)
    assert len(df) == 4  # 2 runs x (last, best) x 1 metric
    row = df[(df.run_id == "b") & (df.which == "last")].iloc[0]
    assert (row["mode"], row["metric"], row["value"]) == ("sparse", "accuracy", 0.7)
    assert list(tmp_path.glob("**/.record.json.*")) == []  # no temp files left


def test_corrupt_record_is_detected_and_not_counted(tmp_path):
    write_record(tmp_path / "a", _record("a", "dense", 0.8))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "record.json").write_text('{"experiment": "true_gem", "run')
    with pytest.raises(CorruptRecordError, match="not valid JSON"):
        read_record(tmp_path / "b")
    with pytest.warns(UserWarning, match="corrupt"):
        df = collect(tmp_path)
    assert set(df.run_id) == {"a"}


def test_invalid_records_are_refused(tmp_path):
    with pytest.raises(ValueError, match="lacks keys"):
        write_record(tmp_path, {"experiment": "x"})
    with pytest.raises(ValueError, match="'weird'"):
        write_record(tmp_path, {**_record("a", "dense", 0.5), "status": "weird"})


@pytest.mark.parametrize(("mask", "file_mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_written_files_respect_the_umask(tmp_path, mask: int, file_mode: int) -> None:
    """Results are shared files: the atomic writer's private temporary file gets the mode a
    plain open() would give under the umask, before it is renamed into place."""
    from junk_dna.results.records import atomic_write_text, process_umask, shared_mode

    old = os.umask(mask)
    try:
        assert process_umask() == mask
        assert shared_mode(directory=True) == 0o777 & ~mask
        atomic_write_text(tmp_path / "claims.csv", "a,b\n")
        write_record(tmp_path / "run", {"experiment": "true_gem", "run_id": "r",
                                        "status": "ok", "params": {}, "final": {}})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "claims.csv").stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "run" / "record.json").stat().st_mode) == file_mode
