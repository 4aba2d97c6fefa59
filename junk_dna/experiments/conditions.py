"""The conditions of the zero-shot experiments: one condition runner per experiment.

A zero-shot run scores one compressed model under every *condition* of its experiment
(context length, option count, shots, factoid vs multiple choice; quantization has one).
Each experiment is a :class:`ConditionRunner` in :data:`CONDITIONS`: its defaults (task and
conditions), the task kinds it takes, how one condition is checked and labelled, and how
its questions are loaded and scored (through a :class:`Scorer`). A new zero-shot experiment
is a new runner in :data:`CONDITIONS`; nothing else branches on the experiment's name.

Every metric is named ``<metric>|<label>`` (``acc|context=64``, ``exact_match|factoid``).
This module imports no torch: scoring imports :mod:`junk_dna.evaluation.lm_scoring` when a
run scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from junk_dna.checks import check_choice
from junk_dna.data import qa_tasks
from junk_dna.data.qa_tasks import QATaskSpec, format_prompt, get_qa_task

MAX_SHOTS = 5
#: Questions the k-shot experiment sets aside as its few-shot pool, loaded beyond
#: ``n_questions`` (after ``offset``).
KSHOT_POOL = 5 * MAX_SHOTS


class Scorer:
    """Scores a (compressed) model on prompts and keeps what a run records.

    Attributes:
        metrics: ``<metric>|<label>`` -> mean over the questions (accuracy in [0, 1]).
        per_question: the same keys -> per-question scores (for bootstraps over questions),
            and for multiple choice ``n_options|<label>`` -> the options of each question
            (the chance level of a condition is the mean of 1/k over its questions).
        info: counts (questions, truncations, few-shot pool).
    """

    def __init__(self, model: Any, tokenizer: Any, cfg: Any) -> None:
        self.model, self.tokenizer, self.cfg = model, tokenizer, cfg
        self.metrics: dict[str, float] = {}
        self.per_question: dict[str, list[float]] = {}
        self.info: dict[str, Any] = {}

    def score_mc(self, prompts: list, label: str) -> None:
        """Score multiple-choice prompts by log-likelihood: ``acc`` and ``acc_norm``."""
        result = self.mc_result(prompts)
        self.record_mc(result.records, label)

    def mc_result(self, prompts: list) -> Any:
        """The :class:`junk_dna.evaluation.lm_scoring.MCResult` of multiple-choice prompts
        (nothing recorded)."""
        # torch: imported when a run scores, not when its parameters are validated
        from junk_dna.evaluation.lm_scoring import score_multiple_choice

        return score_multiple_choice(self.model, self.tokenizer, prompts,
                                     batch_tokens=self.cfg.batch_tokens)

    def record_mc(self, records: Sequence[Any], label: str) -> None:
        """Record scored questions (:class:`junk_dna.evaluation.lm_scoring.MCRecord` s) under
        ``label``: ``acc``, ``acc_norm``, the options per question and the truncations."""
        for name, attr in (("acc", "correct"), ("acc_norm", "correct_norm")):
            key = f"{name}|{label}"
            self.per_question[key] = [float(getattr(r, attr)) for r in records]
            self.metrics[key] = float(sum(self.per_question[key])
                                      / max(1, len(self.per_question[key])))
        self.per_question[f"n_options|{label}"] = [len(r.logliks) for r in records]
        self.info[f"n_truncated|{label}"] = sum(bool(r.truncated) for r in records)

    def score_factoid(self, questions: list, prompts: list[str], label: str) -> None:
        """Score greedy answers over every answer alias: containment (the original code's
        test, the empty answer wrong), SQuAD exact match and F1."""
        # torch: imported when a run scores, not when its parameters are validated
        from junk_dna.evaluation.lm_scoring import evaluate_factoid

        result = evaluate_factoid(self.model, self.tokenizer, prompts,
                                  [q.answers for q in questions],
                                  max_new_tokens=self.cfg.max_new_tokens,
                                  batch_size=self.cfg.gen_batch_size)
        for name, values in (("containment", result.containment),
                             ("exact_match", result.exact_match), ("f1", result.f1)):
            key = f"{name}|{label}"
            self.per_question[key] = [float(v) for v in values]
            self.metrics[key] = float(sum(values) / max(1, len(values)))


def mc_prompts(questions: Sequence[Any], contexts: Sequence[str]) -> list:
    """The scored form of multiple-choice questions: each with its prompt and options."""
    # torch: imported when a run scores, not when its parameters are validated
    from junk_dna.evaluation.lm_scoring import MCPrompt

    return [MCPrompt(context=context, options=tuple(q.options), label=q.label)
            for q, context in zip(questions, contexts, strict=True)]


def formatted(questions: Sequence[Any], fmt: str, **prompt_kw: Any) -> list:
    """:func:`mc_prompts` with the prompts of :func:`junk_dna.data.qa_tasks.format_prompt`."""
    return mc_prompts(questions, [format_prompt(q, fmt, **prompt_kw) for q in questions])


def load_mc(cfg: Any, task: str | None = None, *, extra: int = 0, **kw: Any) -> list:
    """The run's multiple-choice questions (``extra`` more, e.g. a few-shot pool)."""
    return qa_tasks.load_mc(task or cfg.task, n=cfg.n_questions + extra,
                            selection=cfg.selection, seed=cfg.seed, offset=cfg.offset, **kw)


