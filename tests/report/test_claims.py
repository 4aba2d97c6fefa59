"""The claims on synthetic run folders with known effects: records and per-example files
written to tmp dirs, collected, and checked end to end (the verdict rule, exclusions, flags,
Holm, the output files)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from junk_dna.report import claims as cl
from junk_dna.report.analysis import retention_table, scaled
from junk_dna.results import collect
from junk_dna.results.records import write_record

N_TEST = 262
N_QUESTIONS = 200


def _rng(*key: object) -> np.random.Generator:
    digest = hashlib.sha256(repr(key).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


class Runs:
    """Writes run folders like the experiments do: ``record.json`` and ``per_example.json``
    (fine-tuning) or ``per_question.json`` (zero-shot).

    Within a seed (fine-tuning) or a question set (zero-shot) every condition sees the same
    examples: example i is right under a condition of accuracy a iff u_i + e < a, with u_i
    uniform and shared (pairing) and e a small per-run jitter."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # --------------------------------------------------------------- fine-tuning
    def ft(self, experiment: str, *, seed: int, acc: float, mode: str = "dense",
           sparsity: float | None = None, nm: str | None = None, frac: float = 1.0,
           task: str = "sst2-embedded", model: str = "minilm", flagged: tuple = (),
           converged: bool = True, n: int = N_TEST, write_examples: bool = True) -> str:
        pattern = None if mode == "dense" else ("nm" if nm else "unstructured")
        run_id = f"{task}_f{frac}_s{seed}_{mode}_{pattern}-{sparsity or nm}"
        folder = self.root / experiment / run_id
        rng = _rng(task, seed)
        k = 5 if task.startswith("csqa") else 2
        labels = rng.integers(0, k, n)
        if task.startswith("sst2"):  # a majority class: chance 0.55
            labels = (rng.random(n) < 0.55).astype(int)
        u = rng.random(n)
        jitter = _rng(run_id, experiment).normal(0, 0.03, n)
        right = (u + jitter) < acc
        pred = np.where(right, labels, (labels + 1) % k)
        value = float(np.mean(pred == labels))
        params = {"model": model, "task": task, "data_fraction": frac, "subset": "random",
                  "mode": mode, "pattern": pattern,
                  "sparsity": sparsity if pattern == "unstructured" else None,
                  "nm": nm, "criterion": None if mode == "dense" else "magnitude",
                  "seed": seed, "split_seed": seed, "batch_size": 16, "epochs": 6,
                  "learning_rate": 1e-4, "max_steps": 234, "eval_steps": 39}
        last_gain = 0.004 if converged else 0.05
        epochs = [{"epoch": 5.0, "step": 195, "metrics": {"accuracy": value - last_gain},
                   "train_loss": 0.05},
                  {"epoch": 6.0, "step": 234, "metrics": {"accuracy": value},
                   "train_loss": 0.05 if converged else 0.6}]
        write_record(folder, {
            "experiment": experiment, "run_id": run_id, "status": "ok", "params": params,
            "resolved": {"n_train_full": 610, "n_eval": {"test": n}},
            "epochs": epochs,
            "final": {"last": {"accuracy": value}, "best": {"accuracy": value}},
            "sparsity": {"target": sparsity or 0.0, "reached": sparsity or 0.0,
                         "flagged": list(flagged)}})
        if write_examples:
            (folder / "per_example.json").write_text(json.dumps({"splits": {"test": {
                "ids": [str(i) for i in range(n)], "label": labels.tolist(),
                "prediction": pred.tolist()}}}))
        return run_id

    def ft_curve(self, experiment: str, seeds, dense: float, mode: str,
                 accs: dict[float, float], **kw) -> None:
        for s in seeds:
            self.ft(experiment, seed=s, acc=dense, **{k: v for k, v in kw.items()
                                                       if k != "flagged"})
            for x, a in accs.items():
                self.ft(experiment, seed=s, acc=a, mode=mode, sparsity=x, **kw)

    # --------------------------------------------------------------- zero-shot
    def zs(self, experiment: str, run_id: str, *, method: str, accs: dict[str, float],
           sparsity: float | None = None, nm: str | None = None, bits: int | None = None,
           granularity: str | None = None, task: str = "sciq", mc_task: str | None = None,
           n: int = N_QUESTIONS, n_options: dict[str, list[int]] | None = None,
           storage_bits: float | None = None) -> None:
        folder = self.root / experiment / run_id
        pattern = None if method in ("dense", "rtn") else ("nm" if nm else "unstructured")
        per_q, final = {}, {}
        for key, a in accs.items():
            block = key.split("|")[1] if experiment == "factoid_vs_mc" else "all"
            u = _rng(experiment, task, block).random(n)
            jitter = _rng(run_id, key).normal(0, 0.03, n)
            scores = ((u + jitter) < a).astype(float)
            per_q[key] = scores.tolist()
            final[key] = float(scores.mean())
        for cond, ks in (n_options or {}).items():
            per_q[f"n_options|{cond}"] = ks
        params = {"experiment": experiment, "model": "smollm2", "method": method,
                  "pattern": pattern, "sparsity": sparsity if pattern == "unstructured"
                  else None, "nm": nm, "bits": bits, "granularity": granularity,
                  "task": task, "mc_task": mc_task, "n_questions": n, "seed": 0,
                  "selection": "first", "offset": 0}
        write_record(folder, {"experiment": experiment, "run_id": run_id, "status": "ok",
                              "params": params, "final": {"last": final, "best": final},
                              "sparsity": {"reached": sparsity or 0.0},
                              **({"compression": {"storage_bits_per_weight": storage_bits}}
                                 if storage_bits is not None else {})})
        (folder / "per_question.json").write_text(json.dumps(per_q))

    def table(self) -> pd.DataFrame:
        return collect(self.root)


