"""Speed-ups of the MiniLM fine-tune, each measured as a ratio against a named baseline.

Run (``HF_HUB_OFFLINE=1``; every section runs alone, each well under 10 minutes):

    python benchmarks/bench_finetune.py --steps      # step variants, interleaved (~5 min)
    python benchmarks/bench_finetune.py --whole --baseline --path recommended   # fine_tune
    python benchmarks/bench_finetune.py --accuracy --seeds 41 42 43   # fp32 vs bf16 metrics
    python benchmarks/bench_finetune.py --eval       # evaluation passes: cost per epoch
    python benchmarks/bench_finetune.py --layout     # 2 runs x 1 thread vs 1 run x 2 threads
    python benchmarks/bench_finetune.py --mc         # CommonsenseQA (5 options) step variants
    python benchmarks/bench_finetune.py --compile    # torch.compile (inductor): cost and gain

``--whole`` and ``--accuracy`` run the package's ``junk_dna.training.finetune.fine_tune`` as
``true_gem.run`` calls it with ``TrueGemConfig``'s defaults (MiniLM, embedded SST-2 with its
610 training sentences, batch 16, ``group_by_length``, max_length 64, lr 1e-4, seed 41, the
``sparse`` transfer mode's ``MaskEnforcer`` at 50 % unless ``--mode``; ``--epochs`` 2), on
the paths of :data:`PACKAGE_PATHS`: the named baseline is the path before issue 15 (full
embedding table, float32, every evaluation), the others the package's options
(``mixed_precision="bf16"``, ``eval_last``, the compact embedding, on by default).

``--steps``, ``--mc``, ``--layout``, ``--compile`` and ``--profile`` time prototype steps
(:class:`Trainer`, ``fine_tune``'s loop body: forward, ``backward``, fused AdamW,
scheduler, ``zero_grad(set_to_none=True)``, ``after_step``, ``loss.item()``) on the same
batches, including the variants that were measured and dropped (eager attention, other
AdamW implementations, padding to 16, torch.compile).

Each variant changes one thing (or a named combination) of that step:

* ``eager-attn``: BERT's eager attention instead of SDPA (the model's default in transformers 5);
* ``adamw-foreach``, ``adamw-loop``: AdamW's foreach / per-tensor implementations instead of
  ``fused=True``;
* ``keep-grads``: ``zero_grad(set_to_none=False)``: gradient buffers are reused (no fresh
  91 MB of gradients each step) and zeroed in place;
* ``compact-emb``: the package's ``junk_dna.training.compact.CompactEmbedding``: only the
  embedding rows of tokens that occur in the training split are a trainable parameter (3,688
  of 30,522 rows on SST-2), written back into the full table before each evaluation;
  **bit-identical** (checked below);
* ``bf16``: the training forward (and hence the backward matmuls) under
  ``torch.autocast("cpu", torch.bfloat16)``; master weights, gradients and AdamW stay fp32.
  Changes the numbers: compared on final metrics over seeds (``--accuracy``);
* ``bucket16``: pad each batch to a multiple of 16 tokens (what a static-shape compile needs);
* combinations, e.g. ``compact+keep`` and ``bf16+compact+keep``.

Every variant runs the same batches in the same order from the same initial weights and the
same dropout RNG stream (each variant restores its own RNG state before its chunk), so the
final weights can be compared bit for bit with the baseline's (``exact``). Timing: variants
are interleaved chunk by chunk in one process (order rotated each round), 1 thread unless
``--threads``; the ratio is baseline median / variant median over rounds (each round's chunk
holds the same batches for every variant). The load average is printed at start and end.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from finetune_common import (  # noqa: E402
    BENCH_EPOCHS,
    RunSetup,
    Timer,
    batch_sentences,
    batch_tokens,
    epoch_batches,
    instrumented_step,
    load_line,
    median,
    params_bits_equal,
    prepare_run,
)

import junk_dna.training.finetune as finetune_module  # noqa: E402
from junk_dna.data.encode_cache import encode  # noqa: E402
from junk_dna.training.compact import CompactEmbedding, training_token_ids  # noqa: E402
from junk_dna.training.finetune import (  # noqa: E402
    MultipleChoiceCollator,
    TrainConfig,
    TrainResult,
    eval_order,
    evaluate,
    fine_tune,
    parameter_groups,
)


# ------------------------------------------------------------------------------ prototypes
@dataclass(frozen=True)
class Options:
    """What a prototype changes relative to today's ``fine_tune``."""

    compact_embedding: bool = False
    bf16: bool = False  # autocast bf16 for the training forward/backward
    optimizer: str = "fused"  # fused | foreach | loop
    set_to_none: bool = True
    attn: str | None = None  # None: the model's default (sdpa) | "eager"
    bucket: int = 0  # pad batches to a multiple of this many tokens (0: no)
    compile: str | None = None  # None | "dynamic" | "static"

    def label(self) -> str:
        parts = []
        if self.attn:
            parts.append(f"{self.attn}-attn")
        if self.optimizer != "fused":
            parts.append(f"adamw-{self.optimizer}")
        if not self.set_to_none:
            parts.append("keep-grads")
        if self.compact_embedding:
            parts.append("compact-emb")
        if self.bf16:
            parts.append("bf16")
        if self.bucket:
            parts.append(f"bucket{self.bucket}")
        if self.compile:
            parts.append(f"compile-{self.compile}")
        return "+".join(parts) or "baseline"


