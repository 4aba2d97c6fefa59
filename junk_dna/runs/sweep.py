"""Sweep runner: expand a preset grid into runs and execute each run's notebook with papermill.

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

One run = one papermill execution of ``notebooks/<experiment.notebook>`` in its own
subprocess, with the run's parameters plus ``run_dir`` injected. The notebook writes
``run_dir/record.json`` itself; a run is finished iff that record has status ``"ok"`` and the
run's exact params. Each run folder ``<runs_dir>/<experiment>/<run_id>`` holds::

    params.json        the injected parameters (params + run_dir)
    <notebook>.ipynb   the executed notebook (kept when the run fails)
    log.txt            stdout/stderr of the runner and of the notebook's cells
    error.txt          only when the run failed: the exception and the failing cell's traceback
    record.json        written by the notebook

A killed sweep resumes where it stopped: finished runs are skipped, any other run folder is
cleared and run again. A sweep holds an exclusive lock on
``<runs_dir>/<experiment>/.sweep.lock`` so two sweeps never share a folder.

``--executor slurm`` (:mod:`junk_dna.runs.slurm`) submits the runs still to do as a SLURM job
array instead; each array task executes its run exactly as above (same folder, same files).

This module is also the per-run worker: ``python -m junk_dna.runs.sweep --worker ...`` (internal).
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from junk_dna.experiments import Experiment, experiment_names, get_experiment, same_protocol

PRESET_KEYS: tuple[str, ...] = ("description", "jobs", "base", "axes", "blocks", "slurm")
DEFAULT_RUNS_DIR = "papermill_runs"
LOCK_NAME = ".sweep.lock"
PARAMS_NAME = "params.json"
LOG_NAME = "log.txt"
ERROR_NAME = "error.txt"
RECORD_NAME = "record.json"  # junk_dna.results.records.RECORD_NAME (not imported: it pulls pandas)
RUNNER_NAME = "runner.json"
WORKER_LOG_NAME = ".workers.log"  # in the runs folder: the workers' output between runs
KERNEL_NAME = "python3"
STAGGER_S = 1.0  # seconds between two subprocess starts (parallel kernels collide on ports)
KERNEL_START_TIMEOUT_S = 120

# Run states (see run_state).
DONE, TODO, FAILED, CORRUPT, STALE = "done", "todo", "failed", "corrupt", "stale"

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # junk_dna/
_SLUG_CHARS = re.compile(r"[^A-Za-z0-9._=-]+")


class SweepError(ValueError):
    """Bad input to a sweep (unknown experiment, missing notebook, bad --jobs, ...)."""


class PresetError(SweepError):
    """A preset cannot be loaded or expanded; the message names the bad value."""


class SweepLockedError(RuntimeError):
    """Another sweep holds the lock of the same runs folder."""


class NotebookError(RuntimeError):
    """A notebook executed outside a sweep (``figures``) failed; the message has the error."""


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
        slurm: resources for ``--executor slurm`` (checked keys, see :mod:`junk_dna.runs.slurm`).
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


@dataclass
class SweepResult:
    """What a sweep did.

    Attributes:
        experiment, preset: what was swept.
        root: the experiment's runs folder (``<runs_dir>/<experiment>``).
        total: runs in the preset (after dedupe).
        skipped: runs already finished before this sweep (resumed past).
        ran: runs executed and finished by this sweep.
        reused: of ``skipped``, runs copied from another experiment with the same protocol
            (see :func:`reuse_shared_runs`).
        failed: run ids that failed in this sweep (each has ``root/<id>/error.txt``).
        dry_run: nothing was executed.
    """

    experiment: str
    preset: str
    root: Path
    total: int
    skipped: int = 0
    ran: int = 0
    reused: int = 0
    failed: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def done(self) -> int:
        """Runs finished after this sweep."""
        return self.skipped + self.ran

    @property
    def todo(self) -> int:
        """Runs not finished after this sweep."""
        return self.total - self.done

    def error_file(self, run_id: str) -> Path:
        """The error file of a failed run."""
        return self.root / run_id / ERROR_NAME


# ---------------------------------------------------------------------------------------------
# presets


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
    return _PACKAGE_DIR / "presets" / f"{experiment}.yaml"


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
    from junk_dna.runs.slurm import check_slurm_block

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


# ---------------------------------------------------------------------------------------------
# expansion and run ids


def canonical_json(params: Mapping[str, Any]) -> str:
    """The canonical JSON text of a parameter set (sorted keys, no spaces)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def run_id(params: Mapping[str, Any]) -> str:
    """A short, readable, filesystem-safe id of a run, unique per parameter set.

    The slug holds the parameters that vary in typical grids (task, ``f`` data fraction,
    ``s`` seed, mode, pattern with sparsity or N:M); an experiment without any of them gets
    up to three ``key=value`` pairs. Then ``_`` and the first 8 hex digits of the sha256 of
    :func:`canonical_json` of ALL params, e.g. ``sst2-embedded_f1_s41_sparse_nm-2of8_1a2b3c4d``.
    Only ``[A-Za-z0-9._=-]`` appear.
    """
    digest = hashlib.sha256(canonical_json(params).encode("utf-8")).hexdigest()[:8]
    parts: list[str] = []
    if params.get("task") is not None:
        parts.append(_fmt(params["task"]))
    if params.get("data_fraction") is not None:
        parts.append(f"f{_fmt(params['data_fraction'])}")
    if params.get("seed") is not None:
        parts.append(f"s{_fmt(params['seed'])}")
    if params.get("mode") is not None:
        parts.append(_fmt(params["mode"]))
    pattern, sparsity, nm = params.get("pattern"), params.get("sparsity"), params.get("nm")
    if nm is not None:
        parts.append(f"{_fmt(pattern or 'nm')}-{_fmt(nm).replace(':', 'of')}")
    elif sparsity is not None:
        parts.append(f"{_fmt(pattern) if pattern is not None else 'p'}-{_fmt(sparsity)}")
    elif pattern is not None:
        parts.append(_fmt(pattern))
    if not parts:
        scalars = [(k, v) for k, v in sorted(params.items())
                   if isinstance(v, (str, int, float, bool)) and v != ""]
        parts = [f"{k}={_fmt(v)}" for k, v in scalars[:3]]
    slug = _SLUG_CHARS.sub("-", "_".join(parts)).strip("-_.")[:80]
    return f"{slug}_{digest}" if slug else digest


