"""The package's ``evaluate`` metric modules, loaded offline by path.

The GLUE and SQuAD metrics are ``evaluate`` scripts shipped in ``junk_dna/evaluation/metrics/``
(``glue_metric/glue_metric.py``, ``squad_metric/squad_metric.py``); ``evaluate.load`` reads
them from there, so neither the hub nor a network is needed (``HF_HUB_OFFLINE=1`` works). They
hold the one definition of each metric: :mod:`junk_dna.evaluation.glue_metrics` and the SQuAD
functions of :mod:`junk_dna.evaluation.lm_scoring` call them. ``evaluate`` (and through it
``datasets``) is imported on first use only: it takes about a second to import.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any

from junk_dna.checks import check_choice

#: the folder of the shipped metric scripts
METRICS_DIR: Path = Path(__file__).resolve().parent / "metrics"
#: metric name -> its script's folder below METRICS_DIR (the script is ``<folder>/<folder>.py``)
METRIC_MODULES: dict[str, str] = {"glue": "glue_metric", "squad": "squad_metric"}


def metric_path(name: str) -> Path:
    """The folder of metric ``name``'s script (what ``evaluate.load`` is given).

    Raises:
        ValueError: an unknown name, naming the allowed ones.
    """
    check_choice("metric module", name, sorted(METRIC_MODULES))
    return METRICS_DIR / METRIC_MODULES[name]


@functools.cache
def load_metric(name: str, config_name: str | None = None) -> Any:
    """The ``evaluate.EvaluationModule`` of metric ``name`` (and config, for ``"glue"``),
    loaded by path, kept in memory (no cache file, no lock) and cached for the process.

    Raises:
        ValueError: an unknown name or config, naming the allowed ones.
    """
    path = metric_path(name)
    import evaluate

    return evaluate.load(str(path), config_name, keep_in_memory=True)


def metric_script(name: str, config_name: str | None = None) -> ModuleType:
    """The Python module of metric ``name``'s loaded script (its scoring functions).

    Raises:
        ValueError: as :func:`load_metric`.
    """
    module = inspect.getmodule(type(load_metric(name, config_name)))
    assert module is not None
    return module
