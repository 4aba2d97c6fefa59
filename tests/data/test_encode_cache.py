"""The in-process cache of encoded splits and the length-sorted evaluation of fine_tune."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
import torch

import junk_dna.data.encode_cache as encode_cache
import junk_dna.training.finetune as training
from junk_dna.data.encode_cache import (
    MC_FIELDS,
    encode,
    encode_cache_clear,
    encode_cache_info,
    encode_cached,
    feature_length,
    tokenizer_fingerprint,
)
from junk_dna.training.finetune import (
    MultipleChoiceCollator,
    TrainConfig,
    eval_order,
    evaluate,
    fine_tune,
)
from tests.conftest import WORDS, make_sentiment_data, make_tiny_bert, make_tokenizer


class CountingTokenizer:
    """Wraps a tokenizer and counts its encode calls (``__call__``). The count lives in a
    list: a scalar attribute that changes would change the tokenizer fingerprint."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.log: list[int] = []

    @property
    def calls(self) -> int:
        return len(self.log)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.log.append(1)
        return self.tokenizer(*args, **kwargs)

    def __len__(self) -> int:
        return len(self.tokenizer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)


@pytest.fixture(autouse=True)
def empty_cache():
    encode_cache_clear()
    yield
    encode_cache_clear()


@pytest.fixture
def tok(tmp_path):
    return make_tokenizer(tmp_path / "tok")


def varied_columns(n: int = 40, seed: int = 0, pair: bool = False) -> dict[str, list]:
    """Sentences of 1 to 14 words (so that lengths differ), with binary labels."""
    rng = np.random.default_rng(seed)
    words = WORDS
    sentences = [" ".join(rng.choice(words, int(rng.integers(1, 15)))) for _ in range(n)]
    columns = {"sentence": sentences, "label": rng.integers(0, 2, n).tolist()}
    if pair:
        columns["sentence2"] = [" ".join(rng.choice(words, 3)) for _ in range(n)]
    return columns


def mc_columns(n: int = 12, seed: int = 0) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    return {
        "context": [" ".join(rng.choice(WORDS, int(rng.integers(1, 9)))) for _ in range(n)],
        "options": [[" ".join(rng.choice(WORDS, int(rng.integers(1, 4)))) for _ in range(3)]
                    for _ in range(n)],
        "label": rng.integers(0, 3, n).tolist(),
    }


