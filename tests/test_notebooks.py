"""The real notebooks, executed by papermill through the CLI at smoke scale (embedded model)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from junk_dna.results import collect
from junk_dna.runs.layout import run_folders

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "junk_dna.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)


def test_smoke_sweeps_then_figures_from_the_real_notebooks(tmp_path):
    runs, figs = tmp_path / "runs", tmp_path / "figures"
    done = _cli("sweep", "true_gem", "--preset", "smoke", "--runs-dir", str(runs),
                "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    df = collect(runs)
    assert df["run_id"].nunique() == 3
    assert set(df["mode"]) == {"dense", "sparse", "freeze"}
    for run_dir in run_folders(runs / "true_gem"):
        assert (run_dir / "true_gem.ipynb").exists() and (run_dir / "record.json").exists()
    sparse = df[(df["mode"] == "sparse") & (df["which"] == "last")].iloc[0]
    assert sparse["sparsity_reached"] == pytest.approx(0.5, abs=1e-6)

    again = _cli("sweep", "true_gem", "--preset", "smoke", "--runs-dir", str(runs),
                 "--no-progress")
    assert again.returncode == 0 and "3 already done, 0 ran now" in again.stdout + again.stderr

    adequacy = _cli("sweep", "data_adequacy", "--preset", "smoke", "--runs-dir", str(runs),
                    "--no-progress")
    assert adequacy.returncode == 0, adequacy.stderr[-3000:]
    assert set(collect(runs)["experiment"]) == {"true_gem", "data_adequacy"}

    gap = _cli("sweep", "human_gap", "--preset", "smoke", "--runs-dir", str(runs),
               "--no-progress")
    assert gap.returncode == 0, gap.stderr[-3000:]
    assert "2 reused" in gap.stderr  # the SST-2 runs are true_gem's smoke runs
    for name in ("context_length", "quantization"):
        zs = _cli("sweep", name, "--preset", "smoke", "--runs-dir", str(runs), "--no-progress")
        assert zs.returncode == 0, zs.stderr[-3000:]
    records = collect(runs)
    assert set(records["experiment"]) == {"true_gem", "data_adequacy", "human_gap",
                                          "context_length", "quantization"}
    assert records[records["experiment"] == "quantization"]["resolved_caveat"].notna().all()

    fig = _cli("figures", "--runs-dir", str(runs), "--figures-dir", str(figs))
    assert fig.returncode == 0, fig.stderr[-3000:]
    for name in ("true_gem", "data_adequacy", "human_gap", "context_length", "quantization"):
        for ext in ("png", "pdf"):
            assert (figs / f"{name}.{ext}").stat().st_size > 10_000
        assert (figs / f"{name}.csv").read_text().startswith("experiment,model,")
    claims = (figs / "claims.md").read_text()
    for setting in ("true_gem", "data_adequacy", "human_gap", "context_length", "quantization"):
        assert f"## Setting: {setting}" in claims
    assert "### A: monotonic drop" in claims
    assert (runs / "figures" / "figures.ipynb").exists()
