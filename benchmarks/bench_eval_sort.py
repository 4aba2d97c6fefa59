"""Evaluation sorted by length vs. the dataset order: time of junk_dna.training.finetune.evaluate.

Run: HF_HUB_OFFLINE=1 python benchmarks/bench_eval_sort.py [--reps 5]
Baseline (named): the dataset order, timed in the same process.
One process, torch.set_num_threads(1); the two orders are timed alternately (median of reps),
after one warm-up pass each; eval batch 64 and max_length 128 (TrainConfig defaults).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding

from junk_dna.data import MC_FIELDS, encode, load_task
from junk_dna.models import load_model
from junk_dna.training import MultipleChoiceCollator, TrainConfig, eval_order, evaluate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tasks", default="csqa-embedded,sst2-embedded")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = TrainConfig()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, "
          f"load average {os.getloadavg()[0]:.2f}; eval batch {cfg.eval_batch_size}, "
          f"max_length {cfg.max_length}")
    for task in args.tasks.split(","):
        data = load_task(task)
        spec = data.spec
        mc = tuple(spec.text_fields) == MC_FIELDS
        loaded = load_model("minilm", head="multiple_choice" if mc else "sequence_classification",
                            num_labels=spec.num_labels)
        model, tok = loaded.model, loaded.tokenizer
        split, cols = next(iter(data.evals.items()))
        feats = encode(tok, cols, spec.text_fields, cfg.max_length)
        collate = MultipleChoiceCollator(tok) if mc else DataCollatorWithPadding(tok)
        loaders = {
            "dataset order": DataLoader(feats, batch_size=cfg.eval_batch_size, collate_fn=collate),
            "sorted by length": DataLoader([feats[i] for i in eval_order(feats)],
                                           batch_size=cfg.eval_batch_size, collate_fn=collate),
        }
        tokens = {name: sum(b["input_ids"].numel() for b in loader)
                  for name, loader in loaders.items()}
        scores = {name: evaluate(model, loader, spec.metric, spec.num_labels)  # warm-up
                  for name, loader in loaders.items()}
        times: dict[str, list[float]] = {name: [] for name in loaders}
        for _ in range(args.reps):
            for name, loader in loaders.items():
                start = time.perf_counter()
                evaluate(model, loader, spec.metric, spec.num_labels)
                times[name].append(time.perf_counter() - start)
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"\n{task} ({split}: {len(feats)} examples{', multiple choice' if mc else ''}, "
              f"model minilm)")
        for name in loaders:
            print(f"  {name:17s} {med[name]:7.3f} s (median of {args.reps}; "
                  f"{tokens[name]} padded tokens)  metrics {scores[name]}")
        same = all(abs(scores['dataset order'][k] - scores['sorted by length'][k]) < 1e-9
                   for k in scores['dataset order'])
        print(f"  speed-up {med['dataset order'] / med['sorted by length']:.2f}x; padded tokens "
              f"{tokens['dataset order'] / tokens['sorted by length']:.2f}x fewer; "
              f"same metrics: {same}")


if __name__ == "__main__":
    main()
