"""The zero-shot condition runners: one per experiment, in a registry."""

from __future__ import annotations

import pytest

from junk_dna.experiments import experiment_names, get_experiment
from junk_dna.experiments.conditions import (
    CONDITIONS,
    ConditionRunner,
    condition_label,
    get_conditions,
)
from junk_dna.experiments.zero_shot import EXPERIMENT_DEFAULTS, ZeroShotConfig


def test_one_runner_per_zero_shot_experiment() -> None:
    assert list(CONDITIONS) == ["context_length", "option_count", "kshot", "factoid_vs_mc",
                                "quantization"]
    for name, runner in CONDITIONS.items():
        assert name in experiment_names() and runner.experiment == name
        assert get_experiment(name).defaults == {"experiment": name, **runner.defaults}
        assert EXPERIMENT_DEFAULTS[name] == dict(runner.defaults)
        ZeroShotConfig(experiment=name, **runner.defaults)  # the defaults are valid


@pytest.mark.parametrize(("experiment", "condition", "label"), [
    ("context_length", None, "context=full"), ("context_length", 64, "context=64"),
    ("option_count", 3, "k=3"), ("kshot", 0, "shots=0"), ("factoid_vs_mc", "mc", "mc"),
    ("quantization", None, "all"),
])
def test_labels(experiment: str, condition: object, label: str) -> None:
    assert condition_label(experiment, condition) == label


def test_unknown_experiment_is_named_with_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown experiment 'nope'; allowed: \['context"):
        get_conditions("nope")


def test_a_new_experiment_is_a_new_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    def run(scorer, cfg) -> None:  # noqa: ANN001
        scorer.info["n_questions"] = 0

    runner = ConditionRunner(experiment="toy", defaults={"task": "arc_easy", "conditions": None},
                             task_kinds=("mc",), label=lambda c: "all", run=run)
    monkeypatch.setitem(CONDITIONS, "toy", runner)
    cfg = ZeroShotConfig(experiment="toy", task="arc_easy", conditions=None)
    assert cfg.normalized().mc_task is None and get_conditions("toy") is runner
    with pytest.raises(ValueError, match="toy takes no conditions"):
        ZeroShotConfig(experiment="toy", task="arc_easy", conditions=[1])


@pytest.mark.parametrize(("params", "expected"), [
    # factoid_vs_mc: n_questions applies to mc_task too (ARC-Easy: 570 questions)
    ({"experiment": "factoid_vs_mc", "n_questions": 2000},
     r"experiment 'factoid_vs_mc': task 'arc_easy' has 570 questions, but a run asks for 2000 "
     r"\(n_questions 2000\); n_questions \+ offset must be at most 570"),
    ({"experiment": "factoid_vs_mc", "n_questions": 500, "offset": 100},
     r"'arc_easy' has 570 questions, but a run asks for 600 \(n_questions 500 \+ offset 100\)"),
    # kshot: the few-shot pool is loaded beyond n_questions
    ({"experiment": "kshot", "task": "arc_challenge", "n_questions": 280},
     r"experiment 'kshot': task 'arc_challenge' has 299 questions, but a run asks for 305 "
     r"\(n_questions 280 \+ few-shot pool 25\); n_questions \+ offset must be at most 274"),
    # context_length on SciQ: only the questions with a support passage
    ({"experiment": "context_length", "n_questions": 800, "offset": 100},
     r"task 'sciq' has 887 questions with a support passage, but a run asks for 900"),
    ({"experiment": "context_length", "task": "arc_easy", "conditions": [None, 0]},
     r"task 'arc_easy' has no support passages; tasks with passages: \['sciq'\]"),
    ({"experiment": "option_count", "n_questions": 1200, "offset": 150},
     r"experiment 'option_count': task 'csqa' has 1221 questions, but a run asks for 1350"),
    ({"experiment": "quantization", "n_questions": 571},
     r"experiment 'quantization': task 'arc_easy' has 570 questions, but a run asks for 571"),
])
def test_a_run_asking_for_more_questions_than_its_task_has_is_refused(
        params: dict, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        get_experiment(params["experiment"]).validate(params)


@pytest.mark.parametrize("params", [
    {"experiment": "factoid_vs_mc", "n_questions": 570},
    {"experiment": "kshot", "task": "arc_challenge", "n_questions": 274},
    {"experiment": "context_length", "n_questions": 737, "offset": 150},
    {"experiment": "context_length", "task": "triviaqa", "n_questions": 7993},
    # hub only: the size is unknown offline, so it is checked when the data is loaded
    {"experiment": "context_length", "task": "triviaqa_rc", "n_questions": 10**6},
    {"experiment": "option_count", "n_questions": 1221},
    {"experiment": "quantization", "n_questions": 250, "offset": 150},
])
def test_a_run_asking_for_at_most_what_its_task_has_is_valid(params: dict) -> None:
    get_experiment(params["experiment"]).validate(params)
