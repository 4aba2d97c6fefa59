"""Fine-tuning with the run_glue protocol, device-agnostic through accelerate.

The protocol of the original code (transformers' ``run_glue_no_trainer.py``): AdamW with no
weight decay on biases and LayerNorm weights, a linear schedule with warmup (a ratio, 6 % by
default, as the original forced), evaluation after every epoch; the record keeps both the
LAST epoch (what the original reported) and the BEST one. A transfer mode's projection
(:class:`junk_dna.pruning.transfer.MaskEnforcer`) runs after every optimizer step, the last
included.

Three things do not change any number but save time:

* :func:`junk_dna.data.encode_cache.encode_cached` keeps the encoded features of the last few
  splits in this process (a sweep of many runs in one kernel tokenizes each split once); the
  key covers the tokenizer, the text fields, ``max_length`` and a hash of the column
  contents, so any change misses.
* evaluation batches examples sorted by length (:func:`eval_order`), so they pad less;
  predictions stay paired with their labels, and every metric here is order-free.
* only the word-embedding rows the training split reaches are trained
  (:class:`junk_dna.training.compact.CompactEmbedding`, where that is exact: weight decay 0,
  an embedding no transfer mode projects); the final weights are bit-identical.

Two settings trade exactness or detail for time, both off by default: ``mixed_precision
"bf16"`` (bfloat16 autocast for the forward passes of training and evaluation, on a CPU as on
a GPU; weights, gradients and AdamW stay float32) and ``eval_last`` (run only the last
evaluations of the schedule; the weights and the last metrics do not change).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from junk_dna.checks import check_int
from junk_dna.data.encode_cache import (
    MC_FIELDS,
    encode_cached,
    feature_length,
    tokenizer_fingerprint,
)
from junk_dna.data.glue_tasks import TaskData, TaskSpec
from junk_dna.evaluation.glue_metrics import get_metric
from junk_dna.pruning.transfer import MaskEnforcer
from junk_dna.training.compact import CompactEmbedding, compact_reason, training_token_ids
from junk_dna.training.precision import autocast_factory, check_mixed_precision

NO_DECAY: tuple[str, ...] = ("bias", "LayerNorm.weight", "layer_norm.weight", "layernorm.weight")


@dataclass(frozen=True)
class TrainConfig:
    """Optimization settings of one fine-tune.

    Attributes:
        epochs: passes over the training examples (>= 1).
        batch_size: training examples per optimizer step.
        learning_rate: peak AdamW learning rate.
        weight_decay: decoupled weight decay on all but biases and LayerNorm weights.
        warmup_ratio: share of the total steps spent warming up linearly, in [0, 1).
        eval_batch_size: examples per evaluation forward pass.
        max_length: tokens kept per example (truncation; padding is dynamic per batch).
        seed: seeds the shuffling order (dropout uses the global RNG seeded by the caller).
        mixed_precision: ``"no"`` (float32), ``"bf16"`` (bfloat16 autocast of the forward
            passes, CPU or GPU; float32 weights, gradients and AdamW) or ``"fp16"`` (GPU
            only); see :mod:`junk_dna.training.precision`. Not exact: bf16 changes the
            numbers slightly.
        group_by_length: batch examples of similar length together (as transformers'
            ``group_by_length``): shuffled mega-batches of ``8 * batch_size`` examples are
            sorted by length and cut into batches, whose order is shuffled again. Same
            examples per epoch, same number of steps, far less padding (about 1.6x fewer
            tokens on SST-2). ``False`` (plain shuffling) is the original's protocol.
        max_steps: optimizer steps in all, whatever the data size (run_glue's
            ``--max_train_steps``): the epochs run until this many steps are taken, the
            last one possibly cut short, and the schedule spans them. ``None``: ``epochs``
            full epochs.
        eval_steps: evaluate after every ``eval_steps`` optimizer steps and after the last
            one. ``None``: after every epoch (the original).
        eval_last: run only the last ``eval_last`` evaluations of that schedule (``None``:
            all). Evaluations never change a weight (each runs in ``torch.random.fork_rng``),
            so the weights and the metrics of the evaluations kept are the same as with every
            evaluation; ``best`` is then the best of the evaluations kept, and each entry's
            ``train_loss`` still covers the steps since the previous point of the schedule.

    The defaults are the original run_glue protocol's, for calling :func:`fine_tune`
    directly; an experiment's run takes every field from its own config
    (:meth:`junk_dna.experiments.true_gem.TrueGemConfig.train_config`), which holds the
    experiments' defaults.
    """

    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 2e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.06
    eval_batch_size: int = 64
    max_length: int = 128
    seed: int = 0
    mixed_precision: str = "no"
    group_by_length: bool = False
    max_steps: int | None = None
    eval_steps: int | None = None
    eval_last: int | None = None

    def __post_init__(self) -> None:
        check_mixed_precision(self.mixed_precision)
        if self.eval_last is not None:
            check_int("eval_last", self.eval_last, 1)


class LengthGroupedBatchSampler:
    """Batches of similar-length examples in a seeded random order (see ``TrainConfig``).

    Args:
        lengths: token count of each example, shape (n,).
        batch_size: examples per batch.
        generator: the torch RNG that draws every epoch's order (seeded by the caller).
        megabatch_mult: mega-batch size in batches.

    Yields lists of example indices; ``len()`` is ``ceil(n / batch_size)`` like a plain
    shuffled loader.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, generator: torch.Generator,
                 megabatch_mult: int = 8) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.generator = generator
        self.megabatch = batch_size * megabatch_mult

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        batches = []
        for start in range(0, len(order), self.megabatch):
            mega = sorted(order[start:start + self.megabatch], key=lambda i: -self.lengths[i])
            batches += [mega[i:i + self.batch_size] for i in range(0, len(mega), self.batch_size)]
        for j in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[j]


