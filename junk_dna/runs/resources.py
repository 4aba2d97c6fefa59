"""SLURM resources of a sweep: the preset's ``slurm:`` mapping and the command-line overrides.

Pure validation (no submitit, no SLURM needed): :func:`check_slurm_block` checks a preset's
mapping when the preset is parsed, :func:`parse_overrides` the ``--partition``/``--gpus``/...
flags, and :func:`resolve_resources` merges defaults < preset < overrides into the
:class:`SlurmResources` of every array task::

    slurm: {partition: gpu, gpus_per_node: 1, cpus_per_task: 8, mem_gb: 64,
            timeout_min: 240, array_parallelism: 32,
            additional: {account: myproject}, setup: ["module load cuda"]}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from junk_dna.runs.errors import PresetError, SweepError

SLURM_KEYS: tuple[str, ...] = (
    "partition", "gpus_per_node", "cpus_per_task", "mem_gb", "timeout_min",
    "array_parallelism", "max_array_size", "additional", "setup",
)
DEFAULT_TIMEOUT_MIN = 60
# submitit asks SLURM for its requeue signal (USR2) this long before the time limit; the
# limit must leave a task time to start Python (and its handler) before that signal
SIGNAL_DELAY_S = 90
MIN_TIMEOUT_MIN = 3
DEFAULT_ARRAY_PARALLELISM = 256  # submitit's default
DEFAULT_MAX_ARRAY_SIZE = 1000  # SLURM's default MaxArraySize is 1001 (indices 0..1000)
# sbatch options that submitit manages, or that have their own resource key
_MANAGED = {"array": "", "output": "", "error": "", "open-mode": "", "signal": "",
            "job-name": "", "partition": "partition / --partition",
            "time": "timeout_min / --time", "gpus-per-node": "gpus_per_node / --gpus",
            "cpus-per-task": "cpus_per_task / --cpus-per-task", "mem": "mem_gb / --mem-gb"}
_PARTITION = re.compile(r"^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$")
_OPTION = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class SlurmResources:
    """The resources of every array task (one task = one run).

    Attributes:
        partition: SLURM partition(s) (``None``: the cluster's default).
        gpus_per_node: GPUs per task (0: none requested).
        cpus_per_task: CPUs per task (``None``: the cluster's default); a run uses them all.
        mem_gb: memory per task in GB (``None``: the cluster's default).
        timeout_min: time limit per task in minutes.
        array_parallelism: tasks of an array running at once.
        max_array_size: most tasks per array; more runs are split into several arrays.
        additional: extra ``#SBATCH --key=value`` options (``True``: a bare ``--key``).
        setup: shell lines run in the batch script before the task (``module load ...``).
    """

    partition: str | None = None
    gpus_per_node: int = 0
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    timeout_min: int = DEFAULT_TIMEOUT_MIN
    array_parallelism: int = DEFAULT_ARRAY_PARALLELISM
    max_array_size: int = DEFAULT_MAX_ARRAY_SIZE
    additional: dict[str, str | int | float | bool] = field(default_factory=dict)
    setup: tuple[str, ...] = ()

    def executor_parameters(self, name: str) -> dict[str, Any]:
        """Keyword arguments of ``submitit.AutoExecutor.update_parameters``."""
        params: dict[str, Any] = {"name": name, "timeout_min": self.timeout_min,
                                  "slurm_array_parallelism": self.array_parallelism,
                                  "slurm_signal_delay_s": SIGNAL_DELAY_S}
        if self.gpus_per_node:
            params["gpus_per_node"] = self.gpus_per_node
        if self.cpus_per_task is not None:
            params["cpus_per_task"] = self.cpus_per_task
        if self.mem_gb is not None:
            params["mem_gb"] = self.mem_gb
        if self.partition is not None:
            params["slurm_partition"] = self.partition
        if self.additional:
            params["slurm_additional_parameters"] = dict(self.additional)
        if self.setup:
            params["slurm_setup"] = list(self.setup)
        return params

    def describe(self) -> str:
        """One line: every resource, ``default`` where the cluster's default applies."""
        hours, minutes = divmod(self.timeout_min, 60)
        mem = "default" if self.mem_gb is None else f"{self.mem_gb:g}GB"
        parts = [f"partition={self.partition or 'default'}", f"gpus={self.gpus_per_node}",
                 f"cpus={self.cpus_per_task or 'default'}", f"mem={mem}",
                 f"time={self.timeout_min}min ({hours}:{minutes:02d}:00)",
                 f"array_parallelism={self.array_parallelism}"]
        parts += [f"--{k}" if v is True else f"--{k}={v}" for k, v in self.additional.items()]
        if self.setup:
            parts.append(f"setup={len(self.setup)} line(s)")
        return " ".join(parts)

    def sbatch_lines(self, name: str, folder: Path, tasks: int) -> list[str]:
        """The ``#SBATCH`` lines submitit would write for an array of ``tasks`` tasks.

        Uses submitit's (private) sbatch writer; an empty list if it is not available.
        """
        try:
            from submitit.slurm.slurm import _convert_mem, _make_sbatch_string
        except ImportError:  # pragma: no cover - submitit internals moved
            return []
        kwargs: dict[str, Any] = {
            "job_name": name, "partition": self.partition, "time": self.timeout_min,
            "cpus_per_task": self.cpus_per_task, "gpus_per_node": self.gpus_per_node or None,
            "mem": None if self.mem_gb is None else _convert_mem(self.mem_gb),
            "array_parallelism": self.array_parallelism, "signal_delay_s": SIGNAL_DELAY_S,
            "additional_parameters": dict(self.additional) or None,
            "setup": list(self.setup) or None,
            "map_count": tasks if tasks > 1 else None,
        }
        try:
            text = _make_sbatch_string(command="python -u -m submitit.core._submit",
                                       folder=str(folder), **kwargs)
        except TypeError:  # pragma: no cover - submitit internals changed
            return []
        return [line for line in text.splitlines() if line.startswith("#SBATCH")]


def _int(value: Any, minimum: int) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError from None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError
    return value


def _check_value(key: str, value: Any) -> Any:
    """``value`` of resource ``key`` normalized.

    Raises:
        ValueError: with the allowed values (the caller names the key and the value).
    """
    if key == "partition":
        if not isinstance(value, str) or not _PARTITION.match(value):
            raise ValueError("must be a partition name (letters, digits, '_', '.', '-'; "
                             "several separated by commas)")
        return value
    minimum = {"gpus_per_node": 0, "cpus_per_task": 1, "timeout_min": MIN_TIMEOUT_MIN,
               "array_parallelism": 1, "max_array_size": 1}.get(key)
    if minimum is not None:
        what = {"gpus_per_node": "GPUs per task, 0 for none",
                "timeout_min": f"whole minutes, e.g. 240 for 4 h; SLURM signals a task "
                               f"{SIGNAL_DELAY_S} s before its time limit to requeue it, which "
                               "must leave the task time to start"}.get(key)
        try:
            return _int(value, minimum)
        except ValueError:
            raise ValueError(f"must be an integer >= {minimum}"
                             + (f" ({what})" if what else "")) from None
    if key == "mem_gb":
        try:
            number = float(value.strip()) if isinstance(value, str) else value
        except ValueError:
            number = None
        if (isinstance(number, bool) or not isinstance(number, (int, float))
                or not math.isfinite(number) or number <= 0):
            raise ValueError("must be a number of GB > 0, e.g. 64")
        return int(number) if float(number).is_integer() else float(number)
    if key == "additional":
        if not isinstance(value, Mapping):
            raise ValueError("must be a mapping of sbatch option -> value, e.g. "
                             "{account: myproject, qos: high}")
        return {_check_option(k): _check_option_value(k, v) for k, v in value.items()}
    if key == "setup":
        if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
            raise ValueError("must be a list of shell lines, e.g. [\"module load cuda\"]")
        return list(value)
    raise ValueError(f"is not a resource; allowed: {list(SLURM_KEYS)}")  # pragma: no cover


def _check_option(key: Any) -> str:
    if not isinstance(key, str) or not _OPTION.match(key):
        raise ValueError(f"has the sbatch option name {key!r}: a name is letters, digits, "
                         "'-' and '_' (without the leading --)")
    managed = _MANAGED.get(key.replace("_", "-"))
    if managed is not None:
        raise ValueError(f"sets {key!r}, which " + (f"has its own setting: {managed}"
                                                     if managed else "submitit manages"))
    return key


def _check_option_value(key: str, value: Any) -> str | int | float | bool:
    if value is True or (isinstance(value, (str, int, float)) and not isinstance(value, bool)
                         and str(value) != ""):
        return value
    raise ValueError(f"option {key!r} has the value {value!r}: give a string or a number "
                     "(or true for a bare flag)")


def check_slurm_block(raw: Any, where: str) -> dict[str, Any]:
    """Check a preset's ``slurm:`` mapping (``None``: none); return it normalized.

    Raises:
        PresetError: not a mapping, an unknown key or a bad value (named with what is allowed).
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PresetError(f"{where} {raw!r} must be a mapping with keys among "
                          f"{list(SLURM_KEYS)}")
    unknown = [k for k in raw if k not in SLURM_KEYS]
    if unknown:
        raise PresetError(f"{where} has unknown key(s) {unknown}; allowed: {list(SLURM_KEYS)}")
    out = {}
    for key, value in raw.items():
        try:
            out[key] = _check_value(key, value)
        except ValueError as err:
            raise PresetError(f"{where}: {key} {value!r} {err}") from None
    return out


_FLAGS: dict[str, str] = {
    "partition": "--partition", "gpus_per_node": "--gpus", "timeout_min": "--time",
    "cpus_per_task": "--cpus-per-task", "mem_gb": "--mem-gb",
    "array_parallelism": "--array-parallelism", "additional": "--slurm-extra",
}


def parse_overrides(
    *,
    partition: str | None = None,
    gpus: str | int | None = None,
    time: str | int | None = None,
    cpus_per_task: str | int | None = None,
    mem_gb: str | float | None = None,
    array_parallelism: str | int | None = None,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """Resource overrides from the command line (``None``: not given), checked.

    ``extra`` holds ``KEY=VALUE`` (or a bare ``KEY`` for a flag) sbatch options, e.g.
    ``account=myproject``, ``qos=high``, ``requeue``.

    Raises:
        SweepError: naming the flag, the bad value and what is allowed.
    """
    given = {"partition": partition, "gpus_per_node": gpus, "timeout_min": time,
             "cpus_per_task": cpus_per_task, "mem_gb": mem_gb,
             "array_parallelism": array_parallelism}
    out: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        try:
            out[key] = _check_value(key, value)
        except ValueError as err:
            raise SweepError(f"{_FLAGS[key]} {value!r} {err}") from None
    additional: dict[str, Any] = {}
    for item in extra:
        key, sep, value = str(item).partition("=")
        key = key.strip().removeprefix("--")
        try:
            _check_option(key)
            additional[key] = _check_option_value(key, value) if sep else True
        except ValueError as err:
            raise SweepError(f"--slurm-extra {item!r} {err}; give KEY=VALUE (e.g. "
                             "account=myproject) or KEY for a bare flag") from None
    if additional:
        out["additional"] = additional
    return out


def resolve_resources(
    preset_block: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> SlurmResources:
    """The resources of a submission: defaults < the preset's ``slurm:`` < ``overrides``.

    ``additional`` options are merged (an override replaces the preset's value of a key).

    Raises:
        PresetError: a value in either mapping is invalid.
    """
    merged: dict[str, Any] = {}
    for source, mapping in (("preset slurm", preset_block), ("overrides", overrides or {})):
        checked = check_slurm_block(dict(mapping), source)
        extra = {**merged.get("additional", {}), **checked.pop("additional", {})}
        merged.update(checked)
        if extra:
            merged["additional"] = extra
    if "setup" in merged:
        merged["setup"] = tuple(merged["setup"])
    return SlurmResources(**merged)
