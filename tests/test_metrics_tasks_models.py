"""Metrics (GLUE definitions), task loading and splitting, model-name resolution."""

from __future__ import annotations

import numpy as np
import pytest

from junk_dna.metrics import get_metric
from junk_dna.models import ALIASES, resolve_model
from junk_dna.tasks import TASKS, get_task, load_task, select_fraction


def test_metrics_on_hand_made_cases():
    p, y = np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 0, 1])
    assert get_metric("accuracy")(p, y) == {"accuracy": 0.8}
    f = get_metric("f1_accuracy")(p, y)
    assert f["f1"] == pytest.approx(0.8)  # tp=2 fp=1 fn=0 -> 2*2/(2*2+1)
    # MCC = (tp*tn - fp*fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)) = (2*2-1*0)/sqrt(3*2*3*2)
    assert get_metric("matthews")(p, y)["matthews_correlation"] == pytest.approx(4 / 6)
    s = get_metric("pearson_spearman")(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0]))
    assert s["spearmanr"] == pytest.approx(1.0) and 0.98 < s["pearson"] < 1.0
    with pytest.raises(ValueError, match="'bleu'"):
        get_metric("bleu")


def test_embedded_sst2_resplit_is_fixed_and_disjoint():
    a = load_task("sst2-embedded", seed=1)
    b = load_task("sst2-embedded", seed=2)
    assert a.train == b.train and a.evals == b.evals  # the split does not follow the run seed
    n_train, n_test = len(a.train["label"]), len(a.evals["test"]["label"])
    assert (n_train, n_test) == (610, 262)  # 872 validation rows, 30 % held out
    assert not set(a.train["sentence"]) & set(a.evals["test"]["sentence"])
    assert a.resolved["data_source"] == "embedded"


def test_data_fraction_random_and_prefix():
    r1 = select_fraction(100, 0.3, "random", seed=1)
    assert len(r1) == 30 and r1 == select_fraction(100, 0.3, "random", seed=1)
    assert r1 != select_fraction(100, 0.3, "random", seed=2)
    assert select_fraction(100, 0.3, "prefix", seed=1) == list(range(30))
    sub = load_task("sst2-embedded", data_fraction=0.5, seed=3)
    assert len(sub.train["label"]) == 305 and sub.resolved["n_train_full"] == 610
    for bad in (0.0, 1.5, -1):
        with pytest.raises(ValueError, match=str(bad)):
            select_fraction(10, bad, "random", 0)


def test_task_names_say_where_data_comes_from():
    assert get_task("sst2").source == "hub" and get_task("sst2-embedded").source == "embedded"
    assert all(t.source == "embedded" for n, t in TASKS.items() if n.endswith("-embedded"))
    with pytest.raises(ValueError, match="'SST2'.*allowed"):
        get_task("SST2")


def test_alias_resolves_to_installed_package_and_records_it():
    r = resolve_model("minilm")
    assert r.source == "embedded" and r.location.endswith("model")
    assert ALIASES["minilm"].distribution in r.detail
    assert r.as_record()["model_source"] == "embedded"


def test_alias_falls_back_to_the_hub_id_when_package_missing(monkeypatch):
    import junk_dna.models as models

    monkeypatch.setattr(models, "_package_folder", lambda *_: None)
    r = resolve_model("minilm")
    assert (r.source, r.location) == ("hub", "sentence-transformers/all-MiniLM-L6-v2")


def test_bad_model_names(tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(ValueError, match="'not a model!'"):
        resolve_model("not a model!")
    with pytest.raises(ValueError, match="unknown model 'surely-not-on-any-hub'"):
        resolve_model("surely-not-on-any-hub")  # HF_HUB_OFFLINE=1: fails at once
    assert resolve_model("surely-not-on-any-hub", check_hub=False).source == "hub"


def test_local_folder_loads(tiny_model_dir):
    from junk_dna.models import load_model

    loaded = load_model(str(tiny_model_dir), num_labels=2)
    assert loaded.resolved.source == "local"
    assert loaded.new_param_names == frozenset()  # the saved tiny model has its head


def test_hub_tasks_load_their_train_and_every_eval_split(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(path, name, split):
        calls.append((path, name, split))
        n = 10 if split == "train" else 4
        return datasets.Dataset.from_dict({"premise": [f"p{i}" for i in range(n)],
                                           "hypothesis": [f"h{i}" for i in range(n)],
                                           "label": [i % 3 for i in range(n)]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data = load_task("mnli", data_fraction=0.5, subset="prefix")
    assert calls == [("nyu-mll/glue", "mnli", "train"),
                     ("nyu-mll/glue", "mnli", "validation_matched"),
                     ("nyu-mll/glue", "mnli", "validation_mismatched")]
    assert data.train["premise"] == ["p0", "p1", "p2", "p3", "p4"]  # the first 50 %
    assert list(data.evals) == ["validation_matched", "validation_mismatched"]
    assert data.resolved["data_source"] == "hub"
