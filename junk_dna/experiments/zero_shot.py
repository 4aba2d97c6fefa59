"""The pruned-LLM experiments: one-shot compression of a causal LM, then zero-shot evaluation.

No fine-tuning: as the paper did with Vicuna-7B, a pre-trained causal LM is pruned once
(per-matrix magnitude, Wanda or SparseGPT; unstructured or N:M) or weight-quantized (RTN),
then scored zero-shot. One run = one compressed model evaluated under every *condition* of
its experiment, so the model is loaded and compressed once per run:

==================  ==========================================  ==============================
experiment          conditions (harder ->)                      task (embedded default)
==================  ==========================================  ==============================
``context_length``  context tokens, e.g. [None, 256, 128, 64,   SciQ with its support passage
                    0] (None = full passage, 0 = closed book)   (multiple choice)
``option_count``    options per question k, e.g. [2, 3, 4, 5]   CommonsenseQA (5 options)
``kshot``           in-context examples, e.g. [5, 3, 1, 0]      ARC-Easy
``factoid_vs_mc``   ["mc", "factoid"]: ``mc_task`` by           TriviaQA (no context, EM/F1)
                    log-likelihood vs ``task`` generated        vs ARC-Easy
``quantization``    none: RTN at 8..2 bits against pruning at   ARC-Easy
                    matched compression
==================  ==========================================  ==============================

Each experiment's conditions (its defaults, checks, labels, and how its questions are loaded
and scored) are one runner of :mod:`junk_dna.experiments.conditions`. Every metric of a run
is named ``<metric>|<condition>`` (``acc|context=64``, ``exact_match|factoid``) and
normalized to the dense run (``method="dense"``) with the same everything else
(:func:`junk_dna.report.analysis.normalize_zero_shot`). The embedded model
(``smollm2``) went through a 4-bit GGUF before we see it: its records carry that caveat.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from junk_dna.checks import check_choice, check_int
from junk_dna.experiments.conditions import (
    CONDITIONS,
    evaluate_conditions,
    get_conditions,
)
from junk_dna.experiments.parameters import check_field_types, config_from_notebook, param
from junk_dna.experiments.registry import Experiment, ModelResolver, register
from junk_dna.models.causal_lm import load_causal_lm, resolve_causal_lm
from junk_dna.pruning.config import (
    check_group_widths_from_config,
    check_llm_pruning,
    check_nm_widths_from_config,
    check_quantization,
)
from junk_dna.results.provenance import provenance, start_run
from junk_dna.results.records import atomic_write_text, write_record

METHODS: tuple[str, ...] = ("dense", "magnitude", "wanda", "sparsegpt", "rtn")
PRUNING_METHODS: tuple[str, ...] = ("magnitude", "wanda", "sparsegpt")
PATTERNS: tuple[str, ...] = ("unstructured", "nm")
SELECTIONS: tuple[str, ...] = ("first", "random")
ZERO_SHOT_PROTOCOL = "zero_shot"

#: What each experiment's runs and notebook take unless told otherwise, over the defaults of
#: :class:`ZeroShotConfig` (its task and conditions: the embedded default's); held by its
#: condition runner (:mod:`junk_dna.experiments.conditions`).
EXPERIMENT_DEFAULTS: dict[str, dict[str, Any]] = {
    name: dict(runner.defaults) for name, runner in CONDITIONS.items()}


@dataclass(frozen=True)
class ZeroShotConfig:
    """Every parameter of one zero-shot run.

    The defaults are held here once (with :data:`EXPERIMENT_DEFAULTS`, what each experiment
    sets differently): the notebooks' ``parameters`` cells are generated from these fields
    (:mod:`junk_dna.experiments.parameters`) and the presets state only what differs. They
    are the embedded default's settings (SmolLM2-135M, 50 questions, sized for the 2-core
    main job); the ``paper`` presets state the original's values.

    Fields a run does not use are ``None`` after :meth:`normalized` (the pruning fields of a
    dense or RTN run, the quantization fields of a pruned run, calibration of magnitude), so
    equal runs have equal parameters.
    """

    experiment: str = param("context_length", "the zero-shot experiment (its condition runner)")
    model: str = param("smollm2", "embedded alias (a 4-bit GGUF!), folder, GGUF file or hub id")
    dtype: str = param("float32", "float32 | float16 | bfloat16")
    device_map: str | None = param(None, "None (one device) | auto (GPUs, through accelerate)")
    method: str = param("magnitude", "dense | magnitude | wanda | sparsegpt | rtn")
    pattern: str | None = param("unstructured", "unstructured | nm (pruning methods)")
    sparsity: float | None = param(0.5, "unstructured: share pruned per matrix or row (wanda)")
    nm: str | None = param(None, "nm: N weights KEPT per group of M inputs, e.g. 4:8")
    bits: int | None = param(None, "rtn: bits per weight (2..8)")
    granularity: str | None = param(None, "rtn: per_channel | per_group")
    group_size: int | None = param(None, "rtn per_group: input weights per group (128)")
    calibration: str | None = param("embedded", "wanda/sparsegpt: embedded (offline) | c4 (hub)")
    n_calibration: int | None = param(16, "calibration sequences (the original: 128)")
    calibration_seqlen: int | None = param(256, "tokens per calibration sequence (orig.: 2048)")
    blocksize: int | None = param(128, "sparsegpt column block")
    percdamp: float | None = param(0.01, "sparsegpt dampening (share of mean diag(H))")
    task: str = param("sciq", "a junk_dna.data.qa_tasks task")
    mc_task: str | None = param(None, "factoid_vs_mc: the multiple-choice task")
    n_questions: int = param(50, "questions evaluated (after the few-shot pool is set aside)")
    selection: str = param("first", "first n questions (the paper's) | a seeded random sample")
    offset: int = param(0, "questions skipped in dataset order first (keeps a pilot block out)")
    conditions: list | None = param(None, "the experiment's conditions (see the text above)")
    max_new_tokens: int = param(32, "factoid generation: new tokens (the original: 32)")
    batch_tokens: int = param(1024, "multiple-choice scoring: tokens per forward batch")
    gen_batch_size: int = param(8, "factoid generation: prompts per batch")
    seed: int = param(0, "calibration windows, option dropping, shots, random selection")

    def __post_init__(self) -> None:
        _validate_config(self)

    def normalized(self) -> ZeroShotConfig:
        """A copy with unused fields set to ``None`` (see the class docstring)."""
        changes: dict[str, Any] = {}
        if self.method in ("dense", "rtn"):
            changes.update(pattern=None, sparsity=None, nm=None)
        elif self.pattern == "unstructured":
            changes["nm"] = None
        else:
            changes["sparsity"] = None
        if self.method != "rtn":
            changes.update(bits=None, granularity=None, group_size=None)
        elif self.granularity == "per_channel":
            changes["group_size"] = None
        if self.method not in ("wanda", "sparsegpt"):
            changes.update(calibration=None, n_calibration=None, calibration_seqlen=None)
        if self.method != "sparsegpt":
            changes.update(blocksize=None, percdamp=None)
        if not get_conditions(self.experiment).needs_mc_task:
            changes["mc_task"] = None
        if self.conditions is not None:
            changes["conditions"] = list(self.conditions)
        return replace(self, **changes)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ZeroShotConfig:
        """Build from a flat mapping, ignoring ``run_dir``; an unknown key or a value of the
        wrong type (:func:`~junk_dna.experiments.parameters.check_field_types`) is refused.

        Raises:
            ValueError: naming the key or the value.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(k for k in params if k not in names and k != "run_dir")
        if unknown:
            raise ValueError(f"unknown zero-shot parameter(s) {unknown}; allowed: {sorted(names)}")
        given = {k: v for k, v in params.items() if k in names}
        check_field_types(cls, given)
        return cls(**given)

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> ZeroShotConfig:
        """Build from a notebook's globals (the parameters cell)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: namespace[k] for k in names if k in namespace})

    @classmethod
    def from_notebook(cls, namespace: Mapping[str, Any]) -> ZeroShotConfig:
        """Build from a notebook's parameters (its ``globals()``), before any work.

        Raises:
            ValueError: a parameter that is not a field (named, with the allowed names; see
                :func:`junk_dna.experiments.parameters.config_from_notebook`) or a bad value.
        """
        experiment = namespace.get("experiment", "zero-shot")
        return config_from_notebook(cls, namespace, str(experiment))


def _validate_config(cfg: ZeroShotConfig) -> None:
    """Every check that needs no model and no data (cheap; runs on construction, so also in
    every sweep's validation and ``--dry-run``): among them, the questions each task must
    hold (:meth:`~junk_dna.experiments.conditions.ConditionRunner.check_sizes`).

    Raises:
        ValueError: naming the bad value and the allowed ones.
    """
    check_choice("experiment", cfg.experiment, tuple(CONDITIONS))
    check_choice("method", cfg.method, METHODS)
    check_choice("dtype", cfg.dtype, ("float32", "float16", "bfloat16"))
    check_choice("device_map", cfg.device_map, (None, "auto"))
    check_choice("selection", cfg.selection, SELECTIONS)
    check_int("offset", cfg.offset, 0)
    for name in ("n_questions", "max_new_tokens", "batch_tokens", "gen_batch_size"):
        check_int(name, getattr(cfg, name), 1)
    check_int("seed", cfg.seed, 0)
    if cfg.method in PRUNING_METHODS:
        check_choice("pattern", cfg.pattern, PATTERNS)
        check_llm_pruning(cfg.method, cfg.sparsity if cfg.pattern == "unstructured" else None,
                          cfg.nm if cfg.pattern == "nm" else None,
                          blocksize=cfg.blocksize if cfg.blocksize is not None else 128,
                          percdamp=cfg.percdamp if cfg.percdamp is not None else 0.01)
        if cfg.method != "magnitude":
            check_choice("calibration", cfg.calibration, ("embedded", "c4"))
            check_int("n_calibration", cfg.n_calibration, 1)
            check_int("calibration_seqlen", cfg.calibration_seqlen, 8)
    if cfg.method == "rtn":
        check_choice("granularity", cfg.granularity, ("per_channel", "per_group"))
        check_quantization(cfg.bits, cfg.granularity,
                           cfg.group_size if cfg.group_size is not None else 128)
    runner = get_conditions(cfg.experiment)
    runner.check_conditions(cfg.conditions, runner.check_task(cfg))
    runner.check_sizes(cfg)


def check_widths(location: str, cfg: ZeroShotConfig) -> None:
    """Before any weights load: the N:M group (M) or the RTN ``per_group`` group size must
    divide every input width the model's ``config.json`` gives (nothing to read, e.g. a hub id
    not cached: checked on the loaded model).

    Raises:
        ValueError: naming the value and the width it does not divide.
    """
    if cfg.nm is not None:
        check_nm_widths_from_config(location, cfg.nm)
    if cfg.method == "rtn" and cfg.granularity == "per_group":
        check_group_widths_from_config(location, cfg.group_size or 128)


def validate_for(experiment: str):
    """The sweep validator of one experiment: builds and normalizes the config (no model);
    the model name through ``resolve`` (default :func:`junk_dna.models.causal_lm.
    resolve_causal_lm`; a sweep passes its own, see :func:`junk_dna.runs.presets.
    expand_preset`)."""

    def validate(params: Mapping[str, Any], *,
                 resolve: ModelResolver = resolve_causal_lm) -> dict[str, Any]:
        given = dict(params)
        if given.setdefault("experiment", experiment) != experiment:
            raise ValueError(f"a {experiment} run has experiment={given['experiment']!r}")
        for key, value in EXPERIMENT_DEFAULTS[experiment].items():
            given.setdefault(key, value)
        cfg = ZeroShotConfig.from_params(given).normalized()
        check_widths(resolve(cfg.model).location, cfg)
        return asdict(cfg)

    return validate


def _compress(model: Any, tokenizer: Any, cfg: ZeroShotConfig) -> dict[str, Any]:
    """Prune or quantize ``model`` in place; the report for the record."""
    if cfg.method == "dense":
        return {"method": "dense"}
    # torch: imported when a run compresses, not when its parameters are validated
    if cfg.method == "rtn":
        from junk_dna.pruning.quantization import quantize_causal_lm

        return quantize_causal_lm(model, bits=cfg.bits, granularity=cfg.granularity,
                                  group_size=cfg.group_size or 128)
    from junk_dna.pruning.calibration import calibration_samples
    from junk_dna.pruning.llm import prune_causal_lm

    calibration = None
    if cfg.method != "magnitude":
        calibration = calibration_samples(tokenizer, source=cfg.calibration,
                                          n_samples=cfg.n_calibration,
                                          seqlen=cfg.calibration_seqlen, seed=cfg.seed)
    return prune_causal_lm(model, method=cfg.method, sparsity=cfg.sparsity, nm=cfg.nm,
                           calibration=calibration, blocksize=cfg.blocksize or 128,
                           percdamp=cfg.percdamp if cfg.percdamp is not None else 0.01)


def run(config: ZeroShotConfig, run_dir: str | Path | None = None) -> dict[str, Any]:
    """Load, compress and evaluate one configuration; write ``record.json`` atomically.

    Steps: seed; load the causal LM (a converted embedded model comes from the cache after
    the first load); prune or quantize one-shot; check the sparsity reached; evaluate every
    condition; write the record (and ``per_question.json`` with per-question scores).

    Returns:
        The record (see :mod:`junk_dna.results.records`); ``final.last`` holds the metrics.

    Raises:
        ValueError: bad parameters (before loading anything) or data that cannot serve them.
    """
    start = time.perf_counter()
    # torch: imported when a run starts, not when its parameters are validated
    import torch

    from junk_dna.pruning.llm import check_llm_widths, llm_sparsity_report

    cfg = config.normalized()
    resolved = resolve_causal_lm(cfg.model)
    check_widths(resolved.location, cfg)
    start_run(cfg.seed)
    timings = {"setup": time.perf_counter() - start}
    clock = time.perf_counter()
    loaded = load_causal_lm(cfg.model, dtype=cfg.dtype, device_map=cfg.device_map,
                            resolved=resolved)
    model, tokenizer = loaded.model, loaded.tokenizer
    timings["load_model"] = time.perf_counter() - clock
    if cfg.method in PRUNING_METHODS and cfg.nm is not None:
        check_llm_widths(model, cfg.nm)
    clock = time.perf_counter()
    with torch.no_grad():
        report = _compress(model, tokenizer, cfg)
    timings["compress"] = time.perf_counter() - clock
    sparsity = llm_sparsity_report(model).iloc[-1]
    clock = time.perf_counter()
    metrics, per_question, info = evaluate_conditions(model, tokenizer, cfg)
    timings["evaluate"] = time.perf_counter() - clock
    record = {
        "experiment": cfg.experiment,
        "run_id": Path(run_dir).name if run_dir is not None else "interactive",
        "status": "ok",
        "params": asdict(cfg),
        "resolved": {**loaded.as_record(), "caveat": loaded.caveat},
        "final": {"last": metrics, "best": metrics},
        "evaluation": info,
        "compression": {k: v for k, v in report.items()
                        if isinstance(v, (str, int, float, bool)) or v is None},
        "sparsity": {"reached": float(sparsity["sparsity"]), "prunable": int(sparsity["numel"]),
                     "zeros": int(sparsity["pruned"])},
        # seconds per stage: setup (imports inside run, seeding), loading, pruning or
        # compression, tokenize / train / evaluate, checks
        **provenance(start, timings),
    }
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(run_dir) / "per_question.json", json.dumps(per_question))
        write_record(run_dir, record)
    return record


def show_record(record: Mapping[str, Any]) -> None:
    """Display a run's record in its notebook: the caveat of its model (if any), its
    parameters, the score per condition, the sparsity reached and the seconds per stage."""
    # pandas and IPython: a notebook's imports, not a sweep's
    import pandas as pd
    from IPython.display import display

    if record["resolved"].get("caveat"):
        print("CAVEAT:", record["resolved"]["caveat"])
    display(pd.Series(record["params"], name="parameters").to_frame(),
            pd.Series(record["final"]["last"], name="score").to_frame(),
            pd.DataFrame({"sparsity": record["sparsity"],
                          "seconds": pd.Series(record["timings"])}))


for _name, _runner in CONDITIONS.items():
    register(Experiment(name=_name, notebook=f"{_name}.ipynb", validate=validate_for(_name),
                        protocol=None, config=ZeroShotConfig,
                        defaults={"experiment": _name, **_runner.defaults},
                        resolve_model=resolve_causal_lm))
