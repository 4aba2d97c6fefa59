"""Roofline of the MiniLM fine-tune step and of a SmolLM2 scoring batch on this CPU.

Run: ``HF_HUB_OFFLINE=1 python benchmarks/bench_roofline.py [--threads 1 2] [--steps 12]
[--lm-questions 24] [--skip-lm]`` (about 4 minutes on the 2-core machine).

It prints, in this order:

1. **Theoretical peak** per core and for the machine. Assumptions, printed with the numbers:
   the core clock is *measured* (a chain of dependent integer ``add``, one per cycle on Zen 4;
   compiled on the spot with ``gcc``) because ``/proc/cpuinfo`` under KVM shows the nominal
   clock only; Zen 4 has two 256-bit FMA pipes and executes a 512-bit op as two 256-bit halves,
   so fp32 peak = 2 pipes x 8 lanes x 2 FLOP = 32 FLOP/cycle with AVX2 or AVX-512 alike;
   ``vdpbf16ps`` (avx512_bf16) does 2 bf16 products + 2 adds per fp32 lane: 64 FLOP/cycle.
   A register-only microkernel (12 independent FMA / dpbf16 chains) checks that the pipes
   reach it. Without ``gcc`` the nominal clock is used and the microkernel is skipped.
2. **Measured matmul throughput** (GFLOP/s, median of reps, 1 and 2 threads, fp32 through
   ``F.linear``/``torch.mm`` = MKL sgemm, bf16 = oneDNN) at the shapes of one MiniLM step (the
   median batch of the default's epoch: 16 sentences x its padded length; forward ``x W^T``,
   backward ``dY W`` and ``dY^T X`` of the 384x384, 384x1536 and 1536x384 layers) and of one
   SmolLM2 scoring batch (1024 tokens, the default ``batch_tokens``; q/o 576x576, k/v 576x192,
   gate/up 576x1536, down 1536x576), plus a 2048^3 product. The step's *matmul ceiling* is the
   time its own matmul FLOPs would take at these measured rates.
3. **Achieved FLOP/s** of real fine-tune steps of the default preset (``sparse`` and
   ``freeze`` at 50 %, and ``dense``; forward, backward, fused AdamW over all 22.7M
   parameters, the scheduler, ``zero_grad(set_to_none=True)``, ``MaskEnforcer.after_step``),
   and of ``score_multiple_choice`` on SmolLM2-135M over real SciQ questions (open book, the
   full passage: the ``context_length`` experiment's first condition). FLOPs are counted by
   ``torch.utils.flop_counter.FlopCounterMode`` on the very same batches: 2*m*n*k per
   ``mm``/``addmm``/``bmm`` (the shapes are the dispatched ones) and its formula for SDPA;
   elementwise ops, softmax, layernorm and the optimizer count 0 FLOPs (they are
   memory-bound: the roofline is about the matmul units). Shares are of the theoretical peak
   and of the measured matmul ceiling.
4. **Where a step's time goes**: ``torch.profiler`` over real steps of the ``sparse`` run,
   each op's self CPU time attributed to a family by its nearest family-defining ancestor
   (e.g. the ``fill_`` inside ``embedding_dense_backward`` counts as embedding gradient),
   phases marked with ``record_function``; "Python/dispatch" is the profiled step wall time
   minus the self time of every ``aten::`` op (interpreter, module calls, autograd engine,
   dispatcher; the profiler's own overhead inflates it somewhat).
5. Memory bandwidth (a 256 MB copy) against the fused AdamW's traffic (28 bytes per parameter
   and step: read p, g, m, v; write p, m, v).

Wall times depend on what else runs on the machine (the load average is printed at start and
end). With ``--threads 1``, the per-thread CPU time (``time.thread_time``) is also reported:
it is the time this process actually ran, so FLOP/s per CPU-second stay meaningful on a
shared machine; 2-thread numbers are wall-clock only.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from finetune_common import (  # noqa: E402
    RunSetup,
    Timer,
    batch_tokens,
    epoch_batches,
    instrumented_step,
    load_line,
    median,
    prepare_run,
)

# ----------------------------------------------------------------------------- 1. peak
#: One peak kernel: 12 independent accumulators (enough to hide the FMA latency), each
#: updated by ``op(a, b, c)`` every iteration, summed at the end (so nothing is optimized away).
KERNEL_C = r"""
float {name}(long iters) {{
    {operand} b = {b}, c = {c};
#define D(i) {acc} a##i = {splat}((float)(i + 1));
    C12(D)
#undef D
    for (long it = 0; it < iters; ++it) {{
#define S(i) a##i = {op}(a##i, b, c);
        C12(S)
#undef S
        __asm__ volatile("" ::: "memory");
    }}
    {acc} s = {zero}();
#define R(i) s = {add}(s, a##i);
    C12(R)
#undef R
    {ret}
}}
"""
YMM = dict(acc="__m256", operand="__m256", splat="_mm256_set1_ps", zero="_mm256_setzero_ps",
           add="_mm256_add_ps", ret="float out[8]; _mm256_storeu_ps(out, s); return out[0];")
ZMM = dict(acc="__m512", operand="__m512", splat="_mm512_set1_ps", zero="_mm512_setzero_ps",
           add="_mm512_add_ps", ret="return _mm512_reduce_add_ps(s);")
PEAK_KERNELS: dict[str, dict[str, str]] = {
    "fma_ymm": {**YMM, "op": "_mm256_fmadd_ps", "b": "_mm256_set1_ps(0.999999f)",
                "c": "_mm256_set1_ps(1e-7f)"},
    "fma_zmm": {**ZMM, "op": "_mm512_fmadd_ps", "b": "_mm512_set1_ps(0.999999f)",
                "c": "_mm512_set1_ps(1e-7f)"},
    # bf16 operands (1.0 and about 6e-8), fp32 accumulators
    "dpbf16_zmm": {**ZMM, "op": "_mm512_dpbf16_ps", "operand": "__m512bh",
                   "b": "(__m512bh)_mm512_set1_epi16(0x3f80)",
                   "c": "(__m512bh)_mm512_set1_epi16(0x3380)"},
}
PEAK_C = r"""
#include <immintrin.h>
#define C12(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11)
""" + "".join(KERNEL_C.format(name=name, **spec) for name, spec in PEAK_KERNELS.items()) + r"""
#define A10 "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" \
    "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" \
    "add $1, %0\n\t"
