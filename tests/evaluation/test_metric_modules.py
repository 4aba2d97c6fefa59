"""The evaluate modules shipped in the package (junk_dna/evaluation/metrics/): they load offline
by path and give the numbers of the reference definitions (scikit-learn, scipy, the official
SQuAD v1.1 script), and the package's metric functions are theirs."""

from __future__ import annotations

import json
import os
import re
import string
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from junk_dna.evaluation import glue_metrics, lm_scoring
from junk_dna.evaluation.metric_modules import (
    METRIC_MODULES,
    load_metric,
    metric_path,
    metric_script,
)

ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------- GLUE
#: config -> its keys, as the original GLUE metric (evaluate's "glue") defines them
GLUE_KEYS = {
    **dict.fromkeys(["sst2", "mnli", "mnli_matched", "mnli_mismatched", "qnli", "rte", "wnli",
                     "hans"], ["accuracy"]),
    "mrpc": ["accuracy", "f1"], "qqp": ["accuracy", "f1"],
    "cola": ["matthews_correlation"], "stsb": ["pearson", "spearmanr"],
}


def reference_glue(config: str, preds: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The original GLUE metric's formulas, straight from scikit-learn and scipy."""
    if config == "cola":
        return {"matthews_correlation": matthews_corrcoef(labels, preds)}
    if config == "stsb":
        return {"pearson": pearsonr(preds, labels)[0], "spearmanr": spearmanr(preds, labels)[0]}
    out = {"accuracy": accuracy_score(labels, preds)}
    if config in ("mrpc", "qqp"):
        out["f1"] = f1_score(labels, preds)
    return out


def random_case(config: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    if config == "stsb":
        labels = rng.uniform(0, 5, n)
        return labels + rng.normal(0, rng.uniform(0.1, 3), n), labels
    classes = 3 if config.startswith("mnli") else 2
    labels = rng.integers(0, classes, n)
    flip = rng.random(n) < rng.uniform(0, 0.6)
    preds = np.where(flip, rng.integers(0, classes, n), labels)
    if config in ("cola", "mrpc", "qqp") and (len(set(preds)) < 2 or len(set(labels)) < 2):
        preds[:2], labels[:2] = [0, 1], [1, 0]  # the edge cases have their own test
    return preds, labels


@pytest.mark.parametrize("config", sorted(GLUE_KEYS))
def test_glue_module_matches_the_reference_definitions(config):
    metric = load_metric("glue", config)
    for seed in range(8):
        preds, labels = random_case(config, seed)
        got = metric.compute(predictions=preds, references=labels)
        assert list(got) == GLUE_KEYS[config]
        want = reference_glue(config, preds, labels)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), (config, seed)
        assert all(type(v) is float for v in got.values())


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")  # scikit-learn's
def test_glue_edge_cases():
    ones, mixed = np.ones(6, dtype=int), np.array([1, 0, 1, 1, 0, 0])
    zeros = np.zeros(6, dtype=int)
    # all one class: accuracy and F1 as scikit-learn (F1 0.0 without a positive), MCC 0.0
    for preds, labels in [(ones, mixed), (mixed, ones), (ones, ones), (zeros, zeros),
                          (zeros, mixed)]:
        got = glue_metrics.f1_and_accuracy(preds, labels)
        assert got["accuracy"] == accuracy_score(labels, preds)
        assert got["f1"] == f1_score(labels, preds, zero_division=0.0)
        mcc = glue_metrics.matthews(preds, labels)["matthews_correlation"]
        assert mcc == matthews_corrcoef(labels, preds) == 0.0
    # one example, and a constant side of STS-B: 0.0 (the hub's script would give NaN)
    assert glue_metrics.accuracy(np.array([1]), np.array([1])) == {"accuracy": 1.0}
    assert glue_metrics.pearson_spearman(np.full(4, 2.5), np.arange(4.0)) == {
        "pearson": 0.0, "spearmanr": 0.0}
    # STS-B keeps 64-bit floats (the hub's float32 features change the last digits)
    preds, labels = np.array([0.1, 0.2000001, 0.3]), np.array([1.0, 2.0, 3.0000001])
    got = glue_metrics.pearson_spearman(preds, labels)
    assert got["pearson"] == pytest.approx(pearsonr(preds, labels)[0], rel=1e-15)


def test_the_package_functions_compute_through_the_module():
    preds, labels = random_case("mrpc", 1)
    for name, config in [("accuracy", "sst2"), ("matthews", "cola"), ("f1_accuracy", "mrpc")]:
        assert glue_metrics.get_metric(name)(preds, labels) == reference_glue(
            config, preds, labels) == pytest.approx(glue_metrics.glue_compute(config, preds,
                                                                               labels))
    assert load_metric("glue", "cola") is load_metric("glue", "cola")  # loaded once


def test_bad_glue_input_names_the_value_and_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown GLUE config 'sst-2'; allowed: \[.*'sst2'"):
        load_metric("glue", "sst-2")
    with pytest.raises(ValueError, match=r"unknown GLUE config 'default'; allowed: \[.*'cola'"):
        load_metric("glue")  # a config is required
    with pytest.raises(ValueError, match=r"unknown metric module 'bleu'; allowed: \['glue'"):
        load_metric("bleu")
    with pytest.raises(ValueError, match=r"predictions \(3\) and references \(2\)"):
        glue_metrics.accuracy(np.array([1, 0, 1]), np.array([1, 0]))
    with pytest.raises(ValueError, match=r"predictions \(3\) and references \(2\)"):
        load_metric("glue", "stsb").compute(predictions=[1.0, 2.0, 3.0], references=[1.0, 2.0])
    with pytest.raises(ValueError, match="0 examples"):
        glue_metrics.matthews(np.array([], dtype=int), np.array([], dtype=int))


# --------------------------------------------------------------------------- SQuAD
def official_normalize(s: str) -> str:
    """normalize_answer of the official SQuAD v1.1 evaluation script (its logic)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def official_f1(prediction: str, ground_truth: str) -> float:
    pred, gold = official_normalize(prediction).split(), official_normalize(ground_truth).split()
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def official_scores(prediction: str, aliases: list[str]) -> tuple[float, float, float]:
    """(EM, F1, containment), maximum over the aliases as the official script's
    metric_max_over_ground_truths; containment as the paper's TriviaQA code (a normalized alias
    is a substring of the normalized prediction); a prediction empty after normalization scores
    0, and so does an alias empty after normalization for containment (the package's documented
    differences)."""
    pred = official_normalize(prediction)
    if not pred:
        return 0.0, 0.0, 0.0
    em = max(float(pred == official_normalize(a)) for a in aliases)
    contained = max(float(bool(official_normalize(a)) and official_normalize(a) in pred)
                    for a in aliases)
    return em, max(official_f1(prediction, a) for a in aliases), contained


PIECES = ["The", "the", "a", "A", "an", "An", "cat", "Cat", "dog", "New", "York", "york", "U.S.",
          "theater", "another", "1,000", "rock'n'roll", "e-mail", "!", "...", ",", "Übung", "  ",
          "\t", "\n", "and", "barn", "red", "(the)", "a.m."]


def random_answer(rng: np.random.Generator) -> str:
    n = int(rng.integers(0, 6))
    return "".join(str(rng.choice(PIECES)) + str(rng.choice(["", " ", "  "]))
                   for _ in range(n))


EDGE_CASES = [
    ("", ["Paris"]), ("", [""]), ("   ", ["the"]), ("The", ["a"]), ("a, an, the ...", [""]),
    ("The Eiffel Tower.", ["eiffel tower"]), ("theater", ["the ater"]), ("U.S.A.", ["USA"]),
    ("New York City", ["NYC", "new york", "New-York City"]),
    ("barn", ["red barn door", "the barn"]),
    ("cat cat", ["cat"]), ("Abraham   Lincoln's", ["abraham lincolns", "Lincoln"]),
    ("an apple a day", ["Apple day", "pear", "", "a day"]),
]


def test_squad_module_matches_the_official_script():
    rng = np.random.default_rng(0)
    cases = EDGE_CASES + [(random_answer(rng), [random_answer(rng)
                                                for _ in range(int(rng.integers(1, 4)))])
                          for _ in range(400)]
    script = metric_script("squad")
    for prediction, aliases in cases:
        assert script.normalize_answer(prediction) == official_normalize(prediction)
        em, f1, contained = official_scores(prediction, aliases)
        assert script.exact_match_score(prediction, aliases) == em, (prediction, aliases)
        assert script.f1_score(prediction, aliases) == pytest.approx(f1, abs=1e-15)
        assert script.containment_score(prediction, aliases) == contained, (prediction, aliases)
        assert lm_scoring.containment(prediction, aliases) == contained
        # the package's functions are the module's
        assert lm_scoring.normalize_answer(prediction) == official_normalize(prediction)
        assert lm_scoring.exact_match(prediction, aliases) == em
        assert lm_scoring.token_f1(prediction, aliases) == pytest.approx(f1, abs=1e-15)
    got = load_metric("squad").compute(predictions=[p for p, _ in cases],
                                       references=[a for _, a in cases])
    want = np.mean([official_scores(p, a) for p, a in cases], axis=0)
    assert got == pytest.approx({"exact_match": want[0], "f1": want[1],
                                 "containment": want[2], "n": len(cases)}, abs=1e-12)
    assert 0 < got["exact_match"] < got["f1"] < 1  # fractions, not percentages
    assert got["exact_match"] < got["containment"] < 1  # containment accepts more than EM
    assert lm_scoring.squad_scores([p for p, _ in cases], [a for _, a in cases]) == got


def test_bad_squad_input():
    squad = load_metric("squad")
    with pytest.raises(ValueError, match=r"predictions \(2\) and references \(1\)"):
        squad.compute(predictions=["a", "b"], references=[["a"]])
    with pytest.raises(ValueError, match="no answer aliases"):
        squad.compute(predictions=["a"], references=[[]])
    with pytest.raises(ValueError, match="no answer aliases"):
        lm_scoring.squad_scores(["a"], [[]])
    with pytest.raises(ValueError, match="2 predictions but 1"):
        lm_scoring.squad_scores(["a", "b"], [["a"]])


# --------------------------------------------------------------------------- loading
def test_the_modules_load_offline_by_path(tmp_path):
    """A fresh process, hub offline, no network (a dead proxy) and an empty modules cache."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules"),
           "HF_HOME": str(tmp_path / "hf"), "HTTP_PROXY": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
    code = ("import json, sys\n"
            "from junk_dna.evaluation import glue_metrics, lm_scoring\n"
            "assert 'evaluate' not in sys.modules  # imported on first use only\n"
            "out = {'glue': glue_metrics.f1_and_accuracy([1, 0, 1], [1, 1, 1]),\n"
            "       'squad': lm_scoring.squad_scores(['The cat'], [['cat', 'dog']])}\n"
            "print(json.dumps(out))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {
        "glue": {"accuracy": 2 / 3, "f1": 0.8},
        "squad": {"exact_match": 1.0, "f1": 1.0, "containment": 1.0, "n": 1}}
    assert list((tmp_path / "modules").rglob("glue_metric.py"))  # evaluate's copy, by path


def test_the_scripts_are_package_data():
    """Each module is ``<folder>/<folder>.py`` (what evaluate.load of a folder reads), and the
    wheel's package-data globs include it."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["junk_dna"]
    package = ROOT / "junk_dna"
    for name in METRIC_MODULES:
        script = metric_path(name) / f"{metric_path(name).name}.py"
        assert script.is_file()
        assert any(script.relative_to(package).match(g) for g in globs), name
