"""One-shot pruning masks: which pre-trained weights to prune, and how.

Conventions
-----------
A *mask* is a ``dict`` name -> ``torch.bool`` tensor of the weight's shape, ``True`` where the
weight is KEPT and ``False`` where it is pruned. Masks are computed under ``torch.no_grad`` and
never modify the weights; :func:`apply_masks` zeroes the pruned weights in place, and
:class:`junk_dna.pruning.transfer.MaskEnforcer` keeps them pruned (or frozen) during fine-tuning.

Patterns (:class:`PruningConfig`)
---------------------------------
``unstructured``
    prune ``k = round(sparsity * n)`` weights, with ``scope="global"`` (ONE threshold over all
    tensors together, as the original GLUE code; per-tensor sparsity varies) or
    ``scope="layer"`` (``round(sparsity * numel)`` per tensor, as the original LLM code).
``nm``
    N:M, ``N`` = weights KEPT in each group of ``M`` consecutive weights along the input
    dimension of every row (the paper figures' convention: ``"7:8"`` prunes 1 of 8).

Criteria: ``magnitude`` prunes the smallest ``|w|``; ``largest`` prunes the largest ``|w|``
(a control); ``random`` prunes a seeded uniformly random set of the same size (a control).

Ties are broken deterministically. Unstructured: elements are ordered by (key ascending,
position ascending), where the key is ``|w|`` (``magnitude``), ``-|w|`` (``largest``) or a
random 62-bit integer (``random``), and position is (tensor order in the mapping, row-major
flat index); the first ``k`` are pruned. This is exactly what a stable argsort of the
concatenated keys prunes. N:M: in each group, among equal ``|w|`` the lower index is kept.

Unstructured selection neither concatenates nor sorts the weights: it is the radix selection
of :mod:`junk_dna.pruning.selection` (on RoBERTa-base, 85M weights, 2 CPU cores, ~0.5 s, vs
~9 s for concatenating and ``torch.topk`` and ~17 s for
``torch.nn.utils.prune.global_unstructured``; ``benchmarks/bench_pruning.py``). The masks of
a whole series of sparsities from one ranking: :func:`junk_dna.pruning.series.mask_series`.
The settings (:class:`~junk_dna.pruning.config.PruningConfig`) are checked without torch in
:mod:`junk_dna.pruning.config`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping

import pandas as pd
import torch
from torch import Tensor, nn

from junk_dna.checks import check_choice
from junk_dna.pruning.config import POLICIES, PruningConfig
from junk_dna.pruning.selection import (
    CHUNK,
    Workspace,
    check_floating,
    check_no_nan,
    select_smallest,
)

# --------------------------------------------------------------------------------------------
# which weights

HEAD_SIDE_MODULES: tuple[str, ...] = ("pooler",)
"""Children of the base model that the ``"encoder"`` policy leaves to the head side (never
pruned, trained like the task head). A pooler sits between the encoder and the task head on the
only path from one to the other; the pre-training objective of many checkpoints never trained
it (sentence-embedding models pool token states themselves; RoBERTa has no next-sentence
task), so its weights can be far smaller than the encoder's: in all-MiniLM-L6-v2 mean |w| is
about 0.007 against 0.03-0.07, and one global threshold prunes it first and almost whole,
which cuts the classifier off (96 % of it at 30 % global sparsity, all of it at 70 %)."""

GUARD_TENSOR_SPARSITY = 0.95
"""The sparsity guard: a tensor pruned more than this share ..."""
GUARD_MAX_TARGET = 0.60
"""... while the run's target sparsity is at most this is flagged (:func:`flag_tensors`): one
global threshold has taken a whole tensor, so the run measures a cut path, not lost knowledge."""


def conv1d_type() -> type | None:
    """transformers' ``Conv1D`` (GPT-2 style linear, weight ``[in, out]``), if importable."""
    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # pragma: no cover - transformers is a dependency
        return None
    return Conv1D