SEEDS = (1, 2, 3, 4, 5)
DROP = {0.5: 0.80, 0.7: 0.72, 0.9: 0.62}      # dense 0.85, chance ~0.55: R 83, 57, 23
RISE = {0.5: 0.78, 0.7: 0.82, 0.9: 0.86}     # above a dense 0.72: pruning helps


def _row(table: pd.DataFrame, setting: str, claim: str, primary: bool = True,
         scope: str = "") -> pd.Series:
    rows = table[(table["setting"] == setting) & (table["claim"] == claim)
                 & (table["primary"] == primary) & table["scope"].str.contains(scope,
                                                                               regex=False)]
    assert len(rows) == 1, rows[["setting", "claim", "scope"]]
    return rows.iloc[0]


# ----------------------------------------------------------------------------- PRIMARY


def test_primary_tests_are_pinned():
    got = [(p.setting, p.claim, p.direction, p.statistic, p.runs) for p in cl.PRIMARY]
    assert got == [
        ("true_gem", "A: monotonic drop", -1,
         "OLS slope of R over sparsity, the dense point (0, 100) included",
         "sparse transfer, unstructured, magnitude, largest data fraction; per (model, task)"),
        ("true_gem", "C: irreversible", 1,
         "mean over the C window of R(freeze) - R(sparse_to_dense)",
         "freeze and sparse-to-dense, unstructured, largest data fraction, the C window "
         "(sparsities where both modes ran and sparse transfer's mean R over seeds is in "
         "R_WINDOW; all shared sparsities if none); per (model, task)"),
        ("data_adequacy", "B: harder drops faster", 1,
         "mean over shared sparsities of R(largest fraction) - R(smallest fraction), each "
         "fraction on its own dense run",
         "sparse transfer, unstructured, largest and smallest data fraction; per (model, "
         "task)"),
        ("data_adequacy", "A: monotonic drop", -1,
         "mean over data fractions of the OLS slope of R over sparsity",
         "sparse transfer, unstructured, every data fraction; per (model, task)"),
        ("human_gap", "B: harder drops faster", 1,
         "mean over shared sparsities of R(easy) - R(hard), block-stratified",
         "sparse transfer, unstructured, largest data fraction; per pair of HUMAN_GAP_PAIRS "
         "(fixed easy/hard labels)"),
        ("human_gap", "A: monotonic drop", -1,
         "mean of the two tasks' OLS slopes of R over sparsity",
         "sparse transfer, unstructured, largest data fraction; per pair of HUMAN_GAP_PAIRS"),
        ("context_length", "B: harder drops faster", 1,
         "mean over methods and sparsities of R(context=full) - R(context=0)",
         "magnitude, Wanda, SparseGPT (those present), unstructured; one model, questions "
         "paired"),
        ("context_length", "A: monotonic drop", -1,
         "mean over methods and conditions of the OLS slope of R over sparsity",
         "magnitude, Wanda, SparseGPT (those present), unstructured, every condition"),
        ("option_count", "B: harder drops faster", 1,
         "mean over sparsities of R(fewest options) - R(most options)",
         "magnitude, unstructured"),
        ("option_count", "A: monotonic drop", -1,
         "mean over conditions of the OLS slope of R over sparsity",
         "magnitude, unstructured, every condition"),
        ("kshot", "B: harder drops faster", 1,
         "mean over sparsities of R(most shots) - R(shots=0)", "magnitude, unstructured"),
        ("kshot", "A: monotonic drop", -1,
         "mean over conditions of the OLS slope of R over sparsity",
         "magnitude, unstructured, every condition"),
        ("factoid_vs_mc", "B: harder drops faster", 1,
         "mean over sparsities of R(mc) - R(factoid), block-stratified",
         "magnitude, unstructured"),
        ("factoid_vs_mc", "A: monotonic drop", -1,
         "mean over conditions of the OLS slope of R over sparsity",
         "magnitude, unstructured, every condition"),
        ("quantization", "Q: quantization is not pruning", 1,
         "mean over matched-storage points of R(RTN) - R(magnitude)",
         "RTN per channel vs magnitude pruning, unstructured, at the matched sparsity "
         "1 - bits/16"),
    ]
    assert (cl.R_WINDOW, cl.RECOVERY_MARGIN, cl.EXCLUSION_SE, cl.MIN_SEEDS) == (
        (15.0, 90.0), 10.0, 4.0, 2)
    assert cl.REFERENCE_EFFECTS == {"A": 50.0, "B": 10.0, "C": 10.0, "Q": 10.0}
    assert (cl.CONVERGENCE_GAIN, cl.CONVERGENCE_LOSS) == (2.0, 0.5)