long add_chain(long iters) {   /* 100 dependent adds per iteration: 1 per cycle */
    long x = 0;
    for (long it = 0; it < iters; ++it) {
        __asm__ volatile(A10 A10 A10 A10 A10 A10 A10 A10 A10 A10 : "+r"(x));
    }
    return x;
}
"""

KERNELS = {  # name -> (FLOP per iteration, what it measures)
    "fma_ymm": (12 * 8 * 2, "fp32 FMA, 256-bit (AVX2)"),
    "fma_zmm": (12 * 16 * 2, "fp32 FMA, 512-bit (AVX-512)"),
    "dpbf16_zmm": (12 * 16 * 4, "bf16 dot product vdpbf16ps, 512-bit"),
}
FP32_FLOP_PER_CYCLE = 32  # 2 FMA pipes x 8 fp32 lanes x 2 FLOP (Zen 4: 512-bit = 2 x 256)
BF16_FLOP_PER_CYCLE = 64  # 2 x 256-bit vdpbf16ps per cycle x 8 lanes x 4 FLOP


def cpu_facts() -> dict[str, object]:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", info)
    mhz = [float(x) for x in re.findall(r"cpu MHz\s*:\s*([\d.]+)", info)]
    flags = set((re.search(r"flags\s*:\s*(.*)", info) or [None, ""])[1].split())
    wanted = ["fma", "avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile"]
    return {"model": model.group(1) if model else platform.processor(),
            "nominal_ghz": (sum(mhz) / len(mhz) / 1000) if mhz else float("nan"),
            "cpus": os.cpu_count(), "flags": {f: f in flags for f in wanted}}


def build_peak_lib() -> ctypes.CDLL | None:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="roofline_"))
    (tmp / "peak.c").write_text(PEAK_C)
    try:
        subprocess.run([cc, "-O2", "-mavx2", "-mfma", "-mavx512f", "-mavx512bf16", "-shared",
                        "-fPIC", str(tmp / "peak.c"), "-o", str(tmp / "peak.so")],
                       check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError) as err:
        print(f"  (no microkernel: {err})")
        return None
    lib = ctypes.CDLL(str(tmp / "peak.so"))
    for name in KERNELS:
        getattr(lib, name).restype = ctypes.c_float
        getattr(lib, name).argtypes = [ctypes.c_long]
    lib.add_chain.restype = ctypes.c_long
    lib.add_chain.argtypes = [ctypes.c_long]
    return lib


def kernel_rate(fn, iters: int, per_iter: int, threads: int, reps: int = 5) -> float:
    """Best units per CPU-second over reps (``time.thread_time`` of each thread, so a shared
    machine does not lower it); with several threads (ctypes releases the GIL, so they run in
    parallel) the sum of the threads' rates."""
    best = 0.0
    for _ in range(reps):
        got: list[float] = []

        def work(got: list[float] = got) -> None:
            t0 = time.thread_time()
            fn(iters)
            got.append(iters * per_iter / (time.thread_time() - t0))

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = max(best, sum(got))
    return best


