"""Training only the word-embedding rows that the training split reaches (exact).

In a plain fine-tune the gradient of the word-embedding table (30,522 x 384 for MiniLM) is
exactly zero on every row whose token never occurs in a training batch, and AdamW leaves such
a row bit-identical when its weight decay is 0 (its moments stay 0, so its update is
``0 / (0 + eps) = 0``). :class:`CompactEmbedding` therefore trains a small table of the rows
the training split can reach (3,688 of 30,522 on the embedded SST-2) and writes them back
into the full table before every evaluation and at the end: the same updates, bit for bit,
without the dense gradient, the zero-fill and the AdamW pass over the untouched rows
(measured: 1.05-1.07x per fp32 step; ``benchmarks/README.md``).

It is used only where that argument holds (:func:`compact_reason` says why not otherwise):
weight decay 0 (with decay, the untouched rows shrink every step), a plain ``nn.Embedding``
whose weight no other module shares and no transfer mode projects, and that is trained.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch


def training_token_ids(features: Sequence[Mapping[str, Any]], extra: Iterable[int] = ()
                       ) -> torch.Tensor:
    """The sorted distinct token ids of encoded features (``input_ids`` of an example, or of
    each of its options), plus ``extra`` (the padding ids a collator adds)."""
    ids: set[int] = set(extra)
    for feature in features:
        rows = feature["input_ids"]
        if rows and isinstance(rows[0], list):
            for row in rows:
                ids.update(row)
        else:
            ids.update(rows)
    return torch.tensor(sorted(ids), dtype=torch.long)


def compact_reason(model: torch.nn.Module, weight_decay: float,
                   projected: Iterable[torch.Tensor] = ()) -> str | None:
    """Why the word embedding of ``model`` cannot be trained compactly, or ``None`` if it can.

    Args:
        model: a ``transformers`` model (``get_input_embeddings``).
        weight_decay: the decay of the embedding's AdamW group.
        projected: the tensors a transfer mode projects after each step (an embedding pruned
            with ``include_embeddings`` is one of them).
    """
    embedding = model.get_input_embeddings()
    if type(embedding) is not torch.nn.Embedding:
        return f"the input embedding is a {type(embedding).__name__}, not an nn.Embedding"
    if embedding.max_norm is not None or embedding.scale_grad_by_freq or embedding.sparse:
        return "the embedding renormalizes, scales or has sparse gradients"
    weight = embedding.weight
    if not weight.requires_grad:
        return "the embedding is not trained"
    if weight_decay != 0:
        return f"weight decay {weight_decay} also shrinks the rows no batch reaches"
    if any(t is weight for t in projected):
        return "a transfer mode projects the embedding"
    shared = sum(p is weight for _, p in model.named_parameters(remove_duplicate=False))
    if shared != 1:
        return "the embedding's weight is tied to another module"
    return None


class CompactEmbedding:
    """A small trainable copy of the rows ``ids`` of ``model``'s word embedding.

    :meth:`train_mode` puts the small table in the model (its optimizer must be built after
    that); batches then go through :meth:`remap` (token ids -> rows of the small table);
    :meth:`sync` writes the trained rows into the full table and puts the full table back
    (before an evaluation, and at the end). Check :func:`compact_reason` first.

    Args:
        model: the model (its full input embedding is kept and restored by :meth:`sync`).
        ids: every token id a training batch can hold (padding included).
    """

    def __init__(self, model: torch.nn.Module, ids: torch.Tensor) -> None:
        self.model = model
        self.full: torch.nn.Embedding = model.get_input_embeddings()
        weight = self.full.weight
        pad = self.full.padding_idx
        if pad is not None:
            ids = torch.cat([ids, torch.tensor([pad])])
        self.ids = torch.unique(ids).to(weight.device)
        self.lookup = torch.full((self.full.num_embeddings,), -1, dtype=torch.long,
                                 device=weight.device)
        self.lookup[self.ids] = torch.arange(len(self.ids), device=weight.device)
        # _weight= skips nn.Embedding's random init: drawing it would shift the global RNG
        # stream that dropout uses (the run would no longer be the same run)
        self.small = torch.nn.Embedding(
            len(self.ids), self.full.embedding_dim,
            padding_idx=None if pad is None else int(self.lookup[pad]),
            _weight=weight.detach()[self.ids].clone())

    def train_mode(self) -> None:
        """Train the small table (the model holds it until :meth:`sync`)."""
        self.model.set_input_embeddings(self.small)

    def remap(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The batch with its ``input_ids`` as rows of the small table.

        Raises:
            RuntimeError: a token outside ``ids`` (the ids did not cover the training split).
        """
        rows = self.lookup[batch["input_ids"]]
        if rows.numel() and int(rows.min()) < 0:
            raise RuntimeError("a training batch holds a token id the compact embedding does "
                               "not cover")
        return {**batch, "input_ids": rows}

    @torch.no_grad()
    def sync(self) -> None:
        """Write the trained rows into the full table and put the full table back."""
        self.full.weight.index_copy_(0, self.ids, self.small.weight)
        self.model.set_input_embeddings(self.full)