def select_prunable(
    model: nn.Module,
    policy: str = "encoder",
    *,
    include_embeddings: bool = False,
    new_param_names: Collection[str] = (),
) -> dict[str, nn.Parameter]:
    """Select the weights that pruning ranks and masks.

    Args:
        model: a transformers model (with or without a task head) or any ``nn.Module``.
        policy:
            ``"encoder"`` (default): the ``.weight`` of every ``nn.Linear`` and transformers
            ``Conv1D`` inside ``model.base_model`` (the model itself if it has none), minus the
            names in ``new_param_names`` and minus the head side of the base model
            (:func:`head_side_names`: its pooler). Embeddings, norms and biases are never
            included, nor the task head (it lives outside ``base_model``).
            ``"original"``: the original GLUE code: every parameter with 2 or 4 dims whose name
            contains neither ``"bias"`` nor ``"norm"`` (case-insensitive); names containing
            ``"embed"`` only if ``include_embeddings``. This includes the randomly initialized
            classifier head, like the original; ``new_param_names`` is ignored.
        include_embeddings: also select embedding weights (``nn.Embedding`` of the base model
            for ``"encoder"``, names containing ``"embed"`` for ``"original"``, whose
            ``--noembed`` flag is ``include_embeddings=False``).
        new_param_names: names of weights newly initialized because the checkpoint lacked
            them (pass ``loading_info["missing_keys"]``), excluded by ``"encoder"``.

    Returns:
        name -> parameter, in the order of ``model.named_parameters()`` (tied weights once).

    Raises:
        ValueError: unknown ``policy``.
    """
    check_choice("policy", policy, POLICIES)
    if policy == "original":
        selected = {}
        for name, param in model.named_parameters():
            low = name.lower()
            if param.ndim not in (2, 4) or "bias" in low or "norm" in low:
                continue
            if "embed" in low and not include_embeddings:
                continue
            selected[name] = param
        return selected

    base = getattr(model, "base_model", model)
    if not isinstance(base, nn.Module):
        base = model
    kinds: tuple[type, ...] = (nn.Linear,)
    conv1d = conv1d_type()
    if conv1d is not None:
        kinds += (conv1d,)
    if include_embeddings:
        kinds += (nn.Embedding,)
    wanted = {
        id(module.weight)
        for module in base.modules()
        if isinstance(module, kinds) and isinstance(getattr(module, "weight", None), nn.Parameter)
    }
    excluded = set(new_param_names) | set(head_side_names(model))
    return {
        name: param
        for name, param in model.named_parameters()
        if id(param) in wanted and name not in excluded
    }


def head_side_names(model: nn.Module) -> list[str]:
    """Parameter names (as ``model.named_parameters()`` gives them) of the base model's
    head-side children (:data:`HEAD_SIDE_MODULES`, e.g. ``bert.pooler.dense.weight``), which
    the ``"encoder"`` policy never prunes. Empty for a model without them."""
    base = getattr(model, "base_model", model)
    if not isinstance(base, nn.Module):
        base = model
    ids = {id(p) for name, child in base.named_children() if name in HEAD_SIDE_MODULES
           for p in child.parameters()}
    return [name for name, p in model.named_parameters() if id(p) in ids]


def nm_group_dim(module: nn.Module) -> int:
    """The dimension of ``module.weight`` along which N:M groups run (its input dimension).

    ``nn.Linear`` ``[out, in]`` -> 1; transformers ``Conv1D`` ``[in, out]`` -> 0;
    ``nn.Embedding`` ``[vocab, dim]`` -> 1; ``nn.Conv*d`` ``[out, in, *kernel]`` -> 1, meaning
    groups along ``weight.reshape(out, -1)``. Any other module: 1 (assumes ``[out, in, ...]``).
    """
    conv1d = conv1d_type()
    if conv1d is not None and isinstance(module, conv1d):
        return 0
    return 1


def nm_group_dims(model: nn.Module, names: Collection[str]) -> dict[str, int]:
    """:func:`nm_group_dim` of the module owning each parameter name (for ``compute_masks``).

    Args:
        model: the model the names come from (e.g. keys of :func:`select_prunable`).
        names: parameter names such as ``"bert.encoder.layer.0.output.dense.weight"``.

    Returns:
        name -> group dimension (0 or 1).

    Raises:
        ValueError: a name that does not resolve to a submodule of ``model``.
    """
    dims = {}
    for name in names:
        owner = name.rpartition(".")[0]
        try:
            module = model.get_submodule(owner) if owner else model
        except AttributeError as err:
            raise ValueError(f"parameter {name!r} has no owning module in the model") from err
        dims[name] = nm_group_dim(module)
    return dims


