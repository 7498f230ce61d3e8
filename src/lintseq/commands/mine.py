"""`lintseq mine`: instruction rows (or a raw text corpus) from Python source trees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lintseq.commands.options import options_from, quiet_option
from lintseq.mining.mine_settings import MineSettings
from lintseq.mining.miner import mine, summary_path
from lintseq.mining.sources import SourceError


@click.command("mine")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output JSON Lines file.")
@options_from(MineSettings)
@quiet_option()
def command(output: str, quiet: bool, **options: Any) -> None:
    """Mine functions with docstrings from PATHs (directories, files), installed packages and
    the standard library into instruction rows.

    Each row: `instruction` ("Write a Python function `sig` to solve the following
    problem:" + docstring), `response` (the function without its docstring, with the
    module-level imports it uses, relative ones made absolute), `free_names` (other
    module-level names it uses; empty when it runs on its own) and `source` (path, qualname,
    lineno and, for installed code, distribution, version, license). Stubs (`pass`, `...`,
    `raise NotImplementedError`) are dropped. Rows sharing a word n-gram with HumanEval or MBPP
    (ids 1-600, and MBPP+ tasks wherever they sit; the rest of the training split 601-974 is fair game), or holding a copy of one of their
    solutions, are dropped, then exact and near duplicates. Files that cannot be parsed or
    mined are counted by reason. The summary is printed and saved as OUTPUT.summary.json.
    """
    settings = MineSettings(**options)
    if not (settings.paths or settings.packages or settings.stdlib or settings.site_packages):
        raise click.UsageError("nothing to mine: give PATH..., --package NAME, --stdlib or --site-packages")
    if settings.min_lines is not None and settings.max_lines is not None and settings.min_lines > settings.max_lines:
        raise click.UsageError(f"--min-lines {settings.min_lines} is greater than --max-lines {settings.max_lines}")
    try:
        files = settings.files()
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    if not files:
        raise click.ClickException("no Python files found under the given sources")
    from lintseq.evaluation.problems import BenchmarkError

    try:
        summary = mine(files, output, settings, progress=not quiet)
    except BenchmarkError as exc:
        raise click.ClickException(f"decontamination needs the benchmarks: {exc} (or pass --no-decontaminate)") from exc
    for line in summary.lines():
        click.echo(line, err=True)
    click.echo(f"-> {output} (summary: {summary_path(Path(output))})", err=True)
    if summary.kept == 0:
        raise click.ClickException("no rows were kept")
