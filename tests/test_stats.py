"""junk_dna.report.stats: exact answers on constructed inputs, errors, power, and the calibration
of the verdict method by simulation (1,000 experiments per design)."""

from __future__ import annotations

import dataclasses
import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy import stats as sps

from junk_dna.report import stats as st

RNG = np.random.default_rng(12345)


def binary(c: int, n: int, p: float = 0.7, rng: np.random.Generator = RNG) -> np.ndarray:
    return (rng.random((c, n)) < p).astype(float)


# ----------------------------------------------------------------------------- contrasts


def test_retention_values_and_nan_at_chance() -> None:
    r = st.retention(np.array([0.75, 0.5, 0.9]), np.array([0.9, 0.9, 0.5]), 0.5)
    assert r[0] == pytest.approx(62.5)
    assert r[1] == 0.0
    assert np.isnan(r[2])


def test_retention_difference_and_slope_match_hand_and_polyfit() -> None:
    means = np.array([0.84, 0.82, 0.78, 0.70, 0.80, 0.77, 0.71, 0.62])
    f = st.retention_difference(0, [1, 2, 3], 4, [5, 6, 7], 0.5)
    ra = 100 * (means[1:4] - 0.5) / (0.84 - 0.5)
    rb = 100 * (means[5:8] - 0.5) / (0.80 - 0.5)
    assert f(means) == pytest.approx(np.mean(ra - rb))
    g = st.retention_slope(0, [1, 2, 3], (0.3, 0.5, 0.7), 0.5)
    assert g(means) == pytest.approx(np.polyfit([0, 0.3, 0.5, 0.7], [100, *ra], 1)[0])
    both = np.stack([means, means])
    assert f(both).shape == (2,) and g(both[None]).shape == (1, 2)
    at_chance = means.copy()
    at_chance[0] = 0.5
    assert np.isnan(f(at_chance)) and np.isnan(g(at_chance))
    assert st.mean_difference(3, 7)(means) == pytest.approx(8.0)


def test_contrast_builders_reject_bad_arguments() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        st.retention_difference(0, [1, 2], 3, [4], 0.5)
    with pytest.raises(ValueError, match="sparsities"):
        st.retention_slope(0, [1, 2], (0.5,), 0.5)
    with pytest.raises(ValueError, match="chance"):
        st.retention_slope(0, [1], (0.5,), 1.5)


def test_row_wise_metrics_match_closed_forms_and_scipy() -> None:
    rng = np.random.default_rng(0)
    pred = rng.integers(0, 2, (5, 40))
    lab = rng.integers(0, 2, (5, 40))
    got = st.matthews_corrcoef(pred, lab)
    # binary MCC is the phi coefficient: Pearson's r of the 0/1 vectors
    assert got == pytest.approx([np.corrcoef(pred[i], lab[i])[0, 1] for i in range(5)])
    # undefined (a constant row) is 0, sklearn's convention
    assert st.matthews_corrcoef(np.ones((1, 6)), np.array([[0, 1] * 3]))[0] == 0.0
    x, y = rng.normal(size=(3, 30)), rng.normal(size=(3, 30))
    assert st.pearson_r(x, y) == pytest.approx([sps.pearsonr(x[i], y[i])[0] for i in range(3)])
    assert np.isnan(st.pearson_r(np.ones((1, 5)), x[:1, :5])[0])


# ----------------------------------------------------------------------------- resampling


def test_resampling_counts_are_multinomial_and_reproducible() -> None:
    a = st.draw_resampling([30, 40, 50], n_boot=5000)
    b = st.draw_resampling([30, 40, 50], n_boot=5000)
    assert a.seed_index.shape == (5000, 3)
    assert np.array_equal(a.seed_index, b.seed_index)
    for s, n in enumerate((30, 40, 50)):
        assert np.array_equal(a.counts[s], b.counts[s])
        assert (a.counts[s].sum(1) == n).all()
        assert np.array_equal(a.rows[s], np.flatnonzero(a.seed_index.ravel() == s))
    one = st.draw_resampling([20], n_boot=5000)
    assert (one.seed_index == 0).all() and one.counts[0].shape == (5000, 20)


def test_resampled_means_batch_equals_single() -> None:
    res = st.draw_resampling([25, 30], n_boot=5000)
    x = [binary(4, 25), binary(4, 30)]
    single = st.resampled_means(x, res)
    assert single.shape == (5000, 2, 4)
    batch = st.resampled_means([np.stack([x[0], 1 - x[0]]), np.stack([x[1], 1 - x[1]])], res)
    assert batch.shape == (2, 5000, 2, 4)
    np.testing.assert_allclose(batch[0], single, rtol=1e-12)
    np.testing.assert_allclose(batch[1], 1 - single, rtol=1e-12)
    with pytest.raises(ValueError, match="expected"):
        st.resampled_means([x[0], x[0]], res)


