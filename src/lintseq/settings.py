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

from collections.abc import Callable
from dataclasses import MISSING, field
from typing import Any


def setting(default: Any = MISSING, *, help: str = "", factory: Callable[[], Any] | None = None, **cli: Any) -> Any:
    """A dataclass field with its default, help text and command-line spelling."""
    metadata = {"help": help, **cli}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)
