"""Zero-shot scoring on SmolLM2-135M: option_count scored once, and bf16 scoring.

Run (``HF_HUB_OFFLINE=1``): ``python benchmarks/bench_zero_shot.py --option-count [--n 200]``
and ``python benchmarks/bench_zero_shot.py --bf16 [--tasks arc_easy:300 sciq:100]``.

``--option-count`` compares, on the first ``--n`` CommonsenseQA questions (the option_count
preset's task, conditions k = 2, 3, 5, seed 0):

* the named baseline, today's ``evaluate_conditions``: for each k the questions are cut to k
  options (``qa_tasks.subsample_options``) and ``score_multiple_choice`` scores them
  (2 + 3 + 5 = 10 options and 3 context passes per question);
* the prototype: ``score_multiple_choice`` once on the 5-option questions, then, per k, the
  kept options' log-likelihoods are picked from the same record and ``acc`` / ``acc_norm``
  are argmaxes over that subset (ties to the first kept option, as ``_argmax``). An option's
  log-likelihood depends on its context and its own text only (the prompt lists no options),
  so this is the same quantity; it can differ only by float rounding of different batch
  compositions (padding). The script counts per-question disagreements and compares metrics.

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

from junk_dna import qa_tasks  # noqa: E402
from junk_dna.evaluation import MCQuestion, score_multiple_choice  # noqa: E402
from junk_dna.lm_models import load_causal_lm  # noqa: E402


def mc_questions(qs, fmt: str = "mc", tokenizer=None) -> list[MCQuestion]:
    return [MCQuestion(context=qa_tasks.format_prompt(q, fmt, tokenizer=tokenizer),
                       options=tuple(q.options), label=q.label) for q in qs]


def kept_indices(full: list[str], sub: list[str]) -> list[int]:
    """Positions of ``sub``'s options in ``full`` (``sub`` keeps ``full``'s relative order;
    equal texts have equal log-likelihoods, so any in-order match gives the same scores)."""
    out, j = [], 0
    for text in sub:
        while full[j] != text:
            j += 1
        out.append(j)
        j += 1
    return out


def argmax(values: list[float]) -> int:  # first maximum, as junk_dna.evaluation._argmax
    best = 0
    for k, v in enumerate(values):
        if v > values[best]:
            best = k
    return best


def baseline_option_count(model, tok, qs, conditions, seed):
    """Today's path (zero_shot.evaluate_conditions for option_count)."""
    out = {}
    for k in conditions:
        sub = [qa_tasks.subsample_options(q, k, seed) for q in qs]
        result = score_multiple_choice(model, tok, mc_questions(sub))
        out[k] = [(r.pred, r.pred_norm, r.correct, r.correct_norm) for r in result.records]
    return out


def once_option_count(model, tok, qs, conditions, seed):
    """Score all options once; derive every k from the same log-likelihoods."""
    result = score_multiple_choice(model, tok, mc_questions(qs))
    out = {}
    for k in conditions:
        rows = []
        for q, rec in zip(qs, result.records, strict=True):
            sub = qa_tasks.subsample_options(q, k, seed)
            keep = kept_indices(list(q.options), list(sub.options))
            lls = [rec.logliks[i] for i in keep]
            norm = [rec.logliks[i] / rec.n_chars[i] for i in keep]
            pred, pred_norm = argmax(lls), argmax(norm)
            rows.append((pred, pred_norm, pred == sub.label, pred_norm == sub.label))
        out[k] = rows
    return out


def option_count(n: int, reps: int, conditions: list[int], seed: int) -> None:
    lm = load_causal_lm("smollm2")
    model, tok = lm.model, lm.tokenizer
    qs = qa_tasks.load_mc("csqa", n=n)
    print(f"CommonsenseQA, {len(qs)} questions, k = {conditions}, seed {seed}; SmolLM2-135M "
          f"fp32, {torch.get_num_threads()} thread(s)")
    once_option_count(model, tok, qs[:4], conditions, seed)  # warm-up
    times: dict[str, list[float]] = {"baseline (per k)": [], "once (all options)": []}
    results = {}
    for r in range(reps):
        for name in (list(times) if r % 2 == 0 else list(reversed(list(times)))):
            fn = baseline_option_count if name.startswith("baseline") else once_option_count
            with Timer() as t:
                results[name] = fn(model, tok, qs, conditions, seed)
            times[name].append(t.wall)
    base, once = results["baseline (per k)"], results["once (all options)"]
    for name, ts in times.items():
        print(f"{name:20s} {median(ts):6.2f} s (median of {reps}: "
              f"{', '.join(f'{x:.1f}' for x in ts)}), {len(qs) / median(ts):.2f} questions/s")
    print(f"ratio: {median(times['baseline (per k)']) / median(times['once (all options)']):.2f}x")
    for k in conditions:
        d_pred = sum(a[0] != b[0] for a, b in zip(base[k], once[k], strict=True))
        d_norm = sum(a[1] != b[1] for a, b in zip(base[k], once[k], strict=True))
        acc = [sum(bool(x[2]) for x in res[k]) / len(qs) for res in (base, once)]
        acc_n = [sum(bool(x[3]) for x in res[k]) / len(qs) for res in (base, once)]
        print(f"k={k}: acc {acc[0]:.3f} vs {acc[1]:.3f}, acc_norm {acc_n[0]:.3f} vs "
              f"{acc_n[1]:.3f}; questions whose prediction differs: acc {d_pred}, "
              f"acc_norm {d_norm} of {len(qs)}")


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
