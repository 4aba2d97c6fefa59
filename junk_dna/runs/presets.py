"""Presets: YAML grids of runs, their expansion into validated runs, and their listing.

A *preset* (YAML, see ``junk_dna/presets/<experiment>.yaml``) is a grid of runs::

    default:
      description: "one line"
      jobs: 2                      # optional default for --jobs
      base: {model: minilm, epochs: 3}           # fixed parameters
      axes: {seed: [41], data_fraction: [1.0, 0.5]}   # crossed with every block
      blocks:                      # union of grids, each crossed with the axes
        - {mode: [dense]}
        - {mode: [sparse, freeze], pattern: [nm], nm: ["6:8", "2:8"]}
      slurm: {partition: gpu, gpus_per_node: 1, timeout_min: 240}   # optional: --executor slurm

Every combination is validated (and normalized) by the experiment's ``validate`` before the
first run starts; duplicates after normalization are dropped, keeping first-seen order.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from junk_dna.experiments import Experiment, ModelResolver, experiment_names, get_experiment
from junk_dna.runs.errors import PresetError, SweepError
from junk_dna.runs.layout import PACKAGE_DIR, canonical_json, run_id
from junk_dna.runs.resources import check_slurm_block

PRESET_KEYS: tuple[str, ...] = ("description", "jobs", "base", "axes", "blocks", "slurm")


@dataclass(frozen=True)
class Preset:
    """One parsed (not yet expanded) preset.

    Attributes:
        name: the preset's name (its key, or the file's stem for a preset file path).
        description: one line.
        jobs: default for ``--jobs`` (``None``: 1).
        base: fixed parameters.
        axes: parameter -> values, crossed with every block.
        blocks: list of parameter -> values grids; the runs are their union.
        source: the YAML file it came from.
        slurm: resources for ``--executor slurm`` (checked keys, see
            :mod:`junk_dna.runs.resources`).
    """

    name: str
    description: str
    jobs: int | None
    base: dict[str, Any]
    axes: dict[str, list[Any]]
    blocks: list[dict[str, list[Any]]]
    source: Path
    slurm: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """One run of a sweep: its folder name, its normalized params and its block (1-based)."""

    run_id: str
    params: dict[str, Any]
    block: int


class _Loader(yaml.SafeLoader):
    """YAML loader with YAML 1.2 numbers: ``1e-4`` is a float, ``6:8`` a string (not base 60)."""


_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_INT_TAG, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(r"^(?:[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."),
)


def presets_file(experiment: str) -> Path:
    """The built-in preset file of an experiment (it may not exist)."""
    return PACKAGE_DIR / "presets" / f"{experiment}.yaml"


def is_preset_path(preset: str) -> bool:
    """Whether ``--preset`` names a user file (ends in .yaml/.yml) rather than a preset name."""
    return str(preset).lower().endswith((".yaml", ".yml"))


def _read_yaml(path: Path, what: str) -> Any:
    if not path.is_file():
        raise PresetError(f"{what} {str(path)!r} not found")
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    except yaml.YAMLError as err:
        raise PresetError(f"{what} {str(path)!r} is not valid YAML: {err}") from err


def preset_names(experiment: str) -> list[str]:
    """Names of the built-in presets of ``experiment``, in file order.

    Raises:
        PresetError: the experiment has no preset file, or it is malformed.
    """
    return list(_presets_mapping(experiment))


def _presets_mapping(experiment: str) -> dict[str, Any]:
    path = presets_file(experiment)
    if not path.is_file():
        raise PresetError(f"experiment {experiment!r} has no preset file ({path}); give a "
                          "preset file path ending in .yaml instead")
    data = _read_yaml(path, "preset file")
    if not isinstance(data, dict) or not data:
        raise PresetError(f"preset file {str(path)!r} must map preset names to presets, "
                          f"got {type(data).__name__}")
    return data


def load_preset(experiment: str, preset: str) -> Preset:
    """Load a preset by name from the experiment's preset file, or from a ``.yaml`` path.

    A path holds one preset (keys ``description``/``jobs``/``base``/``axes``/``blocks`` at
    top level); its name is the file's stem.

    Raises:
        PresetError: the file is missing or not valid YAML, the preset is not in the file (the
            presets there are listed), or the preset is malformed (not a mapping, unknown keys,
            axes/blocks values that are not non-empty lists, ...).
    """
    if is_preset_path(preset):
        path = Path(preset).expanduser()
        raw = _read_yaml(path, "preset file")
        return parse_preset(path.stem, raw, path)
    data = _presets_mapping(experiment)
    if preset not in data:
        raise PresetError(f"unknown preset {preset!r} for experiment {experiment!r}; presets in "
                          f"{presets_file(experiment)}: {list(data)} (or give a .yaml path)")
    return parse_preset(preset, data[preset], presets_file(experiment))


def parse_preset(name: str, raw: Any, source: Path) -> Preset:
    """Check the structure of one preset and return it parsed.

    Raises:
        PresetError: naming the bad key or value and what is allowed.
    """
    where = f"preset {name!r} ({source})"
    if not isinstance(raw, dict):
        raise PresetError(f"{where} must be a mapping with keys {list(PRESET_KEYS)}, "
                          f"got {type(raw).__name__} {raw!r}")
    unknown = [k for k in raw if k not in PRESET_KEYS]
    if unknown:
        raise PresetError(f"{where} has unknown key(s) {unknown}; allowed: {list(PRESET_KEYS)}"
                          " (a preset file given by path holds a single preset)")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise PresetError(f"{where}: description {description!r} must be a string")
    jobs = raw.get("jobs")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise PresetError(f"{where}: jobs {jobs!r} must be an integer >= 1")
    base = raw.get("base") or {}
    if not isinstance(base, dict):
        raise PresetError(f"{where}: base {base!r} must be a mapping of parameter -> value")
    _check_keys(base, f"{where}: base")
    axes = _grid(raw.get("axes") or {}, f"{where}: axes")
    blocks_raw = raw.get("blocks")
    if blocks_raw is None:
        blocks_raw = [{}]
    if not isinstance(blocks_raw, list) or not blocks_raw:
        raise PresetError(f"{where}: blocks {blocks_raw!r} must be a non-empty list of "
                          "mappings of parameter -> list of values")
    blocks = []
    for i, block in enumerate(blocks_raw, 1):
        grid = _grid(block if block is not None else {}, f"{where}: block {i}")
        both = sorted(set(grid) & set(axes))
        if both:
            raise PresetError(f"{where}: block {i} sets {both}, which are also axes; a "
                              "parameter is either an axis or set per block")
        blocks.append(grid)
    slurm = check_slurm_block(raw.get("slurm"), f"{where}: slurm")
    return Preset(name, description, jobs, dict(base), axes, blocks, source, slurm)


def _check_keys(mapping: Mapping[Any, Any], where: str) -> None:
    bad = [k for k in mapping if not isinstance(k, str) or not k]
    if bad:
        raise PresetError(f"{where}: parameter names must be non-empty strings, got {bad}")


def _grid(raw: Any, where: str) -> dict[str, list[Any]]:
    if not isinstance(raw, dict):
        raise PresetError(f"{where} {raw!r} must be a mapping of parameter -> list of values")
    _check_keys(raw, where)
    for key, values in raw.items():
        if not isinstance(values, list):
            raise PresetError(f"{where}: {key} {values!r} must be a list of values "
                              f"(write [{values!r}] for a single value)")
        if not values:
            raise PresetError(f"{where}: {key} is an empty list; give at least one value")
    return {k: list(v) for k, v in raw.items()}


def cached_resolver(resolve_model: Callable[..., Any], check_hub: bool) -> ModelResolver:
    """The model-name resolution a sweep passes to an experiment's validator (the seam).

    Each distinct name is resolved once by ``resolve_model(name, check_hub=check_hub)`` (its
    result, or its ValueError, is kept), so a grid of N runs costs one hub look-up per
    distinct model, and with ``check_hub=False`` (dry runs, listings) none at all.
    """
    cache: dict[str, Any] = {}

    def resolve(name: str) -> Any:
        if not isinstance(name, str):
            return resolve_model(name, check_hub=check_hub)
        if name not in cache:
            try:
                cache[name] = resolve_model(name, check_hub=check_hub)
            except ValueError as err:
                cache[name] = err
        if isinstance(cache[name], ValueError):
            raise ValueError(str(cache[name]))
        return cache[name]

    return resolve


def bound_validator(exp: Experiment, check_hub: bool) -> Callable[[Mapping[str, Any]], dict]:
    """``exp.validate`` with the sweep's model-name resolution (:func:`cached_resolver` of the
    experiment's ``resolve_model``); an experiment without a resolver validates params only."""
    if exp.resolve_model is None:
        return exp.validate
    resolve = cached_resolver(exp.resolve_model, check_hub)
    return lambda params: exp.validate(params, resolve=resolve)


