"""``-O key=value`` options: the one parser every tool uses.

A set of options is a dataclass whose fields carry their defaults and help text (:func:`option`).
:func:`split_pairs` turns the command line's ``-O`` strings into ``{key: text}`` and
:func:`from_pairs` fills the dataclass from them, converting each value to the field's declared
type. A key the dataclass does not declare is an error that names the valid keys, never ignored.
The same options are written into provenance and read back with :func:`from_pairs`, so a model
is rebuilt with exactly the options it was trained with.

``-O`` values may name their backbone, ``-O spliceai:models=1`` (the pipeline passes
``--backbone_options`` this way): :func:`for_backbone` keeps the values meant for the backbone at
hand, and refuses a qualifier that is not a catalogued backbone.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

from genofm.errors import GenofmError

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def option(default: Any, text: str) -> Any:
    """A dataclass field with its help text (shown by ``--list-backbones`` and the tools' help)."""
    return dataclasses.field(default=default, metadata={"help": text})


def split_pairs(pairs: list[str] | None, what: str = "-O") -> dict[str, str]:
    """``["k=6", "rc_collapse=true"]`` -> ``{"k": "6", "rc_collapse": "true"}``; a later key wins."""
    result: dict[str, str] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise GenofmError(f"{what} {pair!r} is not key=value")
        key, value = pair.split("=", 1)
        if not key.strip():
            raise GenofmError(f"{what} {pair!r} has no key; write key=value")
        result[key.strip()] = value.strip()
    return result


def for_backbone(pairs: dict[str, str], backbone: str) -> dict[str, str]:
    """The options meant for ``backbone``: plain ``key`` and ``backbone:key``; other backbones'
    ``name:key`` are dropped, and a qualifier that names no catalogued backbone is an error."""
    from genofm.catalogue import BY_NAME

    kept: dict[str, str] = {}
    for key, value in pairs.items():
        qualifier, sep, bare = key.rpartition(":")
        if not sep:
            kept[key] = value
        elif qualifier not in BY_NAME:
            raise GenofmError(f"-O {key}={value}: {qualifier!r} is not a backbone; write BACKBONE:KEY=VALUE with one of {sorted(BY_NAME)}")
        elif qualifier == backbone:
            kept[bare] = value
    return kept


def convert(raw: Any, hint: Any, key: str, subject: str) -> Any:
    """``raw`` (a string from the command line, or a value read back from provenance) as ``hint``."""
    if not isinstance(raw, str):
        return raw
    if typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint):
        if raw.lower() in {"none", "null", ""}:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    try:
        if hint is bool:
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError(raw)
        if hint in (int, float, str):
            return hint(raw)
    except ValueError:
        raise GenofmError(f"{subject} option {key}={raw!r} is not a valid {getattr(hint, '__name__', hint)}") from None
    return raw


def names(cls: type) -> list[str]:
    """The option keys a settings dataclass declares."""
    return [f.name for f in dataclasses.fields(cls)]


def from_pairs(cls: type[T], pairs: dict[str, Any] | None, subject: str) -> T:
    """``cls`` filled from ``key=value`` pairs (``-`` in a key is read as ``_``).

    ``subject`` names what the options belong to in errors, e.g. ``backbone 'kmer'``.
    """
    fields = set(names(cls))
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, raw in (pairs or {}).items():
        name = key.replace("-", "_")
        if name not in fields:
            raise GenofmError(f"{subject} has no option {key!r}; its options are {', '.join(sorted(fields)) or 'none'}")
        values[name] = convert(raw, hints[name], key, subject)
    return cls(**values)


def describe(cls: type, indent: str = "    ") -> list[str]:
    """One ``-O key=<type>  (default ...)  help`` line per field, for listings."""
    hints = typing.get_type_hints(cls)
    lines = []
    for field in dataclasses.fields(cls):
        default = field.default if field.default is not dataclasses.MISSING else None
        kind = getattr(hints.get(field.name), "__name__", str(hints.get(field.name)))
        doc = field.metadata.get("help", "")
        lines.append(f"{indent}-O {field.name}=<{kind}>  (default {default}){'  ' + doc if doc else ''}")
    return lines or [f"{indent}(no -O options)"]
