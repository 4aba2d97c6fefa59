"""'Are pre-trained magnitude values the true gem?' (the paper's TRUE_GEM figure).

One run = one fine-tune: load a pre-trained encoder, compute a one-shot mask on its
pre-trained weights, fine-tune under a transfer mode (dense, sparse, freeze,
sparse_to_dense), evaluate after every epoch, and write one record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from junk_dna.checks import check_int
from junk_dna.data.glue_tasks import TaskData, check_fraction, get_task, load_task
from junk_dna.experiments.parameters import check_field_types, config_from_notebook, param
from junk_dna.experiments.registry import Experiment, ModelResolver, register
from junk_dna.models.encoders import LoadedModel, load_model, resolve_model
from junk_dna.pruning.config import (
    MODES,
    PruningConfig,
    check_mode,
    check_nm_widths_from_config,
    parse_nm,
)
from junk_dna.results.provenance import provenance, start_run
from junk_dna.results.records import atomic_write_text, write_record
from junk_dna.training.precision import check_mixed_precision

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from junk_dna.pruning.transfer import MaskEnforcer
    from junk_dna.training.finetune import TrainConfig, TrainResult

PATTERNS: tuple[str, ...] = ("unstructured", "nm")
#: Runs of every experiment built on :func:`run` are interchangeable (see Experiment).
FINETUNE_PROTOCOL = "finetune"
PRUNABLE_POLICIES: tuple[str, ...] = ("encoder", "original")
PRUNING_FIELDS: tuple[str, ...] = ("pattern", "sparsity", "nm", "scope", "criterion")
#: Fields added after fine-tuning runs were recorded: left out of a run's params while
#: ``None`` (:meth:`TrueGemConfig.params`), so the runs recorded before them keep their ids.
OMITTED_WHEN_NONE: tuple[str, ...] = ("eval_last",)
PER_EXAMPLE_NAME = "per_example.json"
"""The file beside a fine-tuning record holding the last evaluation's per-example outcomes."""