def section_peak() -> dict[str, float]:
    facts = cpu_facts()
    print("\n## 1. Theoretical peak")
    print(f"cpu: {facts['model']}, {facts['cpus']} cpus, /proc/cpuinfo clock "
          f"{facts['nominal_ghz']:.2f} GHz; flags {facts['flags']}")
    lib = build_peak_lib()
    peak = {"nominal_ghz": float(facts["nominal_ghz"])}
    clock = float(facts["nominal_ghz"])
    if lib is not None:
        clock = kernel_rate(lib.add_chain, 10_000_000, 100, 1) / 1e9
        peak["measured_ghz"] = clock
        print(f"measured core clock (dependent adds per CPU-second): {clock:.2f} GHz "
              f"(the nominal {facts['nominal_ghz']:.2f} GHz is what KVM reports; the core boosts)")
    peak["ghz"] = clock
    peak["fp32_core"] = FP32_FLOP_PER_CYCLE * clock
    peak["bf16_core"] = BF16_FLOP_PER_CYCLE * clock
    cores = facts["cpus"] or 1
    print(f"theoretical fp32 peak: {FP32_FLOP_PER_CYCLE} FLOP/cycle (2 FMA pipes x 256 bit) x "
          f"{clock:.2f} GHz = {peak['fp32_core']:.1f} GFLOP/s per core, "
          f"{peak['fp32_core'] * cores:.1f} for {cores} cores "
          f"(at the nominal clock: {FP32_FLOP_PER_CYCLE * facts['nominal_ghz']:.1f} per core)")
    print(f"theoretical bf16 peak (vdpbf16ps): {BF16_FLOP_PER_CYCLE} FLOP/cycle = "
          f"{peak['bf16_core']:.1f} GFLOP/s per core (no AMX on this CPU)")
    if lib is not None:
        for threads in (1, 2):
            row = []
            for name, (per_iter, what) in KERNELS.items():
                rate = kernel_rate(getattr(lib, name), 20_000_000, per_iter, threads) / 1e9
                peak[f"{name}@{threads}"] = rate
                row.append(f"{what}: {rate:.1f}")
            print(f"microkernel, {threads} thread(s), GFLOP/s per CPU-second (summed over "
                  "threads): " + "; ".join(row))
    return peak


# ----------------------------------------------------------------------------- 2. matmuls
def minilm_shapes(m: int) -> list[tuple[str, int, int, int, int]]:
    """(label, M, K, N, count per step) of one MiniLM fwd+bwd step with M = batch tokens:
    per layer 4 projections 384x384, FFN up 384->1536 and down 1536->384; each forward
    ``[M,K] x [K,N]`` has a backward ``dX = dY[M,N] x W[N,K]`` and ``dW = dY^T[N,M] x X[M,K]``."""
    layers = 6
    out = []
    for label, k, n, per_layer in (("384x384 (q,k,v,o)", 384, 384, 4),
                                   ("384->1536 (FFN up)", 384, 1536, 1),
                                   ("1536->384 (FFN down)", 1536, 384, 1)):
        out.append((f"fwd {label}", m, k, n, layers * per_layer))
        out.append((f"bwd dX {label}", m, n, k, layers * per_layer))
        out.append((f"bwd dW {label}", n, m, k, layers * per_layer))
    return out


