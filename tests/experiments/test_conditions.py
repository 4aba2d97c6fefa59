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
