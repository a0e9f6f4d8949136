"""Command-line options generated from the config dataclasses, with the reference's flag names."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing


def _field_type(field, owner):
    hint = typing.get_type_hints(owner)[field.name]
    if isinstance(hint, types.UnionType):  # `int | None`
        hint = next(t for t in typing.get_args(hint) if t is not type(None))
    return hint


def add_dataclass_options(parser: argparse.ArgumentParser, cls, skip=()):
    """--name (and --hyphen-name) for every field; booleans are switches that default to off."""
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        flags = [f"--{field.name}"]
        if "_" in field.name:
            flags.append(f"--{field.name.replace('_', '-')}")
        kind = _field_type(field, cls)
        meta = field.metadata
        default_text = "" if field.default in (None, "") else f" (default: {field.default})"
        if kind is bool:
            parser.add_argument(*flags, dest=field.name, action="store_true", help=meta["help"])
        else:
            parser.add_argument(*flags, dest=field.name, type=kind, default=field.default,
                                choices=meta.get("choices"), metavar=None if meta.get("choices") else
                                field.name.upper(), help=meta["help"] + default_text)


def dataclass_from(args: argparse.Namespace, cls):
    """The dataclass instance that add_dataclass_options' flags describe."""
    return cls(**{field.name: getattr(args, field.name) for field in dataclasses.fields(cls)})


# What TensorFlow puts around the reason when an op fails inside a graph: these two lines, then the
# Python stack that defined the op (indented), the reason, and the node's name (indented).
_PREAMBLES = ("Graph execution error", "Detected at node")


def first_line(error: BaseException, limit: int = 300) -> str:
    """An exception as one short line for a user-facing message (TensorFlow's run to many lines): the first
    line that says something, past TensorFlow's graph-execution preamble and stack."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    reasons = [line for line in lines if not line.startswith(_PREAMBLES) and not line[0].isspace()]
    return (reasons or [line.strip() for line in lines] or [type(error).__name__])[0][:limit]


def fail(prog: str, message: str, code: int = 1):
    """One line on stderr, no traceback."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(code)