def smollm_shapes(m: int) -> list[tuple[str, int, int, int, int]]:
    layers = 30
    return [("q,o 576x576", m, 576, 576, 2 * layers), ("k,v 576->192", m, 576, 192, 2 * layers),
            ("gate,up 576->1536", m, 576, 1536, 2 * layers),
            ("down 1536->576", m, 1536, 576, layers)]


def time_matmul(m: int, k: int, n: int, dtype: torch.dtype, reps: int) -> float:
    """Median seconds of ``F.linear(a[m,k], w[n,k])`` (= a @ w^T, the layout of nn.Linear).

    With 1 thread the time is this thread's CPU time (``time.thread_time``): on a shared
    machine it excludes the time other processes held the core. With more threads it is
    wall time (the only honest measure of a parallel region)."""
    a = torch.randn(m, k).to(dtype)
    w = torch.randn(n, k).to(dtype)
    for _ in range(3):
        F.linear(a, w)
    clock = time.thread_time if torch.get_num_threads() == 1 else time.perf_counter
    times = []
    for _ in range(reps):
        t0 = clock()
        F.linear(a, w)
        times.append(clock() - t0)
    return median(times)


def section_matmul(m_step: int, m_lm: int, threads_list: list[int], reps: int,
                   peak: dict[str, float]) -> dict[tuple[str, int, torch.dtype], float]:
    print("\n## 2. Measured matmul throughput (GFLOP/s, median of "
          f"{reps}; % of the theoretical per-core peak x threads; 1 thread: per CPU-second, "
          "2 threads: wall clock)")
    rates: dict[tuple[str, int, torch.dtype], float] = {}
    groups = [("MiniLM step", minilm_shapes(m_step)), ("SmolLM2 scoring", smollm_shapes(m_lm)),
              ("square", [("2048^3", 2048, 2048, 2048, 1)])]
    print(f"{'shape':34s} {'M,K,N':>16s} " + " ".join(
        f"{d}@{t}t".rjust(14) for t in threads_list for d in ("fp32", "bf16")))
    for group, shapes in groups:
        print(f"# {group}")
        for label, m, k, n, _count in shapes:
            cells = []
            for threads in threads_list:
                torch.set_num_threads(threads)
                for dtype, pk in ((torch.float32, "fp32_core"), (torch.bfloat16, "bf16_core")):
                    sec = time_matmul(m, k, n, dtype, reps)
                    rate = 2 * m * k * n / sec / 1e9
                    rates[(f"{group}:{label}", threads, dtype)] = rate
                    cells.append(f"{rate:6.1f} ({100 * rate / (peak[pk] * threads):3.0f}%)")
            print(f"{label:34s} {f'{m},{k},{n}':>16s} " + " ".join(c.rjust(14) for c in cells))
    torch.set_num_threads(threads_list[0])
    for group, shapes in groups[:2]:
        for threads in threads_list:
            for dtype in (torch.float32, torch.bfloat16):
                flops = sum(2 * m * k * n * c for _, m, k, n, c in shapes)
                sec = sum(2 * m * k * n * c / (rates[(f"{group}:{lbl}", threads, dtype)] * 1e9)
                          for lbl, m, k, n, c in shapes)
                rates[(f"{group}:ceiling", threads, dtype)] = flops / sec / 1e9
                print(f"{group} matmul ceiling, {str(dtype)[6:]}, {threads} thread(s): "
                      f"{flops / 1e9:.2f} GFLOP of linear layers in {sec * 1e3:.0f} ms = "
                      f"{flops / sec / 1e9:.1f} GFLOP/s")
    return rates


# ----------------------------------------------------------------------------- 3. steps
class Step:
    """One optimizer step exactly as ``fine_tune``'s loop body (without accelerate, which on
    one CPU process only wraps; ``accelerator.backward`` is ``loss.backward``)."""

    def __init__(self, setup: RunSetup) -> None:
        from transformers import get_linear_schedule_with_warmup

        from junk_dna.training.finetune import parameter_groups

        cfg = setup.config
        self.model = setup.model
        self.optimizer = torch.optim.AdamW(parameter_groups(self.model, cfg.weight_decay),
                                           lr=cfg.learning_rate, fused=True)
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, 5, 78)
        self.enforcer = setup.make_enforcer(self.model)
        self.enforcer.start()
        self.model.train()

    def __call__(self, batch: dict[str, torch.Tensor], marks: bool = False) -> float:
        return instrumented_step(self.model, batch, self.optimizer, self.scheduler,
                                 self.enforcer, marks=marks)


