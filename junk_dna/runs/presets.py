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

Every value is type-checked against the field types of the experiment's config dataclass
(:func:`check_types`, with :func:`junk_dna.experiments.parameters.type_accepts`: a bool is
not a number, a list is not a scalar), the grid's size is
checked against a limit (:data:`MAX_RUNS`, raised with ``--max-runs``), then every combination
is validated (and normalized) by the experiment's ``validate`` before the first run starts;
duplicates after normalization are dropped, keeping first-seen order. The YAML loader refuses
duplicate keys and documents whose aliases expand to more than :data:`MAX_YAML_NODES` values,
and error messages show values cut short (:func:`junk_dna.checks.shown`).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from junk_dna.checks import clipped, shown
from junk_dna.experiments import Experiment, ModelResolver, experiment_names, get_experiment
from junk_dna.experiments.parameters import field_types, type_accepts, type_mismatch
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


MAX_YAML_NODES = 100_000
"""The most values (scalars, lists, mappings) a preset file may hold once its aliases are
expanded: a few hundred bytes of nested aliases would otherwise expand to billions."""
MAX_RUNS = 10_000
"""The most runs (combinations, before duplicates are dropped) a preset expands to unless the
caller raises the limit (``junk-dna sweep --max-runs N``): validating runs costs about a
millisecond each, so a grid typed too large is refused before that work, with its size."""
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Loader(yaml.SafeLoader):
    """YAML loader with YAML 1.2 numbers: ``1e-4`` is a float, ``6:8`` a string (not base 60).

    It refuses a key given twice in one mapping (YAML would keep the last silently; a key
    merged in with ``<<`` may be overridden) and a document whose aliases expand to more than
    :data:`MAX_YAML_NODES` values, or to a value that contains itself.
    """

    def construct_document(self, node: yaml.Node) -> Any:
        size = _expanded_size(node)
        if size > MAX_YAML_NODES:
            raise yaml.constructor.ConstructorError(
                None, None, f"the document's aliases expand to {_at_least(size)} values, more "
                f"than the {MAX_YAML_NODES:,} a preset may hold (nested or recursive aliases)",
                node.start_mark)
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found the key {shown(key)} twice (first {seen[key].start_mark.line + 1}"
                        f", again line {key_node.start_mark.line + 1}); give each key once",
                        key_node.start_mark)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: yaml.Node) -> int:
    """The number of values ``root`` holds once every alias is expanded (aliases share their
    node, so each distinct node is counted once and multiplied by its uses); more than
    :data:`MAX_YAML_NODES` (a node reached from itself counts as infinitely many) returns
    ``MAX_YAML_NODES + 1`` or more, without expanding anything."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    over = MAX_YAML_NODES + 1

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            return over  # recursive alias
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_YAML_NODES:
                total = over
                break
        active.discard(key)
        sizes[key] = total
        return total

    try:
        return size(root)
    except RecursionError:
        return over


def _at_least(size: int) -> str:
    return f"more than {MAX_YAML_NODES:,}" if size > MAX_YAML_NODES else f"{size:,}"


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


def is_preset_folder(preset: str) -> bool:
    """Whether ``--preset`` names a folder of preset files: a path (it holds a ``/`` or the
    system's separator; a preset name never does) that is not a ``.yaml`` file."""
    text = str(preset)
    return not is_preset_path(text) and ("/" in text or os.sep in text)


def _read_yaml(path: Path, what: str) -> Any:
    """The YAML document of ``path`` (loaded with :class:`_Loader`).

    Raises:
        PresetError: naming the file: missing, not a file, unreadable, not UTF-8, not valid
            YAML, a duplicate key or too many values once its aliases are expanded.
    """
    if not path.exists():
        raise PresetError(f"{what} {str(path)!r} not found")
    if not path.is_file():
        raise PresetError(f"{what} {str(path)!r} is not a file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise PresetError(f"{what} {str(path)!r} cannot be read: {err.strerror or err}") from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise PresetError(f"{what} {str(path)!r} is not UTF-8 text: byte {err.start} (line "
                          f"{line}) is {data[err.start:err.start + 1]!r}; save it as "
                          "UTF-8") from err
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as err:
        raise PresetError(f"{what} {str(path)!r} is not valid YAML: {clipped(str(err))}"
                          ) from err
    except RecursionError as err:
        raise PresetError(f"{what} {str(path)!r} nests its values too deeply") from err


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
    """Load a preset by name from the experiment's preset file, from a ``.yaml`` path, or
    from a folder of preset files.

    A path holds one preset (keys ``description``/``jobs``/``base``/``axes``/``blocks`` at
    top level); its name is the file's stem. A folder (a path with a ``/``, see
    :func:`is_preset_folder`) holds one such file per experiment, ``<experiment>.yaml``, so
    that one sweep of several experiments (sharing its workers) takes a preset of its own
    for each; its name is the folder's.

    Raises:
        PresetError: the file or folder is missing, the folder has no file for
            ``experiment`` (the files it has are listed), a file is not valid YAML, the preset
            is not in the file (the presets there are listed), or the preset is malformed (not
            a mapping, unknown keys, axes/blocks values that are not non-empty lists, ...).
    """
    if is_preset_folder(preset):
        folder = Path(preset).expanduser()
        if not folder.is_dir():
            raise PresetError(f"preset folder {str(preset)!r} not found (a --preset holding "
                              "a '/' is a folder of <experiment>.yaml preset files)")
        path = folder / f"{experiment}.yaml"
        if not path.is_file():
            held = sorted(p.name for p in folder.glob("*.yaml"))
            raise PresetError(f"preset folder {str(preset)!r} has no {path.name} for experiment "
                              f"{experiment!r} (it holds {shown(held)}); give one preset file "
                              "per experiment swept")
        return parse_preset(folder.resolve().name, _read_yaml(path, "preset file"), path)
    if is_preset_path(preset):
        path = Path(preset).expanduser()
        raw = _read_yaml(path, "preset file")
        return parse_preset(path.stem, raw, path)
    data = _presets_mapping(experiment)
    if preset not in data:
        raise PresetError(f"unknown preset {shown(preset)} for experiment {experiment!r}; "
                          f"presets in {presets_file(experiment)}: {shown(list(data))} (or give "
                          "a .yaml path)")
    return parse_preset(preset, data[preset], presets_file(experiment))


def parse_preset(name: str, raw: Any, source: Path) -> Preset:
    """Check the structure of one preset and return it parsed.

    Raises:
        PresetError: naming the bad key or value and what is allowed.
    """
    where = f"preset {name!r} ({source})"
    if not isinstance(raw, dict):
        raise PresetError(f"{where} must be a mapping with keys {list(PRESET_KEYS)}, "
                          f"got {type(raw).__name__} {shown(raw)}")
    unknown = [k for k in raw if k not in PRESET_KEYS]
    if unknown:
        raise PresetError(f"{where} has unknown key(s) {shown(unknown)}; allowed: "
                          f"{list(PRESET_KEYS)}"
                          " (a preset file given by path holds a single preset)")
    description = raw.get("description") or ""
    if not isinstance(description, str):
        raise PresetError(f"{where}: description {shown(description)} must be a string")
    jobs = raw.get("jobs")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise PresetError(f"{where}: jobs {shown(jobs)} must be an integer >= 1")
    base = raw.get("base") or {}
    if not isinstance(base, dict):
        raise PresetError(f"{where}: base {shown(base)} must be a mapping of parameter -> value")
    _check_keys(base, f"{where}: base")
    axes = _grid(raw.get("axes") or {}, f"{where}: axes")
    blocks_raw = raw.get("blocks")
    if blocks_raw is None:
        blocks_raw = [{}]
    if not isinstance(blocks_raw, list) or not blocks_raw:
        raise PresetError(f"{where}: blocks {shown(blocks_raw)} must be a non-empty list of "
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
        raise PresetError(f"{where}: parameter names must be non-empty strings, got {shown(bad)}")


def _grid(raw: Any, where: str) -> dict[str, list[Any]]:
    if not isinstance(raw, dict):
        raise PresetError(f"{where} {shown(raw)} must be a mapping of parameter -> list of values")
    _check_keys(raw, where)
    for key, values in raw.items():
        if not isinstance(values, list):
            raise PresetError(f"{where}: {key} {shown(values)} must be a list of values "
                              f"(write [{shown(values)}] for a single value)")
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


def grid_size(preset: Preset) -> int:
    """The number of runs ``preset`` expands to before duplicates are dropped: per block,
    the product of the lengths of its value lists and the axes' (nothing is expanded)."""
    total = 0
    for block in preset.blocks:
        count = 1
        for values in {**preset.axes, **block}.values():
            count *= len(values)
        total += count
    return total


def check_grid_size(preset: Preset, max_runs: int | None = MAX_RUNS) -> int:
    """:func:`grid_size` of ``preset``, checked against ``max_runs`` (``None``: no limit).

    Raises:
        PresetError: the grid is larger (the message gives its size and the flag to pass).
    """
    size = grid_size(preset)
    if max_runs is not None and size > max_runs:
        per_block = ", ".join(f"block {b}: {grid_size(replace(preset, blocks=[block])):,}"
                              for b, block in enumerate(preset.blocks, 1))
        raise PresetError(f"preset {preset.name!r} ({preset.source}) expands to {size:,} runs "
                          f"({clipped(per_block, 400)}), more than the limit of {max_runs:,}; "
                          f"pass --max-runs {size} (max_runs={size}) if that many runs are "
                          "meant")
    return size


def config_types(exp: Experiment) -> dict[str, Any]:
    """Parameter -> type annotation of the experiment's config dataclass (empty without one;
    see :func:`junk_dna.experiments.parameters.field_types`)."""
    return field_types(exp.config) if exp.config is not None else {}


def check_types(exp: Experiment, preset: Preset) -> None:
    """Check every value of ``preset`` (base, axes, blocks) against the field types of the
    experiment's config dataclass (:func:`config_types`), once per value, before any run is
    expanded; parameters that are not fields are left to the experiment's validator.

    Raises:
        PresetError: naming where, the parameter, the value (cut short), what its field takes
            and what it got.
    """
    kinds = config_types(exp)
    if not kinds:
        return
    where = f"preset {preset.name!r} ({preset.source})"
    places: list[tuple[str, str, list[Any]]] = [
        ("base", key, [value]) for key, value in preset.base.items()]
    places += [("axes", key, values) for key, values in preset.axes.items()]
    places += [(f"block {b}", key, values) for b, block in enumerate(preset.blocks, 1)
               for key, values in block.items()]
    for place, key, values in places:
        if key not in kinds:
            continue
        for value in values:
            if not type_accepts(kinds[key], value):
                raise PresetError(f"{where}: {place}: "
                                  f"{type_mismatch(exp.config, key, kinds[key], value)}")


def expand_preset(
    experiment: str | Experiment, preset: Preset, *, check_hub: bool = True,
    max_runs: int | None = MAX_RUNS,
) -> list[Run]:
    """All runs of a preset: per block, axes x block crossed and merged over base; each run
    validated and normalized by the experiment; duplicates dropped, first-seen order kept.

    Before any run is expanded, every value is type-checked against the experiment's config
    (:func:`check_types`) and the grid's size against ``max_runs`` (:func:`check_grid_size`).

    Args:
        check_hub: let the validator look hub model ids up (once per distinct model, through
            :func:`bound_validator`); ``False`` for dry runs and listings (offline, fast).
        max_runs: the most runs (before duplicates are dropped) the grid may have; ``None``:
            no limit.

    Raises:
        SweepError: unknown experiment.
        PresetError: a value of the wrong type, a grid over ``max_runs``, a run's parameters
            are invalid (names the block, the run and the error), or the validator returned
            something that is not a mapping of JSON literals.
    """
    exp = experiment if isinstance(experiment, Experiment) else lookup_experiment(experiment)
    check_types(exp, preset)
    check_grid_size(preset, max_runs)
    validate = bound_validator(exp, check_hub)
    runs: list[Run] = []
    seen: set[str] = set()
    for b, block in enumerate(preset.blocks, 1):
        grid = {**preset.axes, **block}
        keys = list(grid)
        for values in itertools.product(*(grid[k] for k in keys)):
            raw = {**preset.base, **dict(zip(keys, values, strict=True))}
            where = f"preset {preset.name!r}, block {b} {shown(block)}"
            try:
                params = validate(raw)
            except ValueError as err:
                raise PresetError(f"{where}: invalid run {shown(raw, 600)}: {clipped(str(err))}"
                                  ) from err
            except TypeError as err:  # a validator that compared a value of the wrong type
                raise PresetError(f"{where}: invalid run {shown(raw, 600)}: a value has the "
                                  f"wrong type ({clipped(str(err))})") from err
            try:
                params = json.loads(json.dumps(params, allow_nan=False))
            except (TypeError, ValueError) as err:
                raise PresetError(f"{where}: {exp.name}.validate returned params that are "
                                  f"not JSON literals ({err}): {shown(params)}") from err
            if not isinstance(params, dict):
                raise PresetError(f"{where}: {exp.name}.validate returned {shown(params)}, "
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