def test_human_gap_pairs_keep_the_paper_labels():
    from junk_dna.experiments.human_gap import PAIRS

    fixed = {(e, h) for _, e, h in cl.HUMAN_GAP_PAIRS}
    assert {(a, b) for _, a, b in PAIRS} <= fixed  # the experiment's pairs: first is easy
    assert ("sst2", "cola") in fixed and ("mawps", "svamp") in fixed
    assert ("sst2", "csqa") in fixed


# ----------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize("dense,accs,verdict", [
    (0.85, DROP, cl.SUPPORTED), (0.72, RISE, cl.CONTRADICTED),
    (0.85, {0.5: 0.85, 0.7: 0.85, 0.9: 0.85}, cl.INCONCLUSIVE)])
def test_claim_a_verdict_rule(tmp_path, dense, accs, verdict):
    runs = Runs(tmp_path)
    runs.ft_curve("true_gem", SEEDS, dense, "sparse", accs)
    table = cl.evaluate_claims(runs.table())
    a = _row(table, "true_gem", cl.CLAIM_A)
    assert a["verdict"] == verdict, a["detail"]
    assert a["n_seeds"] == 5 and a["n_units"] == N_TEST
    assert "two-level bootstrap-t over 5 seeds" in a["method"]
    assert (a["ci_low"] <= a["value"] <= a["ci_high"])
    if verdict == cl.SUPPORTED:
        assert a["value"] < -50  # R 100 -> ~25 from 0 to 90 %
    if verdict == cl.INCONCLUSIVE:
        assert "CI half-width" in a["detail"] and "seeds would detect an effect of 50" \
            in a["detail"]
    assert math.isnan(a["p_holm"])  # primary: no Holm


def test_dense_model_at_chance_is_not_testable_with_the_reason(tmp_path):
    runs = Runs(tmp_path)
    runs.ft_curve("true_gem", SEEDS, 0.50, "sparse", {0.5: 0.5, 0.7: 0.5, 0.9: 0.5})
    table, audit = cl.evaluate_with_audit(runs.table())
    a = _row(table, "true_gem", cl.CLAIM_A)
    assert a["verdict"] == cl.NOT_TESTABLE
    assert "not clearly above chance" in a["detail"]
    assert len(audit.exclusions) == 5
    assert "dense - chance" in audit.exclusions[0] and "<= 4 SE" in audit.exclusions[0]


def test_exclusions_leaving_one_seed_make_the_test_not_testable(tmp_path):
    runs = Runs(tmp_path)
    runs.ft_curve("true_gem", (1,), 0.85, "sparse", DROP)
    runs.ft_curve("true_gem", (2, 3), 0.5, "sparse", {0.5: 0.5, 0.7: 0.5, 0.9: 0.5})
    a = _row(cl.evaluate_claims(runs.table()), "true_gem", cl.CLAIM_A)
    assert a["verdict"] == cl.NOT_TESTABLE
    assert "1 of 3 seeds left" in a["detail"] and "fewer than 2" in a["detail"]
    assert "seed 2, sst2-embedded" in a["detail"] and "<= 4 SE" in a["detail"]  # the numbers


