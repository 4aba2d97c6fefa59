"""The true-gem experiment: validation before any load, and a whole run on a tiny model."""

from __future__ import annotations

import dataclasses
import json

import pytest

from junk_dna.experiments import get_experiment
from junk_dna.experiments.true_gem import TrueGemConfig, run, validate
from junk_dna.results.records import read_record


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"sparsity": -0.1}, "-0.1"),
        ({"sparsity": 1.0}, "1.0"),
        ({"sparsity": 1.5}, "1.5"),
        ({"pattern": "nm", "nm": "9:8"}, "9:8"),
        ({"pattern": "nm", "nm": "0:8"}, "0:8"),
        ({"pattern": "nm", "nm": "eight"}, "eight"),
        ({"mode": "prune_everything"}, "prune_everything"),
        ({"pattern": "blocky"}, "blocky"),
        ({"task": "imagenet"}, "imagenet"),
        ({"model": "./no/such/folder"}, "./no/such/folder"),
        ({"model": "no-such-model-anywhere"}, "no-such-model-anywhere"),
        ({"data_fraction": 0.0}, "0.0"),
        ({"subset": "middle"}, "middle"),
        ({"scope": "planet"}, "planet"),
        ({"criterion": "vibes"}, "vibes"),
        ({"prunable": "everything"}, "everything"),
        ({"epochs": 0}, "0"),
        ({"learnin_rate": 1e-3}, "learnin_rate"),
    ],
)
def test_bad_input_fails_before_any_model_loads(params, bad, monkeypatch):
    import junk_dna.models.encoders as models

    def no_load(*_a, **_k):  # validation must never reach a load
        raise AssertionError("a model was loaded during validation")

    monkeypatch.setattr(models, "load_model", no_load)
    monkeypatch.setattr("transformers.AutoModelForSequenceClassification.from_pretrained",
                        no_load)
    with pytest.raises(ValueError) as err:
        validate(params)
    assert bad in str(err.value)


def test_split_seed_is_the_run_seed_unless_given_and_none_for_hub_tasks():
    assert validate({"seed": 3})["split_seed"] == 3
    assert validate({"seed": 3, "split_seed": 0})["split_seed"] == 0
    assert validate({"seed": 3, "task": "sst2"}, resolve=lambda name: None)["split_seed"] is None
    with pytest.raises(ValueError, match="split_seed"):
        validate({"split_seed": -1})
    with pytest.raises(ValueError, match="max_steps"):
        validate({"max_steps": 0})


def test_normalization_gives_unused_fields_none():
    dense = validate({"mode": "dense", "sparsity": 0.7, "nm": "2:8"})
    assert dense["sparsity"] is None and dense["nm"] is None and dense["pattern"] is None
    assert validate({"mode": "dense"}) == dense
    nm = validate({"mode": "sparse", "pattern": "nm", "nm": "2:8", "sparsity": 0.3})
    assert nm["sparsity"] is None and nm["nm"] == "2:8" and nm["scope"] is None
    assert get_experiment("true_gem").validate is validate


def test_a_run_writes_a_complete_record_and_is_deterministic(tiny_model_dir, tmp_path):
    cfg = TrueGemConfig(model=str(tiny_model_dir), task="sst2-embedded", data_fraction=0.1,
                        mode="sparse", pattern="unstructured", sparsity=0.5, epochs=1,
                        batch_size=16, learning_rate=1e-3, weight_decay=0.01, max_length=32,
                        seed=7)
    rec = run(cfg, tmp_path / "run1")
    assert read_record(tmp_path / "run1") == json.loads(
        (tmp_path / "run1" / "record.json").read_text())
    assert rec["status"] == "ok"
    assert rec["params"]["sparsity"] == 0.5 and rec["params"]["nm"] is None
    sp = rec["sparsity"]
    assert sp["pruned"] == round(0.5 * sp["prunable"])  # exact count
    assert sp["zeros_after_training"] >= 0.5 and sp["invariant_violations"] == 0
    assert rec["resolved"]["model_source"] == "local"
    assert rec["resolved"]["data_source"] == "embedded"
    assert rec["resolved"]["n_train"] == round(0.1 * rec["resolved"]["n_train_full"])
    assert set(rec["final"]) == {"last", "best", "best_epoch"}
    assert 0.0 <= rec["final"]["last"]["accuracy"] <= 1.0
    assert (tmp_path / "run1" / "sparsity.csv").exists()
    # each seed its own re-split of the embedded data, said explicitly in the params
    assert rec["params"]["split_seed"] == 7 and rec["resolved"]["split_seed"] == 7
    # the pooler is on the head side: trained, never pruned; nothing tripped the guard
    assert rec["resolved"]["head_side"] == ["bert.pooler.dense.weight",
                                            "bert.pooler.dense.bias"]
    assert rec["sparsity"]["flagged"] == []
    assert "flagged" in (tmp_path / "run1" / "sparsity.csv").read_text().splitlines()[0]
    # per-example outcomes of the last evaluation, with stable example ids
    per = json.loads((tmp_path / "run1" / rec["per_example"]).read_text())["splits"]["test"]
    assert len(per["ids"]) == len(per["label"]) == len(per["prediction"]) == rec["resolved"][
        "n_eval"]["test"]
    right = sum(p == y for p, y in zip(per["prediction"], per["label"], strict=True))
    assert right / len(per["label"]) == rec["final"]["last"]["accuracy"]
    # another run in between, in the same process (as in a sweep worker's reused kernel)
    run(dataclasses.replace(cfg, mode="dense", pattern=None, sparsity=None, seed=8),
        tmp_path / "other")
    again = run(cfg, tmp_path / "run2")
    assert again["epochs"] == rec["epochs"]  # same parameters, same numbers


def test_eval_last_enters_the_params_only_when_set():
    """Runs recorded before eval_last existed keep their params, hence their run ids."""
    from junk_dna.runs.layout import run_id

    assert "eval_last" not in validate({}, resolve=lambda name: None)
    given = validate({"eval_last": 1}, resolve=lambda name: None)
    assert given["eval_last"] == 1
    assert TrueGemConfig.from_params(given).eval_last == 1
    assert run_id(given) != run_id(validate({}, resolve=lambda name: None))
    with pytest.raises(ValueError, match="eval_last 0 must be an integer >= 1"):
        TrueGemConfig(eval_last=0)
    with pytest.raises(ValueError, match=r"unknown mixed_precision 'fp32'; allowed: \['no', "):
        TrueGemConfig(mixed_precision="fp32")
