"""Setting 4 of the paper: the normalized human-model gap (the Task_4 figure).

"Harder" means a larger gap between people and the dense fine-tuned model on a task:
``gap = (human - dense) / human`` with the human score published for the task
(:mod:`junk_dna.data.human_scores`) and the dense score measured by this experiment's own dense
runs. Tasks come in pairs of one kind (single sentence, sentence similarity, inference,
commonsense); which task of a pair is the "hard" one is the paper's fixed label
(:data:`junk_dna.report.claims.HUMAN_GAP_PAIRS`, which the claims and the figure use), and
the computed gaps are shown beside it (a disagreement is reported). Each run is one
fine-tune with the protocol of :mod:`junk_dna.experiments.true_gem` (same parameters, same
record), restricted to dense and sparse transfer, on a sequence-classification or a
multiple-choice task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from junk_dna.data.human_scores import human_score
from junk_dna.experiments import true_gem
from junk_dna.experiments.registry import Experiment, ModelResolver, register
from junk_dna.experiments.true_gem import FINETUNE_PROTOCOL
from junk_dna.models.encoders import resolve_model

MODES: tuple[str, ...] = ("dense", "sparse")

#: Task pairs: (panel label, easy task, hard task), by base task name, as labelled in
#: :data:`junk_dna.report.claims.HUMAN_GAP_PAIRS`. The paper's four
#: pairs of one kind first; then the embedded default's pair, which crosses kinds because the
#: offline data holds no hard single-sentence task and MiniLM stays at chance on the offline
#: PIQA and WinoGrande (README: "Setting 4"); then a commonsense pair for larger models.
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("Single sentence", "sst2", "cola"),
    ("Sentence similarity", "qqp", "stsb"),
    ("Natural language inference", "qnli", "rte"),
    ("Commonsense reasoning", "winogrande", "csqa"),
    ("Sentiment vs. commonsense QA", "sst2", "csqa"),
    ("Commonsense reasoning (physical vs. concepts)", "piqa", "csqa"),
)


def validate(params: Mapping[str, Any], *,
             resolve: ModelResolver = resolve_model) -> dict[str, Any]:
    """Validate one run's parameters (those of :class:`~junk_dna.experiments.true_gem.
    TrueGemConfig`) and return them normalized; the model name through ``resolve`` (see
    :func:`junk_dna.experiments.true_gem.validate`).

    Raises:
        ValueError: any invalid parameter, a mode other than dense / sparse, or a task
            without a published human score (the message lists the tasks that have one).
    """
    normalized = true_gem.validate(params, resolve=resolve)
    if normalized["mode"] not in MODES:
        raise ValueError(f"human_gap runs mode {normalized['mode']!r}; allowed: "
                         f"{list(MODES)} (the other modes belong to true_gem)")
    human_score(normalized["task"])
    return normalized


register(Experiment(name="human_gap", notebook="human_gap.ipynb", validate=validate,
                    protocol=FINETUNE_PROTOCOL, config=true_gem.TrueGemConfig,
                    resolve_model=resolve_model))
