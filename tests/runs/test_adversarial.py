"""The twelve defects of issue 11 (88 adversarial inputs and faults), one test per case, and
the SIGKILL-during-worker-start-up race run repeatedly.

Each test feeds the bad input or fault the issue names and checks the fixed behaviour: a
message naming the value or path and exit 2 before any work, or a failed run that the sweep
reports while it goes on, never a traceback, a hang, or a write outside the runs folder.
"""

from __future__ import annotations

import errno
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from junk_dna.cli import main
from junk_dna.results import collect
from junk_dna.results.records import write_record
from junk_dna.runs.layout import BLOCKED, run_folders, run_state
from junk_dna.runs.local import run_sweep
from junk_dna.runs.presets import MAX_RUNS, expand_preset, grid_size, load_preset
from tests.runs.helpers import records, write_notebook, write_preset

pytestmark = pytest.mark.usefixtures("sleepy_plugin")  # tests/conftest.py

BAD_INPUT = 2


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """``junk-dna ARGV`` in this process: its exit status and stderr."""
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().err


def _refused(capsys: pytest.CaptureFixture[str], path: str, experiment: str = "true_gem",
             *extra: str) -> str:
    """Stderr of a dry-run sweep of the preset file ``path``, asserted refused (exit 2, a
    message, no traceback)."""
    code, err = _cli(capsys, "sweep", experiment, "--preset", path, "--dry-run",
                     "--runs-dir", str(Path(path).parent / "runs"), *extra)
    assert code == BAD_INPUT, err
    assert "Traceback" not in err and err.startswith("junk-dna sweep: error: "), err
    return err


def _ids(path: str, experiment: str = "sleepy") -> list[str]:
    return [r.run_id for r in expand_preset(experiment, load_preset(experiment, path),
                                            check_hub=False)]


# ----------------------------------------------------------------------------------- high


