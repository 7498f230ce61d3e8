"""Options derived from settings dataclasses, and options every command spells the same way (the
grammar is in `lintseq.commands`).

`options_from(TrainConfig)` gives one click option per field, with the field's default, type
and the help text, choices and flags of its metadata (see `lintseq.settings`), so a default is
written once, in the dataclass.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


# ------------------------------------------------------------------- options from dataclasses


def _unwrap(hint: Any) -> Any:
    """`int` for `int | None`."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        return rest[0] if len(rest) == 1 else hint
    return hint


def _click_type(base: Any, meta: typing.Mapping[str, Any]) -> Any:
    if "choices" in meta:
        return click.Choice(list(meta["choices"]))
    if "path" in meta:
        kind = meta["path"]
        return click.Path(exists=meta.get("exists", False), file_okay=kind != "dir", dir_okay=kind != "file")
    if base is int and ("min" in meta or "max" in meta):
        return click.IntRange(meta.get("min"), meta.get("max"))
    if base is float and ("min" in meta or "max" in meta):
        return click.FloatRange(
            meta.get("min"), meta.get("max"), min_open=meta.get("min_open", False), max_open=meta.get("max_open", False)
        )
    return base


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _csv(item: Any, meta: typing.Mapping[str, Any]) -> Callable[[Any, Any, str], tuple]:
    """A callback reading "1,5,10" as a tuple of `item`, each checked as a single value would be."""
    convert = _click_type(item, meta)

    def parse(ctx: Any, param: Any, value: str) -> tuple:
        parts = [v.strip() for v in str(value).split(",") if v.strip()]
        if not parts:
            raise click.BadParameter("expected comma-separated values")
        try:
            return tuple(sorted({click.types.convert_type(convert)(v, param, ctx) for v in parts}))
        except click.BadParameter as exc:
            raise click.BadParameter(f"{value!r}: {exc.message}") from None

    return parse


def field_option(f: dataclasses.Field, hint: Any) -> Decorator:
    """The click option (or argument) for one settings field."""
    meta = f.metadata
    base = _unwrap(hint)
    default = _default(f)
    many = typing.get_origin(base) is tuple
    item = typing.get_args(base)[0] if many else base
    if meta.get("argument"):
        return click.argument(
            f.name, nargs=-1 if many else 1, metavar=meta.get("metavar"), type=_click_type(item, meta)
        )
    dashed = "--" + f.name.replace("_", "-")
    help_text = meta.get("help") or None
    if base is bool:
        paired = meta.get("negatable") or default is not False
        decls = meta.get("flags") or ((f"{dashed}/--no-{dashed[2:]}",) if paired else (dashed,))
        if any("/" in d for d in decls):
            return click.option(*decls, f.name, default=default, help=help_text, show_default=default is not None)
        return click.option(*decls, f.name, is_flag=True, default=default, help=help_text)
    decls = meta.get("flags") or (dashed,)
    if many and meta.get("csv"):
        return click.option(
            *decls,
            f.name,
            default=",".join(map(str, default)),
            show_default=True,
            callback=_csv(item, meta),
            metavar=meta.get("metavar"),
            help=help_text,
        )
    if many:
        return click.option(
            *decls, f.name, multiple=True, type=_click_type(item, meta), metavar=meta.get("metavar"), help=help_text
        )
    # an empty string is a required value without a default (a path to give): nothing to show or check
    cli_default = None if default == "" else default
    return click.option(
        *decls,
        f.name,
        type=_click_type(base, meta),
        default=cli_default,
        metavar=meta.get("metavar"),
        show_default=cli_default is not None,
        help=help_text,
    )


def options_from(cls: type, *, skip: typing.Iterable[str] = ()) -> Decorator:
    """One click option per field of the dataclass `cls`, in field order (less `skip` and the
    fields whose metadata says cli=False)."""
    hints = typing.get_type_hints(cls)
    skipped = set(skip)
    decorators = [
        field_option(f, hints[f.name])
        for f in dataclasses.fields(cls)
        if f.name not in skipped and f.metadata.get("cli", True)
    ]

    def apply(fn: Callable[..., Any]) -> Callable[..., Any]:
        for decorate in reversed(decorators):
            fn = decorate(fn)
        return fn

    return apply


def pick(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """The entries of `values` that are fields of `cls`."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in values.items() if k in names}


# --------------------------------------------------------------------- the shared spellings


def quiet_option(help: str = "No progress bar.") -> Decorator:
    return click.option("-q", "--quiet", is_flag=True, help=help)


def workers_option(help: str, **kwargs: Any) -> Decorator:
    return click.option("-j", "--workers", help=help, **kwargs)
