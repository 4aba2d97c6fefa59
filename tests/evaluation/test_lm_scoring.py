"""Zero-shot LM scoring (junk_dna.evaluation.lm_scoring) on tiny models built from configs."""

from __future__ import annotations

import math
import re
import string
from collections import Counter

import pytest
import torch

from junk_dna.evaluation.lm_scoring import (
    MCPrompt,
    containment,
    encode_pair,
    evaluate_factoid,
    exact_match,
    generate_greedy,
    normalize_answer,
    score_multiple_choice,
    squad_scores,
    token_f1,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

LM_WORDS = ["cat", "dog", "bird", "fish", "horse", "cow", "sheep", "goat", "mouse", "lion",
            "the", "a", "and"]


def make_lm_tokenizer():
    """A byte-level BPE tokenizer (GPT-2 style, spaces as 'Ġ', newline 'Ċ') with EOS, no pad."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [f"Q: {w}\nA: {w}\n" for w in LM_WORDS]
    corpus += ["Answer these questions:\nQ: the cat\nA: a dog and a cat\n"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<eos>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(corpus * 3, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<eos>")


def make_tiny_llama(vocab_size: int, eos_token_id: int, *, seed: int = 0,
                    initializer_range: float = 0.2):
    """A 2-layer Llama (hidden 64, GQA 4/2 heads), random init, eval mode, float32."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        eos_token_id=eos_token_id, bos_token_id=None, pad_token_id=None,
        tie_word_embeddings=False, initializer_range=initializer_range,
    )
    return LlamaForCausalLM(config).eval()


def make_bigram_llama(tok, transitions: dict[str, str]):
    """A tiny Llama whose next token depends only on the current one, for the given tokens.

    Attention and MLP outputs are zeroed, so the last hidden state is the input embedding; the
    mapped tokens get orthogonal embeddings and the target's output row picks them out.
    """
    model = make_tiny_llama(len(tok), tok.eos_token_id)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.lm_head.weight.zero_()
        for k, (src, dst) in enumerate(transitions.items()):
            i, j = tok.convert_tokens_to_ids(src), tok.convert_tokens_to_ids(dst)
            assert i != tok.unk_token_id and j is not None
            basis = torch.zeros(64)
            basis[k] = 1.0
            model.model.embed_tokens.weight[i] = 8.0 * basis
            model.lm_head.weight[j] = 10.0 * basis
    return model



@pytest.fixture(scope="module")
def lm_tok():
    return make_lm_tokenizer()


@pytest.fixture(scope="module")
def tiny_lm(lm_tok):
    return make_tiny_llama(len(lm_tok), lm_tok.eos_token_id)


# --------------------------------------------------------------------------- log-likelihood
def reference_loglik(model, tok, context: str, option: str, max_length: int = 10**9) -> float:
    """One unbatched forward per option, log_softmax gathered by hand (lm-eval's recipe)."""
    ctx_text = context.rstrip()
    cont_text = context[len(ctx_text):] + " " + option
    ctx = tok(ctx_text, add_special_tokens=False)["input_ids"] or [tok.eos_token_id]
    cont = tok(cont_text, add_special_tokens=False)["input_ids"]
    whole = (ctx + cont)[-(max_length + 1):]
    inp = whole[:-1]
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([inp])).logits[0].double(), dim=-1)
    start = len(inp) - len(cont)
    return sum(float(logp[start + k, t]) for k, t in enumerate(cont))


QUESTIONS = [
    MCPrompt("Q: the cat\nA:", ("cat", "a dog and a cat", "bird fish"), 1),
    MCPrompt("Answer these questions:\nQ: horse\nA: ", ("horse", "cow"), 0),  # trailing space
    MCPrompt("", ("dog", "sheep goat mouse"), 0),  # empty context: prefix token
    MCPrompt("Q: lion\nA:", ("cat", "dog", "lion"), 2),  # single-token options
    MCPrompt("Q: goat\nA:", ("a goat", "the sheep and the cow and a mouse", "goat"), None),
]