def test_level_two_keeps_duplicates_of_a_seed_distinct() -> None:
    per_seed = [binary(3, 60) for _ in range(3)]
    boot = st.two_level_bootstrap(per_seed, st.mean_difference(0, 1))
    assert boot.resampled.shape == (st.N_BOOTSTRAP, 3) and boot.n_units == (60, 60, 60)
    idx = st.draw_resampling([60] * 3).seed_index
    dup = idx[:, 0] == idx[:, 1]
    assert dup.sum() > 1000
    same = boot.resampled[dup, 0] == boot.resampled[dup, 1]
    assert same.mean() < 0.2  # copies of a seed get their own example resample


# ----------------------------------------------------------------------------- exact answers


def test_student_t_equals_scipy_interval() -> None:
    per_seed = [binary(2, 100, p) for p in (0.6, 0.7, 0.65, 0.8, 0.75)]
    f = st.mean_difference(0, 1)
    c = np.array([f(x.mean(1)) for x in per_seed])
    est = st.estimate(per_seed, f, method=st.STUDENT_T, level=0.9)
    lo, hi = sps.t.interval(0.9, 4, loc=c.mean(), scale=sps.sem(c))
    assert (est.ci_low, est.ci_high) == pytest.approx((lo, hi), rel=1e-12)
    assert est.value == pytest.approx(c.mean())
    assert est.sd_between == pytest.approx(c.std(ddof=1))
    assert est.p_value == pytest.approx(sps.ttest_1samp(c, 0).pvalue)
    assert est.method == "Student t over 5 seeds (100 examples each)"
    assert (est.n_seeds, est.n_units, est.level) == (5, 100, 0.9)
    auto = st.estimate(per_seed, f)
    assert auto.method == "two-level bootstrap-t over 5 seeds x 100 examples"


def test_constant_per_seed_contrasts_give_zero_width_ci() -> None:
    x = binary(2, 80)
    x[0, :40], x[1, :40] = 1.0, 0.0
    f = st.mean_difference(0, 1)
    for method in (st.STUDENT_T, st.BOOTSTRAP_T):
        est = st.estimate([x, x.copy(), x.copy()], f, method=method)
        assert est.ci_low == est.ci_high == est.value == pytest.approx(f(x.mean(1)))
        assert est.p_value == 0.0 and est.se == 0.0


@pytest.mark.parametrize("method", [st.PERCENTILE, st.NORMAL, st.STUDENT_T, st.BOOTSTRAP_T])
def test_identical_conditions_give_exactly_zero(method: str) -> None:
    n_seeds = 1 if method == st.NORMAL else 3
    per_seed = [np.repeat(binary(1, 50 + s), 3, axis=0) for s in range(n_seeds)]
    for f in (st.mean_difference(0, 1), st.retention_difference(0, [1], 2, [1], 0.2)):
        est = st.estimate(per_seed, f, method=method)
        assert (est.value, est.ci_low, est.ci_high, est.p_value) == (0.0, 0.0, 0.0, 1.0)


def _reference_two_level(per_seed, f, n_boot, seed=st.BOOTSTRAP_SEED):
    """Slow loop over resamples with the documented order of draws."""
    rng = np.random.default_rng(seed)
    s = len(per_seed)
    seed_index = (np.zeros((n_boot, 1), int) if s == 1
                  else rng.integers(0, s, size=(n_boot, s)))
    idx = [rng.integers(0, x.shape[1], size=((seed_index == k).sum(), x.shape[1]),
                        dtype=np.int32) for k, x in enumerate(per_seed)]
    used = [0] * s
    out = np.empty((n_boot, s))
    for b in range(n_boot):
        for k in range(s):
            j = seed_index[b, k]
            out[b, k] = f(per_seed[j][:, idx[j][used[j]]].mean(axis=1))
            used[j] += 1
    return out


def test_paired_bootstrap_equals_reference_loop() -> None:
    x = binary(4, 30, 0.8)
    f = st.retention_difference(0, [1], 2, [3], 0.5)
    ref = _reference_two_level([x], f, st.MIN_BOOTSTRAP)[:, 0]
    est = st.estimate([x], f, method=st.PERCENTILE, n_boot=st.MIN_BOOTSTRAP)
    ref = ref[~np.isnan(ref)]
    assert (est.ci_low, est.ci_high) == pytest.approx(tuple(np.quantile(ref, [0.025, 0.975])),
                                                      rel=1e-9)
    assert est.se == pytest.approx(ref.std(ddof=1), rel=1e-9)
    assert "test-set noise only, 1 seed" in est.method and "paired bootstrap" in est.method


