"""Shared-run reuse: a run finished by another experiment with the same protocol is copied."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from junk_dna.experiments import same_protocol
from junk_dna.results.records import RECORD_NAME, read_record, shared_mode, write_record
from junk_dna.runs.errors import RunFolderError
from junk_dna.runs.layout import DONE, blocked_reason, claimed_run, describe_os_error, run_state
from junk_dna.runs.presets import Run


def reuse_shared_runs(experiment: str, todo: Sequence[Run], runs_dir: Path) -> set[str]:
    """Copy finished runs of experiments with the same protocol instead of running them again.

    A run of ``experiment`` whose exact parameters were already run to completion by another
    experiment sharing its protocol (e.g. a dense baseline that true_gem, data_adequacy and
    human_gap all need) gets that run's folder copied under ``<runs_dir>/<experiment>/``,
    with ``experiment`` rewritten and ``reused_from`` naming the source in its record. The
    copy is built in a temporary folder and renamed into place, so a crash leaves either no
    run folder or a complete one. The destination is claimed while it is replaced
    (:func:`junk_dna.runs.layout.claimed_run`); a source or destination that is a symbolic
    link or a file is never used (the run is then executed, and fails naming it), and a copy
    that fails (a full disk) is dropped with a warning: the run is executed instead.

    Returns:
        The run ids copied.
    """
    others = same_protocol(experiment)
    copied: set[str] = set()
    if not others:
        return copied
    root = runs_dir / experiment
    for run in todo:
        dst = root / run.run_id
        if blocked_reason(dst) is not None:
            continue
        for other in others:
            src = runs_dir / other / run.run_id
            if src.is_symlink() or not src.is_dir():
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if run_state(src, run.params) != DONE:
                    continue
            try:
                _copy_run(src, dst, experiment, root)
            except (OSError, RunFolderError) as err:
                detail = describe_os_error(err) if isinstance(err, OSError) else str(err)
                warnings.warn(f"could not reuse {src} for {dst} ({detail}); the run will be "
                              "executed", stacklevel=2)
                continue
            copied.add(run.run_id)
            break
    return copied


def _copy_run(src: Path, dst: Path, experiment: str, root: Path) -> None:
    """Copy the finished run ``src`` into place as ``dst`` (claimed while replaced).

    Raises:
        OSError, RunFolderError: the copy failed or ``dst`` is claimed; nothing was replaced.
    """
    record = read_record(src)
    root.mkdir(parents=True, exist_ok=True)
    with claimed_run(root, dst.name, timeout_s=5.0):
        if blocked_reason(dst) is not None:
            raise RunFolderError(blocked_reason(dst))
        tmp = Path(tempfile.mkdtemp(prefix=f".reuse-{dst.name}-", dir=root))
        try:
            os.chmod(tmp, shared_mode(directory=True))  # mkdtemp makes it private
            for item in src.iterdir():
                if item.is_file() and not item.is_symlink() and item.name != RECORD_NAME:
                    shutil.copy2(item, tmp / item.name)
            write_record(tmp, {**record, "experiment": experiment,
                               "reused_from": os.fspath(src.resolve())})
            if dst.exists():
                shutil.rmtree(dst)
            os.replace(tmp, dst)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
