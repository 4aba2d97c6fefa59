"""Zero-shot scoring on SmolLM2-135M: option_count scored once, and bf16 scoring.

Run (``HF_HUB_OFFLINE=1``): ``python benchmarks/bench_zero_shot.py --option-count [--n 200]``
and ``python benchmarks/bench_zero_shot.py --bf16 [--tasks arc_easy:300 sciq:100]``.

``--option-count`` compares, on the first ``--n`` CommonsenseQA questions (the option_count
experiment's default task, conditions k = 2, 3, 5, seed 0):

* the named baseline, the path before issue 15: for each k the questions are cut to k
  options (``qa_tasks.subsample_options``) and ``score_multiple_choice`` scores them
  (2 + 3 + 5 = 10 options and 3 context passes per question);
* the package's path, ``evaluate_conditions`` of an option_count config: every question is
  scored once with all its options, then each k takes the argmaxes over its kept options'
  log-likelihoods (``lm_scoring.subset_record``). An option's log-likelihood depends on its
  context and its own text only (the prompt lists no options), so this is the same quantity;
  it can differ only by float rounding of different batch compositions (padding). The
  script counts per-question disagreements and compares metrics.

Both run alternately, ``--reps`` times, 1 thread; the ratio is of medians.

``--bf16`` scores the same questions with the fp32 model (baseline), the model loaded in
bfloat16 (``load_causal_lm(dtype="bfloat16")``: weights and activations bf16, log-softmax in
fp32 as ``score_multiple_choice`` does) and the fp32 model under ``torch.autocast`` bf16
(matmuls in bf16, weights kept fp32), and prints questions/s, the ratio to fp32, and how many
questions change their ``acc`` or ``acc_norm`` prediction, plus the accuracies.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from finetune_common import Timer, load_line, median  # noqa: E402

from junk_dna.data import qa_tasks  # noqa: E402
from junk_dna.evaluation.lm_scoring import MCPrompt, score_multiple_choice  # noqa: E402
from junk_dna.experiments.conditions import evaluate_conditions, formatted, load_mc  # noqa: E402
from junk_dna.experiments.zero_shot import EXPERIMENT_DEFAULTS, ZeroShotConfig  # noqa: E402
from junk_dna.models.causal_lm import load_causal_lm  # noqa: E402


def mc_questions(qs, fmt: str = "mc", tokenizer=None) -> list[MCPrompt]:
    return [MCPrompt(context=qa_tasks.format_prompt(q, fmt, tokenizer=tokenizer),
                     options=tuple(q.options), label=q.label) for q in qs]


def baseline_option_count(model, tok, cfg: ZeroShotConfig) -> dict[str, list[float]]:
    """The path before issue 15: each k's option sets scored on their own; per-question
    ``acc|k=..`` and ``acc_norm|k=..`` as the package records them."""
    qs = load_mc(cfg, support_only=False)
    out: dict[str, list[float]] = {}
    for k in cfg.conditions:
        sub = [qa_tasks.subsample_options(q, k, cfg.seed) for q in qs]
        result = score_multiple_choice(model, tok, formatted(sub, "mc"),
                                       batch_tokens=cfg.batch_tokens)
        out[f"acc|k={k}"] = [float(r.correct) for r in result.records]
        out[f"acc_norm|k={k}"] = [float(r.correct_norm) for r in result.records]
    return out


def package_option_count(model, tok, cfg: ZeroShotConfig) -> dict[str, list[float]]:
    """The package's path (``evaluate_conditions``: all options scored once)."""
    return evaluate_conditions(model, tok, cfg)[1]


