"""One real-size training step of the fine-tuning ``paper`` presets, and what a full preset
would cost (issue 16).

The model is ``roberta-large`` built from its configuration (355M parameters; from the local
hub cache when ``roberta-large`` is there, else its published ``config.json`` values below):
random weights, since a step's cost does not depend on their values. The step is the paper
preset's (``true_gem``/``data_adequacy``/``human_gap`` ``paper``: AdamW at lr 2e-5 without
weight decay, linear warm-up schedule, a sequence-classification head) with sparse transfer's
mask enforcement at 50 % global unstructured sparsity (``prunable: original``): forward,
backward, optimizer, scheduler, zero_grad, mask re-projection, exactly as
``benchmarks/finetune_common.instrumented_step`` (``fine_tune``'s loop body).

Printed: the median step time over ``--steps`` timed steps after one warm-up step, the
sequences per second, the achieved TFLOP/s (6 x parameters x tokens, plus attention), and the
peak memory (CPU: the process's maximum RSS; CUDA: ``torch.cuda.max_memory_allocated``).
Then the projected device-hours of each fine-tuning paper preset
(:func:`junk_dna.runs.cost.projection_lines`: the sum over its expanded runs of their
optimizer steps, weighted by the options of multiple-choice tasks, times 16 sequences, times
the seconds per sequence measured at each length); ``--save`` keeps the measurement so that
``junk-dna sweep <experiment> --preset paper --dry-run`` prints the same projection.
Sequences are padded per batch, so the real length of a batch is its longest example: the
512-token projection is an upper bound, the 128-token one is closer for SST-2 / CoLA /
QQP-sized inputs.

On a CPU, batch 16 x 512 needs about 30 GB of activations: use ``--batch-size 2`` (the
projection scales the step time per sequence to the preset's batch of 16, which slightly
overstates the optimizer's share). On a GPU: ``--device cuda --bf16 --batch-size 16``.

Usage::

    python benchmarks/bench_paper_step.py --batch-size 2 --seq-len 128 512 --steps 2
    python benchmarks/bench_paper_step.py --device cuda --bf16 --batch-size 16 --steps 10
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from finetune_common import instrumented_step  # noqa: E402

from junk_dna.pruning.config import PruningConfig  # noqa: E402
from junk_dna.pruning.masks import compute_masks, select_prunable  # noqa: E402
from junk_dna.pruning.transfer import MaskEnforcer  # noqa: E402
from junk_dna.runs.cost import StepTime, projection_lines, save_step_time  # noqa: E402
from junk_dna.runs.presets import expand_preset, load_preset  # noqa: E402

#: roberta-large's published config.json (the sizes that set a step's cost).
ROBERTA_LARGE = dict(vocab_size=50265, hidden_size=1024, num_hidden_layers=24,
                     num_attention_heads=16, intermediate_size=4096,
                     max_position_embeddings=514, type_vocab_size=1, layer_norm_eps=1e-5,
                     pad_token_id=1, bos_token_id=0, eos_token_id=2)
FINETUNE_EXPERIMENTS = ("true_gem", "data_adequacy", "human_gap")


def build_model(device: str) -> torch.nn.Module:
    """roberta-large (2 labels) from the cached hub config if any, else the published one."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, RobertaConfig

    try:
        config = AutoConfig.from_pretrained("roberta-large", num_labels=2,
                                            local_files_only=True)
        source = "local hub cache"
    except OSError:
        config = RobertaConfig(**ROBERTA_LARGE, num_labels=2)
        source = "published config.json values"
    model = AutoModelForSequenceClassification.from_config(config).to(device)
    n = sum(p.numel() for p in model.parameters())
    print(f"roberta-large from {source}: {n / 1e6:.1f}M parameters", flush=True)
    return model