@dataclass
class TrainResult:
    """What a fine-tune measured.

    Attributes:
        epochs: one entry per evaluation: ``{"epoch": e, "step": s, "metrics": {name:
            value}, "train_loss": mean loss of the steps since the previous point of the
            evaluation schedule}`` (``e`` = steps / steps per epoch, a whole number when
            evaluating every epoch; with ``eval_last``, only the evaluations kept).
        last: metrics of the last evaluation. best: metrics of the best one (main metric).
        best_epoch: ``epoch`` of ``best``.
        steps: optimizer steps taken.
        train_loss: the ``train_loss`` of every evaluation entry.
        predictions: eval split -> ``{"prediction": [...], "label": [...]}`` of the last
            evaluation, one value per example in the split's order (class index, option
            index, or the regression score).
        timings: wall seconds spent in ``tokenize`` (getting the encoded features of every
            split: tokenizing on a cache miss, hashing the inputs and copying the features
            out of the cache on a hit; see :func:`encode_cached`), ``train`` (optimizer steps
            and the transfer mode's projection) and ``evaluate``.
        encode_cache: split (``"train"`` and each eval split) -> whether its features came
            from the in-process cache (``True``) or were tokenized (``False``).
    """

    epochs: list[dict[str, Any]] = field(default_factory=list)
    last: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)
    best_epoch: int = 0
    steps: int = 0
    train_loss: list[float] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    encode_cache: dict[str, bool] = field(default_factory=dict)
    predictions: dict[str, dict[str, list[Any]]] = field(default_factory=dict)


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups as in run_glue: decay everything but biases and LayerNorm weights."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if any(nd in name for nd in NO_DECAY) else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def eval_order(features: Sequence[Mapping[str, Any]]) -> list[int]:
    """Indices of ``features`` by decreasing :func:`feature_length` (stable: ties keep their
    order), so that evaluation batches hold similar lengths and pad less. The longest batch
    comes first, so an out-of-memory error shows at once."""
    lengths = [feature_length(f) for f in features]
    return sorted(range(len(features)), key=lambda i: -lengths[i])


