"""Encoder model-name resolution (aliases, folders, hub ids) and loading."""

from __future__ import annotations

import pytest

from junk_dna.models.encoders import ALIASES, resolve_model


def test_alias_resolves_to_installed_package_and_records_it():
    r = resolve_model("minilm")
    assert r.source == "embedded" and r.location.endswith("model")
    assert ALIASES["minilm"].distribution in r.detail
    assert r.as_record()["model_source"] == "embedded"


def test_alias_falls_back_to_the_hub_id_when_package_missing(monkeypatch):
    import junk_dna.models.resolve as resolve

    monkeypatch.setattr(resolve, "package_path", lambda *_: None)
    r = resolve_model("minilm")
    assert (r.source, r.location) == ("hub", "sentence-transformers/all-MiniLM-L6-v2")


def test_bad_model_names(tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(ValueError, match="'not a model!'"):
        resolve_model("not a model!")
    with pytest.raises(ValueError, match="unknown model 'surely-not-on-any-hub'"):
        resolve_model("surely-not-on-any-hub")  # HF_HUB_OFFLINE=1: fails at once
    assert resolve_model("surely-not-on-any-hub", check_hub=False).source == "hub"


def test_local_folder_loads(tiny_model_dir):
    from junk_dna.models.encoders import load_model

    loaded = load_model(str(tiny_model_dir), num_labels=2)
    assert loaded.resolved.source == "local"
    assert loaded.new_param_names == frozenset()  # the saved tiny model has its head
