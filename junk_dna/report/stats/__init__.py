"""Interval estimates, verdicts, multiplicity and power for the claims, with their calibration.

Data model
----------
Fine-tuning: runs are indexed by (condition, seed). Every seed has its own train/test split,
so seeds are independent; within a seed all conditions are scored on the same test examples
(paired). ``per_seed[s]`` is an array ``(n_conditions, n_units_s)`` of per-example scores in
[0, 1] (0/1 correctness, EM or F1 per question); ``n_units_s`` may differ across seeds.
Zero-shot: usually one seed (one model), the questions are the sampling unit.

A statistic is computed *per seed* from that seed's vector of condition means by a vectorized
``contrast(means) -> values``, ``means`` of shape ``(..., n_conditions)``, result ``(...)``
(builders: :func:`retention_difference`, :func:`retention_slope`, :func:`mean_difference`).
The estimand is the expectation, over seeds and test sets, of that per-seed statistic; the
estimate is its mean over seeds. Metrics that are not means of per-example scores (MCC,
Pearson) take the slower general path: ``per_seed[s] = (predictions (C, n_s), labels
(n_s,))`` and a row-wise ``metric(predictions (k, n), labels (k, n)) -> (k,)``.

Chance levels may differ by condition (``chance`` of the retention builders is a number or a
vector with one level per condition, e.g. option_count's 2 options at 1/2 against 5 options at
1/5) and by seed (``contrast`` may be a list with one contrast per seed: each fine-tuning seed
has its own test labels, hence its own majority-class rate).

Conditions scored on *different* example sets within a seed (human_gap's SST-2 and
CommonsenseQA, factoid_vs_mc's TriviaQA and ARC-Easy) are *blocks*: :func:`estimate_blocks`
takes per seed a list of blocks ``(C_b, n_b)`` (conditions indexed across the blocks, block
0's first) and resamples the examples of each block independently within every drawn seed
(stratified by block). With one block per seed it is exactly :func:`estimate` (the same
draws, tested); its coverage was checked by simulation (tests/test_stats.py, 250 experiments
per cell, two blocks of 200 and 225 examples: 96.4 / 94.8 % with one seed, 95.2 / 93.6 % with
3 seeds at a seed SD of 2 points, for an R difference at a true 0 and a score difference at a
known effect).

NaN policy: a contrast is NaN where it is undefined (e.g. dense == chance for a retention).
A seed whose observed statistic is NaN is dropped (``Estimate.n_seeds`` counts the seeds used
and ``method`` says how many were dropped); no seed left gives an all-NaN estimate. Bootstrap
resamples whose statistic is NaN are discarded; if more than :data:`MAX_UNDEFINED_SHARE` of
them are, the CI and p-value are NaN (the interval would be conditional on a rare event).

Interval methods (``method=``)
------------------------------
* ``"student_t"``: Student t interval over the per-seed statistics (n_seeds >= 2); exact
  for normal per-seed statistics whatever the ratio of seed-level to test-set noise, since
  each seed's statistic already carries its own test-set noise.
* ``"percentile"``: two-level percentile bootstrap: seeds with replacement, then the test
  examples of each drawn seed with replacement, the same example indices for every condition
  (paired); with one seed only the example level (the paired example/question bootstrap,
  which covers test-set noise only).
* ``"bootstrap_t"``: the same resamples, each studentized by its own between-seed SE.
* ``"normal"``: one seed only: the delta-method normal interval over examples (the analytic
  counterpart of the paired bootstrap; test-set noise only).

Chosen verdict method (``method="auto"``) and why
--------------------------------------------------
Calibrated by simulation (:class:`SimDesign`, :func:`calibrate`; 1,000 experiments per cell,
10,000 resamples, truth of ratio statistics by Monte Carlo over :data:`N_TRUTH` = 200,000
per-seed draws). Fine-tuning cells: 262 test examples, 1/2/3/5/8 seeds, seed-level SD of each
condition's true accuracy 0/1/2/4 points (test-set SE ~2.4 points); zero-shot cells: one
model, 250/500/900 questions, dense 0.80 or 0.55 (chance 0.25); statistics: R difference over
3 sparsities, OLS slope of R with the dense point, plain score difference; effect and null
truths. Coverage % (min-max over cells) and largest rate of "supported" at a true effect of 0
(one-sided; 2.5 % expected)::

    method                   >= 3 seeds (72)    5 seeds (24)      2 seeds (24)      zero-shot (36)
    two-level bootstrap-t    93.1-96.3, <=3.6   93.6-96.3, <=3.6  93.4-96.5, <=3.6
    Student t                93.3-96.8, <=3.3   94.5-96.2, <=2.9  92.2-96.7, <=3.8
    two-level percentile     89.0-99.1, <=5.0   92.0-99.0, <=4.3  82.3-98.0, <=9.7
    seed-only percentile     72.8-89.7, <=12.9                    45.7-54.9, <=28.3
    paired bootstrap, 1 seed                                                        93.7-96.6, <=3.1
    normal (delta), 1 seed                                                          93.9-96.2, <=3.8

``method="auto"`` is the **two-level bootstrap-t** with >= 2 seeds (calibrated in every cell
with >= 2 seeds, so the preference for a two-level bootstrap applies) and the **paired
percentile bootstrap** with one seed. Student t is equally calibrated with the same power
within a few points (R difference of ~12 points, 5 seeds, seed SD 0/1/2/4: supported in
68/62/49/34 % vs 69/63/49/32 %); the bootstrap-t interval is 1-12 % wider at 5 seeds, 5-40 %
at 3. Set :data:`AUTO_MULTI_SEED` to ``STUDENT_T`` to switch. Two seeds are valid but nearly
uninformative (half-width ~7x that of 5 seeds; a 12-point R difference is supported in 8-13 %).
One fine-tuning seed covers test-set noise only: 86-89 % coverage of the seed-inclusive
estimand at a seed SD of 2 points, 70-76 % at 4 points.

Resampling both levels with replacement counts the test-set (within-seed) variance twice
(Davison & Hinkley 1997, sec. 3.8; Field & Welsh 2007): the observed per-seed statistics
already vary by seed noise *and* test-set noise, and the inner resampling adds the test-set
noise again. The percentile interval is therefore too wide when test-set noise dominates and
too narrow (normal quantiles, (S-1)/S variance) when seed noise dominates. Studentizing each
resample by its own between-seed spread, which holds both noise sources once, removes both
errors; the price is a heavier-tailed t* with 2-3 seeds, hence the wider intervals. The full
table (every method and cell) is in ``docs/STATISTICS.md``, printed by
``benchmarks/calibrate_stats.py``.

Verdicts (:func:`verdict`, :func:`equivalence_verdict`, :func:`holm_verdicts`) use only the
CI of an :class:`Estimate`, so every claim follows the same rule (cf. Dror et al., ACL 2018).
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "constants": [
        "LEVEL", "N_BOOTSTRAP", "MIN_BOOTSTRAP", "BOOTSTRAP_SEED", "MIN_UNITS", "MIN_SEEDS_T",
        "MAX_UNDEFINED_SHARE", "DRAW_BLOCK", "DRAW_CACHE", "SUPPORTED", "CONTRADICTED",
        "INCONCLUSIVE", "NOT_TESTABLE", "VERDICTS", "DIRECTIONS", "RECOVERS", "DOES_NOT_RECOVER",
        "EXPECTS", "AUTO", "STUDENT_T", "PERCENTILE", "BOOTSTRAP_T", "NORMAL", "METHODS",
        "AUTO_MULTI_SEED", "AUTO_ONE_SEED", "SIM_DIFFICULTY_SD", "SIM_NOISE_SD", "SIM_SEED_CORR",
        "SIM_MU_RANGE", "N_TRUTH", "N_EXPERIMENTS", "CALIBRATION_BLOCK", "Contrast", "Metric"
    ],
    "checks": [
        "check_level", "check_direction", "check_method", "check_n_boot", "check_scores",
        "check_pairs", "apply_contrast"
    ],
    "contrasts": [
        "retention", "Chance", "retention_difference", "retention_level", "retention_slope",
        "average", "mean_difference", "matthews_corrcoef", "pearson_r", "spearman_r", "binary_f1"
    ],
    "resampling": [
        "Resampling", "draw_resampling", "BlockResampling", "draw_block_resampling",
        "resampled_means", "resampled_metric", "resampled_block_values", "observed_values",
        "per_seed_contrasts", "apply_seeds", "take_seeds", "TwoLevelBootstrap",
        "two_level_bootstrap"
    ],
    "intervals": [
        "Estimate", "t_bounds", "percentile_bounds", "bootstrap_t_bounds", "normal_bounds",
        "estimate", "estimate_blocks"
    ],
    "verdicts": [
        "verdict", "equivalence_verdict", "holm", "holm_verdicts"
    ],
    "power": [
        "resolution", "t_power", "seeds_needed", "z_power", "units_needed", "power_note"
    ],
    "simulation": [
        "SimDesign", "simulate", "true_values", "CellResult", "SEED_BOOTSTRAP",
        "CALIBRATION_METHODS_ONE", "CALIBRATION_METHODS_MULTI", "calibrate"
    ],
    "calibration_grid": [
        "SIM_SPARSITIES", "SIM_SCENARIOS", "FT_N_UNITS", "SIM_STATISTICS", "sim_contrasts",
        "calibration_statistics"
    ],
})