def make_optimizer(model: torch.nn.Module, config: TrainConfig, kind: str):
    groups = parameter_groups(model, config.weight_decay)
    if kind == "fused":
        return torch.optim.AdamW(groups, lr=config.learning_rate, fused=True)
    if kind == "foreach":
        return torch.optim.AdamW(groups, lr=config.learning_rate, foreach=True)
    if kind == "loop":
        return torch.optim.AdamW(groups, lr=config.learning_rate, foreach=False)
    raise ValueError(kind)


class Trainer:
    """The state of one (prototype) run: model, optimizer, scheduler, enforcer, embedding.

    ``step(batch)`` is ``fine_tune``'s loop body with the options applied."""

    def __init__(self, setup: RunSetup, options: Options, total_steps: int,
                 model: torch.nn.Module | None = None) -> None:
        from transformers import get_linear_schedule_with_warmup

        self.setup, self.options = setup, options
        self.model = model if model is not None else setup.model
        cfg = setup.config
        if options.attn:
            self.model.set_attn_implementation(options.attn)
        self.compact: CompactEmbedding | None = None
        if options.compact_embedding:
            from finetune_common import train_features

            pads = {setup.tokenizer.pad_token_id or 0}
            self.compact = CompactEmbedding(self.model,
                                            training_token_ids(train_features(setup), pads))
            self.compact.train_mode()
        self.optimizer = make_optimizer(self.model, cfg, options.optimizer)
        self.scheduler = get_linear_schedule_with_warmup(
            self.optimizer, num_warmup_steps=math.ceil(cfg.warmup_ratio * total_steps),
            num_training_steps=total_steps)
        self.enforcer = setup.make_enforcer(self.model)
        self.enforcer.start()
        self.forward = self.model
        if options.compile:
            self.forward = torch.compile(self.model, dynamic=options.compile == "dynamic")
        self.autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if options.bf16
                         else nullcontext())
        self.model.train()

    def step(self, batch: dict[str, torch.Tensor], marks: bool = False) -> float:
        """One optimizer step; ``marks`` labels its phases for the profiler."""
        return instrumented_step(
            self.forward, batch, self.optimizer, self.scheduler, self.enforcer, marks=marks,
            prepare=self.compact.remap if self.compact is not None else None,
            autocast=self.autocast, set_to_none=self.options.set_to_none)

    def eval_model(self) -> torch.nn.Module:
        """The model with its full embedding, for evaluation (call ``train_again`` after)."""
        if self.compact is not None:
            self.compact.sync()
        return self.model

    def train_again(self) -> None:
        if self.compact is not None:
            self.compact.train_mode()
        self.model.train()

    def finish(self) -> None:
        if self.compact is not None:
            self.compact.sync()


def _evaluate(forward, model, loader, metric, num_labels):
    if forward is model:
        return evaluate(model, loader, metric, num_labels)
    model.eval()  # the compiled wrapper shares the module

    class _Wrap:
        def __call__(self, **kw):
            return forward(**kw)

        def eval(self):
            model.eval()

    return evaluate(_Wrap(), loader, metric, num_labels)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ step variants
STEP_VARIANTS: dict[str, Options] = {
    "baseline": Options(),
    "eager-attn": Options(attn="eager"),
    "adamw-foreach": Options(optimizer="foreach"),
    "adamw-loop": Options(optimizer="loop"),
    "keep-grads": Options(set_to_none=False),
    "compact-emb": Options(compact_embedding=True),
    "compact+keep": Options(compact_embedding=True, set_to_none=False),
    "bf16": Options(bf16=True),
    "bf16+compact+keep": Options(bf16=True, compact_embedding=True, set_to_none=False),
    "bucket16": Options(bucket=16),
    "bf16+compact": Options(bf16=True, compact_embedding=True),
}