def test_one_seed_is_estimated_but_gets_no_verdict(tmp_path):
    """A clear drop on one seed: the estimate and its test-set-only CI are reported, the
    verdict is "not testable" (one seed cannot speak for training randomness)."""
    runs = Runs(tmp_path)
    runs.ft_curve("true_gem", (1,), 0.85, "sparse", DROP)
    table = cl.evaluate_claims(runs.table())
    a = _row(table, "true_gem", cl.CLAIM_A)
    assert "test-set noise only, 1 seed" in a["method"] and a["verdict"] == cl.NOT_TESTABLE
    assert a["ci_high"] < 0 and a["value"] < 0  # the CI alone would say "supported"
    assert "1 seed, fewer than the 2" in a["detail"] and "test-set noise" in a["detail"]
    assert table[~table["primary"]]["p_holm"].isna().all()  # not in the Holm family
    runs.ft_curve("true_gem", (2,), 0.84, "sparse", DROP)
    assert _row(cl.evaluate_claims(runs.table()), "true_gem", cl.CLAIM_A)["verdict"] in (
        cl.SUPPORTED, cl.INCONCLUSIVE)


def test_claim_c_window_and_equivalence_rows(tmp_path):
    runs = Runs(tmp_path)
    runs.ft_curve("true_gem", SEEDS, 0.85, "sparse", {0.6: 0.84, 0.8: 0.70, 0.9: 0.54})
    for s in SEEDS:
        for x, (fz, sd) in {0.8: (0.84, 0.66), 0.9: (0.83, 0.60)}.items():
            runs.ft("true_gem", seed=s, acc=fz, mode="freeze", sparsity=x)
            runs.ft("true_gem", seed=s, acc=sd, mode="sparse_to_dense", sparsity=x)
    table = cl.evaluate_claims(runs.table())
    c = _row(table, "true_gem", cl.CLAIM_C)
    assert c["verdict"] == cl.SUPPORTED and c["value"] > 30
    # 80 % (R ~50) is in the window; 90 % (R ~10) is below its floor
    assert "C window 80 %" in c["detail"]
    rec = _row(table, "true_gem", cl.CLAIM_C_RECOVERS, primary=False)
    assert rec["verdict"] == cl.SUPPORTED and rec["value"] > -10
    assert "unadjusted equivalence test says supported" in rec["detail"]
    no = _row(table, "true_gem", cl.CLAIM_C_NO_RECOVERY, primary=False)
    assert no["verdict"] == cl.SUPPORTED and no["value"] < -10
    assert not math.isnan(no["p_holm"])
    # the reverse: sparse-to-dense keeps more than freezing
    runs2 = Runs(tmp_path / "rev")
    runs2.ft_curve("true_gem", SEEDS, 0.85, "sparse", {0.8: 0.70})
    for s in SEEDS:
        runs2.ft("true_gem", seed=s, acc=0.62, mode="freeze", sparsity=0.8)
        runs2.ft("true_gem", seed=s, acc=0.83, mode="sparse_to_dense", sparsity=0.8)
    rev = cl.evaluate_claims(runs2.table())
    assert _row(rev, "true_gem", cl.CLAIM_C)["verdict"] == cl.CONTRADICTED
    assert _row(rev, "true_gem", cl.CLAIM_C_RECOVERS, primary=False)["verdict"] == \
        cl.CONTRADICTED


def test_data_adequacy_b_and_a(tmp_path):
    runs = Runs(tmp_path)
    runs.ft_curve("data_adequacy", SEEDS, 0.85, "sparse", {0.5: 0.82, 0.7: 0.76, 0.9: 0.68})
    runs.ft_curve("data_adequacy", SEEDS, 0.80, "sparse", {0.5: 0.68, 0.7: 0.62, 0.9: 0.57},
                  frac=0.25)
    table = cl.evaluate_claims(runs.table())
    b = _row(table, "data_adequacy", cl.CLAIM_B)
    assert b["verdict"] == cl.SUPPORTED and b["scope"] == "sst2-embedded / 100% vs 25% data / " \
        "unstructured"
    a = _row(table, "data_adequacy", cl.CLAIM_A)
    assert a["verdict"] == cl.SUPPORTED
    expl = table[(table["setting"] == "data_adequacy") & ~table["primary"]]
    assert len(expl) >= 5 and expl["p_holm"].notna().all()


def test_human_gap_pairs_are_block_stratified_and_gaps_reported(tmp_path):
    runs = Runs(tmp_path)
    # SST-2 (easy, dense 0.85) keeps more than CommonsenseQA (hard, dense 0.45, chance 0.2)
    runs.ft_curve("human_gap", SEEDS, 0.85, "sparse", {0.5: 0.82, 0.7: 0.78})
    runs.ft_curve("human_gap", SEEDS, 0.45, "sparse", {0.5: 0.33, 0.7: 0.26},
                  task="csqa-embedded", n=366)
    table, audit = cl.evaluate_with_audit(runs.table())
    b = _row(table, "human_gap", cl.CLAIM_B)
    assert b["scope"] == "sst2 (easy) vs csqa (hard) / unstructured"
    assert b["verdict"] == cl.SUPPORTED
    assert "stratified bootstrap-t over 5 seeds x 2 blocks of 262 + 366 examples" in b["method"]
    assert "agrees with the fixed labels" in b["detail"]
    assert _row(table, "human_gap", cl.CLAIM_A)["verdict"] == cl.SUPPORTED
    assert audit.notes == []