def test_encode_pair_moves_trailing_space(lm_tok):
    ctx, cont = encode_pair(lm_tok, "Q: cat\nA: ", "dog")
    assert ctx == lm_tok("Q: cat\nA:", add_special_tokens=False)["input_ids"]
    assert cont == lm_tok(" dog", add_special_tokens=False)["input_ids"]
    assert encode_pair(lm_tok, "", " dog")[0] == [lm_tok.eos_token_id]


@pytest.mark.parametrize("strategy", ["shared_context", "full"])
@pytest.mark.parametrize("batch_tokens", [30, 4096])
def test_loglik_matches_unbatched_reference(tiny_lm, lm_tok, strategy, batch_tokens):
    result = score_multiple_choice(tiny_lm, lm_tok, QUESTIONS, strategy=strategy,
                                   batch_tokens=batch_tokens)
    assert result.n == len(QUESTIONS) and result.n_truncated == 0
    assert sum(len(set(r.n_tokens)) > 1 for r in result.records) >= 3  # padding is exercised
    labelled = 0
    hits = hits_norm = 0
    for q, rec in zip(QUESTIONS, result.records, strict=True):
        expected = [reference_loglik(tiny_lm, lm_tok, q.context, o) for o in q.options]
        assert rec.logliks == pytest.approx(expected, abs=1e-5)
        pred = max(range(len(expected)), key=lambda k: expected[k])
        norm = [e / len(o) for e, o in zip(expected, q.options, strict=True)]
        pred_norm = max(range(len(norm)), key=lambda k: norm[k])
        assert (rec.pred, rec.pred_norm) == (pred, pred_norm)
        assert rec.n_chars == [len(o) for o in q.options]
        if q.label is not None:
            labelled += 1
            hits += pred == q.label
            hits_norm += pred_norm == q.label
            assert rec.correct == (pred == q.label)
        else:
            assert rec.correct is None and rec.correct_norm is None
    assert result.acc == pytest.approx(hits / labelled)
    assert result.acc_norm == pytest.approx(hits_norm / labelled)


def test_single_token_options_only(tiny_lm, lm_tok):
    qs = [QUESTIONS[3], MCPrompt("Q: cow\nA:", ("cow", "dog"), 0)]
    result = score_multiple_choice(tiny_lm, lm_tok, qs)
    for q, rec in zip(qs, result.records, strict=True):
        assert rec.n_tokens == [1] * len(q.options)
        expected = [reference_loglik(tiny_lm, lm_tok, q.context, o) for o in q.options]
        assert rec.logliks == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("strategy", ["shared_context", "full"])
def test_left_truncation_like_lm_eval(tiny_lm, lm_tok, strategy):
    q = MCPrompt("Answer these questions:\nQ: the cat\nA:", ("cat", "a dog and a cat"), 0)
    result = score_multiple_choice(tiny_lm, lm_tok, [q], strategy=strategy, max_length=8)
    rec = result.records[0]
    assert rec.truncated and result.n_truncated == 1
    expected = [reference_loglik(tiny_lm, lm_tok, q.context, o, max_length=8) for o in q.options]
    assert rec.logliks == pytest.approx(expected, abs=1e-5)


def test_scoring_is_deterministic_and_restores_mode(tiny_lm, lm_tok):
    tiny_lm.train()
    try:
        a = score_multiple_choice(tiny_lm, lm_tok, QUESTIONS)
        assert tiny_lm.training
    finally:
        tiny_lm.eval()
    b = score_multiple_choice(tiny_lm, lm_tok, QUESTIONS)
    assert [r.logliks for r in a.records] == [r.logliks for r in b.records]


@pytest.mark.parametrize(
    ("questions", "kwargs", "match"),
    [
        ([MCPrompt("Q:", ("a",))], {"strategy": "fast"}, "unknown strategy 'fast'"),
        ([MCPrompt("Q:", ())], {}, "question 0 has no options"),
        ([MCPrompt("Q:", ("cat", ""))], {}, "option 1 is empty"),
        ([MCPrompt("Q:", ("cat",), 3)], {}, "label 3 out of range"),
        ([MCPrompt("Q:", ("a dog and a cat",))], {"max_length": 2}, "more than max_length"),
        ([MCPrompt("Q:", ("cat",))], {"batch_tokens": 0}, "batch_tokens"),
    ],
)
def test_scoring_errors(tiny_lm, lm_tok, questions, kwargs, match):
    with pytest.raises(ValueError, match=match):
        score_multiple_choice(tiny_lm, lm_tok, questions, **kwargs)


