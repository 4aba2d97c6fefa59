"""Shared set-up of the fine-tuning benchmarks (``bench_roofline.py``, ``bench_finetune.py``).

Everything here reproduces what ``junk_dna.experiments.true_gem.run`` does before it calls
``junk_dna.training.finetune.fine_tune`` with :class:`TrueGemConfig`'s defaults (MiniLM,
embedded SST-2 re-split by the run seed, batch 16, lr 1e-4, max_length 64,
``group_by_length``, seed 41; the benchmarks choose the epochs, 2 unless told), through the
package's public functions only: seeding (``start_run``), ``load_task``, ``load_model``,
``select_prunable``,
``compute_masks`` and a ``MaskEnforcer`` per transfer mode. The training batches are built as
``fine_tune`` builds them (``encode``, ``LengthGroupedBatchSampler`` seeded with the run seed,
``DataCollatorWithPadding`` / ``MultipleChoiceCollator``), so a benchmark times the real shapes.

The speed-ups kept (issue 15) are package options (``mixed_precision``, ``eval_last``, the
compact embedding); the variants that were dropped live on as prototypes in
``bench_finetune.py``.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from junk_dna.data.encode_cache import MC_FIELDS, encode, feature_length
from junk_dna.data.glue_tasks import TaskData, load_task
from junk_dna.models.encoders import load_model
from junk_dna.pruning.config import PruningConfig
from junk_dna.pruning.masks import compute_masks, nm_group_dims, select_prunable
from junk_dna.pruning.transfer import MaskEnforcer
from junk_dna.results.provenance import start_run
from junk_dna.training.finetune import (
    LengthGroupedBatchSampler,
    MultipleChoiceCollator,
    TrainConfig,
)

#: The benchmarks' default number of epochs (TrueGemConfig's 6 would make every section long).
BENCH_EPOCHS = 2


def default_train_values() -> dict[str, Any]:
    """The :class:`TrainConfig` fields of a run with :class:`TrueGemConfig`'s defaults (the
    package's defaults, defined there once), ``epochs`` set to :data:`BENCH_EPOCHS`."""
    from dataclasses import asdict

    from junk_dna.experiments.true_gem import TrueGemConfig

    return {**asdict(TrueGemConfig().train_config()), "epochs": BENCH_EPOCHS}


@dataclass
class RunSetup:
    """One fine-tuning run up to the call of ``fine_tune`` (as true_gem.run builds it)."""

    model: torch.nn.Module
    tokenizer: Any
    data: TaskData
    config: TrainConfig
    mode: str
    params: list[str]  # prunable parameter names
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    enforcers: list[MaskEnforcer] = field(default_factory=list)

    def make_enforcer(self, unwrapped: torch.nn.Module) -> MaskEnforcer:
        """The transfer mode's enforcer over ``unwrapped``'s parameters (as true_gem.run)."""
        named = dict(unwrapped.named_parameters())
        enforcer = MaskEnforcer({k: named[k] for k in self.params} if self.masks else {},
                                self.masks, self.mode)
        self.enforcers.append(enforcer)
        return enforcer

    @property
    def multiple_choice(self) -> bool:
        return tuple(self.data.spec.text_fields) == MC_FIELDS