def test_human_gap_label_disagreement_is_said_never_swapped(tmp_path):
    runs = Runs(tmp_path)
    # dense SST-2 far from its human score, CSQA close to its own: the gaps disagree
    runs.ft_curve("human_gap", SEEDS, 0.60, "sparse", {0.5: 0.59})
    runs.ft_curve("human_gap", SEEDS, 0.88, "sparse", {0.5: 0.80}, task="csqa-embedded")
    table, audit = cl.evaluate_with_audit(runs.table())
    b = _row(table, "human_gap", cl.CLAIM_B)
    assert b["scope"].startswith("sst2 (easy) vs csqa (hard)")
    assert "DISAGREES" in b["detail"] and len(audit.notes) == 1


# ----------------------------------------------------------------------------- zero-shot


def _context_length(runs: Runs, closed_drop: dict[float, float]) -> None:
    dense = {"acc|context=full": 0.80, "acc|context=0": 0.60}
    runs.zs("context_length", "dense", method="dense", accs=dense)
    for x, (full, closed) in closed_drop.items():
        for method in ("magnitude", "wanda"):
            runs.zs("context_length", f"{method}{x}", method=method, sparsity=x,
                    accs={"acc|context=full": full, "acc|context=0": closed})


def test_context_length_b_and_a_on_questions(tmp_path):
    runs = Runs(tmp_path)
    _context_length(runs, {0.3: (0.78, 0.52), 0.5: (0.70, 0.40)})
    table = cl.evaluate_claims(runs.table())
    b = _row(table, "context_length", cl.CLAIM_B)
    assert b["verdict"] == cl.SUPPORTED and b["n_seeds"] == 1 and b["n_units"] == N_QUESTIONS
    assert "questions (one model: the questions are the sampling unit)" in b["method"]
    assert "magnitude at 30/50 %" in b["detail"] and "wanda at 30/50 %" in b["detail"]
    a = _row(table, "context_length", cl.CLAIM_A)
    assert a["verdict"] == cl.SUPPORTED
    expl = table[(table["setting"] == "context_length") & ~table["primary"]]
    assert {"magnitude", "wanda"} <= {s.split(" / ")[2] for s in expl["scope"]
                                      if s.count(" / ") >= 2}


def test_option_count_uses_a_chance_level_per_condition(tmp_path):
    runs = Runs(tmp_path)
    runs.zs("option_count", "dense", method="dense", task="csqa",
            accs={"acc|k=2": 0.80, "acc|k=5": 0.60})
    for x, (two, five) in {0.3: (0.78, 0.45), 0.5: (0.74, 0.35)}.items():
        runs.zs("option_count", f"m{x}", method="magnitude", sparsity=x, task="csqa",
                accs={"acc|k=2": two, "acc|k=5": five})
    df = runs.table()
    table = cl.evaluate_claims(df)
    b = _row(table, "option_count", cl.CLAIM_B)
    ret = retention_table(df)
    r2 = ret[(ret["run_id"] == "m0.5") & (ret["condition"] == "k=2")].iloc[0]
    r5 = ret[(ret["run_id"] == "m0.5") & (ret["condition"] == "k=5")].iloc[0]
    assert (r2["chance"], r5["chance"]) == (0.5, 0.2)
    r2b = ret[(ret["run_id"] == "m0.3") & (ret["condition"] == "k=2")].iloc[0]
    r5b = ret[(ret["run_id"] == "m0.3") & (ret["condition"] == "k=5")].iloc[0]
    want = ((r2["retention"] - r5["retention"]) + (r2b["retention"] - r5b["retention"])) / 2
    assert b["value"] == pytest.approx(want)
    assert b["verdict"] == cl.SUPPORTED


def test_kshot_without_zero_shots_is_not_testable(tmp_path):
    runs = Runs(tmp_path)
    runs.zs("kshot", "dense", method="dense", task="arc_easy",
            accs={"acc|shots=1": 0.6, "acc|shots=3": 0.62})
    runs.zs("kshot", "m0.3", method="magnitude", sparsity=0.3, task="arc_easy",
            accs={"acc|shots=1": 0.5, "acc|shots=3": 0.55})
    b = _row(cl.evaluate_claims(runs.table()), "kshot", cl.CLAIM_B)
    assert b["verdict"] == cl.NOT_TESTABLE and "shots=0 missing" in b["detail"]


