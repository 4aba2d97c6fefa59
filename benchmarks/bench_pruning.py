"""Benchmark: global magnitude mask vs. the usual ways of computing it, and mask enforcement.

Run: ``python benchmarks/bench_pruning.py [--size base|small] [--reps 3]``

``base`` builds RoBERTa-base from ``RobertaConfig()`` defaults (random init, no download):
~125M parameters, 85M in the encoder's nn.Linear weights selected by policy "encoder".
It prints, for a 0.5 global magnitude mask over those weights, the median time and the peak
extra memory (process RSS sampled from /proc/self/statm in a background thread, minus the RSS
just before the call, after ``malloc_trim``) of:

(a) ``junk_dna.pruning.masks.compute_masks`` (radix selection, chunked),
(b) ``torch.nn.utils.prune.global_unstructured`` with ``L1Unstructured`` (on a deep copy),
(c) the original code's method: concatenate all |w|, ``torch.topk`` for the threshold
    (and the same with ``torch.kthvalue``, a faster variant of that method),
(d) a plain copy of all prunable weights (the floor of any pass that writes memory),

then masks for a series of sparsities (``--series``, 5 by default): ``mask_series`` (one ranking
for the whole series) against its baseline, separate ``compute_masks`` calls for each sparsity in
the same process (global and layer magnitude, global random, and an N:M series 1:4, 2:4, 3:4),
after checking that both give the same masks; ``--series-only`` runs only this part.

Then the cost of enforcing a mask after each optimizer step (``MaskEnforcer.after_step`` of
``junk_dna.pruning.transfer``, modes ``sparse`` and ``freeze``) as a percentage of a dense
training step
of RobertaForSequenceClassification (forward + backward + fused AdamW) at batch 16 x 128
(--batch, --seq-len), and of a few alternative implementations of those projections, for comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import ctypes
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import prune

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from junk_dna.pruning import (  # noqa: E402
    MaskEnforcer,
    PruningConfig,
    compute_masks,
    mask_series,
    nm_group_dims,
    select_prunable,
)

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def trim() -> None:
    """Return freed heap memory to the OS, so that RSS measures live memory."""
    with contextlib.suppress(OSError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakRSS:
    """Context manager sampling RSS every ~0.5 ms; ``extra`` = peak minus the RSS at entry."""

    def __enter__(self) -> PeakRSS:
        trim()
        self.base = rss()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(0.0005)

    def __exit__(self, *exc: object) -> None:
        self.peak = max(self.peak, rss())
        self._stop.set()
        self._thread.join()
        self.extra = self.peak - self.base


def measure(
    fn: Callable[[object], object],
    reps: int,
    setup: Callable[[], object] | None = None,
    memory: bool = True,
) -> tuple[float, int]:
    """Median wall time of ``fn(setup())`` over ``reps`` runs, then (if ``memory``) the peak
    extra RSS of one more run, sampled separately so that the sampler cannot slow the timed
    runs. The result of ``fn`` is dropped after each run, outside the timed region.
    """
    times = []
    for _ in range(reps):
        state = setup() if setup is not None else None
        trim()
        start = time.perf_counter()
        out = fn(state)
        times.append(time.perf_counter() - start)
        del out, state
    extra = 0
    if memory:
        state = setup() if setup is not None else None
        with PeakRSS() as mem:
            out = fn(state)
        extra = mem.extra
        del out, state
    return statistics.median(times), extra


def build(size: str) -> nn.Module:
    from transformers import RobertaConfig, RobertaForSequenceClassification

    torch.manual_seed(0)
    if size == "base":
        config = RobertaConfig(num_labels=2)
    else:
        config = RobertaConfig(
            num_labels=2,
            hidden_size=256,
            num_hidden_layers=4,
            num_attention_heads=4,
            intermediate_size=1024,
        )
    return RobertaForSequenceClassification(config)


# ---- the methods compared ------------------------------------------------------------------


def original_topk(weights: dict[str, torch.Tensor], sparsity: float) -> dict[str, torch.Tensor]:
    """The original GLUE code: one threshold from a topk over all |w|; keep |w| > threshold."""
    all_abs = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    n_keep = int(all_abs.numel() * (1 - sparsity))
    threshold = torch.topk(all_abs, n_keep, largest=True).values[-1]
    del all_abs
    return {name: w.detach().abs() > threshold for name, w in weights.items()}


def original_kthvalue(weights: dict[str, torch.Tensor], sparsity: float) -> dict[str, torch.Tensor]:
    """Same as :func:`original_topk` with ``torch.kthvalue`` (no sorted topk output)."""
    all_abs = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    k = round(all_abs.numel() * sparsity)
    threshold = torch.kthvalue(all_abs, k).values
    del all_abs
    return {name: w.detach().abs() > threshold for name, w in weights.items()}


def torch_prune(model: nn.Module, names: list[str], sparsity: float) -> nn.Module:
    modules = [(model.get_submodule(n.rpartition(".")[0]), "weight") for n in names]
    prune.global_unstructured(modules, pruning_method=prune.L1Unstructured, amount=sparsity)
    return model


def remove_reparametrization(model: nn.Module, names: list[str]) -> None:
    for n in names:
        prune.remove(model.get_submodule(n.rpartition(".")[0]), "weight")


def bench_series(
    params: dict[str, torch.Tensor],
    dims: dict[str, int],
    sparsities: list[float],
    reps: int,
) -> None:
    """Time ``mask_series`` against separate ``compute_masks`` calls (the baseline) for a few
    configs, after checking that they give identical masks; prints the time ratio."""
    from dataclasses import replace

    n = sum(p.numel() for p in params.values())
    cases: list[tuple[str, PruningConfig, list]] = [
        ("global magnitude", PruningConfig(), list(sparsities)),
        ("layer magnitude", PruningConfig(scope="layer"), list(sparsities)),
        ("global random", PruningConfig(criterion="random"), list(sparsities)),
        ("N:M magnitude 1:4, 2:4, 3:4", PruningConfig(pattern="nm"), ["1:4", "2:4", "3:4"]),
    ]
    print(
        f"\nmasks for a series of sparsities ({reps} reps, median; peak extra RSS incl. the "
        f"returned masks): mask_series vs separate compute_masks calls (baseline)"
    )
    for label, config, levels in cases:
        field = "nm" if config.pattern == "nm" else "sparsity"

        def separate(_: object, config=config, levels=levels, field=field) -> list:
            return [
                compute_masks(params, replace(config, **{field: lv}), group_dims=dims)
                for lv in levels
            ]

        def series(_: object, config=config, levels=levels) -> list:
            return mask_series(params, config, levels, group_dims=dims)

        same = all(
            torch.equal(a[k], b[k])
            for a, b in zip(series(None), separate(None), strict=True)
            for k in params
        )
        sep_s, sep_mem = measure(separate, reps)
        ser_s, ser_mem = measure(series, reps)
        print(
            f"  {label} at {levels}: separate {sep_s:.3f} s ({sep_mem / n:.2f} B/param), "
            f"series {ser_s:.3f} s ({ser_mem / n:.2f} B/param): {sep_s / ser_s:.2f}x faster; "
            f"identical masks: {same}",
            flush=True,
        )


# ---- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=["base", "small"], default="base")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--sparsity", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=4, help="timed training steps")
    parser.add_argument("--batch", type=int, default=16,
                        help="training batch (the paper's batch size is 16)")
    parser.add_argument("--seq-len", type=int, default=128,
                        help="tokens per example (the paper's max length is 512)")
    parser.add_argument("--series", default="0.1,0.3,0.5,0.7,0.9",
                        help="comma-separated sparsities of the mask-series case")
    parser.add_argument("--series-only", action="store_true",
                        help="run only the mask-series case")
    args = parser.parse_args()
    s = args.sparsity

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average at start {os.getloadavg()[0]:.2f}"
    )
    t0 = time.perf_counter()
    model = build(args.size)
    head = [n for n, _ in model.named_parameters() if n.startswith("classifier.")]
    params = select_prunable(model, "encoder", new_param_names=head)
    names = list(params)
    n = sum(p.numel() for p in params.values())
    total = sum(p.numel() for p in model.parameters())
    print(
        f"model: RobertaForSequenceClassification ({args.size}), {total / 1e6:.1f}M params, "
        f"{len(params)} prunable tensors, {n / 1e6:.1f}M prunable weights "
        f"(built in {time.perf_counter() - t0:.1f}s)"
    )
    config = PruningConfig(sparsity=s)
    compute_masks(params, config)  # warm-up
    if args.series_only:
        series = [float(x) for x in args.series.split(",")]
        bench_series(params, nm_group_dims(model, names), series, args.reps)
        return

    rows: list[tuple[str, float, int]] = []

    def run(label: str, fn: Callable[[object], object], setup=None, reps=args.reps) -> float:
        seconds, extra = measure(fn, reps, setup)
        rows.append((label, seconds, extra))
        print(f"  {label:<56s} {seconds:8.3f} s  {extra / n:6.2f} B/param", flush=True)
        return seconds

    print(f"\nglobal magnitude mask at sparsity {s} ({args.reps} reps, median; peak extra RSS)")
    ours = run("(a) ours: compute_masks global magnitude", lambda _: compute_masks(params, config))

    def torch_setup() -> nn.Module:
        return copy.deepcopy(model)

    torch_s = run(
        "(b) torch.nn.utils.prune.global_unstructured (L1)",
        lambda m: torch_prune(m, names, s),
        setup=torch_setup,
    )
    orig_s = run("(c) original: cat |w| + topk", lambda _: original_topk(params, s))
    kth_s = run("(c') cat |w| + kthvalue", lambda _: original_kthvalue(params, s))
    copy_s = run(
        "(d) copy of all prunable weights (floor)",
        lambda _: [p.detach().clone() for p in params.values()],
    )
    print("  other masks of ours, for reference:")
    run(
        "ours: layer-scope magnitude",
        lambda _: compute_masks(params, PruningConfig(sparsity=s, scope="layer")),
    )
    run(
        "ours: global largest (control)",
        lambda _: compute_masks(params, PruningConfig(sparsity=s, criterion="largest")),
    )
    run(
        "ours: global random (control)",
        lambda _: compute_masks(params, PruningConfig(sparsity=s, criterion="random")),
    )
    dims = nm_group_dims(model, names)
    run(
        "ours: N:M 2:4 magnitude",
        lambda _: compute_masks(params, PruningConfig(pattern="nm", nm="2:4"), group_dims=dims),
    )

    # agreement check: ours prunes exactly k; "|w| > k-th smallest" also prunes the ties
    # of the threshold, so the two may differ there (and only there)
    ours_masks = compute_masks(params, config)
    kth_masks = original_kthvalue(params, s)
    all_abs = torch.cat([p.detach().abs().flatten() for p in params.values()])
    threshold = torch.kthvalue(all_abs, round(n * s)).values
    n_ties = int((all_abs == threshold).sum())
    del all_abs
    only_ties = all(
        bool((params[k].detach().abs()[ours_masks[k] != kth_masks[k]] == threshold).all())
        for k in names
    )
    kept = sum(int(m.sum()) for m in ours_masks.values())
    kept_kth = sum(int(m.sum()) for m in kth_masks.values())
    del kth_masks, ours_masks
    print(
        f"  ours keeps {kept} of {n} (exact: {n - round(s * n)}); cat+kthvalue keeps {kept_kth}; "
        f"they differ only at the {n_ties} weights equal to the threshold: {only_ties}"
    )

    print("\nratios (time)")
    print(f"  ours vs torch: {torch_s / ours:.1f}x faster")
    print(f"  ours vs original (topk): {orig_s / ours:.1f}x faster")
    print(f"  ours vs cat+kthvalue: {kth_s / ours:.1f}x faster")
    print(f"  ours vs copy floor: {ours / copy_s:.1f}x the time of one copy")
    bench_series(params, dims, [float(x) for x in args.series.split(",")], args.reps)

    # ---- mask enforcement per training step ----------------------------------------------
    b, t = args.batch, args.seq_len
    print(f"\nmask enforcement per training step (batch {b} x {t}, fused AdamW, sparsity {s})")
    g = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size
    batch = {
        "input_ids": torch.randint(3, vocab, (b, t), generator=g),
        "attention_mask": torch.ones(b, t, dtype=torch.long),
        "labels": torch.randint(0, 2, (b,), generator=g),
    }
    model.train()
    # fused AdamW, as junk_dna.training.finetune uses (the same update, much faster on CPU)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0, fused=True)

    def step(_: object) -> None:
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(None)  # warm-up (allocates the AdamW state)
    step_s, _ = measure(step, args.steps, memory=False)
    print(f"  dense training step: {step_s:.3f} s")
    masks = compute_masks(params, config)

    def nbytes(*tensor_dicts: dict[str, torch.Tensor]) -> int:
        return sum(t.numel() * t.element_size() for d in tensor_dicts for t in d.values())

    def enforce(label: str, fn: Callable[[object], object], held: int) -> None:
        fn(None)  # warm-up
        seconds, _ = measure(fn, max(args.reps, 5), memory=False)
        pct = 100 * seconds / step_s
        print(f"  {label:<56s} {seconds:8.4f} s  {pct:5.1f} %  {held / n:5.2f} B/param")

    print(f"  {'':<56s} {'time':>10s}  {'of step':>7s}  held (mask + saved values)")
    sparse = MaskEnforcer(params, masks, "sparse")
    enforce(
        "MaskEnforcer('sparse').after_step()  [mul_(mask)]",
        lambda _: sparse.after_step(),
        nbytes(masks),
    )
    freeze = MaskEnforcer(params, masks, "freeze")
    enforce(
        "MaskEnforcer('freeze').after_step()  [mul_(keep).add_(frozen)]",
        lambda _: freeze.after_step(),
        nbytes(masks) + 4 * n,  # masks + one dense float32 copy of the pre-trained values
    )
    freeze = None  # free its copy before the alternatives allocate theirs
    frozen_vals = {k: params[k].detach()[~m].clone() for k, m in masks.items()}
    pruned_masks = {k: ~m for k, m in masks.items()}

    def scatter(_: object) -> None:
        with torch.no_grad():
            for k, p in params.items():
                p.masked_scatter_(pruned_masks[k], frozen_vals[k])

    # alternatives, for comparison (same effect on the weights)
    print("  alternatives:")
    enforce("freeze: masked_scatter_(~mask, pruned values)", scatter,
            nbytes(masks, pruned_masks, frozen_vals))
    pruned_masks.clear()
    pruned = {k: ~m for k, m in masks.items()}

    def fill_zero(_: object) -> None:
        with torch.no_grad():
            for k, p in params.items():
                p.masked_fill_(pruned[k], 0)

    enforce("sparse: masked_fill_(~mask, 0)", fill_zero, nbytes(pruned))
    pruned.clear()
    masks_u8 = {k: m.view(torch.uint8) for k, m in masks.items()}  # same bytes, 0/1

    def mul_u8(_: object) -> None:
        with torch.no_grad():
            for k, p in params.items():
                p.mul_(masks_u8[k])

    enforce("sparse: mul_(mask.view(torch.uint8))", mul_u8, nbytes(masks))
    frozen_dense = {k: params[k].detach() * ~m for k, m in masks.items()}  # 4 B/param

    def mul_u8_add(_: object) -> None:
        with torch.no_grad():
            for k, p in params.items():
                p.mul_(masks_u8[k]).add_(frozen_dense[k])

    enforce(
        "freeze: p.mul_(uint8 mask).add_(dense zero-filled copy)",
        mul_u8_add,
        nbytes(masks, frozen_dense),
    )

    def where_dense(_: object) -> None:
        with torch.no_grad():
            for k, p in params.items():
                torch.where(masks[k], p, frozen_dense[k], out=p)

    enforce(
        "freeze: torch.where(mask, p, dense copy, out=p)",
        where_dense,
        nbytes(masks, frozen_dense),
    )

    def mul_add(_: object) -> None:
        with torch.no_grad():
            for k, p in params.items():
                p.mul_(masks[k]).add_(frozen_dense[k])

    enforce(
        "freeze: p.mul_(mask).add_(dense zero-filled copy)",
        mul_add,
        nbytes(masks, frozen_dense),
    )
    frozen_dense.clear()
    flat_idx = {k: m.view(-1).logical_not().nonzero().view(-1) for k, m in masks.items()}

    def index_copy(_: object) -> None:
        with torch.no_grad():
            for k, p in params.items():
                p.view(-1).index_copy_(0, flat_idx[k], frozen_vals[k])

    enforce("freeze: index_copy_(int64 idx, values)", index_copy, nbytes(flat_idx, frozen_vals))
    flat_idx32 = {k: i.to(torch.int32) for k, i in flat_idx.items()}
    flat_idx.clear()

    def index_put32(_: object) -> None:
        with torch.no_grad():
            for k, p in params.items():
                p.view(-1).index_put_((flat_idx32[k],), frozen_vals[k])

    enforce("freeze: index_put_(int32 idx, values)", index_put32, nbytes(flat_idx32, frozen_vals))
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
