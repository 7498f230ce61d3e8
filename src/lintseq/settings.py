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
    csv       a tuple field given as one comma-separated value ("-k 1,5,10"), not repeated
    cli       False: no option for this field

A table of the experiment's TOML that hands settings to a job declares its fields with
`same_as(Job, "name")`, so the recipe, the command line and the library share one name, one
default and one set of checks per setting.
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


def same_as(cls: type, name: str) -> Any:
    """A field with the default, help and checks of `cls`'s field `name` (for a table that hands
    that setting on), so the default is written once, in the job's settings class."""
    f = next((f for f in fields(cls) if f.name == name), None)
    if f is None:
        raise AttributeError(f"{cls.__name__} has no setting {name!r}")
    if f.default_factory is not MISSING:
        return field(default_factory=f.default_factory, metadata=f.metadata)
    return field(default=f.default, metadata=f.metadata)


def default_of(cls: type, name: str) -> Any:
    """The default of `cls`'s setting `name`."""
    f = next(f for f in fields(cls) if f.name == name)
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _number_problem(key: str, value: Any, default: Any, meta: Mapping[str, Any]) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{key} = {value!r}: expected a number"
    if isinstance(default, int) and not isinstance(value, int):
        return f"{key} = {value!r}: expected an integer"
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and (value < lo or (meta.get("min_open") and value == lo)):
        return f"{key} = {value!r}: must be {'>' if meta.get('min_open') else '>='} {lo}"
    if hi is not None and (value > hi or (meta.get("max_open") and value == hi)):
        return f"{key} = {value!r}: must be {'<' if meta.get('max_open') else '<='} {hi}"
    return None


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
        default = default_of(cls, f.name)
        choices = meta.get("choices")
        if value is None and default is None:
            continue
        if choices and value not in choices:
            out.append(f"{key} = {value!r}: expected one of {', '.join(map(str, choices))}")
        elif isinstance(default, bool) and not isinstance(value, bool):
            out.append(f"{key} = {value!r}: expected true or false")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            found = _number_problem(key, value, default, meta)
            if found:
                out.append(found)
        elif isinstance(default, str) and not isinstance(value, str):
            out.append(f"{key} = {value!r}: expected a string")
        elif isinstance(default, (tuple, list)) and default and isinstance(default[0], int):
            if not isinstance(value, (list, tuple)) or not value:
                out.append(f"{key} = {value!r}: expected a non-empty list of integers")
            else:
                bad = next(((v, p) for v in value if (p := _number_problem("", v, 0, meta))), None)
                if bad:  # "k = [1, 0]: 0 must be >= 1"
                    out.append(f"{key} = {value!r}: {bad[0]!r} {bad[1].split(': ', 1)[1]}")
        elif default is None and meta.get("min") is not None:  # an optional count: None or a number
            found = _number_problem(key, value, 0, meta)
            if found:
                out.append(found)
    return out