def test_case_02_a_symlinked_run_folder_is_never_followed_nor_cleared(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Case 2: ``<runs>/<experiment>/<run_id>`` a link to a folder elsewhere: the target's
    files stay, nothing is recorded there, the run fails naming the link; a linked
    ``<runs>/figures`` is refused the same way."""
    path = write_preset(tmp_path, "base: {sleep: 0.0}\naxes: {x: [1]}\n")
    (run_id,) = _ids(path)
    elsewhere = tmp_path / "thesis"
    elsewhere.mkdir()
    (elsewhere / "thesis.tex").write_text("\\chapter{Years of work}\n")
    root = tmp_path / "runs" / "sleepy"
    root.mkdir(parents=True)
    (root / run_id).symlink_to(elsewhere, target_is_directory=True)
    assert run_state(root / run_id, {}) == BLOCKED

    code, err = _cli(capsys, "sweep", "sleepy", "--preset", path, "--runs-dir",
                     str(tmp_path / "runs"), "--no-progress")
    assert code == 1, err
    assert f"{run_id}: run folder {root / run_id} is a symbolic link" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["thesis.tex"]
    assert (elsewhere / "thesis.tex").read_text() == "\\chapter{Years of work}\n"
    assert (root / run_id).is_symlink() and run_folders(root) == []

    # nor does `figures` clear (or run in) a linked figures folder
    (elsewhere / "log.txt").write_text("kept")
    (tmp_path / "runs" / "figures").symlink_to(elsewhere, target_is_directory=True)
    code, err = _cli(capsys, "figures", "--runs-dir", str(tmp_path / "runs"), "--figures-dir",
                     str(tmp_path / "figs"))
    assert code == BAD_INPUT and "figures is a symbolic link" in err, err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["log.txt", "thesis.tex"]


# --------------------------------------------------------------------------------- medium


@pytest.mark.parametrize("text, named", [
    ("axes: {sparsity: [[0.5]]}\n", "sparsity [0.5] must be a number or null"),
    ("axes: {sparsity: [{a: 1}]}\n", "sparsity {'a': 1} must be a number or null"),
    ("base: {task: [sst2-embedded]}\n", "task ['sst2-embedded'] must be a string"),
])
def test_case_03_a_list_or_mapping_where_a_scalar_belongs_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, named: str) -> None:
    """Case 3: refused with exit 2 and the value named, not a TypeError traceback."""
    err = _refused(capsys, write_preset(tmp_path, text))
    assert named in err and "TrueGemConfig" in err


def test_case_04_filesystem_faults_are_messages_and_a_full_disk_fails_runs_not_the_sweep(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Case 4: ``--runs-dir`` a file (sweep and figures) and a runs folder that cannot be
    written: exit 2 naming the path; a run folder that is a file: that run fails; a full
    disk when ``error.txt`` is written: every run is still run and the summary names each
    failure."""
    path = write_preset(tmp_path, "base: {sleep: 0.0}\naxes: {x: [1, 2, 3]}\n")
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("")
    code, err = _cli(capsys, "sweep", "sleepy", "--preset", path, "--runs-dir", str(a_file))
    assert code == BAD_INPUT and f"runs folder {str(a_file)!r} is a file" in err, err
    code, err = _cli(capsys, "figures", "--runs-dir", str(a_file), "--figures-dir",
                     str(tmp_path / "figs"))
    assert code == BAD_INPUT and f"{str(a_file)!r} is a file" in err, err

    # a read-only runs folder (simulated: the tests may run as root, which chmod cannot stop)
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    real = tempfile.TemporaryFile

    def refuse(*args: object, dir: object = None, **kwargs: object) -> object:  # noqa: A002
        if dir is not None and Path(str(dir)) == read_only:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(read_only))
        return real(*args, dir=dir, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "TemporaryFile", refuse)
        code, err = _cli(capsys, "sweep", "sleepy", "--preset", path, "--runs-dir",
                         str(read_only))
    assert code == BAD_INPUT, err
    assert f"runs folder {str(read_only)!r} cannot be written: Read-only file system" in err

    # a full disk whenever error.txt is written; one run folder is a plain file
    runs = tmp_path / "runs"
    ids = _ids(path)
    (runs / "sleepy").mkdir(parents=True)
    (runs / "sleepy" / ids[0]).write_text("a file where a run folder belongs")
    import junk_dna.runs.layout as layout

    def full_disk(target: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(layout, "atomic_write_text", full_disk)
    write_notebook(tmp_path / "sleepy.ipynb", "x = 0\nrun_dir = ''", "print('no record')")
    code, err = _cli(capsys, "sweep", "sleepy", "--preset", path, "--runs-dir", str(runs),
                     "--notebooks-dir", str(tmp_path), "--no-progress")
    assert code == 1, err
    assert "Traceback" not in err and "3 failed" in err, err
    assert f"{ids[0]}: run folder {runs / 'sleepy' / ids[0]} is a file" in err
    for run_id in ids[1:]:  # each ran (its notebook is there) and is named with the disk error
        assert (runs / "sleepy" / run_id / "sleepy.ipynb").exists()
        assert f"{run_id}: the notebook ran to its end but" in err
    assert err.count("No space left on device") == 2


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs, mounted as root): what a run writes past 1 MiB gets
    ENOSPC from the kernel, in whichever process writes it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_case_04_a_real_full_disk_in_the_persistent_worker_fails_each_run_not_the_sweep(
        tmp_path: Path, full_disk: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Case 4, worker side and without simulation: the runs folder lies on a 1 MiB disk and
    each notebook prints 2 MB, so the persistent worker cannot write the executed notebook.
    Every run is attempted and fails with the disk error named, the sweep ends with exit 1
    and a summary, no traceback, and no worker or kernel is left behind."""
    path = write_preset(tmp_path, "base: {sleep: 0.0}\naxes: {x: [1, 2, 3]}\n")
    write_notebook(tmp_path / "sleepy.ipynb", "x = 0\nrun_dir = ''", "print('y' * 2_000_000)")
    runs = full_disk / "runs"
    code, err = _cli(capsys, "sweep", "sleepy", "--preset", path, "--runs-dir", str(runs),
                     "--notebooks-dir", str(tmp_path), "--no-progress", "--jobs", "1")
    assert code == 1, err
    assert "Traceback" not in err and "3 failed" in err, err
    lines = {line.split(":")[0].strip(): line for line in err.splitlines()
             if line.startswith("  ")}
    for run_id in _ids(path):  # each run named with the disk error
        assert "No space left on device" in lines[run_id], err
    left = subprocess.run(["pgrep", "-f", f"junk_dna.*{runs}"], capture_output=True,
                          text=True).stdout.split()
    assert not left, f"processes left: {left}"
    # each run folder exists, holding what fit on the disk; no other folder was written
    folders = {p.name for p in (runs / "sleepy").iterdir() if not p.name.startswith(".")}
    assert folders == set(_ids(path))


def test_case_05_nested_aliases_are_refused_at_once_with_a_short_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Case 5: the 576-byte "billion laughs" preset (9 levels) is refused in well under a
    second; at 4 levels (6,561 strings, under the bound) the bad value is named, cut short."""
    def laughs(levels: int) -> str:
        lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]"
                  for i in range(1, levels)]
        return "\n".join(lines) + f"\nbase: {{sparsity: *a{levels - 1}}}\n"

    assert len(laughs(9)) < 600
    start = time.monotonic()
    err = _refused(capsys, write_preset(tmp_path, laughs(9), "nine.yaml"))
    assert time.monotonic() - start < 10
    assert "aliases expand to more than 100,000 values" in err and len(err) < 2000

    chain = ['&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    chain += [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 4)]
    err = _refused(capsys, write_preset(tmp_path, f"base: {{sparsity: [{', '.join(chain)}]}}\n",
                                        "four.yaml"))
    assert "sparsity [['lol'" in err and "must be a number or null" in err and len(err) < 2000


def test_case_06_a_record_of_the_wrong_shape_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """Case 6: valid JSON, status ok, but ``params`` a string (or ``final.last`` a list):
    ``collect`` skips it with a warning naming its file; the others are collected."""
    good = {"experiment": "sleepy", "status": "ok", "params": {"x": 1},
            "final": {"last": {"value": 1.0}, "best": {"value": 1.0}}}
    write_record(tmp_path / "sleepy" / "good", {**good, "run_id": "good"})
    bad = {"params": {**good, "run_id": "params", "params": "x=1"},
           "final": {**good, "run_id": "final", "final": {"last": [1.0], "best": None}}}
    for name, rec in bad.items():
        (tmp_path / "sleepy" / name).mkdir()
        (tmp_path / "sleepy" / name / "record.json").write_text(json.dumps(rec))
    with pytest.warns(UserWarning) as caught:
        df = collect(tmp_path)
    assert set(df["run_id"]) == {"good"} and len(df) == 2
    messages = " ".join(str(w.message) for w in caught)
    for name in bad:
        assert str(tmp_path / "sleepy" / name / "record.json") in messages


@pytest.mark.slow
def test_case_07_figures_draw_whatever_experiments_exist(tmp_path: Path) -> None:
    """Case 7: the real figures notebook with no true_gem run: only a failed run, then only
    context_length runs; it draws what exists and names what is missing."""
    from tests.report.test_claims import Runs

    runs, figs = tmp_path / "runs", tmp_path / "figs"
    write_record(runs / "true_gem" / "failed", {
        "experiment": "true_gem", "run_id": "failed", "status": "failed", "params": {},
        "final": {"last": None, "best": None}})
    argv = ["figures", "--runs-dir", str(runs), "--figures-dir", str(figs)]
    assert main(argv) == 0
    text = (runs / "figures" / "figures.ipynb").read_text()
    assert "true_gem: no runs" in text and (figs / "claims.md").exists()

    fake = Runs(runs)
    fake.zs("context_length", "dense", method="dense",
            accs={"acc|context=full": 0.8, "acc|context=0": 0.6})
    fake.zs("context_length", "magnitude0.5", method="magnitude", sparsity=0.5,
            accs={"acc|context=full": 0.7, "acc|context=0": 0.4})
    assert main(argv) == 0
    assert (figs / "context_length.png").exists() and not (figs / "true_gem.png").exists()


# ------------------------------------------------------------------------------------ low


@pytest.mark.parametrize("text, named", [
    ("axes: {data_fraction: [true]}\n", "data_fraction True must be a number"),
    ("base: {learning_rate: true}\n", "learning_rate True must be a number"),
    ("base: {epochs: false}\n", "epochs False must be an integer"),
])
def test_case_08_booleans_are_not_numbers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, named: str) -> None:
    """Case 8: ``true`` where a number belongs is refused (it was taken as 1.0), in a preset
    and in a direct call of the config (a notebook's or a script's parameters)."""
    err = _refused(capsys, write_preset(tmp_path, text))
    assert named in err and "got a boolean" in err
    from junk_dna.experiments.true_gem import TrueGemConfig
    from junk_dna.experiments.zero_shot import ZeroShotConfig

    key = named.split()[0]
    with pytest.raises(ValueError, match=f"{key} (True|False) must be"):
        TrueGemConfig.from_params({key: key != "epochs"})
    with pytest.raises(ValueError, match="sparsity True must be a number or null"):
        ZeroShotConfig.from_params({"experiment": "context_length", "sparsity": True})