def _validate_fn(
    validate: Callable[..., dict[str, Any]], check_hub: bool
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    try:
        accepts = "check_hub" in inspect.signature(validate).parameters
    except (TypeError, ValueError):
        accepts = False
    if accepts:
        return lambda params: validate(params, check_hub=check_hub)
    return validate


@contextmanager
def _model_checks(check_hub: bool) -> Iterator[None]:
    """While expanding: resolve each distinct model name once; skip hub look-ups unless asked.

    Validators resolve names through :func:`junk_dna.models.encoders.resolve_model` (looked
    up at call time); it is wrapped here with a cache so a grid of N runs costs one hub look-up per
    distinct model, and with ``check_hub=False`` (dry runs, listings) none at all.
    Expansion runs in one thread before any run starts, so the temporary patch is safe.
    """
    try:
        import junk_dna.models.encoders as models
    except ImportError:  # pragma: no cover - models is part of the package
        yield
        return
    original = models.resolve_model
    cache: dict[tuple[str, bool], Any] = {}

    def resolve_once(name: str, *, check_hub: bool = True) -> Any:
        hub = check_hub and hub_allowed
        if not isinstance(name, str):
            return original(name, check_hub=hub)
        key = (name, hub)
        if key not in cache:
            try:
                cache[key] = original(name, check_hub=hub)
            except ValueError as err:
                cache[key] = err
        if isinstance(cache[key], ValueError):
            raise ValueError(str(cache[key]))
        return cache[key]

    hub_allowed = check_hub
    models.resolve_model = resolve_once  # type: ignore[assignment]
    try:
        yield
    finally:
        models.resolve_model = original  # type: ignore[assignment]


def expand_preset(
    experiment: str | Experiment, preset: Preset, *, check_hub: bool = True
) -> list[Run]:
    """All runs of a preset: per block, axes x block crossed and merged over base; each run
    validated and normalized by the experiment; duplicates dropped, first-seen order kept.

    Args:
        check_hub: let the validator look hub model ids up (once per distinct model);
            ``False`` for dry runs and listings (offline, fast).

    Raises:
        SweepError: unknown experiment.
        PresetError: a run's parameters are invalid (names the block, the run and the error),
            or the validator returned something that is not a mapping of JSON literals.
    """
    exp = experiment if isinstance(experiment, Experiment) else _experiment(experiment)
    validate = _validate_fn(exp.validate, check_hub)
    runs: list[Run] = []
    seen: set[str] = set()
    with _model_checks(check_hub):
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


def _experiment(name: str) -> Experiment:
    try:
        return get_experiment(name)
    except SweepError:
        raise
    except ValueError as err:
        raise SweepError(str(err)) from err


# ---------------------------------------------------------------------------------------------
# run state


def _same_params(recorded: Any, params: Mapping[str, Any]) -> bool:
    try:
        return recorded == json.loads(canonical_json(params))
    except (TypeError, ValueError):
        return False


def run_state(run_dir: str | os.PathLike[str], params: Mapping[str, Any]) -> str:
    """The state of one run folder.

    Returns:
        ``"done"`` (record with status ok and exactly these params), ``"failed"`` (error.txt
        or a record with status failed), ``"corrupt"`` (unreadable record; warns),
        ``"stale"`` (an ok record of other params) or ``"todo"`` (nothing finished).
    """
    from junk_dna.results.records import CorruptRecordError, read_record

    run_dir = Path(run_dir)
    try:
        record = read_record(run_dir)
    except CorruptRecordError as err:
        warnings.warn(f"corrupt record, the run will be re-run: {err}", stacklevel=2)
        return CORRUPT
    if record is None:
        return FAILED if (run_dir / ERROR_NAME).exists() else TODO
    if record.get("status") == "ok" and _same_params(record.get("params"), params):
        return DONE
    if record.get("status") == "failed":
        return FAILED
    return STALE


def default_notebooks_dir() -> Path:
    """The repository's ``notebooks/`` folder (``junk_dna/notebooks`` in an installed wheel)."""
    repo = _PACKAGE_DIR.parent / "notebooks"
    packaged = _PACKAGE_DIR / "notebooks"
    return repo if repo.is_dir() or not packaged.is_dir() else packaged


def find_notebook(
    experiment: Experiment, notebooks_dir: str | os.PathLike[str] | None = None
) -> Path:
    """The notebook of an experiment: in ``notebooks_dir`` if given, else the experiment's
    own folder, else :func:`default_notebooks_dir`.

    Raises:
        SweepError: the notebook does not exist.
    """
    if notebooks_dir is not None:
        folder = Path(notebooks_dir)
    elif experiment.default_notebook_dir is not None:
        folder = Path(experiment.default_notebook_dir)
    else:
        folder = default_notebooks_dir()
    path = (folder / experiment.notebook).resolve()
    if not path.is_file():
        raise SweepError(f"notebook {experiment.notebook!r} of experiment {experiment.name!r} "
                         f"not found in {folder} (set --notebooks-dir)")
    return path


@contextmanager
def sweep_lock(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the exclusive lock ``root/.sweep.lock`` (``fcntl.flock``, non-blocking).

    The lock dies with the process (also on SIGKILL); the file itself stays.

    Raises:
        SweepLockedError: another process holds it (the message names the file).
    """
    import fcntl

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole sweep
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        raise SweepLockedError(
            f"another sweep is running on {root} (lock file {path} is held"
            f"{' by ' + holder if holder else ''}); wait for it to finish or stop it"
        ) from err
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        fh.flush()
        yield path
    finally:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


# ---------------------------------------------------------------------------------------------
# execution


def available_cpus() -> int:
    """CPUs this process may use (its affinity mask, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def _child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("JUNK_DNA_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    # The worker and its kernel import junk_dna even when it is not installed.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PACKAGE_DIR.parent), env.get("PYTHONPATH", "")) if p)
    return env


class _Launcher:
    """Starts worker subprocesses (staggered), tracks them, and stops them all on demand.

    With ``reuse_kernels`` runs go to a pool of persistent workers
    (:class:`junk_dna.runs.kernels.KernelWorker`, one kernel each, kept across runs and across the
    sweeps that share the launcher); otherwise each run is one ``python -m junk_dna.runs.sweep
    --worker`` subprocess.
    """

    def __init__(self, stagger_s: float = STAGGER_S, *, reuse_kernels: bool = False,
                 worker_log: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._stagger_s = stagger_s
        self._last = -float("inf")
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._workers: dict[str, list[Any]] = {}  # environment -> idle KernelWorkers
        self.reuse_kernels = reuse_kernels
        self.worker_log = worker_log
        self.stopping = False

    def _stagger(self) -> None:
        pause = self._last + self._stagger_s - time.monotonic()
        if pause > 0:
            time.sleep(pause)

    def run(self, cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> int | None:
        """Run ``cmd`` to its end; its output goes to ``log``. ``None`` when stopping."""
        with self._lock:
            if self.stopping:
                return None
            self._stagger()
            with open(log, "ab") as out:
                proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self._procs.add(proc)
            self._last = time.monotonic()
        try:
            return proc.wait()
        finally:
            with self._lock:
                self._procs.discard(proc)

    def request(self, request: dict[str, Any], *, cwd: Path, env: dict[str, str],
                info: dict[str, Any]) -> int | None:
        """Execute one run in an idle persistent worker with the same environment (one is
        started when none is idle); the worker goes back to the idle pool afterwards, so
        later runs, of this sweep or of the next sweep sharing this launcher, reuse it.

        Returns its exit status (0 ok, 1 failed, the worker's status when it died), or
        ``None`` when stopping. ``info`` gets ``kernel`` ("new"/"reused"),
        ``kernel_start_s`` and ``worker_start_s``.
        """
        from junk_dna.runs.kernels import KernelWorker, WorkerDied

        key = json.dumps(env, sort_keys=True)
        with self._lock:
            if self.stopping:
                return None
            idle = self._workers.setdefault(key, [])
            worker = None
            while idle and worker is None:
                candidate = idle.pop()
                if candidate.alive():
                    worker = candidate
                else:
                    self._procs.discard(candidate.proc)
            info["worker_start_s"] = 0.0
            if worker is None:
                self._stagger()
                clock = time.perf_counter()
                log_path = self.worker_log or Path(os.devnull)
                log_path.parent.mkdir(parents=True, exist_ok=True)
                with open(log_path, "ab") as err:
                    worker = KernelWorker(env, cwd, err)
                info["worker_start_s"] = time.perf_counter() - clock
                self._procs.add(worker.proc)
                self._last = time.monotonic()
        try:
            reply = worker.request(request)
        except WorkerDied:
            with self._lock:
                self._procs.discard(worker.proc)
            return worker.proc.returncode
        with self._lock:
            self._workers[key].append(worker)
        info.update(kernel=reply.get("kernel"), kernel_start_s=reply.get("kernel_start_s"))
        return int(reply["rc"])

    def close(self) -> None:
        """End every idle persistent worker cleanly (each shuts its kernel down)."""
        with self._lock:
            workers = [w for idle in self._workers.values() for w in idle]
            self._workers.clear()
        for worker in workers:
            worker.close()
            with self._lock:
                self._procs.discard(worker.proc)

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop starting new processes; terminate the running ones (kill after ``grace_s``)."""
        with self._lock:
            self.stopping = True
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace_s
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def execute_notebook(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str],
    parameters: Mapping[str, Any],
    workdir: str | os.PathLike[str],
    *,
    threads: int | None = None,
    launcher: _Launcher | None = None,
    info: dict[str, Any] | None = None,
) -> int | None:
    """Execute ``notebook`` with papermill in a subprocess; return its exit status.

    Writes ``workdir/params.json`` (the injected parameters), ``workdir/log.txt`` (the
    runner's and the cells' output) and, on failure, ``workdir/error.txt`` (the exception and
    the failing cell's traceback; written atomically). The executed notebook is saved to
    ``output`` even when a cell fails. The kernel is this interpreter's own ipykernel
    (``python3`` native spec, never another environment's), its working folder ``workdir``,
    and ``JUNK_DNA_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` are set to ``threads``
    (default: every available CPU). With a ``launcher`` that reuses kernels the notebook runs
    in the calling thread's persistent worker (:mod:`junk_dna.runs.kernels`); ``info`` then gets
    whether its kernel was new. Returns ``None`` when ``launcher`` was stopped before.
    """
    from junk_dna.results.records import atomic_write_text

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    params_file = workdir / PARAMS_NAME
    atomic_write_text(params_file, json.dumps(dict(parameters), indent=2, sort_keys=True))
    error_file = workdir / ERROR_NAME
    log = workdir / LOG_NAME
    env = _child_env(threads if threads is not None else available_cpus())
    info = {} if info is None else info
    if launcher is not None and launcher.reuse_kernels:
        request = {"notebook": os.fspath(Path(notebook).resolve()),
                   "output": os.fspath(Path(output).resolve()),
                   "params_file": os.fspath(params_file), "cwd": os.fspath(workdir),
                   "error_file": os.fspath(error_file), "log": os.fspath(log)}
        rc = launcher.request(request, cwd=workdir.parent, env=env, info=info)
    else:
        cmd = [sys.executable, "-m", "junk_dna.runs.sweep", "--worker", os.fspath(Path(notebook)),
               os.fspath(Path(output).resolve()), os.fspath(params_file), os.fspath(workdir),
               os.fspath(error_file)]
        rc = (launcher or _Launcher(0.0)).run(cmd, cwd=workdir, env=env, log=log)
        info.update(kernel="new", worker_start_s=None, kernel_start_s=None)
    if rc is not None and rc != 0 and not error_file.exists():
        how = f"signal {-rc}" if rc < 0 else f"code {rc}"
        atomic_write_text(error_file, f"the notebook runner exited with {how} before reporting "
                                      f"an error; last lines of {log}:\n{_log_tail(log)}\n")
    return rc


def _state_reason(state: str, run_dir: Path) -> str:
    return {
        TODO: f"{run_dir / RECORD_NAME} is missing",
        FAILED: f"{run_dir / RECORD_NAME} has status 'failed'",
        CORRUPT: f"{run_dir / RECORD_NAME} is corrupt",
        STALE: f"{run_dir / RECORD_NAME} has other params than the run",
    }.get(state, state)


def _run_one(run: Run, root: Path, notebook: Path, threads: int, launcher: _Launcher) -> bool:
    """Execute one run in a cleared folder; True when it finished (record ok, same params).

    Also writes ``runner.json``: the seconds the sweep spent on the run from its side
    (``runner_s``, worker and kernel start included when this run paid them) and whether
    its kernel was new or reused; the benchmark of the main job reads it.
    """
    from junk_dna.results.records import atomic_write_text

    run_dir = (root / run.run_id).resolve()
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    info: dict[str, Any] = {}
    clock = time.perf_counter()
    rc = execute_notebook(notebook, run_dir / notebook.name,
                          {**run.params, "run_dir": os.fspath(run_dir)}, run_dir,
                          threads=threads, launcher=launcher, info=info)
    if rc is None:  # stopped before it started
        return False
    atomic_write_text(run_dir / RUNNER_NAME, json.dumps(
        {"runner_s": time.perf_counter() - clock, "rc": rc, "threads": threads, **info},
        indent=2, sort_keys=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        state = run_state(run_dir, run.params)
    if state == DONE:
        return True
    if rc == 0 and not (run_dir / ERROR_NAME).exists():
        atomic_write_text(run_dir / ERROR_NAME,
                          f"the notebook ran to its end but {_state_reason(state, run_dir)}; a "
                          f"run is finished when its notebook writes a record with status 'ok' "
                          f"and params equal to the run's params:\n"
                          f"{json.dumps(run.params, indent=2, sort_keys=True)}\n")
    return False


def run_sweep(
    experiment: str,
    preset: str,
    *,
    runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR,
    jobs: int | None = None,
    dry_run: bool = False,
    notebooks_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    out: IO[str] | None = None,
    reuse_kernels: bool = True,
) -> SweepResult:
    """Expand ``preset`` of ``experiment`` and execute every run not finished yet.

    Everything is validated before the first run starts. Runs execute in subprocesses,
    ``jobs`` at once (default: the preset's ``jobs``, else 1), in the preset's order; each
    gets ``JUNK_DNA_THREADS = max(1, cpus // jobs)``. With ``reuse_kernels`` (default) each
    of the ``jobs`` slots keeps one worker and one kernel across its runs, namespace reset
    between runs (:mod:`junk_dna.runs.kernels`); ``False`` starts a new kernel for every run. A
    failing run keeps its executed notebook and gets an ``error.txt``; the others go on. A
    progress bar (stderr) counts all runs of the preset, the finished ones included.
    ``dry_run`` prints the runs (id, state, the params that vary) to ``out`` (default stdout)
    and executes nothing, taking no lock.

    Raises:
        SweepError: unknown experiment, missing notebook, bad ``jobs``.
        PresetError: the preset cannot be loaded or a run is invalid.
        SweepLockedError: another sweep holds ``<runs_dir>/<experiment>/.sweep.lock``.
        KeyboardInterrupt: after stopping the running subprocesses (rerun to resume).
    """
    return run_sweeps([experiment], preset, runs_dir=runs_dir, jobs=jobs, dry_run=dry_run,
                      notebooks_dir=notebooks_dir, progress=progress, out=out,
                      reuse_kernels=reuse_kernels)[0]


def run_sweeps(
    experiments: Sequence[str],
    preset: str,
    *,
    runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR,
    jobs: int | None = None,
    dry_run: bool = False,
    notebooks_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    out: IO[str] | None = None,
    reuse_kernels: bool = True,
) -> list[SweepResult]:
    """:func:`run_sweep` for several experiments, one after the other, in the given order.

    Every experiment's preset is loaded, expanded and validated (and its notebook found)
    before the first run of the first one starts. The sweeps share one pool of persistent
    workers, so the kernels started (and the imports paid) by the first sweep serve all of
    them. Order matters for shared runs: an experiment reuses the finished identical runs of
    the experiments before it (:func:`reuse_shared_runs`). A failed run does not stop the
    next experiments; each result lists its own failures.

    Raises:
        SweepError, PresetError, SweepLockedError, KeyboardInterrupt: as :func:`run_sweep`.
    """
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise SweepError(f"jobs {jobs!r} must be an integer >= 1")
    if not experiments:
        raise SweepError(f"no experiment given; allowed: {experiment_names()}")
    repeated = sorted({name for name in experiments if list(experiments).count(name) > 1})
    if repeated:
        raise SweepError(f"experiment(s) {repeated} given more than once")
    plans = []
    for name in experiments:
        exp = _experiment(name)
        spec = load_preset(exp.name, preset)
        runs = expand_preset(exp, spec, check_hub=not dry_run)
        notebook = None if dry_run else find_notebook(exp, notebooks_dir)
        plans.append((exp, spec, runs, notebook))
    results = []
    launcher = _Launcher(reuse_kernels=reuse_kernels,
                         worker_log=Path(runs_dir) / WORKER_LOG_NAME)
    try:
        for exp, spec, runs, notebook in plans:
            root = Path(runs_dir) / exp.name
            result = SweepResult(exp.name, spec.name, root, len(runs), dry_run=dry_run)
            results.append(result)
            if dry_run:
                _print_plan(exp, spec, runs, root, notebooks_dir, out or sys.stdout, result)
                continue
            assert notebook is not None
            slots = jobs or spec.jobs or 1
            threads = max(1, available_cpus() // slots)
            with sweep_lock(root):
                states = {run.run_id: run_state(root / run.run_id, run.params) for run in runs}
                todo = [run for run in runs if states[run.run_id] != DONE]
                reused = reuse_shared_runs(exp.name, todo, Path(runs_dir))
                if reused and progress:
                    print(f"reused {len(reused)} finished run(s) of "
                          f"{', '.join(same_protocol(exp.name))} with identical parameters",
                          file=sys.stderr)
                result.reused = len(reused)
                todo = [run for run in todo if run.run_id not in reused]
                result.skipped = len(runs) - len(todo)
                _execute(todo, result, root, notebook, slots, threads, progress, launcher)
    finally:
        launcher.close()
    return results


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
    from junk_dna.results.records import read_record, write_record

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


def _execute(todo: list[Run], result: SweepResult, root: Path, notebook: Path, jobs: int,
             threads: int, progress: bool, launcher: _Launcher) -> None:
    from tqdm import tqdm

    bar = tqdm(total=result.total, initial=result.skipped, desc=f"{result.experiment}/"
               f"{result.preset}", unit="run", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    bar.set_postfix({"left": len(todo), "failed": 0})

    def one(run: Run) -> tuple[bool, float]:
        start = time.monotonic()
        return _run_one(run, root, notebook, threads, launcher), time.monotonic() - start

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="junk-dna-run")
    futures: dict[Future[tuple[bool, float]], Run] = {}
    order = {run.run_id: i for i, run in enumerate(todo)}
    try:
        futures = {pool.submit(one, run): run for run in todo}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(finished, key=lambda f: order[futures[f].run_id]):
                run = futures[fut]
                ok, seconds = fut.result()
                if ok:
                    result.ran += 1
                    message = f"ok      {run.run_id} ({seconds:.1f} s)"
                else:
                    result.failed.append(run.run_id)
                    message = f"FAILED  {run.run_id}: see {result.error_file(run.run_id)}"
                if progress:
                    bar.write(message, file=sys.stderr)
                bar.update(1)
                bar.set_postfix({"left": result.todo - len(result.failed),
                                 "failed": len(result.failed)})
    except BaseException:
        for fut in futures:
            fut.cancel()
        launcher.stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
    result.failed.sort(key=order.__getitem__)


def _print_plan(exp: Experiment, spec: Preset, runs: list[Run], root: Path,
                notebooks_dir: str | os.PathLike[str] | None, out: IO[str],
                result: SweepResult) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        states = [run_state(root / run.run_id, run.params) for run in runs]
    result.skipped = states.count(DONE)
    keys = varying_keys(runs)
    fixed = {k: v for k, v in (runs[0].params.items() if runs else ()) if k not in keys}
    try:
        where = str(find_notebook(exp, notebooks_dir))
    except SweepError as err:
        where = f"MISSING ({err})"
    print(f"{exp.name} / {spec.name}: {spec.description}".rstrip(": "), file=out)
    print(f"notebook: {where}", file=out)
    print(f"runs folder: {root}", file=out)
    print("fixed: " + " ".join(f"{k}={json.dumps(v)}" for k, v in fixed.items()), file=out)
    width = max((len(r.run_id) for r in runs), default=0)
    for run, state in zip(runs, states, strict=True):
        shown = " ".join(f"{k}={json.dumps(run.params.get(k))}" for k in keys)
        print(f"  {state:<7} {run.run_id:<{width}}  {shown}".rstrip(), file=out)
    todo = len(runs) - result.skipped
    print(f"{len(runs)} runs: {result.skipped} done, {todo} to do (dry run, nothing executed)",
          file=out)


# ---------------------------------------------------------------------------------------------
# listing and figures


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
    exp = _experiment(experiment)
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


def run_figures(
    runs_dir: str | os.PathLike[str] = DEFAULT_RUNS_DIR,
    figures_dir: str | os.PathLike[str] = "figures",
    notebooks_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Execute ``figures.ipynb`` (parameters ``runs_dir``, ``figures_dir``, absolute) into
    ``<runs_dir>/figures/figures.ipynb``; return that path.

    Raises:
        SweepError: the notebook does not exist.
        NotebookError: the notebook failed (the message holds error.txt's text).
    """
    folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    notebook = (folder / "figures.ipynb").resolve()
    if not notebook.is_file():
        raise SweepError(f"notebook 'figures.ipynb' not found in {folder} (set --notebooks-dir)")
    runs = Path(runs_dir).resolve()
    workdir = runs / "figures"
    workdir.mkdir(parents=True, exist_ok=True)
    for name in (ERROR_NAME, LOG_NAME):
        (workdir / name).unlink(missing_ok=True)
    output = workdir / "figures.ipynb"
    rc = execute_notebook(notebook, output, {"runs_dir": os.fspath(runs),
                                             "figures_dir": os.fspath(Path(figures_dir).resolve())},
                          workdir)
    if rc != 0:
        text = (workdir / ERROR_NAME).read_text(encoding="utf-8", errors="replace")
        raise NotebookError(f"figures notebook failed (executed notebook: {output}, log: "
                            f"{workdir / LOG_NAME}):\n{text}")
    return output


def list_experiments() -> list[str]:
    """Names of every registered experiment (built-in and plugins)."""
    return experiment_names()


# ---------------------------------------------------------------------------------------------
# worker (runs in the subprocess)


def _native_kernel_manager_class() -> type:
    """A kernel manager whose ``python3`` is ipykernel's native spec: ``sys.executable``.

    Kernelspec folders (``~/.local/share/jupyter/kernels/python3``, other environments) are
    ignored, so the kernel always runs the interpreter that runs the sweep.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class NativeKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return KernelSpecManager(kernel_dirs=[], ensure_native_kernel=True)

    return NativeKernelManager


def _cells_started(output: Path) -> bool:
    try:
        import nbformat

        nb = nbformat.read(output, as_version=4)
    except Exception:  # noqa: BLE001 - no readable output: nothing started
        return False
    # papermill marks every cell "completed" at the end; only started cells have a start time
    return any(cell.get("metadata", {}).get("papermill", {}).get("start_time") is not None
               for cell in nb.cells)


def _watch_parent() -> None:
    """Exit when the sweep process dies (the kernel then exits too: ipykernel polls its
    parent), so a killed sweep leaves no run going on behind a resumed one."""
    parent = os.getppid()

    def poll() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=poll, daemon=True, name="watch-parent").start()


def report_failure(err: BaseException, nb_out: str | os.PathLike[str],
                   error_file: str | os.PathLike[str]) -> None:
    """Write a failed run's ``error.txt`` (atomically) and say it on stderr.

    A notebook error gives the exception, the failing cell's index and source; anything else
    (a kernel that died or never started) its traceback.
    """
    import textwrap
    import traceback

    from papermill.exceptions import PapermillExecutionError

    from junk_dna.results.records import atomic_write_text

    if isinstance(err, PapermillExecutionError):
        source = textwrap.indent(str(err.source), "    ")
        atomic_write_text(error_file, (
            f"{err.ename}: {err.evalue}\n\nraised by cell {err.cell_index} "
            f"(In [{err.exec_count}]) of {nb_out}:\n{source}\n{err}"))
        print(f"notebook failed: {err.ename}: {err.evalue}", file=sys.stderr)
        return
    atomic_write_text(error_file, f"{type(err).__name__}: {err}\n\n"
                                  f"{''.join(traceback.format_exception(err))}")
    traceback.print_exception(err)


def _worker_main(argv: Sequence[str]) -> int:
    """Execute one notebook (``NOTEBOOK OUTPUT PARAMS_JSON CWD ERROR_FILE``); exit status."""
    import logging
    import random

    nb_in, nb_out, params_file, cwd, error_file = argv
    _watch_parent()

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    if os.environ.get("SUBMITIT_EXECUTOR") and hasattr(signal, "SIGUSR2"):
        # under submitit the job's task checkpoints on the preemption signal and stops us
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    import papermill
    from papermill.exceptions import PapermillExecutionError

    params = json.loads(Path(params_file).read_text(encoding="utf-8"))
    for attempt in (1, 2):
        try:
            papermill.execute_notebook(
                nb_in, nb_out, parameters=params, kernel_name=KERNEL_NAME,
                kernel_manager_class=_native_kernel_manager_class(), progress_bar=False,
                stdout_file=sys.stdout, stderr_file=sys.stderr, cwd=cwd,
                start_timeout=KERNEL_START_TIMEOUT_S,
            )
            return 0
        except PapermillExecutionError as err:
            report_failure(err, nb_out, error_file)
            return 1
        except Exception as err:  # noqa: BLE001 - reported in error.txt
            if attempt == 1 and not _cells_started(Path(nb_out)):
                print(f"kernel failed to start ({type(err).__name__}: {err}); retrying once",
                      file=sys.stderr)
                time.sleep(random.uniform(0.5, 2.0))
                continue
            report_failure(err, nb_out, error_file)
            return 1
    return 1  # pragma: no cover


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--worker":
        sys.exit(_worker_main(sys.argv[2:]))
    print("internal: python -m junk_dna.runs.sweep --worker NOTEBOOK OUTPUT PARAMS CWD ERROR_FILE; "
          "use `junk-dna sweep` instead", file=sys.stderr)
    sys.exit(2)