def count_flops(fn) -> tuple[int, dict[str, int]]:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    per_op: dict[str, int] = defaultdict(int)
    for op, c in counter.get_flop_counts().get("Global", {}).items():
        per_op[str(op).removeprefix("aten.").split(".")[0]] += int(c)
    return int(counter.get_total_flops()), per_op


def step_flops(step: Step, batch: dict[str, torch.Tensor]) -> tuple[int, dict[str, int]]:
    """FLOPs of forward + backward of one batch (no optimizer step taken, grads dropped)."""

    def fwd_bwd():
        step.model(**batch).loss.backward()

    total, per_op = count_flops(fwd_bwd)
    step.optimizer.zero_grad(set_to_none=True)
    return total, per_op


def section_steps(threads_list: list[int], n_steps: int, peak: dict[str, float],
                  rates: dict) -> dict[str, object]:
    print(f"\n## 3a. Achieved FLOP/s of real fine-tune steps (default preset, {n_steps} "
          "consecutive batches of epoch 1, after 2 warm-up steps)")
    out: dict[str, object] = {}
    for mode in ("sparse", "freeze", "dense"):
        setup = prepare_run(mode=mode, sparsity=0.5)
        batches = epoch_batches(setup)
        step = Step(setup)
        measured = batches[2: 2 + n_steps]
        flops, per_op = 0, defaultdict(int)
        for b in measured:
            f, ops = step_flops(step, b)
            flops += f
            for k, v in ops.items():
                per_op[k] += v
        padded = sum(batch_tokens(b)[0] for b in measured)
        real = sum(batch_tokens(b)[1] for b in measured)
        if mode == "sparse":
            share = {k: f"{100 * v / flops:.1f}%" for k, v in sorted(per_op.items())}
            print(f"FLOPs of fwd+bwd: {flops / n_steps / 1e9:.2f} GFLOP per step on average "
                  f"({padded / n_steps:.0f} padded tokens, {real / n_steps:.0f} real); by op: "
                  f"{share}; {flops / padded / 1e6:.1f} MFLOP per padded token")
            out["flops_per_step"] = flops / n_steps
        for threads in threads_list:
            torch.set_num_threads(threads)
            for b in batches[:2]:
                step(b)
            walls, cpus, procs = [], [], 0.0
            for b in measured:
                with Timer() as t:
                    step(b)
                walls.append(t.wall)
                cpus.append(t.thread)
                procs += t.proc
            wall, cpu = sum(walls), sum(cpus)
            ceiling = rates[("MiniLM step:ceiling", threads, torch.float32)]
            if threads == 1:  # per CPU-second: what the core did while it ran this process
                rate = flops / cpu / 1e9
                line = (f"{mode:6s} 1 thread : {cpu / n_steps * 1e3:5.0f} ms/step CPU "
                        f"({wall / n_steps * 1e3:.0f} wall, cpu/wall {cpu / wall:.2f}), "
                        f"{16 * n_steps / cpu:5.1f} sentences per CPU-second, "
                        f"{rate:5.1f} GFLOP/s = {100 * rate / peak['fp32_core']:4.1f}% of the "
                        f"fp32 peak, {100 * rate / ceiling:4.1f}% of the measured matmul ceiling")
            else:
                rate = flops / wall / 1e9
                line = (f"{mode:6s} {threads} threads: {wall / n_steps * 1e3:5.0f} ms/step wall "
                        f"(process cpu/wall {procs / wall:.2f}), {16 * n_steps / wall:5.1f} "
                        f"sentences/s, {rate:5.1f} GFLOP/s = "
                        f"{100 * rate / (peak['fp32_core'] * threads):4.1f}% of the fp32 peak "
                        f"of {threads} cores, {100 * rate / ceiling:4.1f}% of the measured "
                        "matmul ceiling")
            print(line)
            out[f"{mode}@{threads}"] = rate
        torch.set_num_threads(threads_list[0])
        if mode == "sparse":
            after_step(measured, flops, peak, rates)
        del step, setup
    return out