def test_factoid_vs_mc_blocks_and_a_factoid_model_at_chance(tmp_path):
    runs = Runs(tmp_path)
    ks = [4] * 190 + [3] * 5 + [5] * 5  # ARC-Easy: a few 3- and 5-option questions
    opts = {"mc": ks}
    runs.zs("factoid_vs_mc", "dense", method="dense", task="triviaqa", mc_task="arc_easy",
            accs={"acc|mc": 0.60, "containment|factoid": 0.02, "exact_match|factoid": 0.0},
            n_options=opts)
    runs.zs("factoid_vs_mc", "m0.3", method="magnitude", sparsity=0.3, task="triviaqa",
            mc_task="arc_easy",
            accs={"acc|mc": 0.5, "containment|factoid": 0.01, "exact_match|factoid": 0.0},
            n_options=opts)
    df = runs.table()
    table, audit = cl.evaluate_with_audit(df)
    b = _row(table, "factoid_vs_mc", cl.CLAIM_B)
    assert b["verdict"] == cl.NOT_TESTABLE and "not clearly above chance" in b["detail"]
    assert any("factoid" in e for e in audit.exclusions)
    ret = retention_table(df)
    mc = ret[(ret["run_id"] == "dense") & (ret["condition"] == "mc")].iloc[0]
    assert mc["chance"] == pytest.approx(np.mean([1 / k for k in ks]))
    assert mc["chance_source"] == "recorded"
    # with a factoid model above chance by containment (the primary factoid score; exact
    # match alone would be near chance): two blocks, stratified
    runs2 = Runs(tmp_path / "ok")
    runs2.zs("factoid_vs_mc", "dense", method="dense", task="triviaqa", mc_task="arc_easy",
             accs={"acc|mc": 0.70, "containment|factoid": 0.40, "exact_match|factoid": 0.02},
             n_options=opts)
    runs2.zs("factoid_vs_mc", "m0.4", method="magnitude", sparsity=0.4, task="triviaqa",
             mc_task="arc_easy",
             accs={"acc|mc": 0.66, "containment|factoid": 0.20, "exact_match|factoid": 0.02},
             n_options=opts)
    b2 = _row(cl.evaluate_claims(runs2.table()), "factoid_vs_mc", cl.CLAIM_B)
    assert b2["verdict"] == cl.SUPPORTED
    assert "stratified paired bootstrap over 2 blocks" in b2["method"]


def test_quantization_q(tmp_path):
    runs = Runs(tmp_path)
    runs.zs("quantization", "dense", method="dense", task="arc_easy", accs={"acc|all": 0.6})
    for bits, q, s, p in ((8, 0.6, 0.5, 0.45), (4, 0.58, 0.75, 0.35)):
        runs.zs("quantization", f"q{bits}", method="rtn", bits=bits, granularity="per_channel",
                task="arc_easy", accs={"acc|all": q})
        runs.zs("quantization", f"p{s}", method="magnitude", sparsity=s, task="arc_easy",
                accs={"acc|all": p})
    q = _row(cl.evaluate_claims(runs.table()), "quantization", cl.CLAIM_Q)
    assert q["verdict"] == cl.SUPPORTED and q["scope"] == "smollm2 / RTN per_channel"
    assert "8: 50 %, 4: 75 %" in q["detail"]
    assert "overheads counted" not in q["detail"]  # records without a storage count
    # records that count their storage: the note gives both sides and the equal-storage point
    runs2 = Runs(tmp_path / "counted")
    runs2.zs("quantization", "dense", method="dense", task="arc_easy", accs={"acc|all": 0.6})
    for bits, q_acc, s, p, stored in ((8, 0.6, 0.5, 0.45, 8.05), (4, 0.58, 0.75, 0.35, 4.05)):
        runs2.zs("quantization", f"q{bits}", method="rtn", bits=bits,
                 granularity="per_channel", task="arc_easy", accs={"acc|all": q_acc},
                 storage_bits=stored)
        runs2.zs("quantization", f"p{s}", method="magnitude", sparsity=s, task="arc_easy",
                 accs={"acc|all": p})
    q2 = _row(cl.evaluate_claims(runs2.table()), "quantization", cl.CLAIM_Q)
    assert q2["value"] == q["value"]  # the pre-registered statistic is unchanged
    assert ("8 bits: RTN 8.05 vs pruning 9 (equal storage at 55.9 %), 4 bits: RTN 4.05 vs "
            "pruning 5 (equal storage at 80.9 %)") in q2["detail"], q2["detail"]