def expand_preset(
    experiment: str | Experiment, preset: Preset, *, check_hub: bool = True
) -> list[Run]:
    """All runs of a preset: per block, axes x block crossed and merged over base; each run
    validated and normalized by the experiment; duplicates dropped, first-seen order kept.

    Args:
        check_hub: let the validator look hub model ids up (once per distinct model, through
            :func:`bound_validator`); ``False`` for dry runs and listings (offline, fast).

    Raises:
        SweepError: unknown experiment.
        PresetError: a run's parameters are invalid (names the block, the run and the error),
            or the validator returned something that is not a mapping of JSON literals.
    """
    exp = experiment if isinstance(experiment, Experiment) else lookup_experiment(experiment)
    validate = bound_validator(exp, check_hub)
    runs: list[Run] = []
    seen: set[str] = set()
    for b, block in enumerate(preset.blocks, 1):
        grid = {**preset.axes, **block}
        keys = list(grid)
        for values in itertools.product(*(grid[k] for k in keys)):
            raw = {**preset.base, **dict(zip(keys, values, strict=True))}
            where = f"preset {preset.name!r}, block {b} {block}"
            try:
                params = validate(raw)
            except ValueError as err:
                raise PresetError(f"{where}: invalid run {raw}: {err}") from err
            try:
                params = json.loads(json.dumps(params, allow_nan=False))
            except (TypeError, ValueError) as err:
                raise PresetError(f"{where}: {exp.name}.validate returned params that are "
                                  f"not JSON literals ({err}): {params!r}") from err
            if not isinstance(params, dict):
                raise PresetError(f"{where}: {exp.name}.validate returned {params!r}, "
                                  "not a mapping")
            key = canonical_json(params)
            if key not in seen:
                seen.add(key)
                runs.append(Run(run_id(params), params, b))
    return runs


