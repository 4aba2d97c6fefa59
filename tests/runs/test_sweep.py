"""The sweep runner: preset expansion, run ids, errors, execution, resume, failures, locking.

Executions use the ``sleepy`` plugin experiment (``tests/fixtures/sleepy_experiment.py`` and
``tests/fixtures/notebooks/sleepy.ipynb``): each run costs one papermill kernel (~3 s here).
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from junk_dna.cli import main
from junk_dna.runs import sweep
from junk_dna.runs.sweep import (
    PresetError,
    SweepError,
    SweepLockedError,
    canonical_json,
    expand_preset,
    load_preset,
    parse_preset,
    run_id,
    run_state,
    run_sweep,
    sweep_lock,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


pytestmark = pytest.mark.usefixtures("sleepy_plugin")  # tests/conftest.py


def write_preset(folder: Path, text: str, name: str = "grid.yaml") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def write_notebook(path: Path, parameters: str, body: str) -> None:
    """A two-cell notebook: a ``parameters`` cell and a body."""
    nb = nbformat.v4.new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, path)


def records(root: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in root.glob("*/record.json")}


# --------------------------------------------------------------------------- expansion


GRID = """
description: a grid
jobs: 2
base: {sleep: 0.0}
axes: {x: [1, 2]}
blocks:
  - {mode: [dense], level: [0.1, 0.2]}
  - {mode: [sparse], level: [0.1, 0.3]}
  - {mode: [sparse, dense], level: [0.1]}