def peak_memory_gb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def measure(model: torch.nn.Module, *, batch: int, length: int, steps: int, device: str,
            bf16: bool) -> float:
    """Median seconds of one optimizer step on random ``[batch, length]`` token ids."""
    from transformers import get_linear_schedule_with_warmup

    params = select_prunable(model, "original", include_embeddings=False)
    masks = compute_masks({k: v.detach() for k, v in params.items()},
                          PruningConfig(pattern="unstructured", sparsity=0.5, scope="global",
                                        seed=0))
    enforcer = MaskEnforcer(params, masks, "sparse")
    enforcer.start()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.0,
                                  fused=device.startswith("cuda"))
    scheduler = get_linear_schedule_with_warmup(optimizer, 10, 1000)
    gen = torch.Generator().manual_seed(0)
    data = {"input_ids": torch.randint(3, ROBERTA_LARGE["vocab_size"], (batch, length),
                                       generator=gen).to(device),
            "attention_mask": torch.ones(batch, length, dtype=torch.long, device=device),
            "labels": torch.randint(0, 2, (batch,), generator=gen).to(device)}
    autocast = (torch.autocast(device.split(":")[0], dtype=torch.bfloat16) if bf16
                else contextlib.nullcontext())
    model.train()
    times = []
    for i in range(steps + 1):  # the first step warms up (allocations, kernels)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        instrumented_step(model, data, optimizer, scheduler, enforcer, autocast=autocast)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - start)
        print(f"  step {i} ({'warm-up' if not i else 'timed'}): "
              f"{time.perf_counter() - start:.2f} s", flush=True)
    return statistics.median(times)


def step_flops(n_params: int, batch: int, length: int, cfg: dict) -> float:
    """Training FLOPs of one step: 6 N per token for the weights, plus attention scores and
    values (forward 4 L^2 d per layer and sequence, x3 with the backward pass)."""
    attention = 3 * 4 * cfg["num_hidden_layers"] * length**2 * cfg["hidden_size"]
    return 6.0 * n_params * batch * length + attention * batch


def preset_runs(experiment: str) -> list[dict]:
    """The expanded runs' parameters of ``experiment``'s paper preset."""
    runs = expand_preset(experiment, load_preset(experiment, "paper"), check_hub=False)
    return [run.params for run in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--seq-len", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per length")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--save", action="store_true",
                        help="save the step times for `junk-dna sweep --dry-run` "
                             "(junk_dna.runs.cost.step_times_path)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device here; allowed: cpu")
    for name, value in (("--batch-size", args.batch_size), ("--steps", args.steps),
                        *(("--seq-len", s) for s in args.seq_len)):
        if value < 1:
            parser.error(f"{name} {value}: must be at least 1")
    if max(args.seq_len) > ROBERTA_LARGE["max_position_embeddings"] - 2:
        parser.error(f"--seq-len {max(args.seq_len)}: roberta-large takes at most 512 tokens")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    where = (torch.cuda.get_device_name(args.device) if args.device.startswith("cuda")
             else f"{platform.processor() or platform.machine()}, "
                  f"{torch.get_num_threads()} threads")
    print(f"device: {args.device} ({where}); torch {torch.__version__}; "
          f"{'bf16 autocast' if args.bf16 else 'fp32'}; batch {args.batch_size}", flush=True)
    model = build_model(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    per_sequence: dict[int, float] = {}
    for length in args.seq_len:
        print(f"length {length}:", flush=True)
        sec = measure(model, batch=args.batch_size, length=length, steps=args.steps,
                      device=args.device, bf16=args.bf16)
        flops = step_flops(n_params, args.batch_size, length, ROBERTA_LARGE)
        per_sequence[length] = sec / args.batch_size
        print(f"  median {sec:.2f} s/step = {args.batch_size / sec:.2f} sequences/s, "
              f"{flops / sec / 1e12:.3f} TFLOP/s achieved ({flops / 1e12:.2f} TFLOP/step); "
              f"peak memory so far {peak_memory_gb(args.device):.1f} GiB", flush=True)
    measured = datetime.date.today().isoformat()
    times = [StepTime("roberta-large", args.device.split(":")[0], where,
                      "bf16" if args.bf16 else "fp32", length, sec, measured)
             for length, sec in per_sequence.items()]
    if args.save:
        for step in times:
            path = save_step_time(step)
        print(f"\nsaved to {path} (`junk-dna sweep ... --preset paper --dry-run` prints "
              f"projections from it)")
    print("\nprojected training time of the fine-tuning paper presets (batch 16):")
    for experiment in FINETUNE_EXPERIMENTS:
        print(f"{experiment}:")
        for line in projection_lines(preset_runs(experiment), times):
            print(f"  {line}")


if __name__ == "__main__":
    main()
