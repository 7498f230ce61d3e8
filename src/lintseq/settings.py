"""Fields of settings dataclasses that carry their own command-line option.

A settings dataclass (`TrainConfig`, `MineSettings`, generate's `Settings`, ...) declares each
default once, with its help text and how it is spelled on the command line in the field's
metadata, as TRL's `SFTConfig` does for `HfArgumentParser`; `lintseq.commands.options` turns
the fields into click options. Nothing here imports click, so library code stays free of it.

Metadata keys (all optional):

    help      the option's help text
    flags     its declarations, e.g. ("-o", "--output") or ("--skip-tests/--include-tests")
              [--field-name; a bool field: --field-name, or --field-name/--no-field-name]
    choices   the accepted values
    path      "file", "dir" or "any": the value names a path ...
    exists    ... that must exist
    min, max  bounds of a number (min_open / max_open: exclusive)
    negatable a bool field gets --x/--no-x
    metavar   the value's name in --help
    argument  a positional argument (nargs=-1 for a tuple field) instead of an option
    cli       False: no option for this field
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, field, fields
from typing import Any


def setting(default: Any = MISSING, *, help: str = "", factory: Callable[[], Any] | None = None, **cli: Any) -> Any:
    """A dataclass field with its default, help text and command-line spelling."""
    metadata = {"help": help, **cli}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def problems(cls: type, values: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[str]:
    """What is wrong with `values` for the settings dataclass `cls`, by its fields' own metadata
    (choices, bounds) and defaults (types): the same rules the command line applies, so a
    config file is checked when it is read, not hours later by the stage that uses the value.
    `names` spells a field as the caller's table does (e.g. samples -> s). Unknown keys are the
    caller's to report."""
    out = []
    spelled = names or {}
    for f in fields(cls):
        if f.name not in values:
            continue
        value, meta, key = values[f.name], f.metadata, spelled.get(f.name, f.name)
        default = f.default if f.default is not MISSING else None
        choices = meta.get("choices")
        if choices and value not in choices:
            out.append(f"{key} = {value!r}: expected one of {', '.join(map(str, choices))}")
        elif isinstance(default, bool) and not isinstance(value, bool):
            out.append(f"{key} = {value!r}: expected true or false")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                out.append(f"{key} = {value!r}: expected a number")
                continue
            if isinstance(default, int) and not isinstance(value, int):
                out.append(f"{key} = {value!r}: expected an integer")
                continue
            lo, hi = meta.get("min"), meta.get("max")
            if lo is not None and (value < lo or (meta.get("min_open") and value == lo)):
                out.append(f"{key} = {value!r}: must be {'>' if meta.get('min_open') else '>='} {lo}")
            elif hi is not None and (value > hi or (meta.get("max_open") and value == hi)):
                out.append(f"{key} = {value!r}: must be {'<' if meta.get('max_open') else '<='} {hi}")
        elif isinstance(default, str) and not isinstance(value, str):
            out.append(f"{key} = {value!r}: expected a string")
    return out
