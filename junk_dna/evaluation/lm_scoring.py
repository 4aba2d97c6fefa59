"""Zero-shot evaluation of a causal LM: multiple-choice log-likelihood and generative factoid QA.

Multiple choice (:func:`score_multiple_choice`) follows lm-evaluation-harness: each option is a
*continuation* of the question's context; its score is the sum of the log-probabilities of the
continuation's tokens given the context. Context and continuation are tokenized separately
(no special tokens) and concatenated; trailing whitespace of the context is moved to the front
of the continuation first; an empty context is replaced by one prefix token (BOS, else EOS).
``acc`` takes the argmax of the raw sums, ``acc_norm`` the argmax of the sums divided by the
option's length in characters (lm-eval's ``acc_norm``; the length of the option text without
the target delimiter). Ties go to the first option (``argmax``).

Scoring is batched. The default ``strategy="shared_context"`` runs each question's context once
(a batch of questions, left-padded) and scores all its options from that key/value cache (a
batch of option rows, right-padded); ``"full"`` runs every context+option sequence on its own
(sorted by length, right-padded). Both only project the positions that are needed onto the
vocabulary. They give the same numbers up to floating-point noise (about 1e-5 on a tiny model,
a few 1e-4 on SmolLM2 sums); the first is faster when options are short compared to the context
(ARC-Easy on SmolLM2, 1 CPU thread: ~3.5x the naive per-option loop vs ~1.5x for ``"full"``,
``benchmarks/bench_mc_scoring.py``).

Truncation: when ``context + continuation`` exceeds ``max_length`` tokens (default: the model's
``max_position_embeddings``), tokens are dropped from the LEFT of the context, exactly as lm-eval
does (the last ``max_length + 1`` tokens of ``context + continuation`` are kept, the input is
those minus the last one); such questions are scored with the ``"full"`` path, per option.

Generation (:func:`generate_greedy`) is batched greedy decoding with left padding,
``max_new_tokens`` (default 32, as the paper's original code) and early stopping once every
sequence of a batch has produced a newline or EOS; finished sequences leave the batch. The
answer is the generated text up to its first newline, stripped. :func:`squad_scores` computes
SQuAD v1.1 exact match and token F1 (official normalization, maximum over answer aliases) and
the original code's containment test (:func:`containment`: the normalized answer contains a
normalized alias), except that an empty prediction always scores 0 (the original counted it
as correct), through the SQuAD ``evaluate`` module shipped in the package
(:mod:`junk_dna.evaluation.metric_modules`).

Everything runs under ``torch.inference_mode`` with the model in eval mode and is deterministic
for a given model, data and batch parameters.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from junk_dna.evaluation.metric_modules import load_metric, metric_script

STRATEGIES: tuple[str, ...] = ("shared_context", "full")


# --------------------------------------------------------------------------- multiple choice
@dataclass(frozen=True)
class MCPrompt:
    """One multiple-choice question as scored: its formatted prompt and its options
    (:func:`junk_dna.data.qa_tasks.format_prompt` makes the prompt of a
    :class:`junk_dna.data.qa_tasks.MCQuestion`).

    Attributes:
        context: the prompt, e.g. ``"Question: ...\\nAnswer:"``.
        options: the option texts (the scored continuation is ``target_delimiter + option``).
        label: index of the correct option, or ``None`` if unknown.
    """

    context: str
    options: tuple[str, ...]
    label: int | None = None


@dataclass
class MCRecord:
    """The scores of one question.

    Attributes:
        logliks: per option, the sum of the continuation tokens' log-probabilities.
        n_tokens: per option, the number of continuation tokens scored.
        n_chars: per option, the length used by ``acc_norm`` (characters of the option text).
        pred: ``argmax(logliks)``.
        pred_norm: ``argmax(logliks / n_chars)``.
        label: the correct option or ``None``.
        correct: ``pred == label`` (``None`` without a label).
        correct_norm: ``pred_norm == label`` (``None`` without a label).
        truncated: whether the context was cut from the left for some option.
    """

    logliks: list[float]
    n_tokens: list[int]
    n_chars: list[int]
    pred: int
    pred_norm: int
    label: int | None
    correct: bool | None
    correct_norm: bool | None
    truncated: bool = False


@dataclass
class MCResult:
    """Per-question records and aggregates of :func:`score_multiple_choice`.

    Attributes:
        records: one :class:`MCRecord` per question, in input order.
        acc: mean of ``correct`` over the labelled questions (``None`` if none is labelled).
        acc_norm: mean of ``correct_norm`` over the labelled questions.
        n: number of questions.
        n_truncated: questions whose context was truncated.
    """

    records: list[MCRecord]
    acc: float | None
    acc_norm: float | None
    n: int
    n_truncated: int = 0

    def summary(self) -> dict[str, float | int | None]:
        """``{"acc", "acc_norm", "n", "n_truncated"}``."""
        return {"acc": self.acc, "acc_norm": self.acc_norm, "n": self.n,
                "n_truncated": self.n_truncated}


@dataclass
class _Encoded:
    context: list[int]
    continuations: list[list[int]]


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids of ``(context, continuation)`` as lm-eval builds them for log-likelihood.

    Trailing whitespace of ``context`` moves to the front of ``continuation``; both are
    tokenized separately, without special tokens; an empty context becomes ``[prefix]`` (BOS,
    else EOS).

    Raises:
        ValueError: the continuation encodes to no tokens.
    """
    ctx_ids, conts = _encode_question(tokenizer, context, [continuation])
    return ctx_ids, conts[0]