def test_two_level_bootstrap_equals_reference_loop() -> None:
    per_seed = [binary(2, n, p) for n, p in ((20, 0.6), (25, 0.7), (30, 0.8))]
    f = st.mean_difference(0, 1)
    ref = _reference_two_level(per_seed, f, st.MIN_BOOTSTRAP)
    boot = st.two_level_bootstrap(per_seed, f, n_boot=st.MIN_BOOTSTRAP)
    np.testing.assert_allclose(boot.resampled, ref, rtol=1e-9, atol=1e-12)
    est = st.estimate(per_seed, f, method=st.PERCENTILE, n_boot=st.MIN_BOOTSTRAP)
    assert (est.ci_low, est.ci_high) == pytest.approx(
        tuple(np.quantile(ref.mean(1), [0.025, 0.975])), rel=1e-9)
    assert est.n_units == 20 and "20-30 examples" in est.method
    obs = np.array([f(x.mean(1)) for x in per_seed])
    m, se = obs.mean(), obs.std(ddof=1) / math.sqrt(3)
    diff, se_star = ref.mean(1) - m, ref.std(1, ddof=1) / math.sqrt(3)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(diff == 0, 0.0, diff / se_star)
    est_t = st.estimate(per_seed, f, method=st.BOOTSTRAP_T, n_boot=st.MIN_BOOTSTRAP)
    qlo, qhi = np.quantile(t, [0.025, 0.975])
    assert (est_t.ci_low, est_t.ci_high) == pytest.approx((m - qhi * se, m - qlo * se), rel=1e-9)


def test_normal_interval_is_the_delta_method() -> None:
    x = binary(2, 400, 0.7)
    d = x[0] - x[1]
    est = st.estimate([x], st.mean_difference(0, 1), method=st.NORMAL)
    se = 100 * d.std(ddof=1) / math.sqrt(400)
    assert est.se == pytest.approx(se, rel=1e-6)
    z = NormalDist().inv_cdf(0.975)
    assert (est.ci_low, est.ci_high) == pytest.approx((est.value - z * se, est.value + z * se))
    boot = st.estimate([x], st.mean_difference(0, 1), method=st.PERCENTILE)
    assert boot.se == pytest.approx(se, rel=0.05)


