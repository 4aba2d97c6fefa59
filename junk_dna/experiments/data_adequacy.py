"""Setting 1 of the paper: adequacy of target-domain data (the Task_1 figure).

"Harder" means fewer fine-tuning examples. Each run is one fine-tune with exactly the
protocol of :mod:`junk_dna.experiments.true_gem` (same parameters, same record), restricted
to Sparse Transfer and its dense baselines: the figure shows, per task, one curve per
training fraction, each normalized to the dense model trained on the same fraction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from junk_dna.experiments import true_gem
from junk_dna.experiments.registry import Experiment, ModelResolver, register
from junk_dna.experiments.true_gem import FINETUNE_PROTOCOL
from junk_dna.models.encoders import resolve_model

MODES: tuple[str, ...] = ("dense", "sparse")


def validate(params: Mapping[str, Any], *,
             resolve: ModelResolver = resolve_model) -> dict[str, Any]:
    """Validate one run's parameters (those of :class:`~junk_dna.experiments.true_gem.
    TrueGemConfig`) and return them normalized; the model name through ``resolve`` (see
    :func:`junk_dna.experiments.true_gem.validate`).

    Raises:
        ValueError: any invalid parameter, or a transfer mode other than dense / sparse.
    """
    normalized = true_gem.validate(params, resolve=resolve)
    if normalized["mode"] not in MODES:
        raise ValueError(f"data_adequacy runs mode {normalized['mode']!r}; allowed: "
                         f"{list(MODES)} (the other modes belong to true_gem)")
    return normalized


register(Experiment(name="data_adequacy", notebook="data_adequacy.ipynb", validate=validate,
                    protocol=FINETUNE_PROTOCOL, config=true_gem.TrueGemConfig,
                    resolve_model=resolve_model))
