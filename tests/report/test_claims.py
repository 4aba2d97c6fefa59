"""The claims' statistics and verdicts on synthetic tidy tables with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from junk_dna.report.analysis import normalize_to_dense
from junk_dna.report.claims import (
    CLAIM_A,
    CLAIM_B,
    CLAIM_C,
    NOT_ENOUGH,
    NOT_SUPPORTED,
    SUPPORTED,
    curve_x,
    evaluate_claims,
    monotonicity,
    write_claims,
)

SPARSITIES = (0.5, 0.7, 0.9)
DENSE = 0.8


def _table(curves: dict[tuple[str, float], list[float]], seeds=(1, 2, 3), noise=0.0,
           nm: dict[tuple[str, float], dict[str, float]] | None = None) -> pd.DataFrame:
    """Tidy rows: one dense run per (fraction, seed) and, for every (mode, fraction), the
    normalized scores given at SPARSITIES (plus optional N:M points), with seed noise."""
    rng = np.random.default_rng(123)
    rows = []
    fracs = {f for _, f in curves} | {f for _, f in (nm or {})}
    for seed in seeds:
        for frac in sorted(fracs):
            base = {"experiment": "true_gem", "task": "sst2-embedded", "data_fraction": frac,
                    "model": "m", "seed": seed, "which": "last", "metric": "accuracy"}
            rows.append({**base, "run_id": f"d{frac}{seed}", "mode": "dense", "pattern": None,
                         "sparsity": None, "nm": None, "value": DENSE})
            points = [(mode, "unstructured", s, None, y) for (mode, f), ys in curves.items()
                      if f == frac for s, y in zip(SPARSITIES, ys, strict=True)]
            points += [(mode, "nm", None, k, y) for (mode, f), d in (nm or {}).items()
                       if f == frac for k, y in d.items()]
            for mode, pattern, s, k, y in points:
                y = y + noise * rng.standard_normal()
                rows.append({**base, "run_id": f"{mode}{pattern}{s}{k}{frac}{seed}",
                             "mode": mode, "pattern": pattern, "sparsity": s, "nm": k,
                             "value": DENSE * y / 100})
    return pd.DataFrame(rows)


def _one(table: pd.DataFrame, claim: str, scope_has: str = "") -> pd.Series:
    rows = table[(table["claim"] == claim) & table["scope"].str.contains(scope_has)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_curve_x_reads_both_patterns():
    df = pd.DataFrame({"pattern": ["unstructured", "nm", None], "sparsity": [0.7, None, None],
                       "nm": [None, "2:8", None]})
    assert curve_x(df).tolist()[:2] == [0.7, 0.75] and math.isnan(curve_x(df).iloc[2])


def test_decreasing_curve_is_monotonic_and_claim_a_supported():
    df = _table({("sparse", 1.0): [90, 70, 50], ("sparse_to_dense", 1.0): [95, 80, 60]},
                seeds=(1,))
    mono = monotonicity(normalize_to_dense(df))
    assert len(mono) == 2 and (mono["spearman"] == -1).all()
    assert (mono["violations"] == 0).all() and (mono["n_points"] == 3).all()
    a = _one(evaluate_claims(df), CLAIM_A, "unstructured")
    assert a["verdict"] == SUPPORTED and a["value"] == pytest.approx(-1.0)


def test_one_rise_is_one_violation():
    df = _table({("sparse", 1.0): [90, 95, 50]}, seeds=(1,))
    assert monotonicity(normalize_to_dense(df))["violations"].tolist() == [1]
    df = _table({("sparse", 1.0): [90, 90.5, 50]}, seeds=(1,))  # within the tolerance
    assert monotonicity(normalize_to_dense(df))["violations"].tolist() == [0]


@pytest.mark.parametrize("ys", [[80, 80, 80], [50, 70, 90]])
def test_flat_or_rising_curves_do_not_support_claim_a(ys):
    df = _table({("sparse", 1.0): ys, ("sparse_to_dense", 1.0): ys}, seeds=(1, 2))
    assert _one(evaluate_claims(df), CLAIM_A, "unstructured")["verdict"] == NOT_SUPPORTED


def test_two_point_curves_are_not_enough_for_claim_a():
    df = _table({}, nm={("sparse", 1.0): {"4:8": 90.0, "2:8": 70.0}}, seeds=(1,))
    assert monotonicity(normalize_to_dense(df)).empty
    assert _one(evaluate_claims(df), CLAIM_A, "nm")["verdict"] == NOT_ENOUGH


def _fractions(seeds):
    return _table({("sparse", 1.0): [90, 80, 70], ("sparse", 0.1): [80, 70, 60]},
                  seeds=seeds, noise=0.5)


def test_less_data_drops_faster_claim_b():
    b = _one(evaluate_claims(_fractions((1, 2, 3))), CLAIM_B, "unstructured")
    assert b["value"] == pytest.approx(10.0, abs=1.0)
    assert 0 < b["ci_low"] <= b["value"] <= b["ci_high"]
    assert b["verdict"] == SUPPORTED and b["n_seeds"] == 3 and b["n_runs"] == 18
    single = _one(evaluate_claims(_fractions((1,))), CLAIM_B, "unstructured")
    assert single["verdict"] == NOT_ENOUGH and single["value"] == pytest.approx(10.0, abs=2.0)
    assert math.isnan(single["ci_low"])


def test_one_fraction_is_not_enough_for_claim_b():
    df = _table({("sparse", 1.0): [90, 80, 70]})
    assert _one(evaluate_claims(df), CLAIM_B)["verdict"] == NOT_ENOUGH


def test_freezing_recovers_claim_c():
    df = _table({("freeze", 1.0): [99, 99, 98], ("sparse_to_dense", 1.0): [90, 80, 60]},
                noise=0.5)
    c = _one(evaluate_claims(df), CLAIM_C)
    assert c["value"] == pytest.approx(38.0, abs=1.5) and c["ci_low"] > 0
    assert c["verdict"] == SUPPORTED and "90% sparsity" in c["detail"]
    worse = _table({("freeze", 1.0): [80, 70, 60], ("sparse_to_dense", 1.0): [90, 85, 80]},
                   noise=0.5)
    c = _one(evaluate_claims(worse), CLAIM_C)
    assert c["ci_high"] < 0 and c["verdict"] == NOT_SUPPORTED
    one_seed = _table({("freeze", 1.0): [99, 99, 98], ("sparse_to_dense", 1.0): [90, 80, 60]},
                      seeds=(1,))
    assert _one(evaluate_claims(one_seed), CLAIM_C)["verdict"] == NOT_ENOUGH


def test_bootstrap_is_deterministic():
    df = _fractions((1, 2, 3, 4))
    first, second = evaluate_claims(df), evaluate_claims(df)
    pd.testing.assert_frame_equal(first, second)


def test_write_claims_writes_csv_and_markdown(tmp_path):
    df = pd.concat([
        _table({("sparse", 1.0): [90, 80, 70], ("sparse", 0.1): [80, 70, 60],
                ("sparse_to_dense", 1.0): [95, 85, 70], ("freeze", 1.0): [99, 99, 98]},
               noise=0.5),
        _table({("freeze", 1.0): [80, 70, 60], ("sparse_to_dense", 1.0): [90, 85, 80]},
               seeds=(7,)).assign(task="qnli"),
    ])
    csv, md = write_claims(df, tmp_path / "out")
    table = pd.read_csv(csv)
    assert {CLAIM_A, CLAIM_B, CLAIM_C} == set(table["claim"])
    text = md.read_text()
    for word in (SUPPORTED, NOT_SUPPORTED, NOT_ENOUGH):
        assert f"| {word} |" in text
    assert "true_gem runs" in text and "Thresholds" in text


def test_empty_table_gives_a_no_runs_page(tmp_path):
    assert evaluate_claims(pd.DataFrame()).empty
    csv, md = write_claims(pd.DataFrame(), tmp_path)
    assert "No runs" in md.read_text() and csv.exists()