def load_factoid(cfg: Any) -> list:
    """The run's factoid questions."""
    return qa_tasks.load_factoid(cfg.task, cfg.n_questions, selection=cfg.selection,
                                 seed=cfg.seed, offset=cfg.offset)


@dataclass(frozen=True)
class ConditionRunner:
    """One zero-shot experiment's conditions.

    Attributes:
        experiment: its name.
        defaults: what its runs and notebook take unless told otherwise, over the config's
            defaults (the embedded default's task and conditions).
        task_kinds: the kinds of task it evaluates; the first is the one error messages name.
        label: the metric suffix of a condition.
        run: loads the questions and scores every condition of ``cfg`` with a :class:`Scorer`.
        check: raises ValueError for one bad condition (``None``: no conditions taken).
        needs_mc_task: the run also scores ``mc_task`` (factoid vs multiple choice).
        pool: questions of ``task`` loaded beyond ``n_questions`` (a few-shot pool).
        support_only: a multiple-choice ``task`` is loaded with ``support_only`` (only the
            questions with a support passage).
    """

    experiment: str
    defaults: Mapping[str, Any]
    task_kinds: tuple[str, ...]
    label: Callable[[Any], str]
    run: Callable[[Scorer, Any], None]
    check: Callable[[Any, QATaskSpec], None] | None = None
    needs_mc_task: bool = False
    pool: int = 0
    support_only: bool = False

    def check_task(self, cfg: Any) -> QATaskSpec:
        """The run's task spec, checked against :attr:`task_kinds` (and ``mc_task``).

        Raises:
            ValueError: a task of another kind, or a missing or bad ``mc_task``.
        """
        spec = get_qa_task(cfg.task)
        if spec.kind not in self.task_kinds:
            raise ValueError(f"experiment {self.experiment!r} needs a {self.task_kinds[0]} "
                             f"task; {cfg.task!r} is {spec.kind}")
        if self.needs_mc_task and (cfg.mc_task is None
                                   or get_qa_task(cfg.mc_task).kind != "mc"):
            raise ValueError(f"{self.experiment} needs mc_task, a multiple-choice task; got "
                             f"{cfg.mc_task!r}")
        return spec

    def check_sizes(self, cfg: Any) -> None:
        """Check, before any data or model is loaded, that every task the run reads has the
        questions it asks for: ``n_questions + offset`` (+ :attr:`pool` for ``task``), from
        the task table (:func:`junk_dna.data.qa_tasks.available_questions`). A hub-only task
        (``triviaqa_rc``) is skipped: its size is known only once it is downloaded, and
        :func:`junk_dna.data.qa_tasks.load_factoid` checks it then.

        Raises:
            ValueError: naming the experiment, the task, the number asked (and its parts)
                and the number the task has; or ``support_only`` on a task without passages.
        """
        loads = [(cfg.task, self.pool,
                  self.support_only and get_qa_task(cfg.task).kind == "mc")]
        if self.needs_mc_task and cfg.mc_task is not None:
            loads.append((cfg.mc_task, 0, False))
        for task, pool, support_only in loads:
            available = qa_tasks.available_questions(task, support_only=support_only)
            if available is None:  # hub only: checked when loaded
                continue
            asked = cfg.n_questions + cfg.offset + pool
            if asked <= available:
                continue
            parts = [f"n_questions {cfg.n_questions}"]
            parts += [f"offset {cfg.offset}"] if cfg.offset else []
            parts += [f"few-shot pool {pool}"] if pool else []
            which = " with a support passage" if support_only else ""
            raise ValueError(
                f"experiment {self.experiment!r}: task {task!r} has {available} "
                f"questions{which}, but a run asks for {asked} ({' + '.join(parts)}); "
                f"n_questions + offset must be at most {available - pool} for {task!r}")

    def check_conditions(self, conditions: Any, spec: QATaskSpec) -> None:
        """Raises ValueError naming a bad list of conditions or a bad condition."""
        exp = self.experiment
        if self.check is None:
            if conditions is not None:
                raise ValueError(f"{exp} takes no conditions; got {conditions!r}")
            return
        if not isinstance(conditions, (list, tuple)) or not conditions:
            raise ValueError(f"{exp} needs a non-empty list of conditions; got {conditions!r} "
                             f"(e.g. {self.defaults['conditions']})")
        if len(set(map(str, conditions))) != len(conditions):
            raise ValueError(f"{exp} conditions {list(conditions)} repeat a value")
        for condition in conditions:
            self.check(condition, spec)