def test_general_metric_path_equals_mean_path() -> None:
    rng = np.random.default_rng(3)
    pairs, scores = [], []
    for n in (40, 50):
        lab = rng.integers(0, 2, n)
        pred = np.where(rng.random((3, n)) < 0.8, lab, 1 - lab)
        pairs.append((pred, lab))
        scores.append((pred == lab).astype(float))

    def accuracy(p: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (p == y).mean(-1)

    f = st.mean_difference(0, 2)
    for method in (st.PERCENTILE, st.BOOTSTRAP_T, st.STUDENT_T):
        a = st.estimate(pairs, f, metric=accuracy, method=method)
        b = st.estimate(scores, f, method=method)
        assert (a.value, a.ci_low, a.ci_high, a.p_value) == pytest.approx(
            (b.value, b.ci_low, b.ci_high, b.p_value), rel=1e-9, abs=1e-12)
    mcc = st.estimate(pairs, f, metric=st.matthews_corrcoef, method=st.PERCENTILE)
    assert mcc.ci_low <= mcc.value <= mcc.ci_high
    with pytest.raises(ValueError, match="normal"):
        st.estimate(pairs[:1], f, metric=accuracy, method=st.NORMAL)


# ----------------------------------------------------------------------------- NaN policy


def test_undefined_seeds_are_dropped_and_said() -> None:
    f = st.retention_difference(0, [1], 2, [3], 0.5)
    good = [binary(4, 100, 0.8) for _ in range(3)]
    bad = binary(4, 100, 0.8)
    bad[0] = np.r_[np.ones(50), np.zeros(50)]  # dense exactly at chance
    est = st.estimate([*good, bad], f)
    ref = st.estimate(good, f)
    assert est.n_seeds == 3 and est.value == ref.value and est.ci_low == ref.ci_low
    assert est.method.endswith("1 of 4 seeds undefined, dropped")
    none = st.estimate([bad, bad], f)
    assert none.n_seeds == 0 and math.isnan(none.value) and math.isnan(none.ci_low)
    assert st.verdict(none, 1) == st.INCONCLUSIVE


def test_bootstrap_ci_is_nan_when_many_resamples_are_undefined() -> None:
    f = st.retention_difference(0, [1], 2, [3], 0.5)
    x = binary(4, 12, 0.8)
    x[0] = np.r_[np.ones(7), np.zeros(5)]  # dense 7/12: resamples at 6/12 are common
    est = st.estimate([x], f, method=st.PERCENTILE)
    assert math.isnan(est.ci_low) and math.isnan(est.p_value) and "undefined" in est.method


# ----------------------------------------------------------------------------- bad inputs


def test_bad_inputs_raise_precise_errors() -> None:
    f = st.mean_difference(0, 1)
    x = binary(2, 20)
    with pytest.raises(ValueError, match="per_seed is empty"):
        st.estimate([], f)
    with pytest.raises(ValueError, match=r"per_seed\[1\] has 3 conditions"):
        st.estimate([x, binary(3, 20)], f)
    with pytest.raises(ValueError, match=r"per_seed\[0\] has shape \(20,\)"):
        st.estimate([x[0]], f)
    with pytest.raises(ValueError, match="MIN_UNITS"):
        st.estimate([x[:, :1]], f)
    with pytest.raises(ValueError, match=r"per_seed\[0\]\[0, 3\] = 2.0"):
        y = x.copy()
        y[0, 3] = 2.0
        st.estimate([y], f)
    with pytest.raises(ValueError, match="nan"):
        y = x.copy()
        y[1, 0] = np.nan
        st.estimate([y], f)
    for level in (0, 1, 1.5, -0.1, "0.95"):
        with pytest.raises(ValueError, match=r"level .* not in the open interval \(0, 1\)"):
            st.estimate([x], f, level=level)
    with pytest.raises(ValueError, match=r"method 'bca' is not one of"):
        st.estimate([x], f, method="bca")
    with pytest.raises(ValueError, match="MIN_BOOTSTRAP"):
        st.estimate([x], f, n_boot=100)
    with pytest.raises(ValueError, match="needs >= 2 seeds"):
        st.estimate([x], f, method=st.STUDENT_T)
    with pytest.raises(ValueError, match="exactly 1 seed"):
        st.estimate([x, x], f, method=st.NORMAL)
    with pytest.raises(ValueError, match=r"contrast returned shape \(\) .* expected \(2,\)"):
        st.estimate([x, x], lambda m: m.sum())
    with pytest.raises(ValueError, match="labels"):
        st.estimate([(x, np.zeros(5))], f, metric=st.matthews_corrcoef)
    est = st.estimate([x, x.copy()], f)
    for direction in (0, 2, -2, True, 0.5):
        with pytest.raises(ValueError, match=r"direction .* not one of \(1, -1\)"):
            st.verdict(est, direction)


# ----------------------------------------------------------------------------- verdicts


def est_ci(lo: float, hi: float, p: float = 0.01, value: float | None = None) -> st.Estimate:
    v = (lo + hi) / 2 if value is None else value
    return st.Estimate(v, lo, hi, p, 1.0, 1.0, 5, 262, "test", 0.95)


def test_verdict_rule() -> None:
    assert st.verdict(est_ci(0.5, 3), 1) == st.SUPPORTED
    assert st.verdict(est_ci(0.5, 3), -1) == st.CONTRADICTED
    assert st.verdict(est_ci(-3, -0.5), -1) == st.SUPPORTED
    assert st.verdict(est_ci(-3, -0.5), 1) == st.CONTRADICTED
    assert st.verdict(est_ci(-1, 2), 1) == st.INCONCLUSIVE
    assert st.verdict(est_ci(0.0, 2), 1) == st.INCONCLUSIVE
    assert st.verdict(est_ci(float("nan"), 2), 1) == st.INCONCLUSIVE
    assert st.NOT_TESTABLE in st.VERDICTS


def test_equivalence_verdict() -> None:
    rec, no = st.RECOVERS, st.DOES_NOT_RECOVER
    assert st.equivalence_verdict(est_ci(-4, 2), 5, rec) == st.SUPPORTED
    assert st.equivalence_verdict(est_ci(-9, -6), 5, rec) == st.CONTRADICTED
    assert st.equivalence_verdict(est_ci(-7, 1), 5, rec) == st.INCONCLUSIVE
    assert st.equivalence_verdict(est_ci(-9, -6), 5, no) == st.SUPPORTED
    assert st.equivalence_verdict(est_ci(-4, 2), 5, no) == st.CONTRADICTED
    assert st.equivalence_verdict(est_ci(-7, 1), 5, no) == st.INCONCLUSIVE
    with pytest.raises(ValueError, match="margin"):
        st.equivalence_verdict(est_ci(-4, 2), 0, rec)
    with pytest.raises(ValueError, match="expect 'recover'"):
        st.equivalence_verdict(est_ci(-4, 2), 5, "recover")


def test_holm_matches_hand_computation_and_skips_nan() -> None:
    p = [0.01, 0.04, float("nan"), 0.03, 0.5]
    # m = 4: sorted 0.01, 0.03, 0.04, 0.5 -> 0.04, 0.09, 0.09 (monotone), 0.5
    np.testing.assert_allclose(st.holm(p), [0.04, 0.09, np.nan, 0.09, 0.5])
    assert st.holm([]).shape == (0,)
    assert st.holm([0.5, 0.5, 0.5]) == pytest.approx([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"p-value 1.2 is not in \[0, 1\]"):
        st.holm([0.1, 1.2])


def test_holm_verdicts_use_adjusted_p_and_the_sign() -> None:
    rows = [est_ci(0.1, 2, p=0.01), est_ci(-2, -0.1, p=0.012), est_ci(0.1, 2, p=0.03),
            est_ci(-1, 1, p=float("nan"))]
    # adjusted: 0.03, 0.03, 0.03 (m = 3); the NaN row cannot be tested
    assert st.holm_verdicts(rows, [1, 1, 1, 1]) == [
        st.SUPPORTED, st.CONTRADICTED, st.SUPPORTED, st.INCONCLUSIVE]
    rows[2] = est_ci(0.1, 2, p=0.04)  # adjusted 0.04 * 1 but step-down keeps it >= 0.036
    assert st.holm_verdicts(rows[:3], [1, -1, 1])[1] == st.SUPPORTED
    assert st.holm_verdicts([est_ci(0.1, 2, p=0.03)] * 2, [1, 1]) == [st.INCONCLUSIVE] * 2
    with pytest.raises(ValueError, match="2 estimates but 1 directions"):
        st.holm_verdicts(rows[:2], [1])


# ----------------------------------------------------------------------------- power


def test_resolution_and_power_note() -> None:
    assert st.resolution(est_ci(-1, 3)) == 2.0
    note = st.power_note(est_ci(-1, 3), 10)
    assert note.startswith("detecting an effect of 10 with 80% power needs about")
    one = st.Estimate(1.0, 0.0, 2.0, 0.1, 1.0, float("nan"), 1, 400, "x", 0.95)
    assert "examples" in st.power_note(one, 2)


def test_seeds_needed_against_simulation_and_t_iteration() -> None:
    sd, effect = 12.0, 10.0
    n = st.seeds_needed(sd, effect)
    rng = np.random.default_rng(7)

    def simulated_power(k: int) -> float:
        x = rng.normal(effect, sd, size=(40_000, k))
        lo = x.mean(1) - sps.t.ppf(0.975, k - 1) * x.std(1, ddof=1) / math.sqrt(k)
        return float((lo > 0).mean())

    assert simulated_power(n) >= 0.8 - 0.006
    assert simulated_power(n - 1) < 0.8 + 0.006
    # the textbook fixed-point iteration with t quantiles agrees within one seed
    k = 2
    for _ in range(50):
        k = math.ceil(((sps.t.ppf(0.975, k - 1) + sps.t.ppf(0.8, k - 1)) * sd / effect) ** 2)
    assert abs(k - n) <= 1
    assert st.seeds_needed(0.0, 1.0) == 2
    assert st.seeds_needed(1.0, -100.0) == 2
    big = st.seeds_needed(1.0, 0.05)  # large n: the normal formula + about 2
    assert 0 <= big - (2.8016 / 0.05) ** 2 <= 4
    with pytest.raises(ValueError, match="effect 0"):
        st.seeds_needed(1.0, 0)
    with pytest.raises(ValueError, match="power 1.2"):
        st.seeds_needed(1.0, 1.0, power=1.2)
    with pytest.raises(ValueError, match="sd -1"):
        st.seeds_needed(-1.0, 1.0)


def test_units_needed_closed_form() -> None:
    z = NormalDist().inv_cdf
    assert st.units_needed(1.0, 0.5) == 32  # (1.96 + 0.8416)^2 / 0.25 = 31.4
    assert st.units_needed(40.0, 5.0, power=0.9, level=0.99) == math.ceil(
        ((z(0.995) + z(0.9)) * 8) ** 2)
    assert st.units_needed(0.1, 10.0) == st.MIN_UNITS



def test_z_power_is_what_units_needed_inverts() -> None:
    for sd, effect in ((1.0, 0.5), (84.9, 10.0), (145.0, -10.0)):
        n = st.units_needed(sd, effect)
        if n > st.MIN_UNITS:
            assert st.z_power(n, sd, effect) >= 0.8 > st.z_power(n - 1, sd, effect)
    # the closed form: 32 units, sd 1, effect 0.5 -> Phi(0.5 sqrt(32) - 1.96) = 0.807
    assert st.z_power(32, 1.0, 0.5) == pytest.approx(
        NormalDist().cdf(0.5 * math.sqrt(32) - NormalDist().inv_cdf(0.975)))
    assert st.z_power(10, 0.0, 1.0) == 1.0
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=f"n {bad!r} must be an integer >= 1"):
            st.z_power(bad, 1.0, 1.0)
    with pytest.raises(ValueError, match="effect 0"):
        st.z_power(10, 1.0, 0.0)

# ----------------------------------------------------------------------------- calibration

#: Monte Carlo draws for the truth in the tests (error ~ SD / 220, < 0.5 % of a half-width).
TEST_TRUTH_DRAWS = 50_000


def _calibrated(setting: str, n_seeds: int, n_units: int, seed_sd: float, method: str,
                scenarios: tuple[str, ...]):
    chance, mus = st.SIM_SCENARIOS[setting]
    res = st.draw_resampling([n_units] * n_seeds, st.MIN_BOOTSTRAP)
    out = {}
    for scenario in scenarios:
        design = st.SimDesign(mus[scenario], n_seeds, n_units, seed_sd)
        stats_ = st.calibration_statistics(design, scenario, chance, TEST_TRUTH_DRAWS)
        res_ = st.calibrate(design, stats_, n_experiments=st.N_EXPERIMENTS, methods=[method],
                            resampling=res)
        for name, by_method in res_.items():
            out[(scenario, name)] = by_method[method]
    return out


@pytest.mark.parametrize("setting,n_seeds,n_units,seed_sd,method,scenarios", [
    ("fine-tuning", 5, st.FT_N_UNITS, 0.02, st.AUTO_MULTI_SEED, ("null", "flat")),
    ("zero-shot high", 1, 250, 0.0, st.AUTO_ONE_SEED, ("effect", "null", "flat")),
])
def test_verdict_method_is_calibrated(setting, n_seeds, n_units, seed_sd, method,
                                      scenarios) -> None:
    """1,000 simulated experiments per scenario, analysed with the verdict method at its fewest
    resamples (MIN_BOOTSTRAP; the table in docs/STATISTICS.md uses N_BOOTSTRAP and every
    cell): coverage 95 +- 3 %, and "supported" at a true effect of 0 (null, flat) at most 5 %
    (one-sided: 2.5 % expected). Fine-tuning: 5 seeds x 262 examples, seed-level SD 2 points
    (test-set SE ~2.3); zero-shot: one model, 250 questions."""
    cells = _calibrated(setting, n_seeds, n_units, seed_sd, method, scenarios)
    assert len(cells) == sum(scenario in sc for scenario in scenarios
                             for _, sc in st.SIM_STATISTICS.values())
    for (scenario, name), r in cells.items():
        assert r.n_experiments >= 1000
        assert abs(r.coverage - 0.95) <= 0.03, (scenario, name, r)
        assert r.undefined == 0.0
        if scenario != "effect":
            assert r.supported <= 0.05, (scenario, name, r)
        else:
            assert r.contradicted <= 0.01, (scenario, name, r)


# ----------------------------------------------------------------------------- chance vectors


def test_per_condition_chance_vector_in_the_retention_contrasts() -> None:
    # option_count: 2 options (chance 1/2) against 5 options (chance 1/5)
    means = np.array([0.80, 0.70, 0.60, 0.50, 0.40, 0.30])
    chance = [0.5, 0.5, 0.5, 0.2, 0.2, 0.2]
    f = st.retention_difference(0, [1, 2], 3, [4, 5], chance)
    ra = 100 * (means[1:3] - 0.5) / (0.80 - 0.5)
    rb = 100 * (means[4:6] - 0.2) / (0.50 - 0.2)
    assert f(means) == pytest.approx(np.mean(ra - rb))
    g = st.retention_slope(3, [4, 5], (0.3, 0.6), chance)
    assert g(means) == pytest.approx(np.polyfit([0, 0.3, 0.6], [100, *rb], 1)[0])
    assert st.retention_difference(0, [1], 0, [2], 0.5)(means) == pytest.approx(
        st.retention_difference(0, [1], 0, [2], [0.5] * 6)(means))
    h = st.retention_level(3, [4, 5], chance)
    assert h(means) == pytest.approx(rb.mean() - 100)
    assert st.retention_level(3, [4], chance, minus=0)(means) == pytest.approx(rb[0])
    with pytest.raises(ValueError, match="differs from their dense"):
        st.retention_difference(0, [1, 3], 3, [4, 5], chance)
    with pytest.raises(ValueError, match="chance 1.2"):
        st.retention_slope(0, [1], (0.5,), [1.2] * 6)
    with pytest.raises(ValueError, match="does not cover"):
        st.retention_slope(0, [7], (0.5,), chance)


def test_average_of_contrasts() -> None:
    means = np.array([[0.8, 0.7, 0.6, 0.9, 0.85, 0.8]])
    f = st.retention_slope(0, [1, 2], (0.5, 0.7), 0.5)
    g = st.retention_slope(3, [4, 5], (0.5, 0.7), 0.5)
    assert st.average([f, g])(means) == pytest.approx((f(means) + g(means)) / 2)
    assert st.average([f]) is f
    with pytest.raises(ValueError, match="at least one"):
        st.average([])


def test_binary_f1_and_spearman_match_references() -> None:
    rng = np.random.default_rng(4)
    pred, lab = rng.integers(0, 2, (4, 50)), rng.integers(0, 2, (4, 50))
    for i in range(4):
        tp = np.sum((pred[i] == 1) & (lab[i] == 1))
        want = 2 * tp / (pred[i].sum() + lab[i].sum())
        assert st.binary_f1(pred, lab)[i] == pytest.approx(want)
    assert st.binary_f1(np.zeros((1, 5)), np.zeros((1, 5)))[0] == 0.0
    x, y = rng.normal(size=(3, 30)), rng.normal(size=(3, 30))
    x[0, :5] = x[0, 0]  # ties: average ranks
    assert st.spearman_r(x, y) == pytest.approx([sps.spearmanr(x[i], y[i])[0] for i in range(3)])


def test_per_seed_contrasts() -> None:
    # a chance level per seed (each seed its own test labels)
    per_seed = [binary(3, 80, p) for p in (0.7, 0.75, 0.8)]
    chances = (0.5, 0.55, 0.6)
    fs = [st.retention_difference(0, [1], 0, [2], c) for c in chances]
    est = st.estimate(per_seed, fs, method=st.STUDENT_T)
    obs = [f(x.mean(1)) for f, x in zip(fs, per_seed, strict=True)]
    assert est.value == pytest.approx(np.mean(obs))
    same = st.estimate(per_seed, [fs[0]] * 3)
    assert same.value == st.estimate(per_seed, fs[0]).value
    assert same.ci_low == st.estimate(per_seed, fs[0]).ci_low
    boot = st.two_level_bootstrap(per_seed, fs, n_boot=st.MIN_BOOTSTRAP)
    assert boot.observed == pytest.approx(obs)
    with pytest.raises(ValueError, match="one per seed"):
        st.estimate(per_seed, fs[:2])


# ----------------------------------------------------------------------------- blocks


def same(a: st.Estimate, b: st.Estimate) -> bool:
    """Field-by-field equality, NaN equal to NaN."""
    return all(x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
               for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b), strict=True))


