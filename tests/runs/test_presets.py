"""Presets: loading, expansion (product, union, dedupe, normalization), run ids, errors."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from junk_dna.cli import main
from junk_dna.experiments import get_experiment
from junk_dna.runs.errors import PresetError, SweepError
from junk_dna.runs.layout import canonical_json, run_id
from junk_dna.runs.local import run_sweep
from junk_dna.runs.presets import (
    cached_resolver,
    expand_preset,
    load_preset,
    parse_preset,
    preset_names,
    varying_keys,
)
from tests.runs.helpers import GRID, experiment_resolver, write_preset

pytestmark = pytest.mark.usefixtures("sleepy_plugin")  # tests/conftest.py



def test_expand_product_union_dedupe_and_normalization(tmp_path: Path) -> None:
    preset = load_preset("sleepy", write_preset(tmp_path, GRID))
    assert (preset.name, preset.jobs, preset.description) == ("grid", 2, "a grid")
    runs = expand_preset("sleepy", preset)
    got = [(r.params["x"], r.params["mode"], r.params["level"], r.block) for r in runs]
    # block 1: dense runs lose their level -> one per x; block 2: x * level; block 3: all dups
    assert got == [(1, "dense", None, 1), (2, "dense", None, 1),
                   (1, "sparse", 0.1, 2), (1, "sparse", 0.3, 2),
                   (2, "sparse", 0.1, 2), (2, "sparse", 0.3, 2)]
    assert all(r.params["sleep"] == 0.0 and isinstance(r.params["sleep"], float) for r in runs)
    assert len({r.run_id for r in runs}) == len(runs)
    assert varying_keys(runs) == ["x", "mode", "level"]


def test_yaml_numbers_are_yaml_1_2(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "base: {lr: 1e-4, nm: 6:8, n: 12, f: .5, s: '7'}\n")
    base = load_preset("sleepy", path).base
    assert base == {"lr": 1e-4, "nm": "6:8", "n": 12, "f": 0.5, "s": "7"}


def test_run_id_is_stable_unique_and_filesystem_safe() -> None:
    params = {"task": "sst2-embedded", "data_fraction": 1.0, "seed": 41, "mode": "sparse",
              "pattern": "nm", "nm": "2:8", "sparsity": None, "model": "minilm"}
    rid = run_id(params)
    assert rid.startswith("sst2-embedded_f1_s41_sparse_nm-2of8_")
    assert rid == run_id(dict(reversed(list(params.items()))))  # key order does not matter
    assert rid == "sst2-embedded_f1_s41_sparse_nm-2of8_" + __import__("hashlib").sha256(
        canonical_json(params).encode()).hexdigest()[:8]
    assert run_id({**params, "model": "other"}) != rid  # a param outside the slug still counts
    assert run_id({"task": "a/b c", "sparsity": 0.5}) .startswith("a-b-c_p-0.5_")
    assert re.fullmatch(r"x=3_[0-9a-f]{8}", run_id({"x": 3}))
    paper = expand_preset("true_gem", load_preset("true_gem", "paper"), check_hub=False)
    ids = [r.run_id for r in paper]
    assert len(ids) == len(set(ids)) == 882
    assert all(re.fullmatch(r"[A-Za-z0-9._=-]+", i) and len(i) < 100 for i in ids)


def test_true_gem_presets_expand() -> None:
    sizes = {name: len(expand_preset("true_gem", load_preset("true_gem", name), check_hub=False))
             for name in preset_names("true_gem")}
    assert sizes == {"smoke": 3, "pilot": 18, "default": 40, "paper": 882}


PILOT_SEEDS = {41, 42, 43, 44}
DECISIVE_SEEDS = {1, 2, 3, 4, 5}


def _grid(experiment: str, preset: str) -> dict[tuple, set]:
    runs = expand_preset(experiment, load_preset(experiment, preset), check_hub=False)
    grid: dict[tuple, set] = {}
    for r in runs:
        p = r.params
        key = (p.get("task"), p.get("data_fraction"), p["mode"], p.get("pattern"))
        grid.setdefault(key, set()).add((p.get("sparsity"), p["seed"]))
    return grid


def test_the_decisive_fine_tuning_design_is_the_preregistered_one() -> None:
    """docs/PREREGISTRATION.md, stage 3: S = {0.7, 0.8, 0.9}, claim C on {0.8, 0.9}, seeds
    1-5, 234 steps for every data fraction; pilot seeds never in a decisive preset."""
    def points(grid: dict[tuple, set], mode: str, frac: float = 1.0) -> tuple[set, set]:
        (pairs,) = [v for k, v in grid.items() if k[1] == frac and k[2] == mode]
        return {x for x, _ in pairs}, {s for _, s in pairs}

    tg = _grid("true_gem", "default")
    assert points(tg, "dense") == ({None}, DECISIVE_SEEDS)
    assert points(tg, "sparse") == ({0.7, 0.8, 0.9}, DECISIVE_SEEDS)
    assert points(tg, "freeze") == points(tg, "sparse_to_dense") == ({0.8, 0.9}, DECISIVE_SEEDS)
    da = _grid("data_adequacy", "default")
    for frac in (1.0, 0.25):
        assert points(da, "sparse", frac) == ({0.7, 0.8, 0.9}, DECISIVE_SEEDS)
    for experiment in ("true_gem", "data_adequacy", "human_gap"):
        preset = load_preset(experiment, "default")
        runs = expand_preset(experiment, preset, check_hub=False)
        assert all(r.params["max_steps"] == 234 and r.params["eval_steps"] == 39 for r in runs)
        assert not {r.params["seed"] for r in runs} & PILOT_SEEDS
        pilot = expand_preset(experiment, load_preset(experiment, "pilot"), check_hub=False)
        assert {r.params["seed"] for r in pilot} <= PILOT_SEEDS


def test_hub_models_checked_once_per_model_and_never_in_dry_runs(tmp_path: Path) -> None:
    from junk_dna.models.encoders import resolve_model

    calls: list[tuple[str, bool]] = []

    def counting(name: str, *, check_hub: bool = True):
        calls.append((name, check_hub))
        return resolve_model(name, check_hub=False)

    with experiment_resolver("true_gem", counting):
        preset = load_preset("true_gem", "paper")
        expand_preset("true_gem", preset, check_hub=True)
        assert calls == [("roberta-large", True)]
        calls.clear()
        result = run_sweep("true_gem", "paper", runs_dir=tmp_path, dry_run=True,
                           out=io.StringIO())
        assert result.total == 882 and calls == [("roberta-large", False)]


@pytest.mark.parametrize("name", ["data_adequacy", "human_gap", "context_length",
                                  "option_count", "kshot", "factoid_vs_mc", "quantization"])
def test_every_experiment_resolves_its_model_names_through_the_seam(name: str) -> None:
    exp = get_experiment(name)
    assert exp.resolve_model is not None
    calls: list[tuple[str, bool]] = []

    def counting(model: str, *, check_hub: bool = True):
        calls.append((model, check_hub))
        return exp.resolve_model(model, check_hub=False)

    with experiment_resolver(name, counting):
        runs = expand_preset(name, load_preset(name, "paper"), check_hub=True)
    models = sorted({run.params["model"] for run in runs})
    assert len(runs) > 1 and sorted(calls) == [(m, True) for m in models]  # once per model


def test_a_bad_model_name_fails_once_for_every_run_of_it() -> None:
    calls: list[str] = []

    def refusing(model: str, *, check_hub: bool = True):
        calls.append(model)
        raise ValueError(f"unknown model {model!r}")

    resolve = cached_resolver(refusing, check_hub=True)
    for _ in range(3):
        with pytest.raises(ValueError, match="'nope'"):
            resolve("nope")
    assert calls == ["nope"]


@pytest.mark.parametrize(("text", "expected"), [
    ("- just\n- a list\n", ["list", "mapping"]),
    ("base: {x: 1}\nfoo: 1\nbar: 2\n", ["'foo'", "'bar'", "description", "axes", "blocks"]),
    ("axes: {x: 3}\n", ["x 3", "list"]),
    ("blocks:\n  - {x: 4}\n", ["x 4", "list", "block 1"]),
    ("blocks: {x: [1]}\n", ["blocks", "list"]),
    ("axes: {x: []}\n", ["x", "empty"]),
    ("jobs: 0\n", ["jobs 0"]),
    ("base: [1]\n", ["base [1]", "mapping"]),
    ("axes: {x: [1]}\nblocks:\n  - {x: [2]}\n", ["block 1", "'x'", "axes"]),
    ("base: {x: 1}\nblocks:\n  - {mode: [dense]}\n  - {mode: [sparse], level: [0.5, 7.5]}\n",
     ["7.5", "block 2", "[0, 1)"]),
    ("base: {y: 1}\n", ["'y'", "allowed", "block 1"]),
    ("axes: {mode: [dense, bogus]}\n", ["'bogus'", "allowed", "'dense'", "'sparse'"]),
    ("base: {x: [1, 2\n", ["not valid YAML", "flow sequence"]),
])
def test_preset_errors_name_the_bad_value(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write_preset(tmp_path, text)
    with pytest.raises(PresetError) as err:
        expand_preset("sleepy", load_preset("sleepy", path))
    for part in expected:
        assert part in str(err.value), (part, str(err.value))


def test_preset_lookup_errors(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match=r"'nope'.*\['smoke', 'pilot', 'default', 'paper'\]"):
        load_preset("true_gem", "nope")
    with pytest.raises(PresetError, match="missing.yaml"):
        load_preset("sleepy", str(tmp_path / "missing.yaml"))
    with pytest.raises(PresetError, match="'sleepy' has no preset file"):
        load_preset("sleepy", "smoke")
    with pytest.raises(SweepError, match=r"'nope'.*true_gem"):
        run_sweep("nope", "smoke", runs_dir=tmp_path)
    with pytest.raises(PresetError, match="'preset' .*mapping"):
        parse_preset("preset", 3, tmp_path)


def test_bad_plugin_raises_import_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from junk_dna.experiments import get_experiment

    monkeypatch.setenv("JUNK_DNA_PLUGINS", "sleepy_experiment, no_such_plugin_xyz")
    with pytest.raises(ImportError, match="no_such_plugin_xyz"):
        get_experiment("sleepy")
    assert main(["sweep", "sleepy", "--preset", "x.yaml", "--dry-run"]) == 2


def test_every_committed_preset_asks_for_at_most_the_questions_its_tasks_have() -> None:
    """Validation checks every zero-shot run's question count against its tasks' sizes
    (conditions.ConditionRunner.check_sizes); every committed preset passes it."""
    from junk_dna.runs.presets import list_experiments, presets_file

    built_in = [e for e in list_experiments() if presets_file(e).is_file()]  # not plugins
    assert len(built_in) == 8
    for experiment in built_in:
        names = preset_names(experiment)
        assert {"smoke", "default", "paper"} <= set(names)
        for name in names:
            assert expand_preset(experiment, load_preset(experiment, name), check_hub=False)
    # the decisive zero-shot presets (offset 150 + 250 questions) are among them
    for experiment in ("option_count", "kshot", "context_length", "quantization"):
        runs = expand_preset(experiment, load_preset(experiment, "default"), check_hub=False)
        assert {(r.params["offset"], r.params["n_questions"]) for r in runs} == {(150, 250)}


def test_a_preset_folder_gives_each_experiment_its_own_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--preset DIR/``: one ``<experiment>.yaml`` per experiment, one sweep (one worker
    pool) for all; the folder's name is the preset's."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "true_gem.yaml").write_text(
        "description: tg\nbase: {data_fraction: 0.05, epochs: 1}\n"
        "blocks:\n  - {mode: [dense]}\n  - {mode: [freeze], pattern: [nm], nm: ['2:8']}\n")
    (folder / "data_adequacy.yaml").write_text(
        "description: da\nbase: {data_fraction: 0.1}\nblocks:\n  - {mode: [dense]}\n")
    preset = load_preset("true_gem", f"{folder}/")
    assert (preset.name, preset.source, len(preset.blocks)) == (
        "mine", folder / "true_gem.yaml", 2)
    assert load_preset("data_adequacy", str(folder)).base == {"data_fraction": 0.1}
    runs = tmp_path / "runs"
    assert main(["sweep", "true_gem", "data_adequacy", "--preset", f"{folder}/", "--dry-run",
                 "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "true_gem / mine: tg" in out and "data_adequacy / mine: da" in out
    assert "2 runs: 0 done" in out and "1 runs: 0 done" in out
    # an experiment without its file is refused before any run, naming the files there
    assert main(["sweep", "true_gem", "human_gap", "--preset", f"{folder}/",
                 "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert "has no human_gap.yaml for experiment 'human_gap'" in err
    assert "['data_adequacy.yaml', 'true_gem.yaml']" in err and not runs.exists()
    with pytest.raises(PresetError, match="preset folder .*missing.* not found"):
        load_preset("true_gem", f"{tmp_path / 'missing'}/")
    # a preset name never holds a '/': no folder is looked up for a plain name
    with pytest.raises(PresetError, match="unknown preset 'mine'"):
        load_preset("true_gem", "mine")
