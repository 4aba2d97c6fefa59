"""The report notebooks' parameters (ReportConfig): checked before any work."""

from __future__ import annotations

import pytest

from junk_dna.report.config import ReportConfig


def test_defaults_are_the_committed_main_job_and_the_papers_scale() -> None:
    cfg = ReportConfig()
    assert (cfg.runs_dir, cfg.figures_dir, cfg.which, cfg.scale) == (
        "../papermill_runs", "../figures", "last", "dense")


@pytest.mark.parametrize("params, message", [
    ({"which": "first"}, r"which 'first' not in \['last', 'best'\]"),
    ({"scale": "percent"}, r"scale 'percent' not in \['dense', 'retention', 'drop'\]"),
    ({"runs_dir": " "}, r"runs_dir ' ' must name a folder"),
    ({"figures_dir": 3}, r"figures_dir"),
])
def test_bad_values_are_named(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReportConfig(**params)


def test_a_typo_in_a_notebook_parameter_is_an_error_naming_the_allowed_ones() -> None:
    namespace = {"runs_dir": "runs", "figurs_dir": "figs"}  # a plain mapping: all parameters
    with pytest.raises(ValueError, match=r"unknown figures parameter\(s\) \['figurs_dir'\]; "
                                         r"allowed: \['runs_dir', 'figures_dir', 'which'"):
        ReportConfig.from_notebook(namespace, "figures")
    assert ReportConfig.from_notebook({"runs_dir": "runs"}).runs_dir == "runs"