# --------------------------------------------------------------------------- generation
PROMPTS = [
    "Q: cat\nA:",
    "Answer these questions:\nQ: the horse\nA:",
    "Q: dog",
    "Answer these questions:\nQ: a mouse and a goat\nA: the",
    "cow",
]


def test_batched_greedy_equals_unbatched_and_hf_generate(tiny_lm, lm_tok):
    kwargs = {"max_new_tokens": 6, "stop_at_newline": False}
    batched = generate_greedy(tiny_lm, lm_tok, PROMPTS, batch_size=4, **kwargs)
    single = generate_greedy(tiny_lm, lm_tok, PROMPTS, batch_size=1, **kwargs)
    assert batched == single
    assert len({g.prompt_tokens for g in batched}) > 2  # padding is exercised
    for prompt, gen in zip(PROMPTS, single, strict=True):
        ids = lm_tok(prompt, return_tensors="pt")["input_ids"]
        out = tiny_lm.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                               max_new_tokens=6, pad_token_id=lm_tok.eos_token_id)
        new = out[0, ids.shape[1]:].tolist()
        assert gen.text == lm_tok.decode(new, skip_special_tokens=True)
        assert gen.n_new_tokens == len(new)


@pytest.fixture(scope="module")
def bigram_lm(lm_tok):
    # ":" -> " cat" -> " dog" -> "\n"; " bird" -> EOS
    return make_bigram_llama(lm_tok, {":": "Ġcat", "Ġcat": "Ġdog", "Ġdog": "Ċ",
                                      "Ġbird": "<eos>"})


def test_newline_cut_eos_and_length(bigram_lm, lm_tok):
    prompts = ["Q: horse\nA:", "Q: bird", "Answer these questions:\nQ: the goat\nA:"]
    batched = generate_greedy(bigram_lm, lm_tok, prompts, batch_size=3)
    assert batched == generate_greedy(bigram_lm, lm_tok, prompts, batch_size=1)
    first, eos, long = batched
    assert (first.text, first.answer, first.stop, first.n_new_tokens) == (
        " cat dog\n", "cat dog", "newline", 3)
    assert (eos.answer, eos.stop, eos.n_new_tokens) == ("", "eos", 1)
    assert long.answer == "cat dog" and long.prompt_tokens > first.prompt_tokens
    short = generate_greedy(bigram_lm, lm_tok, prompts[:1], max_new_tokens=2)[0]
    assert (short.text, short.answer, short.stop) == (" cat dog", "cat dog", "length")
    # without the newline stop, generation continues past the newline
    nostop = generate_greedy(bigram_lm, lm_tok, prompts[:1], max_new_tokens=5,
                             stop_at_newline=False)[0]
    assert nostop.text.startswith(" cat dog\n") and nostop.answer == "cat dog"


def test_prompt_truncated_from_left(bigram_lm, lm_tok):
    gen = generate_greedy(bigram_lm, lm_tok, ["Answer these questions:\nQ: the goat\nA:"],
                          max_new_tokens=4, max_length=8)[0]
    assert gen.truncated and gen.prompt_tokens == 4 and gen.answer == "cat dog"
    with pytest.raises(ValueError, match="max_length"):
        generate_greedy(bigram_lm, lm_tok, ["Q:"], max_new_tokens=8, max_length=8)


def test_evaluate_factoid(bigram_lm, lm_tok):
    result = evaluate_factoid(bigram_lm, lm_tok, ["Q: horse\nA:", "Q: bird"],
                              [["The cat, dog!", "x"], ["cat"]])
    assert result.exact_match == [1.0, 0.0]  # the empty answer of the EOS prompt is wrong
    assert result.f1 == [1.0, 0.0]
    assert result.containment == [1.0, 0.0]
    assert result.summary == {"exact_match": 0.5, "f1": 0.5, "containment": 0.5, "n": 2}
    with pytest.raises(ValueError, match="2 prompts but 1"):
        evaluate_factoid(bigram_lm, lm_tok, ["a", "b"], [["a"]])