def get_conditions(experiment: str) -> ConditionRunner:
    """The condition runner of ``experiment``.

    Raises:
        ValueError: naming the bad value and the zero-shot experiments.
    """
    check_choice("experiment", experiment, list(CONDITIONS))
    return CONDITIONS[experiment]


def condition_label(experiment: str, condition: Any) -> str:
    """The metric suffix of a condition: ``context=full``, ``k=3``, ``shots=0``, ``mc``."""
    return get_conditions(experiment).label(condition)


def evaluate_conditions(model: Any, tokenizer: Any, cfg: Any
                        ) -> tuple[dict[str, float], dict[str, list[float]], dict[str, Any]]:
    """Score the (compressed) model under every condition of ``cfg.experiment``.

    Returns:
        ``(metrics, per_question, info)``: ``metrics`` maps ``<metric>|<condition>`` to a
        mean (accuracy in [0, 1]); ``per_question`` the same keys to per-question scores
        (for bootstraps over questions); ``info`` counts (questions, truncations, pool).
    """
    scorer = Scorer(model, tokenizer, cfg)
    get_conditions(cfg.experiment).run(scorer, cfg)
    return scorer.metrics, scorer.per_question, scorer.info


# --------------------------------------------------------------------------- context_length


def context_label(condition: Any) -> str:
    """``context=<tokens>``, or ``context=full`` for the whole passage (``None``)."""
    return "context=" + ("full" if condition is None else str(condition))


def check_context(condition: Any, spec: QATaskSpec) -> None:
    """A context length: tokens >= 0 (0 = closed book) or ``None`` (the full context)."""
    if condition is not None and (isinstance(condition, bool) or not isinstance(condition, int)
                                  or condition < 0):
        raise ValueError(f"context length {condition!r} must be an integer >= 0 (tokens; 0 = "
                         "closed book) or None (the full context)")


def run_context_length(scorer: Scorer, cfg: Any) -> None:
    """Open vs closed book: the context (support passage) cut to each length in tokens."""
    if get_qa_task(cfg.task).kind == "factoid":
        facts = load_factoid(cfg)
        scorer.info["n_questions"] = len(facts)
        for c in cfg.conditions:
            prompts = [format_prompt(q, "factoid_open", context_tokens=c,
                                     tokenizer=scorer.tokenizer) for q in facts]
            scorer.score_factoid(facts, prompts, context_label(c))
        return
    qs = load_mc(cfg, support_only=CONTEXT_LENGTH.support_only)
    scorer.info["n_questions"] = len(qs)
    for c in cfg.conditions:
        scorer.score_mc(formatted(qs, "mc_open", context_tokens=c, tokenizer=scorer.tokenizer),
                        context_label(c))


CONTEXT_LENGTH = ConditionRunner(
    experiment="context_length", defaults={"task": "sciq", "conditions": [None, 32, 0]},
    task_kinds=("mc", "factoid"), label=context_label, run=run_context_length,
    check=check_context, support_only=True)


# --------------------------------------------------------------------------- option_count


def check_option_count(condition: Any, spec: QATaskSpec) -> None:
    """An option count k: 2 <= k <= the options of the task's questions."""
    n_options = getattr(spec, "n_options", None)
    if isinstance(condition, bool) or not isinstance(condition, int) or condition < 2:
        raise ValueError(f"option count k {condition!r} must be an integer >= 2")
    if n_options is not None and condition > n_options:
        raise ValueError(f"option count k={condition} is larger than the {n_options} options "
                         f"the questions of {spec.name!r} have")