class MultipleChoiceCollator:
    """Pads multiple-choice features to one tensor per key of shape [batch, options, seq].

    Every example of a batch must have the same number of options (true of every task here).

    Raises:
        ValueError: examples with different option counts in one batch.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.pad_id = tokenizer.pad_token_id or 0

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        n_opts = {len(f["input_ids"]) for f in features}
        if len(n_opts) != 1:
            raise ValueError(f"a batch mixes option counts {sorted(n_opts)}")
        width = max(feature_length(f) for f in features)
        keys = [k for k in features[0] if k != "labels"]
        out = {}
        for key in keys:
            pad = self.pad_id if key == "input_ids" else 0
            out[key] = torch.tensor([[row + [pad] * (width - len(row)) for row in f[key]]
                                     for f in features], dtype=torch.long)
        out["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        return out


def evaluate(
    model: torch.nn.Module, loader: Any, metric: str, num_labels: int,
) -> dict[str, float]:
    """Score ``model`` on a data loader with the task's metric (model put in eval mode).

    Predictions are concatenated in the loader's order together with their labels, so the
    loader may visit the examples in any order (``fine_tune`` sorts them by length): every
    metric of :mod:`junk_dna.evaluation.glue_metrics` (accuracy, F1, MCC, Pearson, Spearman) is a
    function of the (prediction, label) pairs, equal up to float rounding for any order.

    Args:
        model: classifier; called with each batch minus ``labels``, returns ``.logits`` of
            shape [batch, num_labels] ([batch, 1] for regression, [batch, options] for
            multiple choice).
        loader: iterable of batches (dicts of tensors, with ``labels`` of shape [batch]).
        metric: a name for :func:`junk_dna.evaluation.glue_metrics.get_metric`.
        num_labels: 1 = regression (raw scores), else argmax predictions.

    Returns:
        metric name -> value.
    """
    preds, labels = predict(model, loader, num_labels)
    return get_metric(metric)(preds, labels)


def predict(model: torch.nn.Module, loader: Any, num_labels: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and labels of ``model`` over a loader, in the loader's order (model put in
    eval mode).

    Returns:
        ``(predictions, labels)``, each of shape (n,): argmax class or option indices, or the
        raw scores when ``num_labels == 1`` (regression).
    """
    model.eval()
    preds, labels = [], []
    with torch.no_grad():
        for batch in loader:
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
            if num_labels == 1:
                preds.append(logits.squeeze(-1).float().cpu().numpy())
            else:
                preds.append(logits.argmax(-1).cpu().numpy())
            labels.append(batch["labels"].cpu().numpy())
    return np.concatenate(preds), np.concatenate(labels)


