"""Subcommands of the `lintseq` CLI, one module each (exporting `command`).

One grammar: an option means the same thing in every command that has it.

    meaning                         spelling                       commands
    ------------------------------  -----------------------------  ---------------------------------
    where the result goes           -o/--output PATH               all that write
    the first N inputs              --limit N                      sample (problems); mine names its
                                                                   unit: --max-files N
    a random subset of N rows,      --subset N                     generate
      drawn with --seed
    samples per input               -n/--num-samples N             sample (completions per problem)
                                    -s/--samples S                 generate (the paper's s: edit
                                                                   sequences per program)
    progress bars                   on; -q/--quiet turns them off  generate, mine,
                                                                   sample, evaluate, train, pretrain,
                                                                   experiment
    parallel processes              -j/--workers N                 generate, mine, evaluate
    a stopped run in OUTPUT         --resume: continue it          generate, train, pretrain
                                    (sample and experiment continue by themselves when rerun)
    an existing output or run       --overwrite: discard it,       generate, sample,
                                    start over                     train, pretrain, convert
                                    (generate and mine replace a finished output without it)
    rejected rows                   --rejects PATH [out.jsonl ->   generate, format
                                    out.rejects.jsonl]
    a model                         -m/--model                     sample, train
    a settings file                 --config FILE (options typed   train, pretrain
                                    on top of it win)

Why these: `--limit` already meant the first N in `sample` and in the experiment's [data] and
[sample] tables, so generate's random draw got its own name; generate keeps `-s` (the paper's s)
because giving its old `-n` a new meaning would change what old scripts do without a word; the
rejects file sits where generate, the README and `stats` already put it; progress bars and
`-j` follow the commands that had the most users (generate, sample, evaluate; mine).

Options whose value is a setting are derived from the settings dataclass that owns the default
(`TrainConfig`, `PretrainConfig`, `MineSettings`, generate's `Settings`, `SamplingSettings`):
see `lintseq.commands.options`. The spellings of before 0.1 (generate's `-n/--limit` and
`--restart`, `--no-progress`/`--progress`) are gone: a script that uses one stops with a usage
error instead of silently doing something else.
"""

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
