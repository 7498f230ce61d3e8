"""Subcommands of the `lintseq` CLI, one module each (exporting `command`)."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource


def command_line_wins(ctx: click.Context, options: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Settings from a config file, overridden by options typed on the command line.

    An option left at its default fills only what the file does not set, so a saved config
    reruns exactly while `--lr 1e-4` on top of it still takes effect.
    """
    merged = dict(values)
    for name, value in options.items():
        given = ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
        if given or name not in merged:
            merged[name] = value
    return merged