# --------------------------------------------------------------------------------------------
# mask creators

MaskCreator = Callable[[Mapping[str, Tensor], PruningConfig, Mapping[str, int]], dict[str, Tensor]]
MASK_CREATORS: dict[tuple[str, str], MaskCreator] = {}
"""Registry ``(pattern, criterion) -> creator(weights, config, group_dims) -> masks``."""


def register_mask_creator(pattern: str, criterion: str) -> Callable[[MaskCreator], MaskCreator]:
    """Decorator registering a mask creator for ``(pattern, criterion)``."""

    def deco(fn: MaskCreator) -> MaskCreator:
        MASK_CREATORS[(pattern, criterion)] = fn
        return fn

    return deco


def n_pruned(sparsity: float, n: int) -> int:
    """Weights pruned at ``sparsity`` among ``n``: ``round(sparsity * n)``."""
    return round(sparsity * n)


def _unstructured(
    weights: Mapping[str, Tensor], config: PruningConfig, kind: str
) -> dict[str, Tensor]:
    if config.scope == "global":
        total = sum(w.numel() for w in weights.values())
        return select_smallest(weights, n_pruned(config.sparsity, total), kind, config.seed)
    masks = {}
    workspace = Workspace()
    for i, (name, w) in enumerate(weights.items()):
        # per-tensor seed so that each tensor's random mask does not depend on the others
        seed = config.seed * 1_000_003 + i
        k = n_pruned(config.sparsity, w.numel())
        masks.update(select_smallest({name: w}, k, kind, seed, workspace))
    return masks


