"""SQuAD v1.1 exact match and token F1, and the paper code's containment test, as an
``evaluate`` module, shipped in junk_dna and loaded offline by path.

Load it with ``evaluate.load(<this folder>)`` (or
:func:`junk_dna.evaluation.metric_modules.load_metric`). Inputs are plain strings: one
prediction per example and, per example, its answer aliases; each example scores the maximum
over its aliases, with the official SQuAD v1.1 normalization (lowercase, remove punctuation,
remove the articles a/an/the, collapse whitespace).

``containment`` is the test of the paper's original TriviaQA code: a prediction is right when
its normalized text contains a normalized alias as a substring (a sentence such as "The capital
is Paris." counts for "Paris"; so does a match inside a word, "comparison" for "paris", as in
the original), except that a prediction empty after normalization is wrong
(the original counted it as right) and an alias empty after normalization matches nothing.

Deliberate differences from the hub's ``squad`` script: scores are fractions in [0, 1] (not
percentages) plus ``n``, the number of examples; inputs are strings, not SQuAD's id/answers
dictionaries; a prediction that is empty after normalization scores 0 even against an alias that
normalizes to empty (the official script would count ``"" == ""`` as a match); mismatched
lengths, no examples or an example without aliases raise ``ValueError``.

This file is an ``evaluate`` script, not a junk_dna module: it imports nothing of junk_dna.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

import datasets
import evaluate

_DESCRIPTION = ("SQuAD v1.1 exact match and token F1, and containment (fractions), maximum over "
                "answer aliases.")
_KWARGS_DESCRIPTION = """
Args:
    predictions: one answer string per example.
    references: per example, its answer aliases (a list of strings).
Returns:
    exact_match, f1 and containment: means over the examples, in [0, 1]; n: the number of
    examples.
"""
_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalization: lowercase, drop punctuation, drop articles, collapse spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def aliases_of(answers: str | Sequence[str]) -> list[str]:
    """``answers`` as a list of aliases (a string is one alias).

    Raises:
        ValueError: no alias.
    """
    aliases = [answers] if isinstance(answers, str) else list(answers)
    if not aliases:
        raise ValueError("no answer aliases given")
    return aliases


def _any_alias(prediction: str, answers: str | Sequence[str],
               match: Callable[[str, str], bool]) -> float:
    """1.0 if ``match(normalized prediction, normalized alias)`` holds for an alias, else 0.0
    (0.0 for a prediction that is empty after normalization).

    Raises:
        ValueError: no alias.
    """
    aliases = aliases_of(answers)
    pred = normalize_answer(prediction)
    if not pred:
        return 0.0
    return float(any(match(pred, normalize_answer(a)) for a in aliases))


def exact_match_score(prediction: str, answers: str | Sequence[str]) -> float:
    """1.0 if the normalized prediction equals a normalized alias, else 0.0 (0.0 for a
    prediction that is empty after normalization).

    Raises:
        ValueError: no alias.
    """
    return _any_alias(prediction, answers, lambda pred, alias: pred == alias)


def f1_score(prediction: str, answers: str | Sequence[str]) -> float:
    """Token F1 between the normalized bags of words, maximum over the aliases (0.0 for a
    prediction that is empty after normalization).

    Raises:
        ValueError: no alias.
    """
    aliases = aliases_of(answers)
    pred_tokens = normalize_answer(prediction).split()
    if not pred_tokens:
        return 0.0
    best = 0.0
    for alias in aliases:
        gold_tokens = normalize_answer(alias).split()
        same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
        if same:
            precision, recall = same / len(pred_tokens), same / len(gold_tokens)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def containment_score(prediction: str, answers: str | Sequence[str]) -> float:
    """1.0 if the normalized prediction contains a non-empty normalized alias as a substring,
    else 0.0 (0.0 for a prediction that is empty after normalization).

    Raises:
        ValueError: no alias.
    """
    return _any_alias(prediction, answers, lambda pred, alias: bool(alias) and alias in pred)


def squad_scores(predictions: Sequence[str],
                 references: Sequence[str | Sequence[str]]) -> dict[str, float]:
    """Mean exact match, F1 and containment over the examples, and their number ``n``.

    Raises:
        ValueError: different lengths, no examples, or an example without aliases.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not len(predictions):
        raise ValueError("no examples")
    pairs = list(zip(predictions, references, strict=True))
    em = sum(exact_match_score(p, r) for p, r in pairs) / len(pairs)
    f1 = sum(f1_score(p, r) for p, r in pairs) / len(pairs)
    contained = sum(containment_score(p, r) for p, r in pairs) / len(pairs)
    return {"exact_match": em, "f1": f1, "containment": contained, "n": len(pairs)}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Squad(evaluate.Metric):
    """SQuAD v1.1 exact match, F1 and containment over string predictions and alias lists."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Rajpurkar et al., SQuAD, EMNLP 2016",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({
                "predictions": datasets.Value("string"),
                "references": datasets.Sequence(datasets.Value("string")),
            }),
        )

    def _compute(self, predictions: list[str], references: list[list[str]]) -> dict[str, float]:
        return squad_scores(predictions, references)
