"""The committed results of the main job (papermill_runs/, figures/): they are the current
`default` presets' runs, nothing else (no pilot record), and they regenerate the committed
claims and the README's verdict table exactly (issue 10 item 8, issue 12 item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from junk_dna.report.claims import readme_claims_table, write_claims
from junk_dna.results import collect, iter_records
from junk_dna.runs.layout import run_state
from junk_dna.runs.presets import expand_preset, load_preset

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "papermill_runs"
FIGURES = ROOT / "figures"
EXPERIMENTS = ("true_gem", "data_adequacy", "human_gap", "context_length", "option_count",
               "kshot", "factoid_vs_mc", "quantization")
PILOT_SEEDS = {41, 42, 43, 44}
#: the zero-shot pilot's questions end here (docs/PREREGISTRATION.md, stage 4)
PILOT_QUESTIONS_END = 125


def _committed() -> list[str]:
    return [e for e in EXPERIMENTS if (RUNS / e).is_dir()]


def test_the_committed_records_are_the_default_presets_runs() -> None:
    """Every committed experiment: each run of its `default` preset has a finished record
    (a dry run would find nothing to do) and no other record lies there."""
    committed = _committed()
    assert {"true_gem", "data_adequacy"} <= set(committed)
    for experiment in committed:
        runs = expand_preset(experiment, load_preset(experiment, "default"), check_hub=False)
        expected = {r.run_id for r in runs}
        todo = [r.run_id for r in runs
                if run_state(RUNS / experiment / r.run_id, r.params) != "done"]
        assert not todo, f"{experiment}: not finished: {todo}"
        found = {d.name for d, _ in iter_records(RUNS / experiment)}
        assert found == expected, (experiment, sorted(found ^ expected))


def test_no_pilot_record_is_in_the_main_job() -> None:
    df = collect(RUNS)
    ft = df[df["experiment"].isin(["true_gem", "data_adequacy", "human_gap"])]
    assert not set(ft["seed"].astype(int)) & PILOT_SEEDS
    zs = df[~df["experiment"].isin(["true_gem", "data_adequacy", "human_gap",
                                    "factoid_vs_mc"])]
    assert zs.empty or (zs["offset"] >= PILOT_QUESTIONS_END).all()


def test_the_committed_records_regenerate_the_committed_claims(tmp_path: Path) -> None:
    csv, md = write_claims(collect(RUNS), tmp_path)
    assert csv.read_bytes() == (FIGURES / "claims.csv").read_bytes()
    assert md.read_bytes() == (FIGURES / "claims.md").read_bytes()


def test_the_readme_verdict_table_is_generated_from_the_committed_claims() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- claims:begin -->\n", "\n<!-- claims:end -->"
    block = readme[readme.index(begin) + len(begin):readme.index(end)]
    assert block == readme_claims_table(FIGURES / "claims.csv").rstrip("\n")


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_is_committed_or_said_to_be_missing(experiment: str) -> None:
    """An experiment of `make reproduce` without committed records is named as not run in
    README.md."""
    if (RUNS / experiment).is_dir():
        return
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`{experiment}`: not run yet" in readme