def fine_tune(
    model: torch.nn.Module,
    tokenizer: Any,
    data: TaskData,
    config: TrainConfig,
    *,
    make_enforcer: Callable[[torch.nn.Module], MaskEnforcer] | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    compact_embedding: bool = True,
) -> TrainResult:
    """Fine-tune ``model`` on ``data.train``, evaluating every split of ``data.evals``.

    Args:
        model: a sequence-classification model (its head matches ``data.spec.num_labels``)
            or a multiple-choice model for a multiple-choice task.
        tokenizer: the model's tokenizer.
        data: the task's examples (see :func:`junk_dna.data.glue_tasks.load_task`).
        config: optimization settings.
        make_enforcer: builds the transfer mode's enforcer from the model once it sits on its
            device (so the enforcer holds the device tensors); ``start()`` is called before
            the first step and ``after_step()`` after every optimizer step, the last included.
        on_epoch: called with each epoch's entry (for live display in a notebook).
        compact_embedding: train only the word-embedding rows the training split reaches
            where that is exact (:mod:`junk_dna.training.compact`); ``False`` trains the
            whole table (the same weights, bit for bit, only slower).

    Returns:
        Per-epoch metrics; metric names of the first eval split are plain (``accuracy``),
        those of further splits carry ``@split`` (``accuracy@validation_mismatched``).
    """
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup

    spec = data.spec
    # bf16 is our own autocast (accelerate's is process-wide: a persistent kernel could not
    # run a float32 run after a bf16 one); fp16 needs accelerate's loss scaling (GPU only)
    accelerator = Accelerator(mixed_precision="fp16" if config.mixed_precision == "fp16"
                              else "no", cpu=not torch.cuda.is_available())
    autocast = autocast_factory(config.mixed_precision, accelerator.device.type)
    clock = time.perf_counter()
    loaders = _data_loaders(tokenizer, data, config)
    tokenize_s = time.perf_counter() - clock
    model = accelerator.prepare(model)
    unwrapped = accelerator.unwrap_model(model)
    enforcer = make_enforcer(unwrapped) if make_enforcer else None
    compact = None
    if compact_embedding and compact_reason(
            unwrapped, config.weight_decay, enforcer.tensors() if enforcer else ()) is None:
        compact = CompactEmbedding(unwrapped, loaders.train_ids)
        compact.train_mode()  # before the optimizer: it trains the small table
    # The fused kernel (CPU and CUDA) is the same AdamW update, many times faster on CPU.
    optimizer = torch.optim.AdamW(parameter_groups(unwrapped, config.weight_decay),
                                  lr=config.learning_rate, fused=True)
    steps_per_epoch = math.ceil(loaders.n_train / config.batch_size)
    total = (config.max_steps if config.max_steps is not None
             else steps_per_epoch * config.epochs)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=math.ceil(config.warmup_ratio * total),
        num_training_steps=total)
    optimizer, train_loader, scheduler = accelerator.prepare(optimizer, loaders.train, scheduler)
    eval_loaders = {k: accelerator.prepare(v) for k, v in loaders.evals.items()}
    if enforcer is not None:
        enforcer.start()

    result = TrainResult()
    result.timings = {"tokenize": tokenize_s, "train": 0.0, "evaluate": 0.0}
    result.encode_cache = loaders.cache_hits
    schedule = evaluation_steps(total, steps_per_epoch, config.eval_steps)
    points = set(schedule)  # the entries' train_loss windows end here, evaluated or not
    evaluated = set(schedule[-config.eval_last:] if config.eval_last else schedule)
    best_value = -math.inf
    losses: list[float] = []
    clock = time.perf_counter()
    try:
        for loss in _optimizer_steps(model, train_loader, optimizer, scheduler, accelerator,
                                     enforcer, total, autocast, compact):
            result.steps += 1
            losses.append(loss)
            if result.steps not in points:
                continue
            train_loss = float(np.mean(losses))
            losses = []
            if result.steps not in evaluated:
                continue
            result.timings["train"] += time.perf_counter() - clock
            clock = time.perf_counter()
            if compact is not None:
                compact.sync()
            # iterating a loader draws from the global RNG (its worker base seed): isolated,
            # so the evaluation schedule never changes a dropout mask of the training after it
            with torch.random.fork_rng(devices=_rng_devices()), autocast():
                metrics, predictions = _evaluate_splits(model, eval_loaders,
                                                        loaders.eval_orders, spec)
            result.timings["evaluate"] += time.perf_counter() - clock
            entry = {"epoch": _epoch(result.steps, steps_per_epoch), "step": result.steps,
                     "metrics": metrics, "train_loss": train_loss}
            result.epochs.append(entry)
            result.train_loss.append(entry["train_loss"])
            result.predictions = predictions
            if metrics[spec.main_metric] > best_value:
                best_value, result.best = metrics[spec.main_metric], metrics
                result.best_epoch = entry["epoch"]
            if on_epoch is not None:
                on_epoch(entry)
            if compact is not None:
                compact.train_mode()
            model.train()
            clock = time.perf_counter()
    finally:
        if compact is not None:
            compact.sync()  # the model leaves with its full, trained table
    result.last = result.epochs[-1]["metrics"]
    return result


def _rng_devices() -> list[int]:
    """The CUDA devices whose RNG state :func:`torch.random.fork_rng` keeps (none on CPU)."""
    return [torch.cuda.current_device()] if torch.cuda.is_available() else []


def _epoch(steps: int, steps_per_epoch: int) -> int | float:
    """Epochs done after ``steps`` optimizer steps: an int when whole (every-epoch records
    keep their integer epochs), else rounded to 6 decimals."""
    epochs = steps / steps_per_epoch
    return int(epochs) if epochs.is_integer() else round(epochs, 6)


def evaluation_steps(total: int, steps_per_epoch: int, eval_steps: int | None) -> list[int]:
    """The optimizer steps after which a fine-tune evaluates: every ``eval_steps`` (every
    epoch's ``steps_per_epoch`` when ``None``) and the last of ``total`` steps.

    Raises:
        ValueError: a count below 1.
    """
    every = steps_per_epoch if eval_steps is None else eval_steps
    if min(total, steps_per_epoch, every) < 1:
        raise ValueError(f"total {total}, steps_per_epoch {steps_per_epoch} and eval_steps "
                         f"{eval_steps} must be >= 1")
    return sorted({*range(every, total + 1, every), total})


@dataclass
class _Loaders:
    """The loaders of one fine-tune: training (seeded shuffling), one per evaluation split
    (examples sorted by length, ``eval_orders[split][k]`` = the split's index of the k-th
    example visited), which splits came from the encode cache, the training size and every
    token id a training batch can hold (padding included)."""

    train: Any
    evals: dict[str, Any]
    eval_orders: dict[str, list[int]]
    cache_hits: dict[str, bool]
    n_train: int
    train_ids: torch.Tensor