def test_case_09_a_key_given_twice_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Case 9: ``base: {seed: 41, seed: 7}`` is refused (it ran seed 7); a key merged in with
    ``<<`` may still be overridden."""
    err = _refused(capsys, write_preset(tmp_path, "base: {seed: 41, seed: 7}\n"))
    assert "found the key 'seed' twice" in err and "grid.yaml" in err
    err = _refused(capsys, write_preset(tmp_path, "base:\n  seed: 41\naxes: {}\nbase: {}\n"))
    assert "found the key 'base' twice" in err

    merged = write_preset(tmp_path, "base: {<<: {seed: 41, epochs: 2}, seed: 7}\n", "ok.yaml")
    assert load_preset("true_gem", merged).base == {"seed": 7, "epochs": 2}


def test_case_10_a_grid_over_the_limit_needs_the_flag(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Case 10: a 200,000-run preset is refused before any run is validated, at once, with
    its size and the flag; ``--max-runs`` lets a grid through."""
    seeds = ", ".join(str(s) for s in range(200))
    fractions = ", ".join(f"{(i + 1) / 1000:g}" for i in range(1000))
    path = write_preset(tmp_path, f"axes: {{seed: [{seeds}], data_fraction: [{fractions}]}}\n")
    assert grid_size(load_preset("true_gem", path)) == 200_000 > MAX_RUNS
    start = time.monotonic()
    err = _refused(capsys, path)
    assert time.monotonic() - start < 10
    assert "expands to 200,000 runs" in err and "--max-runs 200000" in err

    small = write_preset(tmp_path, "axes: {x: [1, 2, 3, 4]}\n", "small.yaml")
    err = _refused(capsys, small, "sleepy", "--max-runs", "3")
    assert "expands to 4 runs" in err
    code, err = _cli(capsys, "sweep", "sleepy", "--preset", small, "--dry-run", "--max-runs",
                     "4", "--runs-dir", str(tmp_path / "runs"))
    assert code == 0, err