def score_multiple_choice(
    model: Any,
    tokenizer: Any,
    questions: Sequence[MCPrompt],
    *,
    target_delimiter: str = " ",
    strategy: str = "shared_context",
    batch_tokens: int = 1024,
    max_length: int | None = None,
) -> MCResult:
    """Zero-shot multiple-choice accuracy by log-likelihood (lm-eval's ``acc`` / ``acc_norm``).

    Args:
        model: a ``transformers`` causal LM (any device / dtype; log-softmax in float32).
        tokenizer: its tokenizer (a fast one; padding is done here, its settings are unused).
        questions: the questions; each needs >= 1 non-empty option.
        target_delimiter: put between context and option (lm-eval's default ``" "``).
        strategy: ``"shared_context"`` (context once per question, options from its cache) or
            ``"full"`` (one sequence per option); see the module docstring.
        batch_tokens: memory bound: the padded tokens of one forward pass, counting for each
            option row its context + continuation (a single longer row still runs alone).
            On a 2-core CPU, 512-1024 was fastest for SmolLM2-135M (larger batches fall out
            of the CPU caches); on a GPU, larger values pay off.
        max_length: longest input in tokens (default: ``model.config.max_position_embeddings``).

    Returns:
        :class:`MCResult` with per-question :class:`MCRecord` s in input order.

    Raises:
        ValueError: unknown strategy, empty option list, empty option, an option longer than
            ``max_length`` tokens, a label out of range, or ``batch_tokens < 1``.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; allowed: {list(STRATEGIES)}")
    if batch_tokens < 1:
        raise ValueError(f"batch_tokens must be >= 1, got {batch_tokens}")
    max_length = max_length or _model_max_length(model)
    encoded: list[_Encoded] = []
    for qi, q in enumerate(questions):
        if not q.options:
            raise ValueError(f"question {qi} has no options")
        for oi, opt in enumerate(q.options):
            if not opt:
                raise ValueError(f"question {qi}: option {oi} is empty (cannot be scored)")
        if q.label is not None and not 0 <= q.label < len(q.options):
            raise ValueError(f"question {qi}: label {q.label} out of range for "
                             f"{len(q.options)} options")
        ctx, conts = _encode_question(tokenizer, q.context,
                                      [target_delimiter + o for o in q.options])
        for oi, c in enumerate(conts):
            if len(c) > max_length:
                raise ValueError(f"question {qi}: option {oi} has {len(c)} tokens, more than "
                                 f"max_length={max_length}")
        encoded.append(_Encoded(ctx, conts))

    logliks: list[list[float]] = [[0.0] * len(e.continuations) for e in encoded]
    truncated = [len(e.context) + max(map(len, e.continuations)) - 1 > max_length
                 for e in encoded]
    pad_id = _pad_id(tokenizer)
    with _eval_mode(model):
        if strategy == "shared_context":
            shared = [i for i, t in enumerate(truncated) if not t]
            full_rows = [(i, j) for i, t in enumerate(truncated) if t
                         for j in range(len(encoded[i].continuations))]
            _score_shared(model, encoded, shared, logliks, pad_id, batch_tokens)
        else:
            full_rows = [(i, j) for i, e in enumerate(encoded)
                         for j in range(len(e.continuations))]
        _score_full(model, encoded, full_rows, logliks, pad_id, batch_tokens, max_length)

    records = []
    for q, enc, lls, trunc in zip(questions, encoded, logliks, truncated, strict=True):
        n_chars = [len(o) for o in q.options]
        pred = _argmax(lls)
        pred_norm = _argmax([ll / n for ll, n in zip(lls, n_chars, strict=True)])
        records.append(MCRecord(
            logliks=lls, n_tokens=[len(c) for c in enc.continuations], n_chars=n_chars,
            pred=pred, pred_norm=pred_norm, label=q.label,
            correct=None if q.label is None else pred == q.label,
            correct_norm=None if q.label is None else pred_norm == q.label,
            truncated=trunc,
        ))
    labelled = [r for r in records if r.label is not None]
    acc = sum(bool(r.correct) for r in labelled) / len(labelled) if labelled else None
    acc_norm = (sum(bool(r.correct_norm) for r in labelled) / len(labelled)
                if labelled else None)
    return MCResult(records=records, acc=acc, acc_norm=acc_norm, n=len(records),
                    n_truncated=sum(truncated))


def subset_record(record: MCRecord, keep: Sequence[int], label: int | None = None
                  ) -> MCRecord:
    """The record of the same question restricted to the options ``keep`` (in that order):
    their log-likelihoods, lengths, and ``pred`` / ``pred_norm`` as argmaxes over them (first
    maximum, as :func:`score_multiple_choice`). An option's log-likelihood depends only on the
    context and its own text, so this is the question scored with those options alone, up
    to float rounding of other batch shapes. ``truncated`` stays the whole question's.

    Args:
        record: a question scored with all its options.
        keep: indices into its options.
        label: the gold option's index among ``keep`` (default: the position of
            ``record.label`` in ``keep``; ``None`` if the record has no label).

    Raises:
        ValueError: an empty ``keep``, an index out of range, or a labelled record whose
            gold option ``keep`` drops.
    """
    n = len(record.logliks)
    if not keep or any(not 0 <= i < n for i in keep):
        raise ValueError(f"keep {list(keep)} must be a non-empty list of indices below {n}")
    if label is None and record.label is not None:
        if record.label not in keep:
            raise ValueError(f"keep {list(keep)} drops the gold option {record.label}")
        label = list(keep).index(record.label)
    lls = [record.logliks[i] for i in keep]
    n_chars = [record.n_chars[i] for i in keep]
    pred = _argmax(lls)
    pred_norm = _argmax([ll / c for ll, c in zip(lls, n_chars, strict=True)])
    return MCRecord(logliks=lls, n_tokens=[record.n_tokens[i] for i in keep], n_chars=n_chars,
                    pred=pred, pred_norm=pred_norm, label=label,
                    correct=None if label is None else pred == label,
                    correct_norm=None if label is None else pred_norm == label,
                    truncated=record.truncated)


def _encode_question(tokenizer: Any, context: str,
                     continuations: Sequence[str]) -> tuple[list[int], list[list[int]]]:
    ctx_text = context.rstrip()
    moved = context[len(ctx_text):]
    texts = [ctx_text, *[moved + c for c in continuations]]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    ctx_ids = list(ids[0])
    if not ctx_ids:
        prefix = tokenizer.bos_token_id
        prefix = tokenizer.eos_token_id if prefix is None else prefix
        if prefix is None:
            raise ValueError("empty context and the tokenizer has no BOS/EOS token")
        ctx_ids = [prefix]
    conts = [list(c) for c in ids[1:]]
    for text, c in zip(continuations, conts, strict=True):
        if not c:
            raise ValueError(f"continuation {text!r} encodes to no tokens")
    return ctx_ids, conts


def _score_shared(model: Any, encoded: list[_Encoded], indices: list[int],
                  logliks: list[list[float]], pad_id: int, batch_tokens: int) -> None:
    """Context once per question (left-padded), then its options from the KV cache.

    Pass 1 runs a batch of contexts (sorted by length) and gives each option's first-token
    log-probability from the last position. Pass 2 feeds ``continuation[:-1]`` of the options
    with more than one token, right-padded, on a copy of the cache rows of their questions; the
    option rows are sorted by length and cut into chunks of similar length to bound padding.
    """
    device = _device(model)

    def cost(i: int) -> tuple[int, int]:
        e = encoded[i]
        return len(e.context), max(len(c) for c in e.continuations) - 1

    order = sorted(indices, key=lambda i: (-cost(i)[0], -cost(i)[1], i))
    for batch in _pack(order, lambda b: _shared_cost(b, encoded, cost), batch_tokens):
        lc = max(len(encoded[i].context) for i in batch)
        ids = torch.full((len(batch), lc), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), lc), dtype=torch.long)
        for r, i in enumerate(batch):
            ctx = encoded[i].context
            ids[r, lc - len(ctx):] = torch.tensor(ctx)
            mask[r, lc - len(ctx):] = 1
        ids, mask = ids.to(device), mask.to(device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True,
                    **_keep_kwargs(model, 1))
        first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # [B_q, V]
        rows = [(r, i, j) for r, i in enumerate(batch)
                for j in range(len(encoded[i].continuations))]
        for r, i, j in rows:
            logliks[i][j] = float(first[r, encoded[i].continuations[j][0]])
        rest = [(r, i, j) for r, i, j in rows if len(encoded[i].continuations[j]) > 1]
        rest.sort(key=lambda row: -len(encoded[row[1]].continuations[row[2]]))
        cache = _output_cache(out)
        del out, first
        chunks = list(_length_chunks(
            rest, lambda row: len(encoded[row[1]].continuations[row[2]]), lc, batch_tokens))
        for n, chunk in enumerate(chunks):
            _score_rest(model, encoded, chunk, cache, mask, logliks, pad_id, device,
                        last=n == len(chunks) - 1)
        del cache


def _length_chunks(rows: list[Any], length: Any, prefix: int, budget: int) -> Iterator[list[Any]]:
    """Cut ``rows`` (sorted by ``length`` descending) into chunks that waste little padding.

    A row joins the current chunk if its padding (the chunk's first length minus its own) is at
    most a quarter of that length (or 1 token) and ``rows * (prefix + first length)`` stays
    within ``budget``.
    """
    chunk: list[Any] = []
    for row in rows:
        if chunk:
            top = length(chunk[0])
            waste = top - length(row)
            if waste > max(1, top // 4) or (len(chunk) + 1) * (prefix + top) > budget:
                yield chunk
                chunk = []
        chunk.append(row)
    if chunk:
        yield chunk


def _score_rest(model: Any, encoded: list[_Encoded], rows: list[tuple[int, int, int]],
                cache: Any, ctx_mask: torch.Tensor, logliks: list[list[float]], pad_id: int,
                device: torch.device, *, last: bool) -> None:
    """Pass 2 for ``rows`` = (cache row, question, option): tokens 2.. of each continuation."""
    sel = torch.tensor([r for r, _, _ in rows], device=device)
    rows_cache = cache if last else copy.deepcopy(cache)  # the last chunk may consume it
    rows_cache.batch_select_indices(sel)
    lo = max(len(encoded[i].continuations[j]) - 1 for _, i, j in rows)
    ids = torch.full((len(rows), lo), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), lo), dtype=torch.long)
    targets = torch.zeros((len(rows), lo), dtype=torch.long)
    for k, (_, i, j) in enumerate(rows):
        cont = encoded[i].continuations[j]
        ids[k, : len(cont) - 1] = torch.tensor(cont[:-1])
        mask[k, : len(cont) - 1] = 1
        targets[k, : len(cont) - 1] = torch.tensor(cont[1:])
    ids, mask, targets = ids.to(device), mask.to(device), targets.to(device)
    row_ctx_mask = ctx_mask[sel]
    pos = row_ctx_mask.sum(-1)[:, None] + torch.arange(lo, device=device)[None]
    out = model(input_ids=ids, attention_mask=torch.cat([row_ctx_mask, mask], dim=1),
                position_ids=pos, use_cache=True, **_cache_kwargs(model, rows_cache))
    sums = (_token_logprobs(out.logits, targets) * mask).sum(-1).tolist()  # [R]
    for k, (_, i, j) in enumerate(rows):
        logliks[i][j] += sums[k]


def _shared_cost(batch: list[int], encoded: list[_Encoded], cost: Any) -> int:
    lc = max(cost(i)[0] for i in batch)
    lo = max(cost(i)[1] for i in batch)
    rows = sum(len(encoded[i].continuations) for i in batch)
    return rows * (lc + lo)


def _score_full(model: Any, encoded: list[_Encoded], rows: list[tuple[int, int]],
                logliks: list[list[float]], pad_id: int, batch_tokens: int,
                max_length: int) -> None:
    """One right-padded sequence per (question, option), sorted by length."""
    if not rows:
        return
    device = _device(model)
    seqs: dict[tuple[int, int], tuple[list[int], int, list[int]]] = {}
    for i, j in rows:
        ctx, cont = encoded[i].context, encoded[i].continuations[j]
        whole = (ctx + cont)[-(max_length + 1):]  # lm-eval: truncate the context on the left
        inp = whole[:-1]
        start = len(inp) - len(cont)  # position whose logits predict cont[0]
        seqs[(i, j)] = (inp, start, cont)
    order = sorted(rows, key=lambda k: (-len(seqs[k][0]), k))
    for batch in _pack(order, lambda b: len(b) * max(len(seqs[k][0]) for k in b),
                       batch_tokens):
        length = max(len(seqs[k][0]) for k in batch)
        first = min(seqs[k][1] for k in batch)
        width = max(len(seqs[k][2]) for k in batch)
        ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), length), dtype=torch.long)
        targets = torch.zeros((len(batch), width), dtype=torch.long)
        tmask = torch.zeros((len(batch), width), dtype=torch.long)
        gather_pos = torch.zeros((len(batch), width), dtype=torch.long)
        for r, k in enumerate(batch):
            inp, start, cont = seqs[k]
            ids[r, : len(inp)] = torch.tensor(inp)
            mask[r, : len(inp)] = 1
            targets[r, : len(cont)] = torch.tensor(cont)
            tmask[r, : len(cont)] = 1
            gather_pos[r, : len(cont)] = torch.arange(start, start + len(cont)) - first
        ids, mask = ids.to(device), mask.to(device)
        targets, tmask, gather_pos = targets.to(device), tmask.to(device), gather_pos.to(device)
        out = model(input_ids=ids, attention_mask=mask, use_cache=False,
                    **_keep_kwargs(model, length - first))
        logits = out.logits[:, -(length - first):]  # positions first .. length-1
        sel = logits.gather(1, gather_pos[..., None].expand(-1, -1, logits.shape[-1]))
        token_lp = _token_logprobs(sel, targets) * tmask
        sums = token_lp.sum(-1).tolist()
        for r, (i, j) in enumerate(batch):
            logliks[i][j] = sums[r]
        del out, logits, sel


def _token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``log_softmax(logits)[..., target]`` in float32 without materializing the softmax.

    Shapes: ``logits [B, T, V]``, ``targets [B, T]`` -> ``[B, T]``.
    """
    logits = logits.float()
    picked = logits.gather(-1, targets[..., None]).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


def _pack(order: list[Any], cost: Any, budget: int) -> Iterator[list[Any]]:
    """Consecutive groups of ``order`` whose ``cost(group) <= budget`` (>= 1 item each)."""
    batch: list[Any] = []
    for item in order:
        if batch and cost([*batch, item]) > budget:
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def _argmax(values: Sequence[float]) -> int:
    best = 0
    for k, v in enumerate(values):
        if v > values[best]:
            best = k
    return best


# --------------------------------------------------------------------------- generation
@dataclass
class Generation:
    """One greedy generation.

    Attributes:
        answer: the generated text up to its first newline, stripped.
        text: all generated text (special tokens removed).
        n_new_tokens: tokens generated (including a final newline / EOS token).
        stop: ``"newline"``, ``"eos"`` or ``"length"``.
        prompt_tokens: tokens of the (possibly truncated) prompt.
        truncated: whether the prompt was cut from the left to fit ``max_length``.
    """

    answer: str
    text: str
    n_new_tokens: int
    stop: str
    prompt_tokens: int
    truncated: bool = False


def generate_greedy(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 32,
    batch_size: int = 8,
    stop_at_newline: bool = True,
    add_special_tokens: bool = True,
    max_length: int | None = None,
) -> list[Generation]:
    """Greedy decoding of each prompt, batched with left padding.

    Prompts are sorted by length into batches of ``batch_size``; a sequence stops at EOS, at a
    generated newline (``stop_at_newline``) or after ``max_new_tokens``, and leaves the batch
    (its cache rows are dropped); the batch ends when all its sequences have stopped. A prompt
    longer than ``max_length - max_new_tokens`` tokens (default ``max_length``: the model's
    ``max_position_embeddings``) keeps its last tokens.

    Args:
        model: a ``transformers`` causal LM.
        tokenizer: its tokenizer (padding is done here).
        prompts: the prompts.
        max_new_tokens: most tokens generated per prompt (the original code: 32).
        batch_size: prompts per batch.
        stop_at_newline: stop a sequence once its text contains a newline.
        add_special_tokens: passed to the tokenizer for the prompts (default ``True``, as a
            plain ``tokenizer(prompt)``: Llama tokenizers prepend BOS).
        max_length: see above.

    Returns:
        One :class:`Generation` per prompt, in input order.

    Raises:
        ValueError: ``max_new_tokens < 1``, ``batch_size < 1`` or ``max_length <= max_new_tokens``.
    """
    if max_new_tokens < 1 or batch_size < 1:
        raise ValueError(f"max_new_tokens ({max_new_tokens}) and batch_size ({batch_size}) "
                         "must be >= 1")
    max_length = max_length or _model_max_length(model)
    if max_length <= max_new_tokens:
        raise ValueError(f"max_length ({max_length}) must exceed max_new_tokens "
                         f"({max_new_tokens})")
    budget = max_length - max_new_tokens
    encoded = tokenizer(list(prompts), add_special_tokens=add_special_tokens)["input_ids"]
    encoded = [list(e) for e in encoded]
    truncated = [len(e) > budget for e in encoded]
    encoded = [e[-budget:] if t else e for e, t in zip(encoded, truncated, strict=True)]
    for k, e in enumerate(encoded):
        if not e:
            raise ValueError(f"prompt {k} encodes to no tokens")
    eos = _eos_ids(model, tokenizer)
    pad_id = _pad_id(tokenizer)
    results: list[Generation | None] = [None] * len(encoded)
    order = sorted(range(len(encoded)), key=lambda k: (-len(encoded[k]), k))
    with _eval_mode(model):
        for start in range(0, len(order), batch_size):
            batch = order[start: start + batch_size]
            outs = _greedy_batch(model, tokenizer, [encoded[k] for k in batch], max_new_tokens,
                                 eos, pad_id, stop_at_newline)
            for k, (new_ids, stop) in zip(batch, outs, strict=True):
                text = tokenizer.decode(new_ids, skip_special_tokens=True)
                results[k] = Generation(answer=text.split("\n", 1)[0].strip(), text=text,
                                        n_new_tokens=len(new_ids), stop=stop,
                                        prompt_tokens=len(encoded[k]), truncated=truncated[k])
    return [r for r in results if r is not None]


def _greedy_batch(model: Any, tokenizer: Any, prompts: list[list[int]], max_new_tokens: int,
                  eos: set[int], pad_id: int,
                  stop_at_newline: bool) -> list[tuple[list[int], str]]:
    device = _device(model)
    n, length = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((n, length), pad_id, dtype=torch.long)
    mask = torch.zeros((n, length), dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, length - len(p):] = torch.tensor(p)
        mask[r, length - len(p):] = 1
    ids, mask = ids.to(device), mask.to(device)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True,
                **_keep_kwargs(model, 1))
    cache = _output_cache(out)
    active = list(range(n))  # original row of each current batch row
    generated: list[list[int]] = [[] for _ in range(n)]
    stops = ["length"] * n
    next_pos = pos[:, -1] + 1
    logits = out.logits[:, -1]
    for step in range(max_new_tokens):
        tokens = logits.argmax(-1).tolist()
        keep = []
        for b, (r, tok) in enumerate(zip(active, tokens, strict=True)):
            generated[r].append(tok)
            if tok in eos:
                stops[r] = "eos"
            elif stop_at_newline and "\n" in tokenizer.decode(generated[r]):
                stops[r] = "newline"
            else:
                keep.append(b)
        if not keep or step == max_new_tokens - 1:
            break
        if len(keep) < len(active):
            sel = torch.tensor(keep, device=device)
            cache.batch_select_indices(sel)
            mask, next_pos = mask[sel], next_pos[sel]
            tokens = [tokens[b] for b in keep]
            active = [active[b] for b in keep]
        step_ids = torch.tensor(tokens, device=device)[:, None]
        mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
        out = model(input_ids=step_ids, attention_mask=mask, position_ids=next_pos[:, None],
                    use_cache=True, **_cache_kwargs(model, cache))
        cache, logits = _output_cache(out), out.logits[:, -1]
        next_pos = next_pos + 1
    return [(generated[r], stops[r]) for r in range(n)]