def after_step(measured: list, flops: int, peak: dict[str, float], rates: dict) -> None:
    """The same batches through bench_finetune's prototype (bf16 autocast + compact
    embedding, a fresh sparse run), 1 thread, interleaved with today's step."""
    from bench_finetune import STEP_VARIANTS, Trainer

    torch.set_num_threads(1)
    trainers = {}
    for name in ("baseline", "bf16+compact"):
        setup = prepare_run(mode="sparse", sparsity=0.5)
        trainers[name] = Trainer(setup, STEP_VARIANTS[name], 78)
        for b in measured[:2]:
            trainers[name].step(b)
    cpu = {name: 0.0 for name in trainers}
    for b in measured:
        for name, tr in trainers.items():
            with Timer() as t:
                tr.step(b)
            cpu[name] += t.thread
    n = len(measured)
    for name, c in cpu.items():
        rate = flops / c / 1e9
        print(f"  {'before' if name == 'baseline' else 'after '} ({name:12s}): {c / n * 1e3:5.0f} "
              f"ms/step CPU, {16 * n / c:5.1f} sentences per CPU-second, {rate:5.1f} GFLOP/s = "
              f"{100 * rate / peak['fp32_core']:4.1f}% of the fp32 peak, "
              f"{100 * rate / peak['bf16_core']:4.1f}% of the bf16 peak, "
              f"{100 * rate / rates[('MiniLM step:ceiling', 1, torch.bfloat16)]:4.1f}% of the "
              "measured bf16 matmul ceiling")
    print(f"  ratio {cpu['baseline'] / cpu['bf16+compact']:.2f}x per CPU-second (same batches, "
          "interleaved)")


def sciq_questions(n: int, tokenizer) -> list:
    from junk_dna.data.qa_tasks import format_prompt, load_mc
    from junk_dna.evaluation.lm_scoring import MCPrompt

    qs = load_mc("sciq", n=n, support_only=True)
    return [MCPrompt(context=format_prompt(q, "mc_open", context_tokens=None,
                                             tokenizer=tokenizer),
                       options=tuple(q.options), label=q.label) for q in qs]


def section_lm(threads_list: list[int], n_questions: int, peak: dict[str, float],
               rates: dict) -> None:
    from junk_dna.evaluation.lm_scoring import score_multiple_choice
    from junk_dna.models.causal_lm import load_causal_lm

    print(f"\n## 3b. Achieved FLOP/s of SmolLM2-135M scoring (score_multiple_choice, "
          f"shared_context, batch_tokens 1024; {n_questions} SciQ questions, open book)")
    lm = load_causal_lm("smollm2")
    model, tok = lm.model, lm.tokenizer
    questions = sciq_questions(n_questions, tok)
    ctx = [len(tok(q.context, add_special_tokens=False)["input_ids"]) for q in questions]
    print(f"context tokens per question: mean {sum(ctx) / len(ctx):.0f}, max {max(ctx)}; "
          f"4 options each")
    score_multiple_choice(model, tok, questions[:2])
    flops, per_op = count_flops(lambda: score_multiple_choice(model, tok, questions))
    share = {k: f"{100 * v / flops:.1f}%" for k, v in sorted(per_op.items())}
    print(f"FLOPs: {flops / 1e9:.1f} GFLOP for {len(questions)} questions "
          f"({flops / len(questions) / 1e9:.2f} per question); by op {share}")
    for threads in threads_list:
        torch.set_num_threads(threads)
        walls, cpus = [], []
        for _ in range(3):
            with Timer() as t:
                score_multiple_choice(model, tok, questions)
            walls.append(t.wall)
            cpus.append(t.thread)
        wall, cpu = median(walls), median(cpus)
        ceiling = rates[("SmolLM2 scoring:ceiling", threads, torch.float32)]
        t = cpu if threads == 1 else wall
        rate = flops / t / 1e9
        line = (f"{threads} thread(s): {t:.2f} s {'CPU' if threads == 1 else 'wall'} "
                f"(wall {wall:.2f}), {len(questions) / t:.2f} questions/s, {rate:.1f} GFLOP/s = "
                f"{100 * rate / (peak['fp32_core'] * threads):.1f}% of the fp32 peak, "
                f"{100 * rate / ceiling:.1f}% of the measured matmul ceiling")
        print(line)
    torch.set_num_threads(threads_list[0])