@pytest.mark.parametrize("experiment", ["true_gem", "data_adequacy", "human_gap"])
def test_case_11_nm_widths_are_checked_before_any_fine_tuning_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], experiment: str) -> None:
    """Case 11: ``nm: "3:7"`` on the embedded MiniLM (hidden 384) is refused at validation,
    as the zero-shot experiments do, not after the run started; ``6:8`` passes."""
    bad = write_preset(tmp_path, "base: {mode: sparse, pattern: nm, nm: '3:7'}\n")
    err = _refused(capsys, bad, experiment)
    assert "M = 7 does not divide the model's hidden_size = 384" in err
    good = write_preset(tmp_path, "base: {mode: sparse, pattern: nm, nm: '6:8'}\n", "ok.yaml")
    assert len(expand_preset(experiment, load_preset(experiment, good), check_hub=False)) >= 1


def test_case_12_a_preset_that_is_not_utf8_is_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Case 12: the error names the file and the byte."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes("description: r\u00e9sum\u00e9\nbase: {seed: 41}\n".encode("latin-1"))
    err = _refused(capsys, str(path))
    assert f"{str(path)!r} is not UTF-8 text: byte 14 (line 1) is b'\\xe9'" in err


# ------------------------------------------------------------ case 1: the start-up race

TAG = "JUNK_DNA_TEST_RACE"
RACE_BODY = """
import os
import time
import sys
from pathlib import Path

from junk_dna.results.records import write_record

def mark(what):
    with open(Path(run_dir) / "writers.txt", "a") as fh:
        fh.write(f"{os.getpid()} {what}\\n")

mark("start")
time.sleep(sleep)
mark("end")
params = dict(x=x, mode=mode, level=level, sleep=sleep, fail=fail, fail_flag=fail_flag)
write_record(run_dir, {"experiment": "sleepy", "run_id": Path(run_dir).name, "status": "ok",
                       "params": params, "final": {"last": {"value": x}, "best": {}}})
mark("recorded")
"""
RACE_PARAMETERS = ("x = 0\nmode = 'sparse'\nlevel = 0.5\nsleep = 0.2\n"
                   "fail = False\nfail_flag = ''\nrun_dir = ''")


