"""Published human performance per task, with its source: the "human" of setting 4.

The paper's fourth notion of difficulty is the normalized human-model gap of a task,
``(human - dense model) / human``: a task the dense fine-tuned model is far from solving,
relative to people, is "hard". The human side is a published number; the model side is
measured by our own dense runs (:func:`junk_dna.report.analysis.human_gap_table`), never typed in.

Every entry names the paper and the place in it that reports the number, and the metric it
is in, which is the metric our runs are scored in for that task (GLUE's conventions: MCC for
CoLA, F1 for MRPC/QQP, Spearman for STS-B, accuracy otherwise). Numbers are percentages.
``check`` says how the value was checked for this package, so a reader knows which ones to
trust most; values we could not find are absent rather than guessed (e.g. Social IQa).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HumanScore:
    """One published human score.

    Attributes:
        task: base task name (a :data:`junk_dna.data.glue_tasks.TASKS` key without ``-embedded``).
        metric: the metric name our records use for it (e.g. ``"accuracy"``, ``"f1"``).
        value: the human score in percent (0-100).
        source: the paper (authors, year, title, venue) and where in it the number is.
        check: how the value was checked for this package.
    """

    task: str
    metric: str
    value: float
    source: str
    check: str


_GLUE = ("Nangia & Bowman (2019), 'Human vs. Muppet: A Conservative Estimate of Human "
         "Performance on the GLUE Benchmark', ACL 2019, Table 1 (GLUE test set; also the "
         "'GLUE Human Baselines' row of the GLUE leaderboard)")
_SUPERGLUE = ("Wang et al. (2019), 'SuperGLUE: A Stickier Benchmark for General-Purpose "
              "Language Understanding Systems', NeurIPS 2019, Table 2 (human baseline, test)")
_PAPER_LIST = "listed in docs/PROTOCOL.md (the paper's setting 4)"
_GLUE_CHECK = (f"{_PAPER_LIST}; the paper's 87.1 GLUE average (its abstract) is consistent "
               "with the per-task values")

HUMAN_SCORES: dict[str, HumanScore] = {
    s.task: s
    for s in (
        HumanScore("cola", "matthews_correlation", 66.4, _GLUE, _GLUE_CHECK),
        HumanScore("sst2", "accuracy", 97.8, _GLUE, _GLUE_CHECK),
        HumanScore("mrpc", "f1", 86.3, _GLUE + "; accuracy 80.8", _GLUE_CHECK),
        HumanScore("stsb", "spearmanr", 92.6, _GLUE + "; Pearson 92.7", _GLUE_CHECK),
        HumanScore("qqp", "f1", 59.5, _GLUE + "; accuracy 80.4", _GLUE_CHECK),
        HumanScore("mnli", "accuracy", 92.0, _GLUE + " (matched; mismatched 92.8)",
                   _GLUE_CHECK),
        HumanScore("qnli", "accuracy", 91.2, _GLUE, _GLUE_CHECK),
        HumanScore("rte", "accuracy", 93.6, _GLUE + "; SuperGLUE reports the same 93.6",
                   _GLUE_CHECK),
        HumanScore("boolq", "accuracy", 89.0, _SUPERGLUE, _PAPER_LIST),
        HumanScore("copa", "accuracy", 100.0, _SUPERGLUE, _PAPER_LIST),
        HumanScore("csqa", "accuracy", 88.9,
                   "Talmor et al. (2019), 'CommonsenseQA: A Question Answering Challenge "
                   "Targeting Commonsense Knowledge', NAACL 2019, human accuracy (test)",
                   _PAPER_LIST),
        HumanScore("winogrande", "accuracy", 94.0,
                   "Sakaguchi et al. (2020), 'WinoGrande: An Adversarial Winograd Schema "
                   "Challenge at Scale', AAAI 2020, human performance (test)",
                   f"{_PAPER_LIST}; the same 94.0 is quoted from the paper by public "
                   "benchmark summaries"),
        HumanScore("hellaswag", "accuracy", 95.6,
                   "Zellers et al. (2019), 'HellaSwag: Can a Machine Really Finish Your "
                   "Sentence?', ACL 2019, human performance (overall, test)", _PAPER_LIST),
        HumanScore("piqa", "accuracy", 94.9,
                   "Bisk et al. (2020), 'PIQA: Reasoning about Physical Commonsense in "
                   "Natural Language', AAAI 2020, human performance (test)",
                   f"{_PAPER_LIST}; the paper's abstract rounds it to 95 %"),
        HumanScore("openbookqa", "accuracy", 91.7,
                   "Mihaylov et al. (2018), 'Can a Suit of Armor Conduct Electricity? A New "
                   "Dataset for Open Book Question Answering', EMNLP 2018, human performance "
                   "(test)", _PAPER_LIST),
    )
}


def base_task(task: str) -> str:
    """The base name of a task: ``"sst2-embedded"`` -> ``"sst2"``."""
    return task.removesuffix("-embedded")


def human_score(task: str) -> HumanScore:
    """The published human score of ``task`` (hub or embedded name).

    Raises:
        ValueError: no human score is known for it; the message lists the tasks that have one.
    """
    base = base_task(task)
    if base not in HUMAN_SCORES:
        raise ValueError(f"no published human score for task {task!r}; tasks with one: "
                         f"{sorted(HUMAN_SCORES)}")
    return HUMAN_SCORES[base]


def human_scores_table():
    """Every entry as a DataFrame (task, metric, value, source, check), for notebooks."""
    import pandas as pd

    return pd.DataFrame([vars(s) for s in HUMAN_SCORES.values()])