# ----------------------------------------------------------------------------- 4. profile
FAMILIES: list[tuple[str, tuple[str, ...]]] = [
    ("matmul (linear layers: mm, addmm)", ("aten::mm", "aten::addmm", "aten::linear")),
    ("attention (bmm, softmax, sdpa glue)", ("aten::bmm", "aten::baddbmm", "aten::_softmax",
                                             "aten::_safe_softmax", "aten::_softmax_backward_data",
                                             "aten::scaled_dot_product_attention",
                                             "aten::_scaled_dot_product_attention_math")),
    ("embedding gradient (dense 30522x384: zero fill + index_add)",
     ("aten::embedding_dense_backward", "aten::embedding_backward")),
    ("embedding lookup", ("aten::embedding",)),
    ("layernorm", ("aten::native_layer_norm", "aten::native_layer_norm_backward")),
    ("GELU / tanh", ("aten::gelu", "aten::gelu_backward", "aten::tanh", "aten::tanh_backward")),
    ("dropout (bernoulli mask, scale)", ("aten::native_dropout", "aten::native_dropout_backward",
                                         "aten::dropout", "aten::bernoulli_", "aten::bernoulli")),
    ("loss (cross entropy)", ("aten::cross_entropy_loss", "aten::nll_loss_forward",
                              "aten::nll_loss_backward", "aten::_log_softmax",
                              "aten::_log_softmax_backward_data")),
    ("bias grads / reductions (sum)", ("aten::sum",)),
    ("copies / dtype casts (copy_, _to_copy)", ("aten::copy_", "aten::_to_copy")),
]
PHASE_FAMILIES = {"## optimizer": "optimizer (fused AdamW, 22.7M params)",
                  "## zero_grad": "zero_grad(set_to_none)", "## scheduler": "LR scheduler",
                  "## mask enforcement": "mask enforcement (MaskEnforcer.after_step)",
                  "## loss.item": "loss.item()"}


def _family(event) -> str:
    node = event
    while node is not None:
        name = node.name
        if name in PHASE_FAMILIES:
            return PHASE_FAMILIES[name]
        for fam, names in FAMILIES:
            if name in names:
                return fam
        node = node.cpu_parent
    return "other aten ops (copies, views, adds, masks)"


def profile_steps(step: Callable[..., Any], batches: list, title: str) -> None:
    """Profile ``step(batch, marks=True)`` over ``batches`` and print the family table.

    ``step`` marks its phases with ``record_function("## optimizer")`` etc. (see
    :data:`PHASE_FAMILIES`); ops of other phases are attributed by :func:`_family`."""
    from torch.profiler import ProfilerActivity, profile

    n_steps = len(batches)
    unprofiled, unprofiled_cpu = [], []
    for b in batches:
        with Timer() as t:
            step(b)
        unprofiled.append(t.wall)
        unprofiled_cpu.append(t.thread)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for b in batches:
            step(b, marks=True)
        wall = time.perf_counter() - t0
    fam: dict[str, float] = defaultdict(float)
    aten_self = 0.0
    events = prof.events()
    main = threading.get_native_id()
    threads_seen = {ev.thread for ev in events}
    for ev in events:
        if not ev.name.startswith("aten::") or (main in threads_seen and ev.thread != main):
            continue
        self_us = ev.self_cpu_time_total
        aten_self += self_us
        fam[_family(ev)] += self_us
    fam["Python / dispatch / autograd engine (wall - aten self time)"] = wall * 1e6 - aten_self
    total = wall * 1e6
    print(f"{title}: profiled {wall / n_steps * 1e3:.0f} ms/step wall (unprofiled, same "
          f"batches: {sum(unprofiled) / n_steps * 1e3:.0f} ms/step wall, "
          f"{sum(unprofiled_cpu) / n_steps * 1e3:.0f} ms/step CPU, cpu/wall "
          f"{sum(unprofiled_cpu) / sum(unprofiled):.2f}); threads in the trace: "
          f"{len(threads_seen)}")
    print(f"{'family':66s} {'ms/step':>8s} {'share':>7s}")
    for name, us in sorted(fam.items(), key=lambda kv: -kv[1]):
        print(f"{name:66s} {us / n_steps / 1e3:8.1f} {100 * us / total:6.1f}%")


