"""The registry of experiments: name -> notebook, validator, config, defaults, resolver.

The sweep runner only needs, per experiment, the notebook that runs one configuration and a
function that validates one configuration's parameters before anything long starts. This
registry maps experiment names to both; tests register small experiments of their own.

Model names are resolved through a seam: an experiment names its resolver
(``resolve_model``), and its validator takes the resolution as a parameter (``resolve``), so
the sweep passes one that asks the hub at most once per distinct name, or never in a dry run
(:func:`junk_dna.runs.presets.expand_preset`), while a direct call resolves for real.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from junk_dna.checks import check_choice

ModelResolver = Callable[[str], Any]
"""Resolves one model name (what it resolved to); raises ValueError naming a bad name."""


@dataclass(frozen=True)
class Experiment:
    """A sweepable experiment.

    Attributes:
        name: the name used on the command line (``junk-dna sweep NAME``).
        notebook: file name of its notebook in the notebooks folder.
        validate: checks one run's parameters (a flat dict of JSON literals) and returns
            them normalized; raises ValueError naming the bad value and the allowed ones.
            With a ``resolve_model``, it takes the keyword ``resolve`` (a
            :data:`ModelResolver`) and resolves the run's model name through it.
        default_notebook_dir: where the notebook lives when the caller gives no folder.
        protocol: experiments with the same protocol run a configuration identically (same
            run function, same parameters, same record), so a sweep of one may reuse a
            finished run of another instead of running it again; None shares nothing.
        config: the dataclass of one run's parameters (its field defaults are the
            experiment's defaults), or None; its notebook's ``parameters`` cell is generated
            from it (:mod:`junk_dna.experiments.parameters`).
        defaults: what this experiment sets differently from ``config``'s defaults (e.g. a
            zero-shot experiment's task and conditions), in its runs and its notebook.
        resolve_model: the experiment's model-name resolver, ``(name, *, check_hub) ->
            resolved``, which the sweep wraps into the ``resolve`` of ``validate``; None:
            ``validate`` takes the parameters only.
    """

    name: str
    notebook: str
    validate: Callable[[Mapping[str, Any]], dict[str, Any]]
    default_notebook_dir: Path | None = None
    protocol: str | None = None
    config: type | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    resolve_model: Callable[..., Any] | None = None


_REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add (or replace) an experiment in the registry; returns it."""
    _REGISTRY[experiment.name] = experiment
    return experiment


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``.

    Raises:
        ValueError: naming the bad value and the registered names.
    """
    _load_builtin()
    check_choice("experiment", name, sorted(_REGISTRY))
    return _REGISTRY[name]


def same_protocol(name: str) -> list[str]:
    """The other registered experiments whose runs ``name`` may reuse (same protocol)."""
    exp = get_experiment(name)
    if exp.protocol is None:
        return []
    return sorted(n for n, e in _REGISTRY.items() if n != name and e.protocol == exp.protocol)


def experiment_names() -> list[str]:
    """Names of every registered experiment."""
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    """Import every plugin module named in ``JUNK_DNA_PLUGINS`` (the built-in experiments
    register themselves when :mod:`junk_dna.experiments` is imported).

    ``JUNK_DNA_PLUGINS`` is a comma-separated list of importable module names; each module
    registers its experiments with :func:`register` when imported.

    Raises:
        ImportError: a plugin module cannot be imported (the message names it).
    """
    for module in os.environ.get("JUNK_DNA_PLUGINS", "").split(","):
        module = module.strip()
        if not module:
            continue
        try:
            importlib.import_module(module)
        except Exception as err:
            raise ImportError(
                f"cannot import experiment plugin {module!r} named in JUNK_DNA_PLUGINS "
                f"({type(err).__name__}: {err})"
            ) from err
