"""Provenance of a run: package versions, the git commit, seconds per stage, and seeding.

Every run calls :func:`start_run` first (threads and seeds) and ends its record with
:func:`provenance`. torch is imported by these two only.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any


def package_versions(names: tuple[str, ...] = (
    "junk-dna", "torch", "transformers", "datasets", "accelerate", "numpy", "papermill",
)) -> dict[str, str | None]:
    """Installed versions of the packages a result depends on (``None`` when not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(path: str | os.PathLike[str] | None = None) -> str | None:
    """The commit hash of the git checkout holding ``path`` (default: this package), or None.

    A ``-dirty`` suffix marks uncommitted changes to tracked files.
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


def provenance(start: float, timings: Mapping[str, float]) -> dict[str, Any]:
    """The fields every run record ends with: wall time since ``start`` (a
    ``time.perf_counter()`` value), seconds per stage, torch threads, package versions and the
    git commit.
    """
    import torch

    return {
        "wall_time_s": round(time.perf_counter() - start, 3),
        "timings": {k: round(float(v), 3) for k, v in timings.items()},
        "threads": torch.get_num_threads(),
        "versions": package_versions(),
        "git_commit": git_commit(),
    }


def start_run(seed: int) -> None:
    """What every run does first: use ``JUNK_DNA_THREADS`` torch threads when the sweep set
    it (cores // parallel jobs), and seed Python, NumPy and torch with ``seed``."""
    import torch
    from transformers import set_seed

    threads = os.environ.get("JUNK_DNA_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    set_seed(seed)