"""


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
    assert sweep.varying_keys(runs) == ["x", "mode", "level"]


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
             for name in sweep.preset_names("true_gem")}
    assert sizes == {"smoke": 3, "default": 32, "paper": 882}


def test_hub_models_checked_once_per_model_and_never_in_dry_runs(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import junk_dna.models.encoders as models

    calls: list[tuple[str, bool]] = []
    real = models.resolve_model

    def counting(name: str, *, check_hub: bool = True):
        calls.append((name, check_hub))
        return real(name, check_hub=False)

    monkeypatch.setattr(models, "resolve_model", counting)
    preset = load_preset("true_gem", "paper")
    expand_preset("true_gem", preset, check_hub=True)
    assert calls == [("roberta-large", True)]
    calls.clear()
    result = run_sweep("true_gem", "paper", runs_dir=tmp_path, dry_run=True, out=io.StringIO())
    assert result.total == 882 and calls == [("roberta-large", False)]
    assert models.resolve_model is counting  # the temporary wrapper is gone


def test_paper_dry_run_works_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    assert main(["sweep", "true_gem", "--preset", "paper", "--dry-run",
                 "--runs-dir", str(tmp_path)]) == 0
    assert time.monotonic() - start < 20
    out = capsys.readouterr().out
    assert "882 runs: 0 done, 882 to do" in out and "qnli_f1_s41_dense_" in out
    # a real sweep checks the hub (here: unreachable) before anything runs, naming the model
    import junk_dna.models.encoders as models

    def no_hub(name: str, *, check_hub: bool = True):
        if check_hub:
            raise ValueError(f"unknown model {name!r}: the hub cannot be reached")
        return real(name, check_hub=False)

    real = models.resolve_model
    monkeypatch.setattr(models, "resolve_model", no_hub)
    with pytest.raises(PresetError, match="'roberta-large'"):
        run_sweep("true_gem", "paper", runs_dir=tmp_path)
    assert not (tmp_path / "true_gem").exists()


# --------------------------------------------------------------------------- preset errors


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
    with pytest.raises(PresetError, match=r"'nope'.*\['smoke', 'default', 'paper'\]"):
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


def test_everything_validated_before_the_first_run(tmp_path: Path) -> None:
    path = write_preset(tmp_path, "base: {sleep: 0}\nblocks:\n  - {x: [1, 2]}\n  - {x: [1.5]}\n")
    with pytest.raises(PresetError, match="1.5"):
        run_sweep("sleepy", path, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(SweepError, match="sleepy.ipynb"):
        run_sweep("sleepy", write_preset(tmp_path, "axes: {x: [1]}\n", "ok.yaml"),
                  runs_dir=tmp_path / "runs", notebooks_dir=tmp_path)


# --------------------------------------------------------------------------- dry run, lock


def test_dry_run_prints_runs_and_executes_nothing(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = write_preset(tmp_path, GRID)
    runs = tmp_path / "runs"
    assert main(["sweep", "sleepy", "--preset", path, "--dry-run", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    for run in expand_preset("sleepy", load_preset("sleepy", path)):
        assert re.search(rf"todo +{run.run_id} +x={run.params['x']} ", out)
    assert "6 runs: 0 done, 6 to do" in out
    assert "fixed: sleep=0.0 fail=false fail_flag=\"\"" in out
    assert not runs.exists()  # no run folders, no lock


def test_lock_refuses_a_concurrent_sweep(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = write_preset(tmp_path, "axes: {x: [1]}\n")
    runs = tmp_path / "runs"
    with sweep_lock(runs / "sleepy") as lock:
        start = time.monotonic()
        assert main(["sweep", "sleepy", "--preset", path, "--runs-dir", str(runs)]) == 3
        assert time.monotonic() - start < 5
        assert str(lock) in capsys.readouterr().err
        with pytest.raises(SweepLockedError, match=re.escape(str(lock))):
            run_sweep("sleepy", path, runs_dir=runs)
        # a dry run takes no lock
        assert main(["sweep", "sleepy", "--preset", path, "--runs-dir", str(runs),
                     "--dry-run"]) == 0
    assert not list((runs / "sleepy").glob("x=*"))  # nothing ran


# --------------------------------------------------------------------------- execution


@pytest.mark.slow
def test_failures_resume_and_corrupt_records(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    flag = tmp_path / "fail-flag"
    flag.touch()
    path = write_preset(tmp_path, f"base: {{sleep: 0}}\nblocks:\n  - {{x: [1, 2]}}\n"
                                  f"  - {{x: [4], fail_flag: ['{flag}']}}\n")
    runs = tmp_path / "runs"
    root = runs / "sleepy"
    plan = expand_preset("sleepy", load_preset("sleepy", path))
    failing = plan[-1].run_id
    assert len(plan) == 3
    argv = ["sweep", "sleepy", "--preset", path, "--runs-dir", str(runs), "--jobs", "2",
            "--no-progress"]

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"{failing}: {root / failing / 'error.txt'}" in err and "1 failed" in err
    error = (root / failing / "error.txt").read_text()
    assert "RuntimeError: sleepy run x=4 failed on purpose" in error
    assert "Traceback" in error or "---->" in error  # the failing cell's traceback
    executed = nbformat.read(root / failing / "sleepy.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells
               for o in c.get("outputs", []))
    assert (root / failing / "log.txt").exists() and not (root / failing / "record.json").exists()
    done = records(root)
    assert sorted(done) == sorted(r.run_id for r in plan[:2])
    for rid, rec in done.items():
        assert rec["status"] == "ok"
        assert rec["resolved"]["python"] == sys.executable  # the kernel runs this interpreter
        assert rec["resolved"]["threads"] == rec["resolved"]["omp"] == str(
            max(1, sweep.available_cpus() // 2))
        assert Path(rec["resolved"]["cwd"]).resolve() == (root / rid).resolve()
        assert json.loads((root / rid / "params.json").read_text())["run_dir"] == str(
            (root / rid).resolve())

    # resume: the finished runs are skipped, the failed one is retried (and now succeeds)
    flag.unlink()
    first = {rid: (root / rid / "record.json").stat().st_mtime_ns for rid in done}
    result = run_sweep("sleepy", path, runs_dir=runs, progress=False)
    assert (result.skipped, result.ran, result.failed, result.todo) == (2, 1, [], 0)
    assert not (root / failing / "error.txt").exists()
    assert {rid: (root / rid / "record.json").stat().st_mtime_ns for rid in done} == first

    # a corrupt record is re-run (with a warning); an ok record of other params too
    (root / plan[0].run_id / "record.json").write_text('{"status": "ok", "par')
    rec = json.loads((root / plan[1].run_id / "record.json").read_text())
    rec["params"]["x"] = 99
    (root / plan[1].run_id / "record.json").write_text(json.dumps(rec))
    assert run_state(root / plan[1].run_id, plan[1].params) == "stale"
    with pytest.warns(UserWarning, match="corrupt record"):
        result = run_sweep("sleepy", path, runs_dir=runs, progress=False, jobs=2)
    assert (result.skipped, result.ran, result.failed) == (1, 2, [])
    assert all(rec["status"] == "ok" for rec in records(root).values())
    assert len(records(root)) == 3


@pytest.mark.slow
def test_notebook_without_record_is_a_failure(tmp_path: Path) -> None:
    write_notebook(tmp_path / "sleepy.ipynb", "x = 0\nrun_dir = ''", "print('forgot the record')")
    path = write_preset(tmp_path, "axes: {x: [5]}\n")
    result = run_sweep("sleepy", path, runs_dir=tmp_path / "runs", notebooks_dir=tmp_path,
                       progress=False)
    assert len(result.failed) == 1
    text = result.error_file(result.failed[0]).read_text()
    assert "record.json is missing" in text and '"x": 5' in text


@pytest.mark.slow
def test_killed_sweep_resumes_to_exactly_one_record_per_run(tmp_path: Path) -> None:
    """THE KEY TEST: SIGKILL the whole sweep (its process group) mid-way, then resume."""
    n = 4
    path = write_preset(tmp_path, f"jobs: 2\nbase: {{sleep: 1.0}}\naxes: {{x: {list(range(n))}}}\n")
    runs = tmp_path / "runs"
    root = runs / "sleepy"
    cmd = [sys.executable, "-m", "junk_dna.cli", "sweep", "sleepy", "--preset", path,
           "--runs-dir", str(runs), "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not list(root.glob("*/record.json")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no record after 60 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    at_kill = len(list(root.glob("*/record.json")))
    assert 1 <= at_kill < n
    assert len([d for d in root.iterdir() if d.is_dir()]) > at_kill  # runs killed mid-way

    result = run_sweep("sleepy", path, runs_dir=runs, progress=False)
    assert result.failed == [] and result.skipped >= at_kill and result.done == n
    folders = sorted(d for d in root.iterdir() if d.is_dir())
    assert len(folders) == n == result.total
    for folder in folders:
        assert [p.name for p in folder.glob("record*")] == ["record.json"]
        rec = json.loads((folder / "record.json").read_text())
        assert rec["status"] == "ok" and rec["run_id"] == folder.name
        assert not (folder / "error.txt").exists()
    assert sorted(rec["params"]["x"] for rec in records(root).values()) == list(range(n))


@pytest.mark.slow
def test_figures_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs, figs = tmp_path / "runs", tmp_path / "figs"
    (runs / "sleepy" / "a").mkdir(parents=True)
    (runs / "sleepy" / "a" / "record.json").write_text("{}")
    argv = ["figures", "--runs-dir", str(runs), "--figures-dir", str(figs)]
    assert main([*argv, "--notebooks-dir", str(FIXTURES / "notebooks")]) == 0
    assert (figs / "count.txt").read_text() == "1"
    assert (runs / "figures" / "figures.ipynb").exists()

    bad = tmp_path / "bad"
    bad.mkdir()
    write_notebook(bad / "figures.ipynb", "runs_dir = figures_dir = ''",
                   "raise ValueError('no records to plot')")
    capsys.readouterr()
    assert main([*argv, "--notebooks-dir", str(bad)]) == 1
    assert "ValueError: no records to plot" in capsys.readouterr().err
    assert main([*argv, "--notebooks-dir", str(tmp_path / "none")]) == 2


@pytest.mark.slow
def test_worker_retries_once_when_the_kernel_fails_to_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parallel kernels can collide on ports (papermill #511): a failed start is retried."""
    native = sweep._native_kernel_manager_class()
    starts: list[int] = []

    class FlakyKernelManager(native):  # type: ignore[misc, valid-type]
        async def start_kernel(self, **kwargs):  # noqa: ANN003, ANN201
            starts.append(1)
            if len(starts) == 1:
                raise RuntimeError("Kernel died before replying to kernel_info")
            return await super().start_kernel(**kwargs)

    monkeypatch.setattr(sweep, "_native_kernel_manager_class", lambda: FlakyKernelManager)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep pytest's handlers
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"x": 7, "sleep": 0.0, "run_dir": str(tmp_path)}))
    argv = [str(FIXTURES / "notebooks" / "sleepy.ipynb"), str(tmp_path / "out.ipynb"),
            str(params), str(tmp_path), str(tmp_path / "error.txt")]
    assert sweep._worker_main(argv) == 0
    assert len(starts) == 2 and not (tmp_path / "error.txt").exists()
    assert json.loads((tmp_path / "record.json").read_text())["params"]["x"] == 7