# --------------------------------------------------------------------------- SQuAD metrics
# One definition: the SQuAD ``evaluate`` module shipped in the package
# (junk_dna/evaluation/metrics/squad_metric), loaded offline by path on first use.
def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalization: lowercase, drop punctuation, drop articles, collapse spaces."""
    return metric_script("squad").normalize_answer(text)


def exact_match(prediction: str, answers: str | Sequence[str]) -> float:
    """1.0 if the normalized prediction equals a normalized alias, else 0.0.

    An empty prediction (empty after normalization) scores 0.0 whatever the aliases.

    Raises:
        ValueError: no answer aliases.
    """
    return metric_script("squad").exact_match_score(prediction, answers)


def token_f1(prediction: str, answers: str | Sequence[str]) -> float:
    """SQuAD token F1 (bag of normalized tokens), maximum over the aliases.

    An empty prediction (empty after normalization) scores 0.0.

    Raises:
        ValueError: no answer aliases.
    """
    return metric_script("squad").f1_score(prediction, answers)


def containment(prediction: str, answers: str | Sequence[str]) -> float:
    """1.0 if the normalized prediction contains a non-empty normalized alias (the original
    TriviaQA code's test), else 0.0; an empty prediction scores 0.0.

    Raises:
        ValueError: no answer aliases.
    """
    return metric_script("squad").containment_score(prediction, answers)


def squad_scores(predictions: Sequence[str],
                 references: Sequence[str | Sequence[str]]) -> dict[str, float]:
    """Mean exact match, token F1 and containment (fractions in [0, 1]) over the examples.

    Args:
        predictions: one string per example.
        references: per example, the answer aliases (a string or a sequence of strings).

    Returns:
        ``{"exact_match": ..., "f1": ..., "containment": ..., "n": ...}``.

    Raises:
        ValueError: different lengths, no examples, or an example without aliases.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise ValueError("no examples")
    aliases = [[r] if isinstance(r, str) else list(r) for r in references]
    return dict(load_metric("squad").compute(predictions=list(predictions), references=aliases))


@dataclass
class FactoidResult:
    """Generative QA results: per-example generations and scores, and their means.

    Attributes:
        generations: :class:`Generation` per example.
        exact_match: per example EM (0/1).
        f1: per example token F1.
        containment: per example containment (0/1, :func:`containment`).
        summary: ``{"exact_match", "f1", "containment", "n"}`` means (fractions).
    """

    generations: list[Generation]
    exact_match: list[float]
    f1: list[float]
    containment: list[float]
    summary: dict[str, float] = field(default_factory=dict)


def evaluate_factoid(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    answers: Sequence[str | Sequence[str]],
    **generate_kwargs: Any,
) -> FactoidResult:
    """Greedy-generate an answer per prompt (:func:`generate_greedy`) and score it (SQuAD EM/F1,
    containment).

    Raises:
        ValueError: ``prompts`` and ``answers`` differ in length, or as the called functions.
    """
    if len(prompts) != len(answers):
        raise ValueError(f"{len(prompts)} prompts but {len(answers)} answer lists")
    gens = generate_greedy(model, tokenizer, prompts, **generate_kwargs)
    em = [exact_match(g.answer, a) for g, a in zip(gens, answers, strict=True)]
    f1 = [token_f1(g.answer, a) for g, a in zip(gens, answers, strict=True)]
    contained = [containment(g.answer, a) for g, a in zip(gens, answers, strict=True)]
    summary = squad_scores([g.answer for g in gens], answers) if gens else {}
    return FactoidResult(generations=gens, exact_match=em, f1=f1, containment=contained,
                         summary=summary)


# --------------------------------------------------------------------------- helpers
@contextlib.contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        if was_training:
            model.train()


def _device(model: Any) -> torch.device:
    return model.get_input_embeddings().weight.device


def _pad_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id
    pad = tokenizer.eos_token_id if pad is None else pad
    return 0 if pad is None else int(pad)  # padded positions are masked: any id works


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    generation_config = getattr(model, "generation_config", None)
    for source in (getattr(generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if source is None:
            continue
        ids.update([source] if isinstance(source, int) else source)
    return ids


def _model_max_length(model: Any) -> int:
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


_FORWARD_PARAMS: dict[type, frozenset[str]] = {}


def _forward_params(model: Any) -> frozenset[str]:
    cls = type(model)
    if cls not in _FORWARD_PARAMS:
        _FORWARD_PARAMS[cls] = frozenset(inspect.signature(model.forward).parameters)
    return _FORWARD_PARAMS[cls]


def _keep_kwargs(model: Any, n: int) -> dict[str, int]:
    """``{"logits_to_keep": n}`` if the model's forward takes it (only the last n positions)."""
    return {"logits_to_keep": n} if "logits_to_keep" in _forward_params(model) else {}


def _cache_kwargs(model: Any, cache: Any) -> dict[str, Any]:
    """The KV cache argument: ``cache`` (transformers >= 5.2x) or ``past_key_values``."""
    return {"cache": cache} if "cache" in _forward_params(model) else {"past_key_values": cache}


def _output_cache(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values