def section_profile(n_steps: int, mode: str = "sparse") -> None:
    print(f"\n## 4. Profile of one step by operator family ({mode} 50 %, 1 thread, "
          f"{n_steps} real steps; self times are wall-clock, so a loaded machine stretches "
          "them all)")
    torch.set_num_threads(1)
    setup = prepare_run(mode=mode, sparsity=0.5)
    batches = epoch_batches(setup)
    step = Step(setup)
    for b in batches[:2]:
        step(b)
    profile_steps(step, batches[2: 2 + n_steps], "fine_tune's step")


def section_bandwidth(flops_info: dict) -> None:
    print("\n## 5. Memory bandwidth vs the optimizer")
    torch.set_num_threads(1)
    a = torch.ones(64 * 1024 * 1024)
    b = torch.empty_like(a)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        b.copy_(a)
        times.append(time.perf_counter() - t0)
    bw = 2 * a.numel() * 4 / min(times) / 1e9
    n = 22_713_986
    p, g = torch.randn(n), torch.randn(n)
    m, v = torch.zeros(n), torch.zeros(n)
    steps = torch.zeros(())
    for _ in range(2):
        torch._fused_adamw_([p], [g], [m], [v], [], [steps], lr=1e-4, beta1=0.9, beta2=0.999,
                            weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        torch._fused_adamw_([p], [g], [m], [v], [], [steps], lr=1e-4, beta1=0.9, beta2=0.999,
                            weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)
        times.append(time.perf_counter() - t0)
    t = median(times)
    print(f"copy of 256 MB, 1 thread: {bw:.1f} GB/s (read + write); fused AdamW over 22.7M "
          f"params: {t * 1e3:.1f} ms = {28 * n / t / 1e9:.1f} GB/s of its 28 B/param traffic; "
          f"over the 3,688 training-vocabulary rows + encoder instead (11.0M + 1.4M params): "
          f"about {t * (22.7 - 11.7 + 1.4) / 22.7 * 1e3:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=12, help="real steps timed per mode")
    parser.add_argument("--reps", type=int, default=15, help="matmul timing reps")
    parser.add_argument("--lm-questions", type=int, default=24)
    parser.add_argument("--skip-lm", action="store_true")
    parser.add_argument("--only", nargs="*", default=None,
                        help="sections to run: peak matmul steps lm profile bandwidth")
    args = parser.parse_args()
    only = set(args.only or ["peak", "matmul", "steps", "lm", "profile", "bandwidth"])
    torch.set_num_threads(args.threads[0])
    print(f"# torch {torch.__version__}, {platform.machine()}, threads {args.threads}, "
          f"cpu capability {torch.backends.cpu.get_cpu_capability()}")
    print(load_line("start"))
    peak = section_peak() if "peak" in only else {"fp32_core": 32 * cpu_facts()["nominal_ghz"],
                                                   "bf16_core": 64 * cpu_facts()["nominal_ghz"]}
    # the shapes of a median batch of the default's epoch 1 and of a 1024-token scoring batch
    setup = prepare_run(mode="dense")
    lengths = sorted(b["input_ids"].shape[1] for b in epoch_batches(setup))
    m_step = 16 * lengths[len(lengths) // 2]
    print(f"\nepoch-1 batches: padded lengths {lengths[0]}..{lengths[-1]}, median "
          f"{lengths[len(lengths) // 2]} -> M = {m_step} tokens per step")
    del setup
    rates = section_matmul(m_step, 1024, args.threads, args.reps, peak) \
        if {"matmul", "steps", "lm"} & only else {}
    info: dict = {}
    if "steps" in only:
        info = section_steps(args.threads, args.steps, peak, rates)
    if "lm" in only and not args.skip_lm:
        section_lm(args.threads, args.lm_questions, peak, rates)
    if "profile" in only:
        section_profile(args.steps)
    if "bandwidth" in only:
        section_bandwidth(info)
    print(load_line("end"))


if __name__ == "__main__":
    main()
