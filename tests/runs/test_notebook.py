"""The per-run worker (``python -m junk_dna.runs.worker run``) and the workers' entry."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import junk_dna.runs.notebook as notebook
from tests.runs.helpers import FIXTURES

pytestmark = pytest.mark.usefixtures("sleepy_plugin")  # tests/conftest.py


@pytest.mark.slow
def test_worker_retries_once_when_the_kernel_fails_to_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parallel kernels can collide on ports (papermill #511): a failed start is retried."""
    native = notebook.native_kernel_manager_class()
    starts: list[int] = []

    class FlakyKernelManager(native):  # type: ignore[misc, valid-type]
        async def start_kernel(self, **kwargs):  # noqa: ANN003, ANN201
            starts.append(1)
            if len(starts) == 1:
                raise RuntimeError("Kernel died before replying to kernel_info")
            return await super().start_kernel(**kwargs)

    monkeypatch.setattr(notebook, "native_kernel_manager_class", lambda: FlakyKernelManager)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep pytest's handlers
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"x": 7, "sleep": 0.0, "run_dir": str(tmp_path)}))
    argv = [str(FIXTURES / "notebooks" / "sleepy.ipynb"), str(tmp_path / "out.ipynb"),
            str(params), str(tmp_path), str(tmp_path / "error.txt")]
    assert notebook.worker_main(argv) == 0
    assert len(starts) == 2 and not (tmp_path / "error.txt").exists()
    assert json.loads((tmp_path / "record.json").read_text())["params"]["x"] == 7


@pytest.mark.parametrize("kind", [["kernels"], ["run", "nb", "out", "params", "cwd", "err"]])
def test_a_worker_started_after_its_sweep_died_exits_at_once(kind: list[str]) -> None:
    """The sweep's pid travels in the environment: a worker whose sweep was killed while
    it was starting (so its parent already changed when it looks) exits at once, before it
    imports papermill (its watch is the first thing it starts)."""
    from junk_dna.runs.watchdog import EXIT_ORPHAN, PARENT_ENV

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "junk_dna.runs.worker",
                           *kind], env={**os.environ, PARENT_ENV: gone}, timeout=25,
                          capture_output=True, text=True)
    assert proc.returncode == EXIT_ORPHAN and time.monotonic() - start < 20
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()}
    assert "junk_dna.runs.watchdog" in imported
    assert not {"papermill", "jupyter_client", "junk_dna.runs.kernels",
                "junk_dna.runs.notebook"} & imported
