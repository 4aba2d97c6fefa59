"""The claims' constants, all fixed before the decisive runs: the settings and the claims
each speaks to, the statements and verdicts, the thresholds (recovery margin, exclusion,
convergence, minimum seeds and sparsities), the pre-registered primary tests, the columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from junk_dna.report import stats

#: The experiment of a table without an ``experiment`` column.
EXPERIMENT = "true_gem"
#: Experiments checked, in order, and the claims each one speaks to.
SETTINGS: dict[str, tuple[str, ...]] = {
    "true_gem": ("A", "B", "C"),
    "data_adequacy": ("A", "B"),
    "human_gap": ("A", "B"),
    "context_length": ("A", "B"),
    "option_count": ("A", "B"),
    "kshot": ("A", "B"),
    "factoid_vs_mc": ("A", "B"),
    "quantization": ("Q",),
}
FINETUNE_SETTINGS: tuple[str, ...] = ("true_gem", "data_adequacy", "human_gap")
ZERO_SHOT_SETTINGS: tuple[str, ...] = ("context_length", "option_count", "kshot",
                                       "factoid_vs_mc", "quantization")

CLAIM_A = "A: monotonic drop"
CLAIM_B = "B: harder drops faster"
CLAIM_C = "C: irreversible"
CLAIM_C_RECOVERS = "C: freezing recovers"
CLAIM_C_NO_RECOVERY = "C: sparse-to-dense does not recover"
CLAIM_Q = "Q: quantization is not pruning"
STATEMENTS: dict[str, str] = {
    CLAIM_A: "The performance loss from one-shot magnitude pruning of the pre-trained weights "
             "grows monotonically with sparsity.",
    CLAIM_B: "The loss grows faster the harder the downstream task is (less fine-tuning data, "
             "more options, less context, a larger human-model gap, fewer shots, factoid "
             "rather than multiple-choice questions).",
    CLAIM_C: "The loss is irreversible: dense transfer with the pruned weights frozen at their "
             "pre-trained values keeps more than sparse-to-dense transfer, which lets them "
             "train again from zero.",
    CLAIM_C_RECOVERS: "Freezing the pruned weights at their pre-trained values recovers the "
                      "dense model (within the margin).",
    CLAIM_C_NO_RECOVERY: "Sparse-to-dense transfer does not recover the dense model (it stays "
                         "below it by more than the margin).",
    CLAIM_Q: "(v2) Weight quantization does not show pruning's loss: at the same weight "
             "storage, round-to-nearest quantization keeps more than magnitude pruning.",
}

#: Verdict words (:mod:`junk_dna.report.stats`).
SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE = (
    stats.SUPPORTED, stats.CONTRADICTED, stats.INCONCLUSIVE, stats.NOT_TESTABLE)
VERDICTS: tuple[str, ...] = stats.VERDICTS

#: Claim C's window: sparsities where sparse transfer's mean R over seeds lies here (dropped,
#: and still above the chance floor).
R_WINDOW: tuple[float, float] = (15.0, 90.0)
#: Equivalence margin of "recovers" (R points below the dense model's 100).
RECOVERY_MARGIN = 10.0
#: Reference effects of the power statements: B, C, Q in R points, A in R points per unit
#: sparsity (a loss of 50 R points from dense to 100 % sparsity).
REFERENCE_EFFECTS: dict[str, float] = {"A": 50.0, "B": 10.0, "C": 10.0, "Q": 10.0}
#: Power of the power statements.
POWER = 0.8
#: A dense model within this many binomial standard errors of chance is excluded.
EXCLUSION_SE = 4.0
#: Fewest seeds a fine-tuning test needs for a verdict (by design or after exclusions): with
#: one seed the interval covers test-set noise only, not the seed-to-seed variation of
#: training the claims are about, so the row reports the estimate and says not testable.
MIN_SEEDS = 2
#: Fewest sparsity points of a slope (claim A).
MIN_SPARSITY_POINTS = 2
#: Convergence rule (docs/PREREGISTRATION.md stage 1): the last evaluation improves on the one
#: a full-data epoch earlier by less than this many points of the main metric x 100 ...
CONVERGENCE_GAIN = 2.0
#: ... and the mean training loss over the last epoch is below this times ln(k) (k classes
#: or options; a regression task has no such bound).
CONVERGENCE_LOSS = 0.5
#: Zero-shot score of the multiple-choice conditions (factoid conditions: FACTOID_SCORE,
#: defined with the tables in junk_dna.report.analysis).
ZERO_SHOT_SCORE = "acc"
PRUNING_METHODS: tuple[str, ...] = ("magnitude", "wanda", "sparsegpt")
#: Setting 4's pairs with the paper's fixed labels: (label, easy task, hard task), by base
#: task name (Task_4 of the paper; the embedded default's pairs last). Never re-ordered by
#: the computed gaps: those are reported beside.
HUMAN_GAP_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("Single sentence", "sst2", "cola"),
    ("Sentence similarity", "qqp", "stsb"),
    ("Natural language inference", "qnli", "rte"),
    ("Commonsense reasoning", "winogrande", "csqa"),
    ("Arithmetic", "mawps", "svamp"),
    ("Sentiment vs. commonsense QA", "sst2", "csqa"),
    ("Commonsense reasoning (physical vs. concepts)", "piqa", "csqa"),
)
#: Zero-shot claim B: the easy and the hard condition of each setting (condition labels, or
#: a rule on the conditions present).
EASY_HARD_RULES: dict[str, str] = {
    "context_length": "context=full (easy) vs context=0 (closed book, hard)",
    "option_count": "fewest options (easy) vs most options (hard)",
    "kshot": "most shots (easy) vs shots=0 (hard)",
    "factoid_vs_mc": "mc (easy) vs factoid (hard)",
}


@dataclass(frozen=True)
class PrimaryTest:
    """One pre-registered primary test.

    Attributes:
        setting: the experiment.
        claim: the claim's name.
        runs: which runs enter, and the unit one row covers.
        statistic: the per-seed statistic (mean over seeds is the estimate).
        direction: the paper's direction (+1: above 0, -1: below).
    """

    setting: str
    claim: str
    runs: str
    statistic: str
    direction: int


#: The pre-registered primary tests (pinned by tests/report/test_claims.py).
PRIMARY: tuple[PrimaryTest, ...] = (
    PrimaryTest("true_gem", CLAIM_A,
                "sparse transfer, unstructured, magnitude, largest data fraction; per (model, "
                "task)",
                "OLS slope of R over sparsity, the dense point (0, 100) included", -1),
    PrimaryTest("true_gem", CLAIM_C,
                "freeze and sparse-to-dense, unstructured, largest data fraction, the C window "
                "(sparsities where both modes ran and sparse transfer's mean R over seeds is in "
                "R_WINDOW; all shared sparsities if none); per (model, task)",
                "mean over the C window of R(freeze) - R(sparse_to_dense)", 1),
    PrimaryTest("data_adequacy", CLAIM_B,
                "sparse transfer, unstructured, largest and smallest data fraction; per "
                "(model, task)",
                "mean over shared sparsities of R(largest fraction) - R(smallest fraction), "
                "each fraction on its own dense run", 1),
    PrimaryTest("data_adequacy", CLAIM_A,
                "sparse transfer, unstructured, every data fraction; per (model, task)",
                "mean over data fractions of the OLS slope of R over sparsity", -1),
    PrimaryTest("human_gap", CLAIM_B,
                "sparse transfer, unstructured, largest data fraction; per pair of "
                "HUMAN_GAP_PAIRS (fixed easy/hard labels)",
                "mean over shared sparsities of R(easy) - R(hard), block-stratified", 1),
    PrimaryTest("human_gap", CLAIM_A,
                "sparse transfer, unstructured, largest data fraction; per pair of "
                "HUMAN_GAP_PAIRS",
                "mean of the two tasks' OLS slopes of R over sparsity", -1),
    PrimaryTest("context_length", CLAIM_B,
                "magnitude, Wanda, SparseGPT (those present), unstructured; one model, "
                "questions paired",
                "mean over methods and sparsities of R(context=full) - R(context=0)", 1),
    PrimaryTest("context_length", CLAIM_A,
                "magnitude, Wanda, SparseGPT (those present), unstructured, every condition",
                "mean over methods and conditions of the OLS slope of R over sparsity", -1),
    PrimaryTest("option_count", CLAIM_B, "magnitude, unstructured",
                "mean over sparsities of R(fewest options) - R(most options)", 1),
    PrimaryTest("option_count", CLAIM_A, "magnitude, unstructured, every condition",
                "mean over conditions of the OLS slope of R over sparsity", -1),
    PrimaryTest("kshot", CLAIM_B, "magnitude, unstructured",
                "mean over sparsities of R(most shots) - R(shots=0)", 1),
    PrimaryTest("kshot", CLAIM_A, "magnitude, unstructured, every condition",
                "mean over conditions of the OLS slope of R over sparsity", -1),
    PrimaryTest("factoid_vs_mc", CLAIM_B, "magnitude, unstructured",
                "mean over sparsities of R(mc) - R(factoid), block-stratified", 1),
    PrimaryTest("factoid_vs_mc", CLAIM_A, "magnitude, unstructured, every condition",
                "mean over conditions of the OLS slope of R over sparsity", -1),
    PrimaryTest("quantization", CLAIM_Q,
                "RTN per channel vs magnitude pruning, unstructured, at the matched sparsity "
                "1 - bits/16",
                "mean over matched-storage points of R(RTN) - R(magnitude)", 1),
)

COLUMNS: tuple[str, ...] = (
    "setting", "claim", "primary", "scope", "statistic", "value", "ci_low", "ci_high",
    "p_value", "p_holm", "n_seeds", "n_units", "method", "verdict", "flags", "detail")

#: The statistic of a claim-A row that is one slope.
SLOPE_STATISTIC = "OLS slope of R over sparsity (R points per unit sparsity, dense point included)"
#: The value of a number that cannot be computed.
NAN = float("nan")


def primary_test(setting: str, claim: str) -> PrimaryTest:
    """The primary test of :data:`PRIMARY` for ``setting`` and ``claim``."""
    for p in PRIMARY:
        if p.setting == setting and p.claim == claim:
            return p
    raise KeyError((setting, claim))  # pragma: no cover


def claim_key(claim: str) -> str:
    """The letter of a claim (``"A"`` for :data:`CLAIM_A`)."""
    return claim.split(":", 1)[0]
