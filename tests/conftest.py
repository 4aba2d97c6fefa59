"""Shared fixtures: tiny models built from configs (no download), a tiny synthetic task, and a
real one-node SLURM cluster (``slurm_cluster``)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub id fails at once instead of retrying
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# a dry run prints cost projections from saved step times: none from this machine's cache
os.environ["JUNK_DNA_STEP_TIMES"] = os.path.join(os.path.dirname(__file__), "no-step-times")

import importlib.util  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

import pytest  # noqa: E402

if TYPE_CHECKING:
    from tests.hub_cache import HubCache

WORDS = [
    "good",
    "great",
    "fine",
    "lovely",
    "superb",
    "nice",
    "bad",
    "awful",
    "poor",
    "dull",
    "boring",
    "terrible",
    "movie",
    "film",
    "plot",
    "acting",
    "the",
    "a",
    "was",
    "is",
    "very",
    "really",
    "quite",
]


def make_tokenizer(folder: Path):
    """A BERT WordPiece tokenizer over a tiny vocabulary written to ``folder``."""
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    return BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})


def make_tiny_bert(num_labels: int = 2, seed: int = 0):
    """A 2-layer BERT (hidden 32) for sequence classification, randomly initialized."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=num_labels,
    )
    return BertForSequenceClassification(config)


def make_sentiment_data(n_train: int = 96, n_test: int = 48, seed: int = 0):
    """A synthetic, learnable sentiment task as :class:`junk_dna.data.glue_tasks.TaskData`."""
    import numpy as np

    from junk_dna.data.glue_tasks import TaskData, TaskSpec

    rng = np.random.default_rng(seed)
    pos, neg = WORDS[:6], WORDS[6:12]
    filler = WORDS[12:]

    def split(n: int):
        labels = rng.integers(0, 2, n).tolist()
        sentences = []
        for y in labels:
            words = list(rng.choice(filler, 4)) + [rng.choice(pos if y else neg)]
            rng.shuffle(words)
            sentences.append(" ".join(words))
        return {"sentence": sentences, "label": labels}

    spec = TaskSpec(
        name="synthetic",
        source="embedded",
        text_fields=("sentence",),
        num_labels=2,
        metric="accuracy",
        main_metric="accuracy",
    )
    return TaskData(
        spec=spec,
        train=split(n_train),
        evals={"test": split(n_test)},
        resolved={"data_source": "synthetic"},
    )


@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> Path:
    """A folder with a tiny BERT classifier and its tokenizer (loads like a hub model)."""
    folder = tmp_path / "tiny-bert"
    tok = make_tokenizer(folder)
    make_tiny_bert().save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


SWEEP_FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def sleepy_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the ``sleepy`` test experiment (``tests/fixtures/sleepy_experiment.py``)
    through JUNK_DNA_PLUGINS, here and in the sweep's child processes."""
    monkeypatch.syspath_prepend(str(SWEEP_FIXTURES))
    monkeypatch.setenv("JUNK_DNA_PLUGINS", "sleepy_experiment")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(SWEEP_FIXTURES), str(SWEEP_FIXTURES.parent.parent),
                    os.environ.get("PYTHONPATH", "")) if p))


# --------------------------------------------------------------------------- a real SLURM

SLURM_TOOL = Path(__file__).resolve().parents[1] / "tools" / "slurm_cluster.py"
# "skip": no real-SLURM test; "accounting": also those with slurmdbd + MariaDB (sacct), which
# are opt-in: their packages add about 90 s of apt-get and their start about 25 s
SLURM_TESTS_ENV = "JUNK_DNA_SLURM_TESTS"


def slurm_tool() -> ModuleType:
    """``tools/slurm_cluster.py`` as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("slurm_cluster", SLURM_TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("slurm_cluster", module)
    spec.loader.exec_module(module)
    return module


def one_node_cluster(accounting: bool) -> Iterator[Any]:
    """Start a one-node SLURM (installing its packages with apt-get when missing: root,
    Debian/Ubuntu), yield it, stop its daemons by PID; a guard process stops them if this
    session dies first. Skips, saying why, where it cannot be installed or started."""
    wanted = os.environ.get(SLURM_TESTS_ENV, "")
    if wanted == "skip":
        pytest.skip(f"real-SLURM tests switched off ({SLURM_TESTS_ENV}=skip)")
    if accounting and wanted != "accounting":
        pytest.skip(f"SLURM with accounting is opt-in ({SLURM_TESTS_ENV}=accounting): "
                    "slurmdbd + MariaDB add about 90 s of apt-get and 25 s of start")
    tool = slurm_tool()
    # not below pytest's temporary folder: munged needs the folders above its socket open
    folder = Path(tempfile.mkdtemp(prefix="junk-dna-slurm-"))
    cluster = tool.OneNodeCluster(folder, accounting=accounting)
    try:
        tool.install(accounting)
        cluster.start()
    except (tool.ClusterUnavailable, OSError, subprocess.SubprocessError) as err:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"no real SLURM here (tools/slurm_cluster.py): {err}")
    guard = subprocess.Popen(
        [sys.executable, str(SLURM_TOOL), "guard", "--dir", str(cluster.folder),
         "--pid", str(os.getpid())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        yield cluster
    finally:
        cluster.stop()
        try:  # the guard returns by itself once the cluster is stopped
            guard.wait(timeout=10)
        except subprocess.TimeoutExpired:
            guard.kill()
            guard.wait()
        if not cluster.pids():
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def slurm_cluster() -> Iterator[Any]:
    """A real one-node SLURM without accounting (munged, slurmctld, slurmd) for the module
    (:func:`one_node_cluster`)."""
    yield from one_node_cluster(accounting=False)


@pytest.fixture(scope="module")
def slurm_cluster_accounting() -> Iterator[Any]:
    """A real one-node SLURM with accounting (also MariaDB and slurmdbd: ``sacct`` works);
    opt-in (:data:`SLURM_TESTS_ENV`)."""
    yield from one_node_cluster(accounting=True)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """One intra-op torch thread for the test: tiny models and tensors are fastest that way,
    and immune to OpenMP barrier stalls on a busy machine (use with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- a local hub


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> HubCache:
    """A local Hugging Face cache (``tests/hub_cache.py``) holding every model id and dataset
    the ``paper`` presets load from the hub, in the hub's layout, built once per session:
    point ``HF_HOME`` at it (``hub_cache.env()``) in a child process."""
    from tests.hub_cache import build_hub_cache, paper_model_ids

    encoders, causal = paper_model_ids()
    return build_hub_cache(tmp_path_factory.mktemp("hf_home"), encoders, causal)
