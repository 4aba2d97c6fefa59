"""Notebook parameters: an experiment notebook's ``parameters`` cell, generated from its config
dataclass, and read back from the notebook's namespace with unknown names rejected.

The config dataclass holds every default once, with its help text in the field's metadata
(``field(default=..., metadata={"help": ...})``, as peft does). :func:`parameters_cell`
renders it as flat annotated literals, one per line (``learning_rate: float = 0.0001  # peak
AdamW learning rate``), which ``papermill --help-notebook`` lists with their types, defaults
and help. ``tools/notebook_params.py`` writes the cells into the notebooks;
``tests/experiments/test_notebook_parameters.py`` checks them with papermill's own parser.

A notebook's first code cell after its parameters calls :func:`config_from_notebook` (through
the config's ``from_notebook``), so a parameter the config does not know (e.g. a typo given
with ``papermill -p``) fails there, naming it and the allowed names, before any work.
"""

from __future__ import annotations

import ast
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, field, fields, is_dataclass
from typing import Any, TypeVar

from junk_dna.checks import shown

HEADER = "# Parameters"
"""First characters of a parameters cell, and of the cell papermill injects after it."""
RUN_DIR_LINE = ('run_dir: str = ""  # folder for record.json; "" keeps the result in this notebook '
                'only')
"""The parameter every experiment notebook takes besides its config's fields."""
EXTRA_PARAMETERS: tuple[str, ...] = ("run_dir",)

Config = TypeVar("Config")


def param(default: Any, help: str) -> Any:
    """A config field with a default and its help text (the parameters cell's comment)."""
    return field(default=default, metadata={"help": help})


TYPING_LINE = "from typing import Optional  # papermill reads Optional[X], not X | None"
"""The parameters cell's one import: the annotations of fields that may be ``None``."""


def annotation(f: Field[Any]) -> str:
    """The annotation of a field in a parameters cell: ``float``, or ``Optional[str]`` for
    ``str | None`` (papermill's parameter parser reads no ``|``)."""
    kind = str(f.type).replace(" ", "")
    if kind.endswith("|None"):
        return f"Optional[{kind[:-len('|None')]}]"
    return kind


def literal(value: Any) -> str:
    """A parameter's value as Python source (strings in double quotes, as papermill writes)."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def field_help(f: Field[Any]) -> str:
    """The help text of a config field (its ``metadata["help"]``).

    Raises:
        ValueError: the help holds ``=``: papermill skips a parameters line with two ``=``.
    """
    text = str(f.metadata.get("help", ""))
    if "=" in text:
        raise ValueError(f"the help of parameter {f.name!r} holds '=', which makes papermill "
                         f"skip its line: {text!r}")
    return text


def parameter_values(config_cls: type, overrides: Mapping[str, Any] | None = None
                     ) -> dict[str, Any]:
    """Every field of ``config_cls`` with its default, ``overrides`` (an experiment's own
    defaults, e.g. its task and conditions) taking precedence.

    Raises:
        ValueError: an override that is not a field, or a field without a default.
    """
    overrides = dict(overrides or {})
    names = [f.name for f in fields(config_cls)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(f"overrides {unknown} are not fields of {config_cls.__name__}; "
                         f"allowed: {names}")
    values = {}
    for f in fields(config_cls):
        if f.name in overrides:
            values[f.name] = overrides[f.name]
        elif f.default is not MISSING:
            values[f.name] = f.default
        else:
            raise ValueError(f"field {f.name!r} of {config_cls.__name__} has no default")
    return values


def parameters_cell(config_cls: type, title: str,
                    overrides: Mapping[str, Any] | None = None, *, run_dir: bool = True) -> str:
    """The source of a notebook's ``parameters`` cell for ``config_cls``: a header, the
    ``Optional`` import (when a field needs it), one annotated line per field (default or
    override, help as comment), then ``run_dir`` (an experiment notebook's; not with
    ``run_dir=False``)."""
    values = parameter_values(config_cls, overrides)
    optional = any(annotation(f).startswith("Optional[") for f in fields(config_cls))
    lines = [f"{HEADER}: {title}",
             f"# Generated from {config_cls.__name__} by tools/notebook_params.py: edit values, "
             "not names.", *([TYPING_LINE] if optional else []), ""]
    for f in fields(config_cls):
        line = f"{f.name}: {annotation(f)} = {literal(values[f.name])}"
        text = field_help(f)
        lines.append(f"{line}  # {text}" if text else line)
    if run_dir:
        lines.append(RUN_DIR_LINE)
    return "\n".join(lines)


def notebook_parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a notebook run, with their values in ``namespace`` (its globals).

    In a kernel, they are the names assigned by the executed cells that start with
    ``# Parameters``: the notebook's parameters cell and the cell papermill injects after it
    with the values it was given (IPython's ``In`` holds the executed sources). Names the
    notebook's other cells define (``config``, ``record``) are not parameters. A namespace
    without ``In`` (a plain mapping) is taken as parameters entirely, ``_names`` aside.
    """
    history = namespace.get("In")
    if not isinstance(history, list):
        return {k: v for k, v in namespace.items() if not str(k).startswith("_")}
    names: list[str] = []
    for source in history:
        if not (isinstance(source, str) and source.lstrip().startswith(HEADER)):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            targets = (node.targets if isinstance(node, ast.Assign)
                       else [node.target] if isinstance(node, ast.AnnAssign) else [])
            names.extend(t.id for t in targets if isinstance(t, ast.Name))
    return {name: namespace[name] for name in dict.fromkeys(names) if name in namespace}