def run_option_count(scorer: Scorer, cfg: Any) -> None:
    """Each question keeps its gold answer and k-1 distractors dropped per question and seed
    (:func:`junk_dna.data.qa_tasks.kept_options`).

    Every question is scored ONCE, with all its options; each k then takes the argmaxes
    over its kept options' log-likelihoods (:func:`junk_dna.evaluation.lm_scoring.
    subset_record`). The prompt lists no options, so an option's log-likelihood does not
    depend on the others: the same outcomes as scoring each option set on its own (up to
    float rounding of other batch shapes; 0 of 600 predictions differed on branch speed), at
    1 context and n options a question instead of one context and k options per k.
    """
    # torch: imported when a run scores, not when its parameters are validated
    from junk_dna.evaluation.lm_scoring import subset_record

    qs = load_mc(cfg, support_only=False)
    scorer.info["n_questions"] = len(qs)
    too_few = [q.id for q in qs if len(q.options) < max(cfg.conditions)]
    if too_few:
        raise ValueError(f"option count k={max(cfg.conditions)} is larger than the options "
                         f"of {len(too_few)} question(s) of {cfg.task!r}, e.g. "
                         f"{too_few[0]!r}")
    everything = scorer.mc_result(formatted(qs, "mc")).records
    for c in cfg.conditions:
        scorer.record_mc([subset_record(r, qa_tasks.kept_options(q, c, cfg.seed))
                          for q, r in zip(qs, everything, strict=True)], f"k={c}")


OPTION_COUNT = ConditionRunner(
    experiment="option_count", defaults={"task": "csqa", "conditions": [2, 3, 5]},
    task_kinds=("mc",), label=lambda c: f"k={c}", run=run_option_count,
    check=check_option_count)


# --------------------------------------------------------------------------- kshot


def check_shots(condition: Any, spec: QATaskSpec) -> None:
    """A number of shots in ``[0, MAX_SHOTS]``."""
    if isinstance(condition, bool) or not isinstance(condition, int) \
            or not 0 <= condition <= MAX_SHOTS:
        raise ValueError(f"shots {condition!r} must be an integer in [0, {MAX_SHOTS}]")


def run_kshot(scorer: Scorer, cfg: Any) -> None:
    """k solved examples from a pool set aside (the shots for k are a prefix of k+1's)."""
    qs = load_mc(cfg, extra=KSHOT_POOL)
    qs, pool = qa_tasks.split_pool(qs, KSHOT_POOL, seed=cfg.seed)
    scorer.info.update(n_questions=len(qs), pool=len(pool))
    for c in cfg.conditions:
        contexts = [qa_tasks.fewshot_prompt(q, pool, c, cfg.seed, "mc") for q in qs]
        scorer.score_mc(mc_prompts(qs, contexts), f"shots={c}")


KSHOT = ConditionRunner(
    experiment="kshot", defaults={"task": "arc_easy", "conditions": [0, 1, 3]},
    task_kinds=("mc",), label=lambda c: f"shots={c}", run=run_kshot, check=check_shots,
    pool=KSHOT_POOL)


# --------------------------------------------------------------------------- factoid_vs_mc


def check_factoid_or_mc(condition: Any, spec: QATaskSpec) -> None:
    """``"mc"`` or ``"factoid"``."""
    if condition not in ("mc", "factoid"):
        raise ValueError(f"factoid_vs_mc condition {condition!r}; allowed: ['mc', 'factoid']")


def run_factoid_vs_mc(scorer: Scorer, cfg: Any) -> None:
    """``mc_task`` by log-likelihood, ``task`` by greedy generation, the same model."""
    facts = load_factoid(cfg)
    mcs = load_mc(cfg, cfg.mc_task)
    scorer.info["n_questions"] = {"factoid": len(facts), "mc": len(mcs)}
    for c in cfg.conditions:
        if c == "mc":
            scorer.score_mc(formatted(mcs, "mc"), "mc")
        else:
            scorer.score_factoid(facts, [format_prompt(q, "factoid") for q in facts], "factoid")


FACTOID_VS_MC = ConditionRunner(
    experiment="factoid_vs_mc",
    defaults={"task": "triviaqa", "mc_task": "arc_easy", "conditions": ["mc", "factoid"]},
    task_kinds=("factoid",), label=str, run=run_factoid_vs_mc, check=check_factoid_or_mc,
    needs_mc_task=True)


# --------------------------------------------------------------------------- quantization


def run_quantization(scorer: Scorer, cfg: Any) -> None:
    """One condition: the task as it is (the compression is what varies across runs)."""
    qs = load_mc(cfg, support_only=False)
    scorer.info["n_questions"] = len(qs)
    scorer.score_mc(formatted(qs, "mc"), "all")


QUANTIZATION = ConditionRunner(
    experiment="quantization",
    defaults={"task": "arc_easy", "conditions": None, "method": "rtn", "bits": 4,
              "granularity": "per_channel"},
    task_kinds=("mc",), label=lambda c: "all", run=run_quantization)


CONDITIONS: dict[str, ConditionRunner] = {
    r.experiment: r for r in (CONTEXT_LENGTH, OPTION_COUNT, KSHOT, FACTOID_VS_MC, QUANTIZATION)}
"""Experiment name -> its condition runner (the zero-shot experiments, in this order)."""