def prepare_run(
    *,
    task: str | None = None,
    mode: str = "sparse",
    sparsity: float | None = 0.5,
    nm: str | None = None,
    seed: int = 41,
    data_fraction: float = 1.0,
    threads: int | None = None,
    **train: Any,
) -> RunSetup:
    """Seed, load data and model, compute the one-shot mask: true_gem.run's first steps.

    Args:
        task, mode, sparsity, nm, seed, data_fraction: as ``TrueGemConfig`` (``task``
            ``None``: its default; unstructured
            global magnitude pruning of the encoder's linear weights unless ``nm`` is set).
        threads: torch threads (set after ``start_run``, which reads ``JUNK_DNA_THREADS``).
        train: overrides of the preset's ``TrainConfig`` fields.
    """
    from junk_dna.experiments.true_gem import TrueGemConfig

    defaults = TrueGemConfig()
    task = task or defaults.task
    start_run(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    values = default_train_values()
    values.update(train)
    values["seed"] = seed
    config = TrainConfig(**values)
    # the embedded re-split of the run seed (TrueGemConfig.normalized: split_seed = seed)
    data = load_task(task, data_fraction=data_fraction, subset="random", seed=seed,
                     split_seed=seed)
    loaded = load_model(defaults.model, head=data.spec.head, num_labels=data.spec.num_labels)
    model = loaded.model
    params = select_prunable(model, "encoder", include_embeddings=False,
                             new_param_names=loaded.new_param_names)
    masks: dict[str, torch.Tensor] = {}
    if mode != "dense":
        if nm is not None:
            pruning = PruningConfig(pattern="nm", nm=nm, seed=seed)
        else:
            pruning = PruningConfig(pattern="unstructured", sparsity=float(sparsity or 0.0),
                                    scope="global", seed=seed)
        masks = compute_masks({k: v.detach() for k, v in params.items()}, pruning,
                              group_dims=nm_group_dims(model, params))
    return RunSetup(model=model, tokenizer=loaded.tokenizer, data=data, config=config,
                    mode=mode, params=list(params), masks=masks)


def collator(setup: RunSetup) -> Callable[[Sequence[dict[str, Any]]], dict[str, torch.Tensor]]:
    from transformers import DataCollatorWithPadding

    return (MultipleChoiceCollator(setup.tokenizer) if setup.multiple_choice
            else DataCollatorWithPadding(setup.tokenizer))


def train_features(setup: RunSetup) -> list[dict[str, Any]]:
    spec = setup.data.spec
    return encode(setup.tokenizer, setup.data.train, spec.text_fields, setup.config.max_length)


def epoch_batches(setup: RunSetup, epochs: int = 1) -> list[dict[str, torch.Tensor]]:
    """The collated training batches of the first ``epochs`` epochs, in ``fine_tune``'s order
    (same sampler, same seeded generator)."""
    feats = train_features(setup)
    cfg = setup.config
    generator = torch.Generator().manual_seed(cfg.seed)
    collate = collator(setup)
    if cfg.group_by_length:
        sampler = LengthGroupedBatchSampler([feature_length(f) for f in feats],
                                            cfg.batch_size, generator)
        order = [list(b) for _ in range(epochs) for b in sampler]
    else:
        order = []
        for _ in range(epochs):
            perm = torch.randperm(len(feats), generator=generator).tolist()
            order += [perm[i:i + cfg.batch_size] for i in range(0, len(perm), cfg.batch_size)]
    return [collate([feats[i] for i in b]) for b in order]


def batch_tokens(batch: dict[str, torch.Tensor]) -> tuple[int, int]:
    """(padded tokens, real tokens) of a collated batch."""
    return batch["input_ids"].numel(), int(batch["attention_mask"].sum())


def batch_sentences(batch: dict[str, torch.Tensor]) -> int:
    return int(batch["labels"].shape[0])


# ------------------------------------------------------------------------------ measuring
def load_line(tag: str) -> str:
    one, five, fifteen = os.getloadavg()
    return f"# load average at {tag}: {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cpus)"


class Timer:
    """Wall and CPU time of a block (``time.thread_time`` for this thread, ``process_time``
    for all threads of the process). On a shared machine, CPU time is the time this process
    actually ran: ``cpu_share = cpu / wall`` tells how much of a core it got."""

    def __enter__(self) -> Timer:
        self.wall0, self.thread0 = time.perf_counter(), time.thread_time()
        self.proc0 = time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.thread = time.thread_time() - self.thread0
        self.proc = time.process_time() - self.proc0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def params_bits_equal(a: torch.nn.Module, b: torch.nn.Module) -> tuple[bool, int, float]:
    """Whether two models' parameters are bit-identical: (all equal, tensors that differ,
    largest absolute difference)."""
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    differ, worst = 0, 0.0
    for name, x in pa.items():
        y = pb[name]
        if not torch.equal(x.detach().view(torch.int32), y.detach().view(torch.int32)):
            differ += 1
            worst = max(worst, float((x.detach() - y.detach()).abs().max()))
    return differ == 0, differ, worst


def instrumented_step(forward: Callable[..., Any], batch: dict[str, torch.Tensor],
                      optimizer: torch.optim.Optimizer, scheduler: Any, enforcer: MaskEnforcer,
                      *, marks: bool = False,
                      prepare: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]
                      | None = None,
                      autocast: contextlib.AbstractContextManager | None = None,
                      set_to_none: bool = True) -> float:
    """One optimizer step as ``fine_tune``'s loop body (without accelerate, which on one CPU
    process only wraps: ``accelerator.backward`` is ``loss.backward``).

    Args:
        forward: the model (or its compiled form); called with the batch, returns ``.loss``.
        batch: one training batch (tensors ``[batch, length]`` or ``[batch, options, length]``).
        optimizer, scheduler, enforcer: stepped in ``fine_tune``'s order.
        marks: label each phase (``## forward`` ... ``## loss.item``) for the profiler.
        prepare: applied to the batch inside the forward phase (e.g. a compact embedding's
            id remapping).
        autocast: the forward pass's precision context (none: fp32).
        set_to_none: ``optimizer.zero_grad(set_to_none=...)``.

    Returns:
        The batch's training loss.
    """
    from torch.profiler import record_function

    def mark(name: str) -> contextlib.AbstractContextManager:
        return record_function(name) if marks else contextlib.nullcontext()

    with mark("## forward"):
        if prepare is not None:
            batch = prepare(batch)
        with autocast if autocast is not None else contextlib.nullcontext():
            loss = forward(**batch).loss
    with mark("## backward"):
        loss.backward()
    with mark("## optimizer"):
        optimizer.step()
    with mark("## scheduler"):
        scheduler.step()
    with mark("## zero_grad"):
        optimizer.zero_grad(set_to_none=set_to_none)
    with mark("## mask enforcement"):
        enforcer.after_step()
    with mark("## loss.item"):
        return loss.detach().float().item()