def config_from_notebook(config_cls: type[Config], namespace: Mapping[str, Any],
                         experiment: str) -> Config:
    """Build ``config_cls`` from a notebook's parameters (:func:`notebook_parameters`).

    Raises:
        ValueError: a parameter that is neither a field nor ``run_dir`` (named, with the
            allowed names), or an invalid value (the config's own check).
    """
    params = notebook_parameters(namespace)
    allowed = [f.name for f in fields(config_cls)]
    unknown = sorted(set(params) - set(allowed) - set(EXTRA_PARAMETERS))
    if unknown:
        raise ValueError(f"unknown {experiment} parameter(s) {unknown}; allowed: "
                         f"{allowed + list(EXTRA_PARAMETERS)}")
    return config_cls(**{k: v for k, v in params.items() if k in allowed})


# ------------------------------------------------------------------------------ field types

_SCALAR = (str, int, float, bool, type(None))
_UNION_TYPE = getattr(types, "UnionType", None)  # X | Y


def field_types(config_cls: type) -> dict[str, Any]:
    """Field name -> type annotation of a config dataclass (empty for anything else)."""
    if not is_dataclass(config_cls):
        return {}
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints.get(f.name, Any) for f in fields(config_cls)}


def _is_union(kind: Any) -> bool:
    origin = typing.get_origin(kind)
    return origin is typing.Union or (_UNION_TYPE is not None and origin is _UNION_TYPE)


def type_accepts(kind: Any, value: Any) -> bool:
    """Whether ``value`` fits a config field's annotation ``kind``: ``bool`` only for
    ``bool`` (never a number), ``float`` an int or a float, ``int`` an int, ``str`` a
    string, ``X | None`` also ``None``, ``list`` a list of scalars (``list[X]``: of X),
    ``dict`` a mapping with string keys; an annotation it does not know accepts anything."""
    if _is_union(kind):
        return any(type_accepts(k, value) for k in typing.get_args(kind))
    origin = typing.get_origin(kind)
    if kind is Any:
        return True
    if kind is None or kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    if kind is list or origin is list:
        args = typing.get_args(kind)
        return isinstance(value, list) and all(
            type_accepts(args[0], v) if args else isinstance(v, _SCALAR) for v in value)
    if kind is dict or origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return not isinstance(kind, type) or isinstance(value, kind)


def type_name(kind: Any) -> str:
    """What an annotation accepts, in words (``float | None`` -> ``a number or null``)."""
    if _is_union(kind):
        args = typing.get_args(kind)
        return " or ".join([type_name(k) for k in args if k is not type(None)]
                           + (["null"] if type(None) in args else []))
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             list: "a list of scalars", dict: "a mapping", type(None): "null"}
    if kind in names:
        return names[kind]
    if typing.get_origin(kind) is list:
        return f"a list of {type_name(typing.get_args(kind)[0])} values"
    return getattr(kind, "__name__", str(kind))


def value_kind(value: Any) -> str:
    """What a value is, in the words of :func:`type_name` (``true`` is a boolean)."""
    if isinstance(value, bool):
        return "a boolean"
    return {list: "a list", dict: "a mapping", str: "a string", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def type_mismatch(config_cls: type, name: str, kind: Any, value: Any) -> str:
    """The message for ``value`` that field ``name`` (annotation ``kind``) does not take."""
    annotation_text = getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
    return (f"{name} {shown(value)} must be {type_name(kind)} ({config_cls.__name__}.{name}: "
            f"{annotation_text}), got {value_kind(value)}")


def check_field_types(config_cls: type, params: Mapping[str, Any]) -> None:
    """Check every value of ``params`` that names a field of ``config_cls`` against the
    field's annotation (:func:`type_accepts`); other keys are left to the caller.

    Raises:
        ValueError: the first value of the wrong type, named with what its field takes.
    """
    kinds = field_types(config_cls)
    for name, value in params.items():
        if name in kinds and not type_accepts(kinds[name], value):
            raise ValueError(type_mismatch(config_cls, name, kinds[name], value))