def test_one_block_per_seed_is_exactly_the_unstratified_path() -> None:
    per_seed = [binary(4, n, p) for n, p in ((40, 0.6), (55, 0.7), (60, 0.8))]
    f = st.retention_difference(0, [1], 2, [3], 0.2)
    res = st.draw_resampling([40, 55, 60], st.MIN_BOOTSTRAP)
    blk = st.draw_block_resampling([[40], [55], [60]], st.MIN_BOOTSTRAP)
    assert np.array_equal(res.seed_index, blk.seed_index)
    for s in range(3):
        assert np.array_equal(res.counts[s], blk.counts[s][0])
    for method in (st.PERCENTILE, st.BOOTSTRAP_T, st.STUDENT_T, st.AUTO):
        a = st.estimate(per_seed, f, method=method, n_boot=st.MIN_BOOTSTRAP)
        b = st.estimate_blocks([[x] for x in per_seed], f, method=method,
                               n_boot=st.MIN_BOOTSTRAP)
        assert same(a, b) and not math.isnan(a.ci_low)
    one = st.estimate([per_seed[0]], f, method=st.NORMAL)
    assert same(one, st.estimate_blocks([[per_seed[0]]], f, method=st.NORMAL))
    pairs = [(x.astype(int), RNG.integers(0, 2, x.shape[1])) for x in per_seed]
    g = st.mean_difference(0, 1)
    c = st.estimate(pairs, g, metric=st.matthews_corrcoef, n_boot=st.MIN_BOOTSTRAP)
    d = st.estimate_blocks([[p] for p in pairs], g, metrics=[st.matthews_corrcoef],
                           n_boot=st.MIN_BOOTSTRAP)
    assert same(c, d)


