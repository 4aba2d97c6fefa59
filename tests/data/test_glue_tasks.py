"""Fine-tuning tasks: loading, the embedded re-split, data fractions, task names."""

from __future__ import annotations

import pytest

from junk_dna.data.glue_tasks import TASKS, get_task, load_task, select_fraction


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