def _data_loaders(tokenizer: Any, data: TaskData, config: TrainConfig) -> _Loaders:
    """The loaders of a fine-tune (see :class:`_Loaders`), from the encoded splits (cached in
    this process)."""
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    spec = data.spec
    collate = (MultipleChoiceCollator(tokenizer) if tuple(spec.text_fields) == MC_FIELDS
               else DataCollatorWithPadding(tokenizer))
    try:
        fingerprint: str | None = tokenizer_fingerprint(tokenizer)  # once for every split
    except (TypeError, ValueError, AttributeError):
        fingerprint = None  # encode_cached then tokenizes without the cache
    train_feats, hit = encode_cached(tokenizer, data.train, spec.text_fields, config.max_length,
                                     fingerprint=fingerprint)
    cache_hits = {"train": hit}
    generator = torch.Generator().manual_seed(config.seed)
    if config.group_by_length:
        sampler = LengthGroupedBatchSampler([feature_length(f) for f in train_feats],
                                            config.batch_size, generator)
        train_loader = DataLoader(train_feats, batch_sampler=sampler, collate_fn=collate)
    else:
        train_loader = DataLoader(train_feats, batch_size=config.batch_size, shuffle=True,
                                  collate_fn=collate, generator=generator)
    eval_loaders, eval_orders = {}, {}
    for split, cols in data.evals.items():
        feats, cache_hits[split] = encode_cached(tokenizer, cols, spec.text_fields,
                                                 config.max_length, fingerprint=fingerprint)
        # sorted by length: batches pad less; every metric is order-free (see evaluate)
        eval_orders[split] = eval_order(feats)
        eval_loaders[split] = DataLoader([feats[i] for i in eval_orders[split]],
                                         batch_size=config.eval_batch_size, collate_fn=collate)
    # both collators pad input_ids with the tokenizer's pad id (MultipleChoiceCollator: or 0)
    pads = {getattr(tokenizer, "pad_token_id", None) or 0}
    return _Loaders(train_loader, eval_loaders, eval_orders, cache_hits, len(train_feats),
                    training_token_ids(train_feats, pads))


def _optimizer_steps(model: torch.nn.Module, loader: Any, optimizer: Any, scheduler: Any,
                     accelerator: Any, enforcer: MaskEnforcer | None, total: int,
                     autocast: Callable[[], Any], compact: CompactEmbedding | None
                     ) -> Iterator[float]:
    """Take ``total`` optimizer steps, epoch after epoch over the training loader (a new
    shuffled order each epoch, the last epoch cut short if need be), with the transfer
    mode's projection after every step; yields each step's loss. The forward pass runs in
    ``autocast()`` (the backward pass follows its dtypes), on batches remapped to the compact
    embedding if any. The model is in training mode whenever a step runs (a consumer may
    evaluate between two steps, then call ``model.train()``)."""
    steps = 0
    while steps < total:
        model.train()
        for batch in loader:
            if compact is not None:
                batch = compact.remap(batch)
            with autocast():
                loss = model(**batch).loss
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if enforcer is not None:
                enforcer.after_step()
            steps += 1
            yield loss.detach().float().item()
            if steps == total:
                return


def _evaluate_splits(model: torch.nn.Module, loaders: Mapping[str, Any],
                     orders: Mapping[str, Sequence[int]], spec: TaskSpec
                     ) -> tuple[dict[str, float], dict[str, dict[str, list[Any]]]]:
    """Every evaluation split's metrics (those of the first split plain, ``accuracy``, the
    others' with ``@split``, ``accuracy@validation_mismatched``) and its per-example
    predictions and labels, put back in the split's order (``orders`` as in :class:`_Loaders`).
    """
    metrics: dict[str, float] = {}
    predictions: dict[str, dict[str, list[Any]]] = {}
    for i, (split, loader) in enumerate(loaders.items()):
        preds, labels = predict(model, loader, spec.num_labels)
        scores = get_metric(spec.metric)(preds, labels)
        metrics.update({(k if i == 0 else f"{k}@{split}"): v for k, v in scores.items()})
        back = np.empty_like(np.asarray(orders[split]))
        back[np.asarray(orders[split])] = np.arange(len(back))
        predictions[split] = {"prediction": preds[back].tolist(), "label": labels[back].tolist()}
    return metrics, predictions
