"""Command-line options made from config dataclasses, so that every option is documented once.

A command's options are its config's fields: the name (``max_replans`` becomes
``--max-replans``), the type (int, float, str, Path, bool, a ``Literal``'s choices, ``X | None``,
a nested config whose fields are spread out), the default, and the help, which is the docstring
written under the field, as CleanRL's configs are read by tyro. A field's metadata may name other
``flags``, make it ``positional``, or give a ``parse`` function for a type argparse does not know.
Only the options given on the command line reach the config, so its defaults are the only ones.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import shlex
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

Config = TypeVar("Config")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (and of the dataclasses it inherits from)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _unwrap_optional(kind: Any) -> Any:
    if typing.get_origin(kind) in (Union, types.UnionType):
        rest = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return kind


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _shown(value: Any) -> str:
    if isinstance(value, Path):
        from foreman.paths import PACKAGE_DIR

        return f"the built-in {value.relative_to(PACKAGE_DIR)}" if value.is_relative_to(PACKAGE_DIR) else str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return f"{value:,}"
    return str(value)


def add_options(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add one option (or positional argument) per field of ``cls``, nested configs spread out."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip or not field.init:
            continue
        kind = hints[field.name]
        if dataclasses.is_dataclass(kind):
            add_options(parser, typing.cast(type, kind), skip)
            continue
        _add_option(parser, field, kind, docs.get(field.name, ""))


def _add_option(parser: argparse.ArgumentParser, field: dataclasses.Field, kind: Any, doc: str) -> None:
    meta = field.metadata
    default = _default(field)
    kind = _unwrap_optional(kind)
    options: dict[str, Any] = {"default": argparse.SUPPRESS}
    if kind is bool:
        options["action"] = "store_true" if default is False else argparse.BooleanOptionalAction
    elif typing.get_origin(kind) is Literal:
        choices = typing.get_args(kind)
        options |= {"choices": choices, "type": type(choices[0])}
    elif typing.get_origin(kind) in (list, tuple):
        options |= {"nargs": "+", "type": meta.get("parse", typing.get_args(kind)[0])}
    else:
        options["type"] = meta.get("parse", kind)
    if "choices" in meta:
        options["choices"] = meta["choices"]
    shown = "" if default in (dataclasses.MISSING, None, False) or kind is bool else f" (default: {_shown(default)})"
    options["help"] = (doc + shown).replace("%", "%%") or None
    if meta.get("positional"):
        if default is not dataclasses.MISSING:
            options["nargs"] = "*" if options.get("nargs") == "+" else "?"
        parser.add_argument(field.name, **options)
        return
    flags = meta.get("flags", ("--" + field.name.replace("_", "-"),))
    parser.add_argument(*flags, dest=field.name, required=default is dataclasses.MISSING, **options)


def from_options(cls: type[Config], namespace: argparse.Namespace) -> Config:
    """The config with the options given on the command line, its own defaults elsewhere."""
    given = vars(namespace)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if dataclasses.is_dataclass(hints[field.name]):
            values[field.name] = from_options(hints[field.name], namespace)
        elif field.name in given:
            values[field.name] = given[field.name]
    return cls(**values)


def command_line(words: str, config: Any, omit: tuple[str, ...] = ()) -> str:
    """``foreman WORDS`` with the options that make ``config`` (those differing from its defaults),
    less the fields named in ``omit`` (where the output goes, say)."""
    return " ".join(["foreman", words, *_options_of(config, omit)])


def _options_of(config: Any, omit: tuple[str, ...]) -> list[str]:
    parts: list[str] = []
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(hints[field.name]):
            parts += _options_of(value, omit)
            continue
        if field.name in omit or value == _default(field) or not field.init:
            continue
        if field.metadata.get("positional"):
            parts.append(shlex.quote(str(value)))
            continue
        flag = field.metadata.get("flags", ("--" + field.name.replace("_", "-"),))[-1]
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, dict):
            parts += [flag, shlex.quote(",".join(f"{k}={v}" for k, v in value.items()))]
        elif isinstance(value, list | tuple):
            parts += [flag, *(shlex.quote(str(v)) for v in value)]
        else:
            parts += [flag, shlex.quote(str(value))]
    return parts