def test_blocks_are_resampled_independently_and_conditions_indexed_across_them() -> None:
    rng = np.random.default_rng(9)
    a, b = binary(2, 30, 0.8, rng), binary(3, 45, 0.6, rng)
    res = st.draw_block_resampling([[30, 45]], st.MIN_BOOTSTRAP)
    vals = st.resampled_block_values([[a, b]], [None, None], res)
    assert vals.shape == (st.MIN_BOOTSTRAP, 1, 5)
    c0, c1 = res.counts[0]
    np.testing.assert_allclose(vals[:, 0, :2], c0 @ a.T / 30)
    np.testing.assert_allclose(vals[:, 0, 2:], c1 @ b.T / 45)
    f = st.mean_difference(0, 2)
    est = st.estimate_blocks([[a, b]], f, n_boot=st.MIN_BOOTSTRAP)
    assert est.value == pytest.approx(100 * (a[0].mean() - b[0].mean()))
    assert est.n_units == 30 and est.method.startswith("stratified paired bootstrap over 2 "
                                                       "blocks of 30 + 45 examples")
    # independent blocks: the SE is that of two independent means, no covariance term
    se = 100 * math.sqrt(a[0].var(ddof=1) / 30 + b[0].var(ddof=1) / 45)
    assert est.se == pytest.approx(se, rel=0.06)
    normal = st.estimate_blocks([[a, b]], f, method=st.NORMAL)
    assert normal.se == pytest.approx(se, rel=1e-6)
    multi = st.estimate_blocks([[a, b], [binary(2, 31), binary(3, 44)]], f,
                               n_boot=st.MIN_BOOTSTRAP)
    assert "two-level stratified bootstrap-t over 2 seeds x 2 blocks of 30-31 + 44-45" \
        in multi.method
    with pytest.raises(ValueError, match="every seed needs the same blocks"):
        st.estimate_blocks([[a, b], [a]], f)
    with pytest.raises(ValueError, match=r"block 1: per_seed\[0\]\[0, 0\] = 2.0"):
        bad = b.copy()
        bad[0, 0] = 2
        st.estimate_blocks([[a, bad]], f)
    with pytest.raises(ValueError, match="2 metrics for 1 blocks"):
        st.estimate_blocks([[a]], f, metrics=[None, None])
    with pytest.raises(ValueError, match="normal"):
        st.estimate_blocks([[(a > 0, np.ones(30))]], st.mean_difference(0, 1),
                           metrics=[st.binary_f1], method=st.NORMAL)