# --------------------------------------------------------------------------- SQuAD metrics
def official_normalize(s: str) -> str:
    """normalize_answer of the official SQuAD v1.1 evaluation script, verbatim."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def official_f1(prediction: str, ground_truth: str) -> float:
    prediction_tokens = official_normalize(prediction).split()
    ground_truth_tokens = official_normalize(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


CASES = [
    ("The Eiffel Tower.", ["eiffel tower"]),
    ("  PARIS\n", ["Paris"]),
    ("an apple a day", ["Apple day", "pear"]),
    ("theater", ["the ater"]),
    ("New York City", ["NYC", "new york", "New-York City"]),
    ("the big red barn", ["red barn door"]),
    ("barn", ["red barn door", "the barn"]),
    ("cat cat", ["cat"]),
    ("U.S.A.", ["USA"]),
    ("Abraham   Lincoln's", ["abraham lincolns"]),
]


@pytest.mark.parametrize(("prediction", "answers"), CASES)
def test_squad_metrics_match_official_script(prediction, answers):
    assert normalize_answer(prediction) == official_normalize(prediction)
    em = max(float(official_normalize(prediction) == official_normalize(a)) for a in answers)
    f1 = max(official_f1(prediction, a) for a in answers)
    assert exact_match(prediction, answers) == em
    assert token_f1(prediction, answers) == pytest.approx(f1)


def test_squad_hand_computed_values():
    assert normalize_answer("The  Cat, sat on A mat!") == "cat sat on mat"
    assert exact_match("the Eiffel Tower.", "Eiffel tower") == 1.0
    assert exact_match("New York", ["NYC", "new york"]) == 1.0  # max over aliases
    assert exact_match("York", ["new york"]) == 0.0
    # pred {big, red, barn} vs gold {red, barn, door}: P = R = 2/3
    assert token_f1("the big red barn", "red barn door") == pytest.approx(2 / 3)
    # pred {barn}: P = 1, R = 1/3 -> F1 = 0.5; the second alias matches exactly
    assert token_f1("barn", ["red barn door"]) == pytest.approx(0.5)
    assert token_f1("barn", ["red barn door", "The barn."]) == 1.0
    # duplicates count once per occurrence: P = 1/2, R = 1
    assert token_f1("cat cat", "cat") == pytest.approx(2 / 3)


@pytest.mark.parametrize("empty", ["", "   ", "\n", "The", "a, an, the ..."])
def test_empty_prediction_is_wrong(empty):
    # The original code's containment test counted "" as correct.
    for answers in (["Paris"], [""], ["the"]):
        assert exact_match(empty, answers) == 0.0
        assert token_f1(empty, answers) == 0.0
        assert containment(empty, answers) == 0.0


def test_containment_is_the_original_lenient_test():
    # a sentence containing an alias counts (exact match rejects it)
    assert containment("The capital is Paris.", ["London", "paris"]) == 1.0
    assert exact_match("The capital is Paris.", ["London", "paris"]) == 0.0
    # a substring of the normalized text, as the original (not whole words)
    assert containment("Parisian", ["Paris"]) == 1.0
    assert containment("Paris", ["Paris, France"]) == 0.0  # the alias must be inside the answer
    # an alias empty after normalization matches nothing
    assert containment("the cat", ["The", "dog"]) == 0.0
    with pytest.raises(ValueError, match="no answer aliases"):
        containment("Paris", [])


def test_squad_scores_aggregate_and_errors():
    scores = squad_scores(["Paris", "", "barn"], [["paris"], ["London"], "red barn door"])
    assert scores["exact_match"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert scores["n"] == 3 and math.isfinite(scores["f1"])
    with pytest.raises(ValueError, match="2 predictions but 1"):
        squad_scores(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="no answer aliases"):
        exact_match("a", [])
    with pytest.raises(ValueError, match="no examples"):
        squad_scores([], [])
