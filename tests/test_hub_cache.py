"""The local hub cache of the paper rehearsal (``tests/hub_cache.py``): every model id and
dataset the ``paper`` presets load resolves from it through the hub code path of
``huggingface_hub``, ``transformers`` and ``datasets`` (environment variables only), and
nothing resolves without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from junk_dna.data.glue_tasks import get_task
from junk_dna.data.qa_tasks import get_qa_task
from junk_dna.experiments.true_gem import TrueGemConfig
from junk_dna.runs.presets import (
    expand_preset,
    list_experiments,
    load_preset,
    lookup_experiment,
    presets_file,
)
from tests.hub_cache import C4_SHARD, HubCache, paper_model_ids

PROBE = """
import json, sys
import huggingface_hub
from transformers import AutoConfig, AutoTokenizer
from junk_dna.data.glue_tasks import load_task
from junk_dna.data.qa_tasks import load_factoid
from junk_dna.pruning.calibration import c4_shard_path, calibration_samples

encoders, causal, fine_tuning_tasks, factoid_tasks = json.loads(sys.argv[1])
out = {"files": [], "models": {}, "tasks": {}}
for model in encoders + causal:
    out["files"].append(huggingface_hub.hf_hub_download(model, "config.json"))
    tokenizer = AutoTokenizer.from_pretrained(model)
    out["models"][model] = [AutoConfig.from_pretrained(model).model_type,
                            type(tokenizer).__name__]
for task in fine_tuning_tasks:
    data = load_task(task)
    out["tasks"][task] = [len(data.train["label"]), data.resolved["n_eval"]]
for task in factoid_tasks:
    questions = load_factoid(task, 4, source="hub")
    out["tasks"][task] = [len(questions), all(q.context for q in questions)]
out["files"].append(c4_shard_path())
out["c4"] = list(calibration_samples(tokenizer, source="c4", n_samples=2, seqlen=64).shape)
print(json.dumps(out))
"""


def paper_hub_tasks() -> tuple[list[str], list[str]]:
    """The tasks the paper presets load from the hub: ``(fine-tuning tasks, factoid tasks)``
    (a zero-shot task with an embedded copy loads from the package, not the hub)."""
    fine_tuning: list[str] = []
    factoid: list[str] = []
    for name in list_experiments():
        if not presets_file(name).is_file():
            continue
        exp = lookup_experiment(name)
        for run in expand_preset(exp, load_preset(name, "paper"), check_hub=False):
            task = run.params["task"]
            if exp.config is TrueGemConfig:
                if get_task(task).source == "hub" and task not in fine_tuning:
                    fine_tuning.append(task)
            elif get_qa_task(task).sources == ("hub",) and task not in factoid:
                factoid.append(task)
    return fine_tuning, factoid


def probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    encoders, causal = paper_model_ids()
    fine_tuning, factoid = paper_hub_tasks()
    return subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([encoders, causal, fine_tuning, factoid])],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False)


def test_every_paper_model_and_dataset_resolves_from_the_cache(hub_cache: HubCache) -> None:
    from junk_dna.pruning.calibration import C4_SHARD as PACKAGE_C4_SHARD

    assert C4_SHARD == PACKAGE_C4_SHARD
    done = probe(hub_cache.env())
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.splitlines()[-1])
    hub = hub_cache.hf_home / "hub"
    assert all(Path(f).is_relative_to(hub) and "/snapshots/" in f for f in out["files"])
    assert out["files"][-1].endswith(f"/{C4_SHARD}")  # C4 through the hub's file cache
    assert out["models"] == {"roberta-large": ["roberta", "RobertaTokenizer"],
                             "lmsys/vicuna-7b-v1.3": ["llama", "LlamaTokenizer"]}
    fine_tuning, factoid = paper_hub_tasks()
    assert sorted(fine_tuning) == ["cola", "csqa", "mnli", "qnli", "qqp", "rte", "sst2", "stsb",
                                   "winogrande"]
    assert factoid == ["triviaqa_rc"]
    for task in fine_tuning:
        n_train, n_eval = out["tasks"][task]
        assert n_train == 32 and set(n_eval.values()) == {16}, (task, n_eval)
    assert len(out["tasks"]["mnli"][1]) == 2  # matched and mismatched
    assert out["tasks"]["triviaqa_rc"] == [4, True]
    assert out["c4"] == [2, 64]


def test_nothing_resolves_without_the_cache(hub_cache: HubCache, tmp_path: Path) -> None:
    empty = HubCache(tmp_path / "empty", (), (), ())
    done = probe(empty.env())
    assert done.returncode != 0
    assert "roberta-large" in done.stderr and "offline" in done.stderr.lower()