@register_mask_creator("unstructured", "magnitude")
def unstructured_magnitude(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Prune the ``round(sparsity * n)`` smallest |w| (globally or per tensor, per scope)."""
    return _unstructured(weights, config, "magnitude")


@register_mask_creator("unstructured", "largest")
def unstructured_largest(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Prune the ``round(sparsity * n)`` largest |w| (a control)."""
    return _unstructured(weights, config, "largest")


@register_mask_creator("unstructured", "random")
def unstructured_random(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Prune a seeded random set of ``round(sparsity * n)`` weights (a control).

    Ranks i.i.d. uniform 62-bit keys with the same exact selection as magnitude, so the
    pruned set is uniform over all sets of that size (global scope: each tensor gets a
    hypergeometric share). Layer scope uses seed ``seed * 1_000_003 + tensor index``.
    """
    return _unstructured(weights, config, "random")


def nm_grouped(weight: Tensor, m: int, dim: int, name: str) -> Tensor:
    """View ``weight`` as ``(A, M, B)`` with the M-groups along dim 1.

    ``dim == 1``: groups along ``weight.reshape(shape[0], -1)``'s columns (``B == 1``);
    ``dim == 0``: groups along rows of a 2-D ``[in, out]`` weight (``B == out``).
    """
    w = weight.detach()
    if w.ndim == 0:
        raise ValueError(f"weight {name!r} is a scalar; N:M needs a tensor")
    if dim not in (0, 1) or (dim == 0 and w.ndim > 2) or (dim == 1 and w.ndim < 2):
        raise ValueError(
            f"group dim {dim} is not supported for weight {name!r} of shape {tuple(w.shape)}"
        )
    rows = w.shape[0]
    width = rows if dim == 0 else w.numel() // max(rows, 1)
    if width % m:
        raise ValueError(
            f"weight {name!r} has input width {width} (dim {dim} of shape "
            f"{tuple(w.shape)}), not divisible by M = {m}"
        )
    w2 = w.reshape(rows, -1)
    if dim == 0:
        return w2.view(rows // m, m, w2.shape[1])
    return w2.reshape(-1, m, 1)


def nm_keep_order(block: Tensor, kind: str, gen: torch.Generator | None) -> Tensor:
    """Positions within each group of M, most-kept first (stable).

    Args:
        block: grouped weights ``[groups, M, rest]``.
        kind: ``"magnitude"`` keeps the largest ``|w|``, ``"largest"`` the smallest,
            ``"random"`` a random order drawn from ``gen``.

    Returns:
        Sort indices along dim 1, the same shape as ``block``.
    """
    if kind == "random":
        assert gen is not None
        key = torch.rand(block.shape, generator=gen).to(block.device)
        descending = True
    else:
        key = block.abs()
        descending = kind == "magnitude"  # keep the largest |w| (or the smallest)
    return torch.sort(key, dim=1, descending=descending, stable=True).indices


def _nm_masks(
    weights: Mapping[str, Tensor],
    config: PruningConfig,
    group_dims: Mapping[str, int],
    kind: str,
) -> dict[str, Tensor]:
    if kind != "random":
        check_no_nan(weights)
    n, m = config.n_m
    masks = {}
    gen = torch.Generator().manual_seed(config.seed) if kind == "random" else None
    for name, w in weights.items():
        mask = torch.ones(w.shape, dtype=torch.bool, device=w.device)
        if w.numel() == 0:
            masks[name] = mask
            continue
        default = 1 if w.ndim >= 2 else 0
        grouped = nm_grouped(w, m, group_dims.get(name, default), name)
        if n == m:
            masks[name] = mask
            continue
        out = mask.view(grouped.shape)
        per = m * grouped.shape[2]
        step = max(1, CHUNK // per)
        for a in range(0, grouped.shape[0], step):
            block = grouped[a : a + step]
            order = nm_keep_order(block, kind, gen)
            pruned = order[:, n:, :]
            out[a : a + step].scatter_(1, pruned, False)
        masks[name] = mask
    return masks


@register_mask_creator("nm", "magnitude")
def nm_magnitude(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Keep the N largest |w| of every M consecutive input weights (ties: lower index kept)."""
    return _nm_masks(weights, config, group_dims, "magnitude")


@register_mask_creator("nm", "largest")
def nm_largest(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Keep the N smallest |w| of every group of M (a control; ties: lower index kept)."""
    return _nm_masks(weights, config, group_dims, "largest")


@register_mask_creator("nm", "random")
def nm_random(
    weights: Mapping[str, Tensor], config: PruningConfig, group_dims: Mapping[str, int]
) -> dict[str, Tensor]:
    """Keep N random weights of every group of M (a control; seeded by ``config.seed``)."""
    return _nm_masks(weights, config, group_dims, "random")


@torch.no_grad()
def compute_masks(
    weights: Mapping[str, Tensor],
    config: PruningConfig,
    *,
    group_dims: Mapping[str, int] | None = None,
) -> dict[str, Tensor]:
    """Compute pruning masks; the weights are not modified.

    Args:
        weights: name -> floating weight tensor (any shape; fp32, fp16, bf16 or fp64), all on
            one device, e.g. from :func:`select_prunable`. The order of the mapping is the
            global order used to break ties.
        config: what to prune.
        group_dims: name -> dimension along which N:M groups run (see :func:`nm_group_dim`
            and :func:`nm_group_dims`); a missing name gets 1 (``[out, in, ...]`` layout), or
            0 for 1-D tensors. Used by ``pattern="nm"`` only.

    Returns:
        name -> ``torch.bool`` mask of the weight's shape and device, ``True`` = kept, in the
        order of ``weights``.

    Raises:
        ValueError: a non-floating tensor, tensors on several devices, a NaN weight
            (``magnitude``/``largest``; unstructured checks only when something is ranked,
            i.e. ``0 < k < n``), or (N:M) a width not divisible by M.
    """
    if not weights:
        return {}
    check_floating(weights)
    creator = MASK_CREATORS[(config.pattern, config.criterion)]
    return creator(weights, config, group_dims or {})


BUILTIN_CREATORS: dict[tuple[str, str], MaskCreator] = dict(MASK_CREATORS)
"""The creators defined above; :func:`junk_dna.pruning.series.mask_series` shares one
ranking only for these."""


# --------------------------------------------------------------------------------------------
# applying and reporting


def _check_mask(name: str, param: Tensor, mask: Tensor) -> None:
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        kind = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"mask for {name!r} has dtype {kind}; expected torch.bool")
    if mask.shape != param.shape:
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not match param {name!r} "
            f"shape {tuple(param.shape)}"
        )


@torch.no_grad()
def apply_masks(params: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> None:
    """Zero the pruned weights (``mask == False``) in place.

    Args:
        params: name -> parameter; may hold more names than ``masks`` (those are untouched).
        masks: name -> bool mask of the parameter's shape.

    Raises:
        ValueError: a mask without a parameter, or a mask whose shape or dtype does not match.
    """
    missing = [name for name in masks if name not in params]
    if missing:
        raise ValueError(f"masks without a parameter: {missing[:5]}")
    for name, mask in masks.items():
        _check_mask(name, params[name], mask)
    for name, mask in masks.items():
        param = params[name]
        param.masked_fill_(mask.to(param.device).logical_not(), 0)


@torch.no_grad()
def sparsity_report(
    params: Mapping[str, Tensor], masks: Mapping[str, Tensor] | None = None,
    target: float | None = None,
) -> pd.DataFrame:
    """Per-tensor pruning counts, plus a final ``"TOTAL"`` row.

    Args:
        params: name -> tensor.
        masks: name -> bool mask for every name of ``params``; if given, ``pruned`` counts the
            ``False`` entries, else it counts the exact zeros of each tensor.
        target: the run's target sparsity; given, the column ``flagged`` marks the tensors
            the sparsity guard flags (:func:`flag_tensors`; never the TOTAL row).

    Returns:
        DataFrame with columns ``name``, ``shape`` (str, ``""`` for TOTAL), ``numel``,
        ``pruned``, ``sparsity`` (``pruned / numel``, 0 for empty tensors), and ``flagged``
        (bool) when ``target`` is given.

    Raises:
        ValueError: a parameter without a mask, or a mask of the wrong shape or dtype.
    """
    rows = []
    for name, param in params.items():
        numel = param.numel()
        if masks is not None:
            if name not in masks:
                raise ValueError(f"no mask for parameter {name!r}")
            _check_mask(name, param, masks[name])
            pruned = numel - int(masks[name].sum())
        else:
            pruned = numel - int(torch.count_nonzero(param.detach()))
        rows.append((name, str(tuple(param.shape)), numel, pruned))
    numel = sum(r[2] for r in rows)
    pruned = sum(r[3] for r in rows)
    rows.append(("TOTAL", "", numel, pruned))
    df = pd.DataFrame(rows, columns=["name", "shape", "numel", "pruned"])
    df["sparsity"] = [p / n if n else 0.0 for n, p in zip(df["numel"], df["pruned"], strict=True)]
    if target is not None:
        flagged = set(flag_tensors(df, target))
        df["flagged"] = [name in flagged for name in df["name"]]
    return df


def flag_tensors(report: pd.DataFrame, target: float) -> list[str]:
    """The sparsity guard: names of the tensors of a :func:`sparsity_report` pruned more than
    :data:`GUARD_TENSOR_SPARSITY` while the run's ``target`` sparsity is at most
    :data:`GUARD_MAX_TARGET` (the TOTAL row is never flagged; nothing is flagged above the
    target bound, where whole tensors may go for want of anything else to prune)."""
    if float(target) > GUARD_MAX_TARGET:
        return []
    rows = report[(report["name"] != "TOTAL") & (report["sparsity"] > GUARD_TENSOR_SPARSITY)]
    return [str(n) for n in rows["name"]]


def summarize(report_df: pd.DataFrame) -> dict[str, int | float]:
    """The TOTAL row of :func:`sparsity_report` as a run-record dict.

    Returns:
        ``{"prunable": int, "pruned": int, "reached": float}`` (``reached`` = sparsity).

    Raises:
        ValueError: no ``"TOTAL"`` row.
    """
    total = report_df[report_df["name"] == "TOTAL"]
    if len(total) != 1:
        raise ValueError("report has no single 'TOTAL' row; pass sparsity_report(...) output")
    row = total.iloc[0]
    reached = float(row["sparsity"])
    return {
        "prunable": int(row["numel"]),
        "pruned": int(row["pruned"]),
        "reached": reached if math.isfinite(reached) else 0.0,
    }
