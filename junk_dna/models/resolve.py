"""Model-name resolution shared by every model kind: folders, hub ids, installed packages.

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