def option_count(n: int, reps: int, conditions: list[int], seed: int) -> None:
    defaults = EXPERIMENT_DEFAULTS["option_count"]
    cfg = ZeroShotConfig(**{**defaults, "experiment": "option_count", "method": "dense",
                            "n_questions": n, "conditions": conditions, "seed": seed}
                         ).normalized()
    lm = load_causal_lm(cfg.model)
    model, tok = lm.model, lm.tokenizer
    print(f"{cfg.task}, {cfg.n_questions} questions, k = {conditions}, seed {seed}; "
          f"{cfg.model} {cfg.dtype}, {torch.get_num_threads()} thread(s)")
    package_option_count(model, tok, ZeroShotConfig(**{**vars(cfg), "n_questions": 4}))
    paths = {"baseline (per k)": baseline_option_count,
             "package (once)": package_option_count}
    times: dict[str, list[float]] = {name: [] for name in paths}
    results = {}
    for r in range(reps):
        for name in (list(paths) if r % 2 == 0 else list(reversed(list(paths)))):
            with Timer() as t:
                results[name] = paths[name](model, tok, cfg)
            times[name].append(t.wall)
    base, once = results["baseline (per k)"], results["package (once)"]
    for name, ts in times.items():
        print(f"{name:20s} {median(ts):6.2f} s (median of {reps}: "
              f"{', '.join(f'{x:.1f}' for x in ts)}), {n / median(ts):.2f} questions/s")
    print(f"ratio: {median(times['baseline (per k)']) / median(times['package (once)']):.2f}x")
    for k in conditions:
        line = [f"k={k}:"]
        for metric in ("acc", "acc_norm"):
            key = f"{metric}|k={k}"
            differ = sum(a != b for a, b in zip(base[key], once[key], strict=True))
            line.append(f"{metric} {sum(base[key]) / n:.3f} vs {sum(once[key]) / n:.3f} "
                        f"({differ} of {n} question outcomes differ);")
        print(" ".join(line))


def bf16(tasks: list[tuple[str, int]], reps: int) -> None:
    fp32 = load_causal_lm("smollm2")
    tok = fp32.tokenizer
    bf = load_causal_lm("smollm2", dtype="bfloat16").model
    variants = {"fp32": (fp32.model, nullcontext),
                "bf16 weights": (bf, nullcontext),
                "fp32 + autocast bf16": (fp32.model,
                                         lambda: torch.autocast("cpu", dtype=torch.bfloat16))}
    for task, n in tasks:
        if task == "sciq":
            qs = mc_questions(qa_tasks.load_mc("sciq", n=n, support_only=True), "mc_open", tok)
        else:
            qs = mc_questions(qa_tasks.load_mc(task, n=n))
        for model, ctx in variants.values():
            with ctx():
                score_multiple_choice(model, tok, qs[:2])
        times = {name: [] for name in variants}
        recs = {}
        for r in range(reps):
            names = list(variants) if r % 2 == 0 else list(reversed(list(variants)))
            for name in names:
                model, ctx = variants[name]
                with ctx(), Timer() as t:
                    res = score_multiple_choice(model, tok, qs)
                times[name].append(t.wall)
                recs[name] = res
        base = recs["fp32"]
        kind = "open book, full passage" if task == "sciq" else "zero-shot"
        print(f"\n{task}: {len(qs)} questions ({kind})")
        for name in variants:
            res = recs[name]
            d = sum(a.pred != b.pred for a, b in zip(base.records, res.records, strict=True))
            dn = sum(a.pred_norm != b.pred_norm
                     for a, b in zip(base.records, res.records, strict=True))
            dll = max(abs(x - y) for a, b in zip(base.records, res.records, strict=True)
                      for x, y in zip(a.logliks, b.logliks, strict=True))
            t = median(times[name])
            print(f"  {name:22s} {t:6.2f} s, {len(qs) / t:6.2f} q/s, "
                  f"{median(times['fp32']) / median(times[name]):.2f}x; acc {res.acc:.3f} "
                  f"acc_norm {res.acc_norm:.3f}; predictions differing from fp32: acc {d}, "
                  f"acc_norm {dn} of {len(qs)}; max |d loglik| {dll:.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--option-count", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--conditions", type=int, nargs="+", default=[2, 3, 5])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", nargs="+", default=["arc_easy:300", "sciq:100"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {args.threads} thread(s)")
    print(load_line("start"), flush=True)
    if args.option_count:
        option_count(args.n, args.reps, args.conditions, args.seed)
    if args.bf16:
        bf16([(t.split(":")[0], int(t.split(":")[1])) for t in args.tasks], args.reps)
    print(load_line("end"))


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"# {time.perf_counter() - start:.0f} s")