def assert_same_features(got: list[dict], want: list[dict]) -> None:
    """Equal keys (in order), values and Python types, all the way down."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert list(g) == list(w)
        assert g == w
        for key in w:
            assert type(g[key]) is type(w[key]), key
            if isinstance(w[key], list) and w[key] and isinstance(w[key][0], list):
                assert all(type(row) is list for row in g[key])


# ---------------------------------------------------------------------------------------------
# encode_cached


@pytest.mark.parametrize("kind", ["single", "pair", "multiple_choice"])
def test_hit_on_identical_inputs_equals_uncached_encode(tok, kind):
    counting = CountingTokenizer(tok)
    if kind == "multiple_choice":
        columns, fields = mc_columns(), MC_FIELDS
    else:
        columns = varied_columns(pair=kind == "pair")
        fields = ("sentence", "sentence2") if kind == "pair" else ("sentence",)
    want = encode(tok, columns, fields, 16)
    first, hit1 = encode_cached(counting, columns, fields, 16)
    assert (hit1, counting.calls) == (False, 1)
    copy = {k: list(v) for k, v in columns.items()}  # equal content, other objects
    second, hit2 = encode_cached(counting, copy, fields, 16)
    assert (hit2, counting.calls) == (True, 1)  # no tokenizer call on a hit
    assert_same_features(first, want)
    assert_same_features(second, want)
    info = encode_cache_info()
    assert (info.hits, info.misses, info.uncacheable, info.size) == (1, 1, 0, 1)
    assert 0 < info.nbytes <= info.max_bytes


def test_returned_features_share_nothing_with_the_cache(tok):
    columns = varied_columns()
    want = encode(tok, columns, ("sentence",), 16)
    for _ in range(2):  # the miss's result, then a hit's
        got, _ = encode_cached(tok, columns, ("sentence",), 16)
        got[0]["input_ids"].append(999)
        got[1]["labels"] = 7
        del got[2]["attention_mask"]
        got.reverse()
    again, hit = encode_cached(tok, columns, ("sentence",), 16)
    assert hit
    assert_same_features(again, want)
    mc = mc_columns()
    got, _ = encode_cached(tok, mc, MC_FIELDS, 16)
    got[0]["input_ids"][1].append(999)
    again, hit = encode_cached(tok, mc, MC_FIELDS, 16)
    assert hit
    assert_same_features(again, encode(tok, mc, MC_FIELDS, 16))


def test_any_change_of_inputs_misses(tmp_path, tok):
    columns = varied_columns(pair=True)
    base, _ = encode_cached(tok, columns, ("sentence",), 16)
    text = {**columns, "sentence": [columns["sentence"][0] + " good", *columns["sentence"][1:]]}
    label = {**columns, "label": [1 - columns["label"][0], *columns["label"][1:]]}
    numpy_labels = {**columns, "label": [np.int64(v) for v in columns["label"]]}
    float_labels = {**columns, "label": [float(v) for v in columns["label"]]}
    numpy_floats = {**columns, "label": [np.float64(v) for v in columns["label"]]}
    calls = [
        (tok, text, ("sentence",), 16),
        (tok, label, ("sentence",), 16),
        (tok, numpy_labels, ("sentence",), 16),
        (tok, float_labels, ("sentence",), 16),
        (tok, numpy_floats, ("sentence",), 16),  # a float subclass: same JSON, other type
        (tok, columns, ("sentence",), 8),
        (tok, columns, ("sentence", "sentence2"), 16),
        (tok, columns, ("sentence2",), 16),
    ]
    for i, (t, cols, fields, max_length) in enumerate(calls):
        got, hit = encode_cached(t, cols, fields, max_length)
        assert not hit, i
        assert_same_features(got, encode(t, cols, fields, max_length))
    assert encode_cache_info().misses == 1 + len(calls)


def test_a_different_tokenizer_never_hits(tmp_path, tok):
    from transformers import BertTokenizerFast
    from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy

    columns = varied_columns()
    encode_cached(tok, columns, ("sentence",), 16)
    vocab = dict(tok.get_vocab())
    swapped = dict(vocab)  # same size, two ids exchanged
    swapped["good"], swapped["bad"] = vocab["bad"], vocab["good"]
    cased = BertTokenizerFast(vocab=vocab, do_lower_case=False)  # another normalizer
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "vocab.txt").write_text(
        "\n".join(sorted(vocab, key=vocab.get)) + "\n")
    others = [
        BertTokenizerFast(vocab=swapped),
        cased,
        # a pure-Python tokenizer (no backend): fingerprinted by its vocabulary
        BertTokenizerLegacy(vocab_file=str(tmp_path / "slow" / "vocab.txt")),
    ]
    assert getattr(others[-1], "backend_tokenizer", None) is None
    for other in others:
        got, hit = encode_cached(other, columns, ("sentence",), 16)
        assert not hit, type(other).__name__
        assert_same_features(got, encode(other, columns, ("sentence",), 16))
    # the same tokenizer object, altered: a token added, the truncation side flipped
    fp = tokenizer_fingerprint(tok)
    tok.add_tokens(["zzz"])
    assert tokenizer_fingerprint(tok) != fp
    got, hit = encode_cached(tok, columns, ("sentence",), 16)
    assert not hit
    fp = tokenizer_fingerprint(tok)
    tok.split_special_tokens = True  # a scalar attribute set after construction
    assert tokenizer_fingerprint(tok) != fp
    tok.split_special_tokens = False
    assert tokenizer_fingerprint(tok) == fp
    tok.truncation_side = "left"
    assert tokenizer_fingerprint(tok) != fp
    long = {"sentence": [" ".join(["good", "bad"] * 20)], "label": [1]}
    left, hit = encode_cached(tok, long, ("sentence",), 8)
    assert not hit
    assert left == encode(tok, long, ("sentence",), 8)


def test_equal_tokenizers_share_entries_and_calls_do_not_change_the_fingerprint(tmp_path):
    a, b = make_tokenizer(tmp_path / "a"), make_tokenizer(tmp_path / "b")
    fp = tokenizer_fingerprint(a)
    assert tokenizer_fingerprint(b) == fp  # content, not object identity
    columns = varied_columns()
    encode_cached(a, columns, ("sentence",), 6)  # sets the backend's truncation state
    assert tokenizer_fingerprint(a) == fp
    _, hit = encode_cached(b, columns, ("sentence",), 6)
    assert hit


def test_call_state_is_left_out_of_the_pipeline_whatever_the_json_layout():
    strip = encode_cache._pipeline_without_call_state
    a = '{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"model":{"v":1}}'
    b = ('{"version":"1.0","truncation":{"max_length":8},"padding":{"strategy":{"Fixed":8}},'
         '"added_tokens":[],"model":{"v":1}}')
    assert strip(a) == strip(b) != strip(a.replace('"v":1', '"v":2'))
    other_order = '{"model":{"v":1},"padding":null,"truncation":{"max_length":8},"version":"1"}'
    assert strip(other_order) == strip(other_order.replace('{"max_length":8}', "null"))
    assert strip(other_order) != strip(other_order.replace('"v":1', '"v":2'))


def test_lru_bounds(monkeypatch, tok):
    monkeypatch.setattr(encode_cache, "ENCODE_CACHE_MAXSIZE", 2)
    splits = [varied_columns(seed=s) for s in range(3)]
    for cols in splits:
        encode_cached(tok, cols, ("sentence",), 16)
    assert encode_cache_info().size == 2
    assert encode_cached(tok, splits[2], ("sentence",), 16)[1]  # recent: kept
    assert not encode_cached(tok, splits[0], ("sentence",), 16)[1]  # oldest: evicted
    assert not encode_cached(tok, splits[1], ("sentence",), 16)[1]  # evicted by splits[0]
    monkeypatch.setattr(encode_cache, "ENCODE_CACHE_MAX_BYTES", 100)  # smaller than a split
    encode_cache_clear()
    features, hit = encode_cached(tok, splits[0], ("sentence",), 16)
    assert not hit and encode_cache_info().size == 0
    assert encode_cache_info().misses == 1


def test_unhashable_inputs_are_tokenized_without_the_cache(tok):
    class Opaque:
        pass

    columns = {"sentence": ["good film", "bad plot"], "label": [Opaque(), Opaque()]}
    for _ in range(2):
        got, hit = encode_cached(tok, columns, ("sentence",), 16)
        assert not hit
        assert [f["labels"] for f in got] == columns["label"]
    info = encode_cache_info()
    assert (info.hits, info.misses, info.uncacheable, info.size) == (0, 0, 2, 0)


def test_threads_share_one_cache_safely(tok):
    splits = [varied_columns(n=60, seed=s) for s in range(3)]
    want = [encode(tok, cols, ("sentence",), 16) for cols in splits]
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        local = make_tokenizer_copy(tok)  # equal tokenizer (shares entries), own object
        try:
            for r in range(6):
                j = (t + r) % 3
                got, _ = encode_cached(local, splits[j], ("sentence",), 16)
                assert got == want[j]
                got[0]["input_ids"].append(-1)  # mutating must not affect other threads
        except BaseException as err:  # noqa: BLE001 - re-raised in the main thread
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    info = encode_cache_info()
    assert info.hits + info.misses == 24 and info.size == 3 and info.misses >= 3


def make_tokenizer_copy(tok: Any) -> Any:
    from transformers import BertTokenizerFast

    return BertTokenizerFast(vocab=dict(tok.get_vocab()))


# ---------------------------------------------------------------------------------------------
# fine_tune: the cache and the length-sorted evaluation


def test_fine_tune_reuses_encoded_splits_with_the_same_numbers(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=16, learning_rate=5e-3, seed=3)
    tok = make_tokenizer(tmp_path / "tok")
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        runs.append(fine_tune(make_tiny_bert(), tok, make_sentiment_data(), cfg))
    first, second = runs
    assert first.encode_cache == {"train": False, "test": False}
    assert second.encode_cache == {"train": True, "test": True}
    assert second.epochs == first.epochs and second.train_loss == first.train_loss
    assert set(second.timings) == {"tokenize", "train", "evaluate"}
    assert encode_cache_info().hits == 2


def test_fine_tune_evaluates_longest_batches_first(tmp_path, monkeypatch):
    data = make_sentiment_data(n_train=32)
    data.evals = {"test": varied_columns(n=50, seed=2)}
    widths: list[int] = []
    original = training.predict

    def spy(model, loader, num_labels):
        widths.extend(int(batch["input_ids"].shape[1]) for batch in loader)
        return original(model, loader, num_labels)

    monkeypatch.setattr(training, "predict", spy)
    fine_tune(make_tiny_bert(), make_tokenizer(tmp_path / "tok"), data,
              TrainConfig(epochs=1, batch_size=16, eval_batch_size=8))
    assert len(widths) == 7  # ceil(50 / 8): every example evaluated
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]


def test_eval_order_is_a_stable_permutation_by_decreasing_length(tok):
    feats = encode(tok, varied_columns(n=30), ("sentence",), 16)
    order = eval_order(feats)
    assert sorted(order) == list(range(30))
    lengths = [feature_length(feats[i]) for i in order]
    assert lengths == sorted(lengths, reverse=True)
    for a, b in zip(order, order[1:], strict=False):
        if feature_length(feats[a]) == feature_length(feats[b]):
            assert a < b  # ties keep their order
    mc = encode(tok, mc_columns(), MC_FIELDS, 16)
    assert [feature_length(mc[i]) for i in eval_order(mc)] == sorted(
        map(feature_length, mc), reverse=True)


def predictions(model, loader) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    preds, labels = [], []
    with torch.no_grad():
        for batch in loader:
            logits = model(**{k: v for k, v in batch.items() if k != "labels"}).logits
            preds.append(logits.float().numpy())
            labels.append(batch["labels"].numpy())
    return np.concatenate(preds), np.concatenate(labels)


@pytest.mark.parametrize(
    ("metric", "num_labels"),
    [("accuracy", 2), ("f1_accuracy", 2), ("matthews", 2), ("pearson_spearman", 1),
     ("multiple_choice", 0)],
)
def test_sorted_evaluation_gives_the_same_pairs_and_metrics(tok, metric, num_labels):
    from torch.utils.data import DataLoader
    from transformers import BertConfig, BertForMultipleChoice, DataCollatorWithPadding

    if num_labels == 0:  # multiple choice: a tiny BERT with a one-logit-per-option head
        torch.manual_seed(0)
        model = BertForMultipleChoice(BertConfig(
            vocab_size=len(WORDS) + 5, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=2, intermediate_size=64, max_position_embeddings=64))
        feats = encode(tok, mc_columns(n=40, seed=3), MC_FIELDS, 32)
        collate: Any = MultipleChoiceCollator(tok)
        metric = "accuracy"
    else:
        model = make_tiny_bert(num_labels=num_labels, seed=1)
        columns = varied_columns(n=70, seed=4, pair=True)
        if num_labels == 1:
            columns["label"] = np.random.default_rng(5).normal(size=70).tolist()
        feats = encode(tok, columns, ("sentence", "sentence2"), 32)
        collate = DataCollatorWithPadding(tok)
    order = eval_order(feats)
    assert order != list(range(len(feats)))  # the test compares two different orders
    plain = DataLoader(feats, batch_size=8, collate_fn=collate)
    by_length = DataLoader([feats[i] for i in order], batch_size=8, collate_fn=collate)
    # the same (prediction, label) pairs: logits per example agree up to float noise
    logits_plain, labels_plain = predictions(model, plain)
    logits_sorted, labels_sorted = predictions(model, by_length)
    np.testing.assert_array_equal(labels_sorted, labels_plain[order])
    np.testing.assert_allclose(logits_sorted, logits_plain[order], rtol=1e-5, atol=1e-5)
    if num_labels != 1:
        assert (logits_sorted.argmax(-1) == logits_plain[order].argmax(-1)).all()
    # and so the same metrics: exactly for the discrete predictions (argmax), up to the
    # float noise of the padded matmuls for regression scores
    n_labels = 1 if num_labels == 1 else 2
    want = evaluate(model, plain, metric, n_labels)
    got = evaluate(model, by_length, metric, n_labels)
    assert set(got) == set(want)
    for name in want:
        if num_labels == 1:
            assert got[name] == pytest.approx(want[name], rel=1e-4, abs=1e-5), name
        else:
            assert got[name] == pytest.approx(want[name], abs=1e-12), name