# ----------------------------------------------------------------------------- flags, Holm


def test_flags_holm_and_the_page(tmp_path):
    runs = Runs(tmp_path)
    runs.ft_curve("true_gem", SEEDS, 0.85, "sparse", DROP)
    runs.ft("true_gem", seed=6, acc=0.85, converged=False)
    for x, a in DROP.items():
        runs.ft("true_gem", seed=6, acc=a, mode="sparse", sparsity=x,
                flagged=("bert.pooler.dense.weight",) if x == 0.5 else ())
    for s in SEEDS:  # N:M curves and a smaller data fraction: exploratory rows
        for nm, a in (("4:8", 0.7), ("2:8", 0.6)):
            runs.ft("true_gem", seed=s, acc=a, mode="sparse", nm=nm)
    runs.ft_curve("true_gem", SEEDS, 0.80, "sparse", {0.5: 0.75, 0.9: 0.6}, frac=0.25)
    df = runs.table()
    csv, md = cl.write_claims(df, tmp_path / "out")
    table = pd.read_csv(csv)
    assert list(table.columns) == list(cl.COLUMNS)
    a = table[(table["claim"] == cl.CLAIM_A) & table["primary"]].iloc[0]
    assert "sparsity guard (1 run(s))" in a["flags"] and "non-converged dense (1 run(s))" \
        in a["flags"]
    text = md.read_text()
    assert "## Primary tests" in text and "## Setting: true_gem" in text
    assert "### A: monotonic drop" in text
    assert "bert.pooler.dense.weight" in text and "## Runs flagged by the sparsity guard" in text
    assert "## Non-converged dense runs" in text
    assert "the last evaluation gains 5.0 points" in text and "training loss 0.600" in text
    assert "## Thresholds and constants" in text and "R_WINDOW" in text
    # Holm over the exploratory rows only
    expl = table[~table["primary"]]
    prim = table[table["primary"]]
    assert prim["p_holm"].isna().all() and expl["p_holm"].notna().all()
    assert len(expl) >= 2
    from junk_dna.report.stats import holm

    np.testing.assert_allclose(expl["p_holm"], holm(expl["p_value"]))


