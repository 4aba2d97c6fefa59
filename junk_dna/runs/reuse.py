"""Shared-run reuse: a run finished by another experiment with the same protocol is copied."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from junk_dna.experiments import same_protocol
from junk_dna.results.records import RECORD_NAME, read_record, write_record
from junk_dna.runs.layout import DONE, run_state
from junk_dna.runs.presets import Run


def reuse_shared_runs(experiment: str, todo: Sequence[Run], runs_dir: Path) -> set[str]:
    """Copy finished runs of experiments with the same protocol instead of running them again.

    A run of ``experiment`` whose exact parameters were already run to completion by another
    experiment sharing its protocol (e.g. a dense baseline that true_gem, data_adequacy and
    human_gap all need) gets that run's folder copied under ``<runs_dir>/<experiment>/``,
    with ``experiment`` rewritten and ``reused_from`` naming the source in its record. The
    copy is built in a temporary folder and renamed into place, so a crash leaves either no
    run folder or a complete one.

    Returns:
        The run ids copied.
    """
    others = same_protocol(experiment)
    copied: set[str] = set()
    if not others:
        return copied
    root = runs_dir / experiment
    for run in todo:
        for other in others:
            src = runs_dir / other / run.run_id
            if not src.is_dir():
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if run_state(src, run.params) != DONE:
                    continue
            record = read_record(src)
            root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".reuse-{run.run_id}-", dir=root))
            try:
                for item in src.iterdir():
                    if item.is_file() and item.name != RECORD_NAME:
                        shutil.copy2(item, tmp / item.name)
                write_record(tmp, {**record, "experiment": experiment,
                                   "reused_from": os.fspath(src.resolve())})
                dst = root / run.run_id
                if dst.exists():
                    shutil.rmtree(dst)
                os.replace(tmp, dst)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
            copied.add(run.run_id)
            break
    return copied