def _tagged(tag: str) -> dict[int, str]:
    """pid -> command line of every process but this one whose environment holds the tag."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if f"{TAG}={tag}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(
                    b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


def _gone(tag: str, timeout_s: float) -> dict[int, str]:
    deadline = time.monotonic() + timeout_s
    while (left := _tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_case_01_sigkill_during_worker_start_up_20_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Case 1: the sweep is SIGKILLed (alone, not its process group) at a random moment of
    its persistent worker's start-up (importing papermill, starting the kernel, the run's
    first cells), 20 times, each followed by a resume: every run is recorded exactly once,
    no worker or kernel is left, and no run folder was written by two processes."""
    tag = uuid.uuid4().hex
    monkeypatch.setenv(TAG, tag)
    write_notebook(tmp_path / "sleepy.ipynb", RACE_PARAMETERS, RACE_BODY)
    runs = tmp_path / "runs"
    root = runs / "sleepy"
    rng = random.Random(11)
    killed_while_starting = 0
    for cycle in range(20):
        path = write_preset(tmp_path, f"base: {{sleep: 0.3}}\naxes: {{x: [{cycle}]}}\n",
                            f"cycle{cycle}.yaml")
        (run_id,) = _ids(path)
        sweep = subprocess.Popen(
            [sys.executable, "-m", "junk_dna.cli", "sweep", "sleepy", "--preset", path,
             "--runs-dir", str(runs), "--notebooks-dir", str(tmp_path), "--no-progress"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not any("junk_dna.runs.worker" in cmd for cmd in _tagged(tag).values()):
                assert sweep.poll() is None, f"cycle {cycle}: the sweep ended first"
                assert time.monotonic() < deadline, f"cycle {cycle}: no worker after 60 s"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 3.0))  # papermill import .. kernel start .. cells
        finally:
            sweep.kill()
            sweep.wait()
        killed_while_starting += not (root / run_id / "record.json").exists()

        result = run_sweep("sleepy", path, runs_dir=runs, notebooks_dir=tmp_path,
                           progress=False)
        assert result.failed == [] and result.done == 1, (cycle, result)
        left = _gone(tag, 5.0)
        assert not left, f"cycle {cycle}: processes left behind: {left}"
        writers = (root / run_id / "writers.txt").read_text().split()
        assert len(set(writers[::2])) == 1, f"cycle {cycle}: written by two: {writers}"
        assert writers[1::2] == ["start", "end", "recorded"], (cycle, writers)
    assert killed_while_starting >= 5  # kills landed before the run's record (most, here)
    folders = run_folders(root)
    assert [f.name for f in folders] == sorted(records(root)) and len(folders) == 20
    for folder in folders:
        assert [p.name for p in folder.glob("record*")] == ["record.json"]
        assert not (folder / "error.txt").exists()