def varying_keys(runs: Sequence[Run]) -> list[str]:
    """Parameters whose value differs across ``runs`` (a missing key counts as ``None``)."""
    keys: list[str] = []
    for run in runs:
        keys.extend(k for k in run.params if k not in keys)
    return [k for k in keys
            if len({json.dumps(r.params.get(k), sort_keys=True) for r in runs}) > 1]


def lookup_experiment(name: str) -> Experiment:
    """The registered experiment called ``name``.

    Raises:
        SweepError: an unknown experiment (the message lists the registered ones).
    """
    try:
        return get_experiment(name)
    except SweepError:
        raise
    except ValueError as err:
        raise SweepError(str(err)) from err


def list_experiments() -> list[str]:
    """Names of every registered experiment (built-in and plugins)."""
    return experiment_names()


@dataclass(frozen=True)
class PresetSummary:
    """One line of ``junk-dna presets``: a preset's size, or why it cannot be expanded."""

    experiment: str
    name: str
    description: str
    runs: int | None
    jobs: int | None
    error: str | None = None


def preset_summaries(experiment: str) -> list[PresetSummary]:
    """Every built-in preset of ``experiment`` with its run count (no hub look-ups).

    Raises:
        SweepError: unknown experiment.
        PresetError: the experiment's preset file is missing or malformed.
    """
    exp = lookup_experiment(experiment)
    out = []
    for name, raw in _presets_mapping(exp.name).items():
        try:
            spec = parse_preset(str(name), raw, presets_file(exp.name))
            runs = expand_preset(exp, spec, check_hub=False)
        except ValueError as err:
            desc = raw.get("description", "") if isinstance(raw, dict) else ""
            out.append(PresetSummary(exp.name, str(name), str(desc), None, None, str(err)))
            continue
        out.append(PresetSummary(exp.name, spec.name, spec.description, len(runs), spec.jobs))
    return out