@pytest.mark.parametrize("n_seeds,seed_sd", [(1, 0.0), (3, 0.02)])
def test_block_stratified_intervals_cover(n_seeds: int, seed_sd: float) -> None:
    """A small simulation: conditions of group a scored on one example set, group b on
    another (a block each), the R difference and the score difference at a true effect of 0
    (a and b exchangeable) and the score difference at a known effect: coverage 95 +- 4 %
    over 250 experiments, the verdict method at MIN_BOOTSTRAP resamples."""
    from threadpoolctl import threadpool_limits  # small products: BLAS threads only cost

    rng = np.random.default_rng(2024)
    mu_a, mu_b = (0.80, 0.77, 0.70), (0.80, 0.75, 0.66)
    n_exp, n = 250, 200
    f_r = st.retention_difference(0, [1, 2], 3, [4, 5], 0.25)
    cases = {"R null": (f_r, mu_a, mu_a, 0.0),
             "score effect": (st.mean_difference(2, 5), mu_a, mu_b, 100 * (0.70 - 0.66))}
    for name, (f, ma, mb, truth) in cases.items():
        da = st.simulate(st.SimDesign(ma, n_seeds, n, seed_sd), n_exp, rng)
        db = st.simulate(st.SimDesign(mb, n_seeds, n + 25, seed_sd), n_exp, rng)
        hits = 0
        with threadpool_limits(1):
            for e in range(n_exp):
                per_seed = [[da[e, s].astype(np.float64), db[e, s].astype(np.float64)]
                            for s in range(n_seeds)]
                est = st.estimate_blocks(per_seed, f, n_boot=st.MIN_BOOTSTRAP)
                hits += est.ci_low <= truth <= est.ci_high
        assert abs(hits / n_exp - 0.95) <= 0.04, (name, n_seeds, hits / n_exp)