def test_determinism(tmp_path):
    runs = Runs(tmp_path)
    runs.ft_curve("true_gem", SEEDS, 0.85, "sparse", DROP)
    runs.ft_curve("true_gem", SEEDS, 0.80, "sparse", {0.5: 0.7, 0.9: 0.6}, frac=0.25)
    _context_length(runs, {0.3: (0.78, 0.52), 0.5: (0.70, 0.40)})
    df = runs.table()
    first, _ = cl.write_claims(df, tmp_path / "a")
    second, _ = cl.write_claims(df, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()


def test_old_records_without_per_example_files_are_not_testable(tmp_path):
    runs = Runs(tmp_path)
    for s in (1, 2):
        runs.ft("true_gem", seed=s, acc=0.85, write_examples=False)
        for x, a in DROP.items():
            runs.ft("true_gem", seed=s, acc=a, mode="sparse", sparsity=x, write_examples=False)
    table = cl.evaluate_claims(runs.table())
    a = _row(table, "true_gem", cl.CLAIM_A)
    assert a["verdict"] == cl.NOT_TESTABLE and "no per-example outcomes" in a["detail"]
    # a table without run folders at all (as the old tests built them)
    df = runs.table().drop(columns=["run_dir"])
    assert (cl.evaluate_claims(df)["verdict"] == cl.NOT_TESTABLE).all()


def test_empty_table_gives_a_no_runs_page(tmp_path):
    assert cl.evaluate_claims(pd.DataFrame()).empty
    csv, md = cl.write_claims(pd.DataFrame(), tmp_path)
    assert "No runs" in md.read_text() and csv.exists()
    with pytest.raises(ValueError, match="which"):
        cl.evaluate_claims(pd.DataFrame(), which="first")


def test_readme_table_is_generated_from_the_csv(tmp_path):
    runs = Runs(tmp_path)
    runs.ft_curve("true_gem", SEEDS, 0.85, "sparse", DROP)
    csv, _ = cl.write_claims(runs.table(), tmp_path / "out")
    text = cl.readme_claims_table(csv)
    assert "| setting | claim | scope | value | 95% CI | verdict |" in text
    assert "| true_gem | A: monotonic drop | sst2-embedded / 100% data / unstructured |" in text
    assert "**supported**" in text and "Exploratory rows" in text


def test_curve_x_reads_both_patterns():
    df = pd.DataFrame({"pattern": ["unstructured", "nm", None], "sparsity": [0.7, None, None],
                       "nm": [None, "2:8", None]})
    assert cl.curve_x(df).tolist()[:2] == [0.7, 0.75] and math.isnan(cl.curve_x(df).iloc[2])


# ----------------------------------------------------------------------------- retention


def test_retention_table_and_the_figures_scale(tmp_path):
    runs = Runs(tmp_path)
    runs.ft_curve("true_gem", (1,), 0.85, "sparse", {0.5: 0.7})
    df = runs.table()
    ret = retention_table(df)
    dense = ret[ret["mode"] == "dense"].iloc[0]
    pruned = ret[ret["mode"] == "sparse"].iloc[0]
    labels = json.loads((Path(dense["run_dir"]) / "per_example.json").read_text())
    lab = np.asarray(labels["splits"]["test"]["label"])
    chance = max(lab.mean(), 1 - lab.mean())
    assert dense["chance"] == pytest.approx(chance) and dense["n"] == N_TEST
    assert dense["retention"] == pytest.approx(100.0)
    assert pruned["retention"] == pytest.approx(
        100 * (pruned["value"] - chance) / (dense["value"] - chance))
    assert dense["chance_source"] == "test labels"
    norm = scaled(df, scale="retention")
    assert norm["normalized"].tolist() == ret["retention"].tolist()
    assert scaled(df)["normalized"].tolist() != norm["normalized"].tolist()
    with pytest.raises(ValueError, match="scale"):
        scaled(df, scale="log")


def test_a_curve_at_chance_is_left_out_of_its_seed_only(tmp_path):
    runs = Runs(tmp_path)
    runs.ft_curve("data_adequacy", SEEDS, 0.85, "sparse", DROP)
    runs.ft_curve("data_adequacy", SEEDS[1:], 0.80, "sparse", {0.5: 0.7, 0.7: 0.65,
                                                                 0.9: 0.6}, frac=0.25)
    runs.ft_curve("data_adequacy", SEEDS[:1], 0.50, "sparse", {0.5: 0.5, 0.7: 0.5, 0.9: 0.5},
                  frac=0.25)
    table, audit = cl.evaluate_with_audit(runs.table())
    a = _row(table, "data_adequacy", cl.CLAIM_A)
    assert a["n_seeds"] == 5 and "seed 1 without 25%" in a["detail"]
    b = _row(table, "data_adequacy", cl.CLAIM_B)
    assert b["n_seeds"] == 4 and "seeds 1 excluded" in b["detail"]
    assert len(audit.exclusions) == 1 and "seed 1" in audit.exclusions[0]


def test_readme_tool_rewrites_only_its_block(tmp_path):
    import subprocess
    import sys

    runs = Runs(tmp_path)
    runs.ft_curve("true_gem", SEEDS, 0.85, "sparse", DROP)
    csv, _ = cl.write_claims(runs.table(), tmp_path / "out")
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nbefore\n<!-- claims:begin -->\nold\n<!-- claims:end -->\nafter\n")
    tool = Path(__file__).resolve().parents[2] / "tools" / "readme_claims.py"
    done = subprocess.run([sys.executable, str(tool), str(csv), "--readme", str(readme)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert "old" not in text and text.startswith("# x\n\nbefore\n<!-- claims:begin -->\n")
    assert text.endswith("<!-- claims:end -->\nafter\n")
    assert cl.readme_claims_table(csv) in text
    readme.write_text("no markers")
    bad = subprocess.run([sys.executable, str(tool), str(csv), "--readme", str(readme)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "claims:begin" in bad.stderr


def test_human_gap_nm_pairs_are_exploratory(tmp_path):
    runs = Runs(tmp_path)
    runs.ft_curve("human_gap", SEEDS, 0.85, "sparse", {0.5: 0.82, 0.7: 0.78})
    runs.ft_curve("human_gap", SEEDS, 0.45, "sparse", {0.5: 0.33, 0.7: 0.26},
                  task="csqa-embedded")
    for s in SEEDS:
        for task, accs in (("sst2-embedded", (0.8, 0.75)), ("csqa-embedded", (0.35, 0.3))):
            for nm, a in zip(("4:8", "2:8"), accs, strict=True):
                runs.ft("human_gap", seed=s, acc=a, mode="sparse", nm=nm, task=task)
    table = cl.evaluate_claims(runs.table())
    nm = table[table["scope"] == "sst2 (easy) vs csqa (hard) / nm"]
    assert set(nm["claim"]) == {cl.CLAIM_A, cl.CLAIM_B} and not nm["primary"].any()
    assert nm["p_holm"].notna().all()
    assert len(table[(table["setting"] == "human_gap") & table["primary"]]) == 2