@dataclass(frozen=True)
class TrueGemConfig:
    """Every parameter of one fine-tuning run of true_gem, data_adequacy and human_gap.

    The defaults are held here once: the notebooks' ``parameters`` cells are generated from
    these fields (:mod:`junk_dna.experiments.parameters`), the presets state only what
    differs from them, and :meth:`train_config` builds the :class:`TrainConfig` of a run from
    the same fields. They are the embedded default's settings (MiniLM on the embedded SST-2,
    sized for the 2-core main job); the ``paper`` presets state the original's values.

    Fields not used by a run are ``None`` after :meth:`normalized` (e.g. ``sparsity`` of an
    N:M run, every pruning field of a dense run), so equal runs have equal parameters.
    """

    model: str = param("minilm", "embedded alias, local folder, or hub id (roberta-large)")
    task: str = param("sst2-embedded", "offline re-split; GLUE from the hub: sst2 qnli mnli ...")
    data_fraction: float = param(1.0, "share of the training split kept, in (0, 1]")
    subset: str = param("random", "random (seeded subset) | prefix (first rows, the original)")
    mode: str = param("sparse", "dense | sparse | freeze | sparse_to_dense")
    pattern: str | None = param("unstructured", "unstructured | nm")
    sparsity: float | None = param(0.5, "unstructured: share of prunable weights pruned, [0, 1)")
    nm: str | None = param(None, "nm: N weights KEPT per group of M, 7:8 (mildest) .. 1:8")
    scope: str | None = param("global", "unstructured: global (one threshold) | layer")
    criterion: str | None = param("magnitude", "magnitude | random | largest (controls)")
    prunable: str | None = param("encoder", "encoder (pre-trained linears) | original (+head)")
    include_embeddings: bool | None = param(False, "also prune embeddings (no --noembed)")
    seed: int = param(41, "data subset, task head, shuffling and random masks")
    epochs: int = param(6, "passes over the training split (the original: 3)")
    batch_size: int = param(16, "training examples per optimizer step")
    learning_rate: float = param(1e-4, "peak AdamW learning rate (the original: 2e-5)")
    weight_decay: float = param(0.0, "AdamW decay of all but biases and LayerNorm weights")
    warmup_ratio: float = param(0.06, "share of the steps warming up linearly, in [0, 1)")
    max_length: int = param(64, "tokens kept per example (the paper preset: 512)")
    eval_batch_size: int = param(64, "examples per evaluation forward pass")
    mixed_precision: str = param("no", "no (float32) | bf16 (autocast, CPU or GPU) | fp16 (GPU)")
    group_by_length: bool = param(True, "batch similar lengths, less padding (original: no)")
    max_steps: int | None = param(None, "optimizer steps, any data size (None: epochs)")
    eval_steps: int | None = param(None, "evaluate every n steps and last (None: epochs)")
    split_seed: int | None = param(None, "embedded re-split seed (None: the run seed)")
    eval_last: int | None = param(None, "run only the last n evaluations (None: all)")

    def __post_init__(self) -> None:
        get_task(self.task)
        check_fraction(self.data_fraction, self.subset)
        check_mode(self.mode)
        if self.mode != "dense" and self.prunable not in PRUNABLE_POLICIES:
            raise ValueError(f"unknown prunable policy {self.prunable!r}; "
                             f"allowed: {list(PRUNABLE_POLICIES)}")
        if self.mode != "dense":
            if self.pattern not in PATTERNS:
                raise ValueError(f"unknown pattern {self.pattern!r}; allowed: {list(PATTERNS)}")
            self.pruning_config()  # validates sparsity / nm / scope / criterion
        check_int("seed", self.seed, 0)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("max_length", self.max_length, 8)
        check_int("eval_batch_size", self.eval_batch_size, 1)
        for name in ("max_steps", "eval_steps", "eval_last"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        if self.split_seed is not None:
            check_int("split_seed", self.split_seed, 0)
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise ValueError(f"learning_rate {self.learning_rate!r} must be a number > 0")
        if not (isinstance(self.weight_decay, (int, float)) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay {self.weight_decay!r} must be a number >= 0")
        if not (isinstance(self.warmup_ratio, (int, float)) and 0 <= self.warmup_ratio < 1):
            raise ValueError(f"warmup_ratio {self.warmup_ratio!r} is outside [0, 1)")
        if not isinstance(self.group_by_length, bool):
            raise ValueError(f"group_by_length {self.group_by_length!r} must be true or false")
        check_mixed_precision(self.mixed_precision)

    def pruning_config(self) -> PruningConfig | None:
        """The :class:`junk_dna.pruning.config.PruningConfig` of this run (``None`` for dense).

        Raises:
            ValueError: a pruning field is invalid (message names the value).
        """
        if self.mode == "dense":
            return None
        if self.pattern == "unstructured":
            if self.sparsity is None:
                raise ValueError("pattern 'unstructured' needs a sparsity in [0, 1); got None")
            return PruningConfig(pattern="unstructured", sparsity=float(self.sparsity),
                                 scope=self.scope or "global",
                                 criterion=self.criterion or "magnitude", seed=self.seed)
        if self.nm is None:
            raise ValueError("pattern 'nm' needs nm='N:M' (N kept of M), e.g. '4:8'; got None")
        return PruningConfig(pattern="nm", nm=str(self.nm),
                             criterion=self.criterion or "magnitude", seed=self.seed)

    def normalized(self) -> TrueGemConfig:
        """The same run with every unused field set to ``None`` (canonical identity)."""
        values = asdict(self)
        if self.mode == "dense":
            values.update(dict.fromkeys(PRUNING_FIELDS), prunable=None, include_embeddings=None)
        elif self.pattern == "unstructured":
            values.update(nm=None, sparsity=float(self.sparsity), scope=self.scope or "global",
                          criterion=self.criterion or "magnitude")
        else:
            n, m = parse_nm(str(self.nm))
            values.update(sparsity=None, scope=None, nm=f"{n}:{m}",
                          criterion=self.criterion or "magnitude")
        # the re-split seed of an embedded task, explicit (a hub task has no re-split)
        embedded = get_task(self.task).source == "embedded"
        values["split_seed"] = (self.seed if self.split_seed is None else self.split_seed
                                ) if embedded else None
        values["data_fraction"] = float(self.data_fraction)
        values["learning_rate"] = float(self.learning_rate)
        values["weight_decay"] = float(self.weight_decay)
        values["warmup_ratio"] = float(self.warmup_ratio)
        return TrueGemConfig(**values)

    def params(self) -> dict[str, Any]:
        """The parameters as recorded and hashed into the run id: every field, those of
        :data:`OMITTED_WHEN_NONE` only when set."""
        return {k: v for k, v in asdict(self).items()
                if not (k in OMITTED_WHEN_NONE and v is None)}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrueGemConfig:
        """Build from a flat mapping, rejecting unknown keys and values of the wrong type
        (:func:`~junk_dna.experiments.parameters.check_field_types`: a bool is no number).

        Raises:
            ValueError: an unknown key (named, with the allowed keys) or an invalid value.
        """
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(f"unknown true_gem parameter(s) {unknown}; allowed: {allowed}")
        check_field_types(cls, params)
        return cls(**params)

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> TrueGemConfig:
        """Build from a notebook's globals: picks the fields by name, ignores the rest."""
        return cls(**{f.name: namespace[f.name] for f in fields(cls) if f.name in namespace})

    @classmethod
    def from_notebook(cls, namespace: Mapping[str, Any],
                      experiment: str = "true_gem") -> TrueGemConfig:
        """Build from a notebook's parameters (its ``globals()``), before any work.

        Raises:
            ValueError: a parameter that is not a field (named, with the allowed names; see
                :func:`junk_dna.experiments.parameters.config_from_notebook`) or a bad value.
        """
        return config_from_notebook(cls, namespace, experiment)

    def train_config(self) -> TrainConfig:
        """The optimization settings of this run: every :class:`TrainConfig` field taken
        from the field of the same name here (the training loop has no defaults of its own
        for a run)."""
        # torch: imported when a run starts, not when its parameters are validated
        from junk_dna.training.finetune import TrainConfig

        return TrainConfig(**{f.name: getattr(self, f.name) for f in fields(TrainConfig)})


def validate(params: Mapping[str, Any], *,
             resolve: ModelResolver = resolve_model) -> dict[str, Any]:
    """Validate one run's parameters without loading anything heavy; return them normalized.

    The model name is checked by ``resolve``: by default
    :func:`junk_dna.models.encoders.resolve_model` (an alias, a folder with config.json, or a
    hub id whose config the hub has); a sweep passes its own, which asks the hub once per
    distinct name, or never in a dry run (:func:`junk_dna.runs.presets.expand_preset`).

    With N:M pruning, M must divide the input widths in the model's config
    (:func:`junk_dna.pruning.config.check_nm_widths_from_config`), so a bad ``nm`` fails
    here, before any run, as in the zero-shot experiments.

    Raises:
        ValueError: any invalid parameter, named with the allowed values.
    """
    cfg = TrueGemConfig.from_params(params).normalized()
    resolved = resolve(cfg.model)
    location = getattr(resolved, "location", None)  # a test's resolver may return anything
    if cfg.nm is not None and isinstance(location, str):
        check_nm_widths_from_config(location, cfg.nm)
    return cfg.params()


register(Experiment(name="true_gem", notebook="true_gem.ipynb", validate=validate,
                    protocol=FINETUNE_PROTOCOL, config=TrueGemConfig,
                    resolve_model=resolve_model))

__all__ = ["MODES", "PATTERNS", "TrueGemConfig", "run", "validate"]


def run(
    config: TrueGemConfig,
    run_dir: str | Path | None = None,
    *,
    on_epoch: Any = None,
    experiment: str = "true_gem",
) -> dict[str, Any]:
    """Run one configuration end to end and return its record.

    Steps: seed everything; load the task data and the model (the task head is initialized
    from the seed); select the prunable weights; compute the one-shot mask on the pre-trained
    values; fine-tune under the transfer mode; check the mode's invariant on the final
    weights; write ``run_dir/record.json`` (atomically) and ``run_dir/sparsity.csv``.

    Args:
        config: the run's parameters (validated on construction).
        run_dir: folder for the record; ``None`` writes nothing.
        on_epoch: optional callback receiving each epoch's metrics (live display).
        experiment: the experiment name written into the record (experiments that share
            this protocol, e.g. ``data_adequacy``, pass their own).

    Returns:
        The record (see :mod:`junk_dna.results.records`).

    Raises:
        RuntimeError: the transfer mode's invariant does not hold after training.
    """
    start = time.perf_counter()
    # torch, transformers: imported when a run starts, not when it is validated
    from junk_dna.training.finetune import fine_tune

    cfg = config.normalized()
    start_run(cfg.seed)
    timings = {"setup": time.perf_counter() - start}
    clock = time.perf_counter()
    data = load_task(cfg.task, data_fraction=cfg.data_fraction, subset=cfg.subset,
                     seed=cfg.seed, split_seed=cfg.split_seed or 0)
    timings["load_data"] = time.perf_counter() - clock
    clock = time.perf_counter()
    loaded = load_model(cfg.model, head=data.spec.head, num_labels=data.spec.num_labels)
    timings["load_model"] = time.perf_counter() - clock
    clock = time.perf_counter()
    pruned = _prune_pretrained(loaded, cfg)
    timings["prune"] = time.perf_counter() - clock
    enforcers: list[MaskEnforcer] = []
    result = fine_tune(loaded.model, loaded.tokenizer, data, cfg.train_config(),
                       make_enforcer=_enforcer_factory(pruned, cfg.mode, enforcers),
                       on_epoch=on_epoch)
    timings.update(result.timings)
    clock = time.perf_counter()
    violations, after = _check_transfer(enforcers[0], loaded.model, pruned, cfg.mode)
    timings["check"] = time.perf_counter() - clock
    record = {**_record(cfg, experiment, run_dir, loaded, data, pruned, result, violations,
                        after),
              # seconds per stage: setup (imports inside run, seeding), loading, pruning or
              # compression, tokenize / train / evaluate, checks
              **provenance(start, timings)}
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(run_dir) / "sparsity.csv", pruned.report.to_csv(index=False))
        atomic_write_text(Path(run_dir) / PER_EXAMPLE_NAME,
                          json.dumps(per_example(data, result), separators=(",", ":")))
        write_record(run_dir, record)
    return record


def per_example(data: TaskData, result: TrainResult) -> dict[str, Any]:
    """The last evaluation's outcome on every test example, for paired analyses: per eval
    split, the example ids (stable across runs of the same split), labels and predictions.
    Written as ``per_example.json`` beside the record."""
    return {"splits": {split: {"ids": list(data.eval_ids.get(split, [])), **outcome}
                       for split, outcome in result.predictions.items()}}


@dataclass
class _Pruned:
    """The one-shot mask of a run: the prunable parameters, their masks (empty for a dense
    run), the sparsity report before training, and the pruning config (None: dense)."""

    params: dict[str, torch.nn.Parameter]
    masks: dict[str, torch.Tensor]
    report: pd.DataFrame
    config: PruningConfig | None


def _prune_pretrained(loaded: LoadedModel, cfg: TrueGemConfig) -> _Pruned:
    """Select the prunable weights and compute the one-shot mask on their pre-trained
    values (the weights are not changed: the transfer mode applies the mask)."""
    # torch, pandas: imported when a run starts, not when its parameters are validated
    from junk_dna.pruning.masks import (
        compute_masks,
        nm_group_dims,
        select_prunable,
        sparsity_report,
    )

    model = loaded.model
    pruning = cfg.pruning_config()
    # A dense run prunes nothing; its report covers the default policy's weights.
    params = select_prunable(model, cfg.prunable or "encoder",
                             include_embeddings=bool(cfg.include_embeddings),
                             new_param_names=loaded.new_param_names)
    masks = {} if pruning is None else compute_masks(
        {k: v.detach() for k, v in params.items()}, pruning,
        group_dims=nm_group_dims(model, params))
    report = sparsity_report(params, masks if masks else None,
                             target=None if pruning is None else pruning.target_sparsity)
    return _Pruned(params, masks, report, pruning)


def _enforcer_factory(pruned: _Pruned, mode: str, enforcers: list[MaskEnforcer]
                      ) -> Callable[[torch.nn.Module], MaskEnforcer]:
    """``make_enforcer`` of :func:`junk_dna.training.finetune.fine_tune`: the transfer mode's
    enforcer over the model as placed on its device (kept in ``enforcers``)."""
    # torch, pandas: imported when a run starts, not when its parameters are validated
    from junk_dna.pruning.transfer import MaskEnforcer

    def make_enforcer(unwrapped: torch.nn.Module) -> MaskEnforcer:
        named = dict(unwrapped.named_parameters())
        enforcer = MaskEnforcer({k: named[k] for k in pruned.params} if pruned.masks else {},
                                pruned.masks, mode)
        enforcers.append(enforcer)
        return enforcer

    return make_enforcer


def _check_transfer(enforcer: MaskEnforcer, model: torch.nn.Module, pruned: _Pruned,
                    mode: str) -> tuple[int, pd.DataFrame]:
    """The transfer mode's invariant on the trained weights, and their sparsity report.

    Raises:
        RuntimeError: pruned weights that break the invariant.
    """
    # torch, pandas: imported when a run starts, not when its parameters are validated
    from junk_dna.pruning.masks import sparsity_report

    violations = enforcer.violations()
    if violations:
        raise RuntimeError(f"transfer mode {mode!r}: {violations} pruned weights break "
                           "the invariant after training")
    final_params = {k: v.detach() for k, v in model.named_parameters() if k in pruned.params}
    return violations, sparsity_report(final_params)


def _record(cfg: TrueGemConfig, experiment: str, run_dir: str | Path | None,
            loaded: LoadedModel, data: TaskData, pruned: _Pruned, result: TrainResult,
            violations: int, after: pd.DataFrame) -> dict[str, Any]:
    """The run's record (see :mod:`junk_dna.results.records`), provenance aside."""
    # torch: imported when a run starts, not when its parameters are validated
    from junk_dna.pruning.masks import head_side_names

    total = pruned.report.iloc[-1]
    return {
        "experiment": experiment,
        "run_id": Path(run_dir).name if run_dir is not None else "interactive",
        "status": "ok",
        "params": cfg.params(),
        "resolved": {**loaded.resolved.as_record(),
                     **{k: v for k, v in data.resolved.items() if not isinstance(v, dict)},
                     "n_eval": data.resolved.get("n_eval"),
                     "prunable_tensors": len(pruned.params),
                     # trained like the task head, never pruned under the "encoder" policy
                     "head_side": (head_side_names(loaded.model)
                                   if (cfg.prunable or "encoder") == "encoder" else [])},
        "epochs": result.epochs,
        "final": {"last": result.last, "best": result.best, "best_epoch": result.best_epoch},
        "sparsity": {
            "target": 0.0 if pruned.config is None else pruned.config.target_sparsity,
            "reached": float(total["sparsity"]),
            "prunable": int(total["numel"]),
            "pruned": int(total["pruned"]),
            "zeros_after_training": float(after.iloc[-1]["sparsity"]),
            "invariant_violations": violations,
            # the sparsity guard: tensors pruned > 95 % at a target <= 60 %
            "flagged": ([str(n) for n in pruned.report.loc[pruned.report["flagged"], "name"]]
                        if "flagged" in pruned.report else []),
        },
        "per_example": PER_EXAMPLE_NAME,
        "steps": result.steps,
        # split -> whether its tokenized features came from this process's cache
        "encode_cache": dict(result.encode_cache),
    }