def test_runs_of_an_experiment_with_the_same_protocol_are_reused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    first = write_preset(tmp_path, "base: {sleep: 0}\nblocks:\n  - {x: [1, 2]}\n", "a.yaml")
    second = write_preset(tmp_path, "base: {sleep: 0}\nblocks:\n  - {x: [1, 2, 3]}\n",
                          "b.yaml")
    done = run_sweep("sleepy", first, runs_dir=runs, progress=False)
    assert done.ran == 2
    twin = run_sweep("sleepy_twin", second, runs_dir=runs, progress=False)
    assert (twin.reused, twin.skipped, twin.ran) == (2, 2, 1)  # only x=3 was executed
    copies = records(runs / "sleepy_twin")
    assert len(copies) == 3
    originals = records(runs / "sleepy")
    for rid, rec in copies.items():
        if rid in originals:  # (the fixture notebook itself always writes "sleepy")
            assert rec["experiment"] == "sleepy_twin"
            assert rec["params"] == originals[rid]["params"]
            assert rec["reused_from"] == str((runs / "sleepy" / rid).resolve())
        else:
            assert "reused_from" not in rec
    # a resumed sweep reuses nothing more and runs nothing
    again = run_sweep("sleepy_twin", second, runs_dir=runs, progress=False)
    assert (again.reused, again.skipped, again.ran) == (0, 3, 0)
    assert not list((runs / "sleepy_twin").glob(".reuse-*"))  # no temporary folder left
