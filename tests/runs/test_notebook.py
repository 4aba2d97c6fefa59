"""The per-run worker (``python -m junk_dna.runs.notebook --worker``)."""

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


def test_a_worker_started_after_its_sweep_died_exits_at_once() -> None:
    """The sweep's pid travels in the environment: a worker whose sweep was killed while
    it was starting (so its parent already changed when it looks) exits too."""
    from junk_dna.runs.notebook import PARENT_ENV

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    code = ("import time; from junk_dna.runs.notebook import watch_parent; "
            "watch_parent(0.1); time.sleep(30)")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], env={**os.environ, PARENT_ENV: gone},
                          timeout=25)
    assert proc.returncode == 3 and time.monotonic() - start < 20