def pad_batch(batch: dict[str, torch.Tensor], multiple: int,
              pad_id: int) -> dict[str, torch.Tensor]:
    length = batch["input_ids"].shape[-1]
    target = -(-length // multiple) * multiple
    if target == length:
        return batch
    out = {}
    for key, value in batch.items():
        if key == "labels":
            out[key] = value
            continue
        fill = pad_id if key == "input_ids" else 0
        out[key] = torch.nn.functional.pad(value, (0, target - length), value=fill)
    return out


def run_step_variants(variants: dict[str, Options], *, task: str, mode: str, rounds: int,
                      chunk: int, threads: int, warmup: int = 2) -> None:
    """Interleaved step timing and bit-exactness of ``variants`` against ``baseline``."""
    torch.set_num_threads(threads)
    base_setup = prepare_run(task=task, mode=mode, sparsity=0.5, threads=threads)
    batches = epoch_batches(base_setup, epochs=2)
    need = warmup + rounds * chunk
    if need > len(batches):
        raise SystemExit(f"{need} batches needed, {len(batches)} available")
    pad_id = base_setup.tokenizer.pad_token_id or 0
    total = len(batches)
    initial = copy.deepcopy(base_setup.model)
    rng0 = torch.get_rng_state()
    trainers: dict[str, Trainer] = {}
    rng: dict[str, torch.Tensor] = {}
    for name, opts in variants.items():
        setup = replace(base_setup, model=copy.deepcopy(initial), enforcers=[])
        trainers[name] = Trainer(setup, opts, total)
        rng[name] = rng0.clone()
    sent_per_batch = [batch_sentences(b) for b in batches]
    tokens = [batch_tokens(b) for b in batches]

    def run(name: str, idx: range) -> tuple[float, float]:
        torch.set_rng_state(rng[name])
        tr = trainers[name]
        with Timer() as t:
            for i in idx:
                b = batches[i]
                if tr.options.bucket:
                    b = pad_batch(b, tr.options.bucket, pad_id)
                tr.step(b)
        rng[name] = torch.get_rng_state()
        return t.wall, t.thread

    names = list(variants)
    for name in names:
        run(name, range(warmup))
    walls = {n: [] for n in names}
    cpus = {n: [] for n in names}
    for r in range(rounds):
        idx = range(warmup + r * chunk, warmup + (r + 1) * chunk)
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            w, c = run(name, idx)
            walls[name].append(w)
            cpus[name].append(c)
    n_sent = sum(sent_per_batch[warmup:need])
    pad_tok = sum(t[0] for t in tokens[warmup:need])
    real_tok = sum(t[1] for t in tokens[warmup:need])
    print(f"{rounds} rounds x {chunk} steps ({n_sent} sentences, {pad_tok} padded / {real_tok} "
          f"real tokens), task {task}, mode {mode}, {threads} thread(s)")
    base_w = median(walls["baseline"])
    base_c = median(cpus["baseline"])
    print(f"{'variant':20s} {'ms/step':>8s} {'cpu ms':>7s} {'sent/s':>7s} {'ratio':>6s} "
          f"{'cpu ratio':>9s}  {'per-round ratios (wall)':28s} exact vs baseline")
    for name in names:
        trainers[name].finish()
    for name in names:
        w, c = median(walls[name]), median(cpus[name])
        per_round = [b / v for b, v in zip(walls["baseline"], walls[name], strict=True)]
        same, differ, worst = params_bits_equal(trainers["baseline"].model, trainers[name].model)
        exact = "bit-identical" if same else f"differs ({differ} tensors, max |d| {worst:.1e})"
        print(f"{name:20s} {w / chunk * 1e3:8.0f} {c / chunk * 1e3:7.0f} "
              f"{n_sent / sum(walls[name]):7.1f} {base_w / w:6.2f} {base_c / c:9.2f}  "
              f"{' '.join(f'{x:.2f}' for x in per_round):28s} {exact}")
    print("ratio = baseline median / variant median (wall, per round of the same batches); "
          "cpu ratio = the same with this thread's CPU time (insensitive to other load)")


# ------------------------------------------------------------------------------ whole runs
#: Whole runs through the package's ``fine_tune``: keyword arguments and ``TrainConfig``
#: overrides. ``baseline`` is the path before issue 15's integration (full embedding table,
#: float32, every evaluation of the schedule): the named baseline of ``--whole``.
PACKAGE_PATHS: dict[str, dict[str, Any]] = {
    "baseline": {"compact_embedding": False},
    "compact": {},  # the package default: compact embedding (exact)
    "exact": {"eval_last": 1},  # + only the last evaluation (exact weights and last metrics)
    "bf16": {"mixed_precision": "bf16"},  # + bf16 autocast (not exact)
    "recommended": {"mixed_precision": "bf16", "eval_last": 1},
}


def package_fine_tune(setup: RunSetup, path: str) -> TrainResult:
    """``fine_tune`` of ``setup`` as ``true_gem.run`` calls it, with :data:`PACKAGE_PATHS`
    ``[path]`` applied."""
    given = dict(PACKAGE_PATHS[path])
    compact = given.pop("compact_embedding", True)
    config = replace(setup.config, **given)
    return fine_tune(setup.model, setup.tokenizer, setup.data, config,
                     make_enforcer=setup.make_enforcer, compact_embedding=compact)


class EvalClock:
    """Wraps ``junk_dna.training.finetune.predict`` (what ``fine_tune``'s evaluations call)
    to add up its wall and CPU seconds, so that a whole run's training CPU time is its CPU
    time minus evaluation (the wrapper lives in this process only)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self._orig = finetune_module.predict

        def timed(*a, **kw):
            with Timer() as t:
                out = self._orig(*a, **kw)
            self.wall += t.wall
            self.cpu += t.thread
            return out

        finetune_module.predict = timed

    def reset(self) -> None:
        self.wall = self.cpu = 0.0


def whole(path: str, reps: int, mode: str, task: str, threads: int, epochs: int,
          data_fraction: float = 1.0) -> None:
    """``fine_tune`` on the baseline path vs on ``path`` (:data:`PACKAGE_PATHS`), alternately,
    whole runs."""
    clock = EvalClock()
    rows: dict[str, list[dict[str, Any]]] = {"baseline": [], path: []}
    models = {}
    for r in range(reps):
        order = ["baseline", path] if r % 2 == 0 else [path, "baseline"]
        for name in order:
            setup = prepare_run(task=task, mode=mode, sparsity=0.5, threads=threads,
                                epochs=epochs, data_fraction=data_fraction)
            clock.reset()
            with Timer() as t:
                res = package_fine_tune(setup, name)
            n_train = len(next(iter(setup.data.train.values())))
            train_cpu = t.thread - clock.cpu - res.timings["tokenize"]
            row = {"wall": t.wall, "cpu": t.thread, "train": res.timings["train"],
                   "train_cpu": train_cpu, "evaluate": res.timings["evaluate"],
                   "eval_cpu": clock.cpu, "last": res.last,
                   "epochs": [e["metrics"] for e in res.epochs]}
            rows[name].append(row)
            models[name] = setup.model
            print(f"  rep {r} {name:12s} train {res.timings['train']:6.1f} s wall / "
                  f"{train_cpu:6.1f} s CPU ({n_train * epochs / train_cpu:5.1f} sentences per "
                  f"CPU-second), evaluate {res.timings['evaluate']:5.1f} s wall / "
                  f"{clock.cpu:5.1f} CPU, total {t.wall:6.1f} s wall / {t.thread:6.1f} CPU; "
                  f"last {res.last}", flush=True)
    b, v = rows["baseline"], rows[path]

    def ratio(key: str) -> float:
        return median([x[key] for x in b]) / median([x[key] for x in v])

    same, differ, worst = params_bits_equal(models["baseline"], models[path])
    n_sent = n_train * epochs
    print(f"fine_tune {path} {PACKAGE_PATHS[path]} vs the baseline path "
          f"{PACKAGE_PATHS['baseline']}, {threads} thread(s), {epochs} epoch(s), {mode}:")
    print(f"  training throughput: {n_sent / median([x['train_cpu'] for x in v]):.1f} vs "
          f"{n_sent / median([x['train_cpu'] for x in b]):.1f} sentences per CPU-second = "
          f"{ratio('train_cpu'):.2f}x (wall: {n_sent / median([x['train'] for x in v]):.1f} vs "
          f"{n_sent / median([x['train'] for x in b]):.1f} sentences/s = {ratio('train'):.2f}x)")
    print(f"  whole fine-tune (train + eval): {ratio('cpu'):.2f}x CPU, {ratio('wall'):.2f}x wall;"
          f" evaluation {ratio('eval_cpu'):.2f}x CPU")
    verdict = "bit-identical" if same else f"differ ({differ} tensors, max {worst:.1e})"
    print(f"  final weights {verdict}"
          f"; last metrics identical: {b[-1]['last'] == v[-1]['last']}; per evaluation: "
          f"({b[-1]['epochs']} vs {v[-1]['epochs']})")


def accuracy(seeds: list[int], paths: list[str], modes: list[str], task: str,
             threads: int) -> None:
    """Last metrics of whole runs per seed through ``fine_tune``: the first of ``paths``
    (:data:`PACKAGE_PATHS`) as reference, paired by seed."""
    results: dict[tuple[str, str], list[float]] = {}
    for mode in modes:
        for seed in seeds:
            for name in paths:
                setup = prepare_run(task=task, mode=mode, sparsity=0.5, seed=seed,
                                    threads=threads)
                with Timer() as t:
                    res = package_fine_tune(setup, name)
                key = setup.data.spec.main_metric
                accs = [e["metrics"].get(key) for e in res.epochs]
                results.setdefault((mode, name), []).append(accs[-1])
                flips, n, acc16 = eval_precision_flips(setup)
                print(f"  {mode:7s} seed {seed} {name:12s} per evaluation {key} {accs}  "
                      f"train {res.timings['train']:.1f} s (wall {t.wall:.0f} s); the final "
                      f"model evaluated under bf16 autocast: {flips}/{n} predictions differ "
                      f"from fp32 evaluation ({key} {acc16})", flush=True)
    n_test = len(next(iter(prepare_run(task=task, mode="dense").data.evals.values()))["label"])
    for mode in modes:
        ref = results[(mode, paths[0])]
        for name in paths:
            vals = results[(mode, name)]
            diffs = [a - b for a, b in zip(vals, ref, strict=True)]
            p = float(np.mean(ref))
            se = math.sqrt(p * (1 - p) / n_test)
            print(f"{mode:7s} {name:12s} last accuracy mean {np.mean(vals):.4f} "
                  f"(seeds {vals}); paired diff vs {paths[0]}: mean "
                  f"{np.mean(diffs):+.4f}, max |d| {max(abs(d) for d in diffs):.4f}; "
                  f"test-set SE of one accuracy {se:.4f} (n={n_test})")


# ------------------------------------------------------------------------------ evaluation
def eval_loader(setup: RunSetup):
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    spec, tok, cfg = setup.data.spec, setup.tokenizer, setup.config
    collate = MultipleChoiceCollator(tok) if setup.multiple_choice else \
        DataCollatorWithPadding(tok)
    split, cols = next(iter(setup.data.evals.items()))
    feats = encode(tok, cols, spec.text_fields, cfg.max_length)
    return DataLoader([feats[i] for i in eval_order(feats)], batch_size=cfg.eval_batch_size,
                      collate_fn=collate)


@torch.no_grad()
def eval_precision_flips(setup: RunSetup) -> tuple[int, int, float]:
    """Predictions of ``setup.model`` on its test split in fp32 vs under bf16 autocast:
    (how many differ, how many, the bf16 accuracy)."""
    loader = eval_loader(setup)
    model = setup.model.eval()
    preds = {}
    labels = torch.cat([b["labels"] for b in loader])
    for name in ("fp32", "bf16"):
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if name == "bf16" else nullcontext()
        with ctx:
            preds[name] = torch.cat([model(**{k: v for k, v in b.items() if k != "labels"})
                                     .logits.argmax(-1) for b in loader])
    flips = int((preds["fp32"] != preds["bf16"]).sum())
    return flips, len(labels), float((preds["bf16"] == labels).float().mean())


def eval_costs(threads: int, reps: int) -> None:
    """Evaluation pass vs training epoch on both default tasks, fp32 and bf16 autocast."""
    torch.set_num_threads(threads)
    for task in ("sst2-embedded", "csqa-embedded"):
        setup = prepare_run(task=task, mode="dense", threads=threads)
        spec, tok, cfg = setup.data.spec, setup.tokenizer, setup.config
        mc = setup.multiple_choice
        from transformers import DataCollatorWithPadding

        collate = MultipleChoiceCollator(tok) if mc else DataCollatorWithPadding(tok)
        split, cols = next(iter(setup.data.evals.items()))
        feats = encode(tok, cols, spec.text_fields, cfg.max_length)
        from torch.utils.data import DataLoader

        loader = DataLoader([feats[i] for i in eval_order(feats)],
                            batch_size=cfg.eval_batch_size, collate_fn=collate)
        model = setup.model
        fp32_score = evaluate(model, loader, spec.metric, spec.num_labels)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16_score = evaluate(model, loader, spec.metric, spec.num_labels)
        times: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for _ in range(reps):
            for name in times:
                ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if name == "bf16"
                       else nullcontext())
                with ctx, Timer() as t:
                    evaluate(model, loader, spec.metric, spec.num_labels)
                times[name].append(t.wall)
        # predictions of the pre-trained model (head untrained): how many flip under bf16
        preds = {}
        for name in ("fp32", "bf16"):
            ctx = torch.autocast("cpu", dtype=torch.bfloat16) if name == "bf16" else nullcontext()
            out = []
            with ctx, torch.no_grad():
                model.eval()
                for b in loader:
                    out.append(model(**{k: v for k, v in b.items() if k != "labels"})
                               .logits.argmax(-1))
            preds[name] = torch.cat(out)
        flips = int((preds["fp32"] != preds["bf16"]).sum())
        n_train = len(next(iter(setup.data.train.values())))
        print(f"{task} ({split}: {len(feats)} examples{' x 5 options' if mc else ''}): one "
              f"evaluation pass fp32 {median(times['fp32']):.2f} s, bf16 "
              f"{median(times['bf16']):.2f} s "
              f"({median(times['fp32']) / median(times['bf16']):.2f}x); "
              f"untrained-head predictions differing fp32 vs bf16: {flips}/{len(preds['fp32'])} "
              f"(metrics {fp32_score} vs {bf16_score}); {n_train} training examples/epoch",
              flush=True)


# ------------------------------------------------------------------------------ layout
def worker(args: argparse.Namespace) -> None:
    """Child process: ``--steps-n`` steps of one variant, JSON result on stdout."""
    torch.set_num_threads(args.threads)
    setup = prepare_run(task=args.task, mode=args.mode, sparsity=0.5, threads=args.threads)
    batches = epoch_batches(setup, epochs=2)
    tr = Trainer(setup, STEP_VARIANTS[args.worker], len(batches))
    for b in batches[:2]:
        tr.step(b)
    print("READY", flush=True)
    sys.stdin.readline()  # start together with the sibling
    idx = range(2, 2 + args.steps_n)
    with Timer() as t:
        for i in idx:
            tr.step(batches[i])
    print(json.dumps({"sentences": sum(batch_sentences(batches[i]) for i in idx),
                      "wall": t.wall, "cpu": t.proc}), flush=True)


def layout(variant: str, reps: int, steps_n: int, task: str, mode: str) -> None:
    """Machine throughput: 2 runs x 1 thread (today's --jobs 2) vs 1 run x 2 threads."""
    me = [sys.executable, os.path.abspath(__file__)]

    def launch(n_procs: int, threads: int) -> float:
        procs = [subprocess.Popen(me + ["--worker", variant, "--threads", str(threads),
                                        "--steps-n", str(steps_n), "--task", task,
                                        "--mode", mode],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                 for _ in range(n_procs)]
        for p in procs:
            while p.stdout.readline().strip() != "READY":
                pass
        t0 = time.perf_counter()
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [json.loads(p.stdout.readline()) for p in procs]
        wall = time.perf_counter() - t0
        for p in procs:
            p.wait()
        return sum(o["sentences"] for o in outs) / wall

    res: dict[str, list[float]] = {"2 runs x 1 thread": [], "1 run x 2 threads": [],
                                   "1 run x 1 thread": []}
    for r in range(reps):
        for name in (list(res) if r % 2 == 0 else list(reversed(list(res)))):
            n, t = {"2 runs x 1 thread": (2, 1), "1 run x 2 threads": (1, 2),
                    "1 run x 1 thread": (1, 1)}[name]
            res[name].append(launch(n, t))
            print(f"  rep {r} {name}: {res[name][-1]:.1f} sentences/s", flush=True)
    for name, vals in res.items():
        print(f"{variant} {name:18s}: machine throughput {median(vals):6.1f} sentences/s "
              f"(median of {reps}: {[f'{v:.1f}' for v in vals]})")


# ------------------------------------------------------------------------------ compile
def compile_bench(kinds: list[str], threads: int, steps_n: int, variant: Options) -> None:
    """torch.compile (inductor, CPU) of the training step or of evaluation.

    ``train-dynamic``: ``torch.compile(model, dynamic=True)``, the first epoch-1 batches until
    two distinct shapes have run (compile + one recompile, if any), then ``steps_n`` steps
    alternating with the eager model on the same batches. ``train-static32``: batches padded
    to 32 tokens (the bucket of most SST-2 batches), ``dynamic=False``: one shape compiled,
    then the same alternation, eager also on the padded batches. ``eval``:
    ``torch.compile(dynamic=True)`` of the evaluation forward on the SST-2 test split (sorted
    by length as ``fine_tune``): first pass (compile) and later passes vs eager.
    Compile times are wall clock on this machine; the inductor cache directory is a fresh
    temporary one (``TORCHINDUCTOR_CACHE_DIR``), so this is a cold compile."""
    import tempfile

    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor_")
    import torch._dynamo

    torch.set_num_threads(threads)
    setup = prepare_run(mode="sparse", sparsity=0.5, threads=threads)
    batches = epoch_batches(setup, epochs=1)
    pad_id = setup.tokenizer.pad_token_id or 0
    initial = copy.deepcopy(setup.model)
    lengths = sorted({b["input_ids"].shape[1] for b in batches})
    print(f"epoch 1: {len(batches)} batches, {len(lengths)} distinct padded lengths "
          f"{lengths[0]}..{lengths[-1]}; batch sizes "
          f"{sorted({batch_sentences(b) for b in batches})}", flush=True)
    for kind in kinds:
        torch._dynamo.reset()
        if kind == "eval":
            compile_eval(setup, initial, steps_n)
            continue
        bucket = 32 if kind == "train-static32" else 0
        pool = [pad_batch(b, 32, pad_id) for b in batches
                if b["input_ids"].shape[1] <= 32 and batch_sentences(b) == 16] if bucket \
            else batches
        opts = replace(variant, compile="static" if bucket else "dynamic")
        tr_c = Trainer(replace(setup, model=copy.deepcopy(initial), enforcers=[]), opts,
                       len(batches))
        tr_e = Trainer(replace(setup, model=copy.deepcopy(initial), enforcers=[]), variant,
                       len(batches))
        first = []
        for b in pool[: 1 if bucket else 2]:
            with Timer() as t:
                tr_c.step(b)
            first.append(t.wall)
            print(f"  {kind}: step of shape {tuple(b['input_ids'].shape)} incl. compilation "
                  f"{t.wall:.0f} s wall ({t.thread:.0f} s CPU)", flush=True)
        walls: dict[str, list[float]] = {"eager": [], "compiled": []}
        cpus: dict[str, list[float]] = {"eager": [], "compiled": []}
        for r in range(steps_n):
            b = pool[(r + 2) % len(pool)]
            for name, tr in (("eager", tr_e), ("compiled", tr_c))[:: 1 if r % 2 == 0 else -1]:
                with Timer() as t:
                    tr.step(b)
                walls[name].append(t.wall)
                cpus[name].append(t.thread)
        print(f"  {kind} ({variant.label()}): eager {median(cpus['eager']) * 1e3:.0f} ms/step "
              f"CPU vs compiled {median(cpus['compiled']) * 1e3:.0f}: "
              f"{median(cpus['eager']) / median(cpus['compiled']):.2f}x CPU, "
              f"{median(walls['eager']) / median(walls['compiled']):.2f}x wall (median of "
              f"{steps_n}, alternating); {payback(sum(first), walls)}", flush=True)


def payback(compile_s: float, walls: dict[str, list[float]]) -> str:
    gain = median(walls["eager"]) - median(walls["compiled"])
    if gain <= 0:
        return "the compiled step is not faster: compilation never pays back"
    return (f"compilation ({compile_s:.0f} s) pays back after {compile_s / gain:.0f} steps "
            "(a default SST-2 run has 78)")


def compile_eval(setup: RunSetup, initial: torch.nn.Module, reps: int) -> None:
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    spec, tok, cfg = setup.data.spec, setup.tokenizer, setup.config
    split, cols = next(iter(setup.data.evals.items()))
    feats = encode(tok, cols, spec.text_fields, cfg.max_length)
    loader = DataLoader([feats[i] for i in eval_order(feats)], batch_size=cfg.eval_batch_size,
                        collate_fn=DataCollatorWithPadding(tok))
    model = copy.deepcopy(initial).eval()
    compiled = torch.compile(model, dynamic=True)
    with Timer() as t:
        got_c = _evaluate(compiled, model, loader, spec.metric, spec.num_labels)
    print(f"  eval: first compiled pass (compiles) {t.wall:.0f} s wall ({t.thread:.0f} s CPU); "
          f"{len(feats)} examples, {len(loader)} batches", flush=True)
    got_e = evaluate(model, loader, spec.metric, spec.num_labels)
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for r in range(reps):
        for name in (("eager", "compiled") if r % 2 == 0 else ("compiled", "eager")):
            with Timer() as t:
                if name == "eager":
                    evaluate(model, loader, spec.metric, spec.num_labels)
                else:
                    _evaluate(compiled, model, loader, spec.metric, spec.num_labels)
            times[name].append(t.thread)
    print(f"  eval: eager {median(times['eager']):.2f} s CPU vs compiled "
          f"{median(times['compiled']):.2f} s: "
          f"{median(times['eager']) / median(times['compiled']):.2f}x; metrics {got_e} vs "
          f"{got_c}", flush=True)


# ------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", action="store_true", help="step variants (interleaved)")
    parser.add_argument("--whole", action="store_true",
                        help="fine_tune on --path vs fine_tune on the baseline path")
    parser.add_argument("--baseline", action="store_true",
                        help="(--whole) the named baseline is fine_tune's path before issue "
                             "15 (PACKAGE_PATHS['baseline']); always run, the flag is "
                             "accepted for clarity")
    parser.add_argument("--path", default="recommended", choices=list(PACKAGE_PATHS)[1:],
                        help="(--whole) the package path compared with the baseline")
    parser.add_argument("--accuracy", action="store_true")
    parser.add_argument("--eval", action="store_true")
    parser.add_argument("--layout", action="store_true")
    parser.add_argument("--mc", action="store_true")
    parser.add_argument("--compile", nargs="*", default=None,
                        help="train-dynamic train-static32 eval (default: all three)")
    parser.add_argument("--profile", nargs="*", default=None,
                        help="profile these step variants by operator family")
    parser.add_argument("--variants", nargs="*", default=None, help="subset of step variants")
    parser.add_argument("--fast", default="bf16+compact",
                        help="the step variant for --layout / --compile / --profile")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=4)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=BENCH_EPOCHS)
    parser.add_argument("--data-fraction", type=float, default=1.0,
                        help="(--whole) share of the training split (a smoke test: 0.1)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mode", default="sparse")
    parser.add_argument("--modes", nargs="*", default=["dense", "sparse"])
    parser.add_argument("--task", default="sst2-embedded")
    parser.add_argument("--seeds", type=int, nargs="*", default=[41, 42, 43])
    parser.add_argument("--skip-last-eval-check", action="store_true")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps-n", type=int, default=16)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    print(f"# torch {torch.__version__}, {args.threads} thread(s)")
    print(load_line("start"), flush=True)
    if args.steps:
        names = args.variants or list(STEP_VARIANTS)
        names = ["baseline"] + [n for n in names if n != "baseline"]
        run_step_variants({n: STEP_VARIANTS[n] for n in names}, task=args.task, mode=args.mode,
                          rounds=args.rounds, chunk=args.chunk, threads=args.threads)
    if args.mc:
        names = args.variants or ["compact-emb", "keep-grads", "bf16", "bf16+compact+keep"]
        names = ["baseline"] + [n for n in names if n != "baseline"]
        run_step_variants({n: STEP_VARIANTS[n] for n in names}, task="csqa-embedded",
                          mode=args.mode, rounds=args.rounds, chunk=args.chunk,
                          threads=args.threads)
    if args.whole:
        whole(args.path, args.reps, args.mode, args.task, args.threads, args.epochs,
              args.data_fraction)
    if args.accuracy:
        accuracy(args.seeds, ["compact", "bf16"], args.modes, args.task, args.threads)
    if args.eval:
        eval_costs(args.threads, args.reps)
    if args.layout:
        for v in ("baseline", args.fast):
            layout(v, args.reps, args.steps_n, args.task, args.mode)
    if args.compile is not None:
        compile_bench(args.compile or ["train-dynamic", "train-static32", "eval"],
                      args.threads, args.steps_n, STEP_VARIANTS[args.fast])
    if args.profile is not None:
        from bench_roofline import profile_steps

        torch.set_num_threads(args.threads)
        for name in args.profile or ["baseline", args.fast]:
            setup = prepare_run(task=args.task, mode=args.mode, sparsity=0.5,
                                threads=args.threads)
            batches = epoch_batches(setup)
            tr = Trainer(setup, STEP_VARIANTS[name], len(batches))
            for b in batches[:2]:
                tr.step(b)
            profile_steps(tr.step, batches[2: 2 + args.steps_n], f"{name} ({args.task}, "
                          f"{args.mode})")
    print(load_line("end"))


if __name__ == "__main__":
    main()
