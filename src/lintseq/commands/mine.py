"""`lintseq mine`: instruction rows (or a raw text corpus) from Python source trees."""

from __future__ import annotations

from pathlib import Path

import click

from lintseq.mining.decontaminate import DEFAULT_N
from lintseq.mining.run import DEFAULT_MAX_LINES, DEFAULT_MIN_LINES, MineSettings, mine, summary_path
from lintseq.mining.sources import SourceError, collect


@click.command("mine")
@click.argument("paths", metavar="PATH...", nargs=-1, type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output JSON Lines file.")
@click.option("--package", "packages", multiple=True, metavar="NAME", help="An installed module or package (repeatable).")
@click.option("--stdlib", is_flag=True, help="The standard library (without site-packages).")
@click.option("--site-packages", "site_packages", is_flag=True,
              help="Every installed package in this interpreter's site-packages.")
@click.option("--skip-tests", is_flag=True, help="Skip test suites (test/tests dirs, test_*.py, conftest.py).")
@click.option("--max-files", type=click.IntRange(min=1), default=None, help="Only the first N files (sorted paths).")
@click.option("--raw", is_flag=True, help='Whole files as {"text", "source"} rows: a pre-training corpus.')
@click.option(
    "--min-lines",
    type=click.IntRange(min=0),
    default=None,
    help=f"Fewest lines of code in a function [{DEFAULT_MIN_LINES}] (with --raw: non-blank lines in a file, no limit).",
)
@click.option(
    "--max-lines",
    type=click.IntRange(min=1),
    default=None,
    help=f"Most lines of code in a function [{DEFAULT_MAX_LINES}] (with --raw: non-blank lines in a file, no limit).",
)
@click.option("--min-docstring-chars", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "--self-contained",
    is_flag=True,
    help="Drop functions that use module-level names other than imports and builtins "
    "(helpers, constants, classes of their module); rows list such names in `free_names`.",
)
@click.option("--no-decontaminate", is_flag=True, help="Keep rows that overlap HumanEval / MBPP ids 1-600 / MBPP+.")
@click.option("--ngram", type=click.IntRange(min=1), default=DEFAULT_N, show_default=True, help="Word n-gram size for decontamination.")
@click.option("--no-dedup", is_flag=True, help="Keep exact and near duplicates.")
@click.option(
    "--near-threshold",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.85,
    show_default=True,
    help="MinHash Jaccard similarity at which a row is a near duplicate.",
)
@click.option("-j", "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Processes reading files.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def command(
    paths: tuple[str, ...],
    output: str,
    packages: tuple[str, ...],
    stdlib: bool,
    site_packages: bool,
    skip_tests: bool,
    max_files: int | None,
    raw: bool,
    min_lines: int | None,
    max_lines: int | None,
    min_docstring_chars: int,
    self_contained: bool,
    no_decontaminate: bool,
    ngram: int,
    no_dedup: bool,
    near_threshold: float,
    workers: int,
    no_progress: bool,
) -> None:
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
    if not (paths or packages or stdlib or site_packages):
        raise click.UsageError("nothing to mine: give PATH..., --package NAME, --stdlib or --site-packages")
    if min_lines is not None and max_lines is not None and min_lines > max_lines:
        raise click.UsageError(f"--min-lines {min_lines} is greater than --max-lines {max_lines}")
    try:
        files = collect(paths, packages, stdlib, skip_tests, max_files, site_packages)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from exc
    if not files:
        raise click.ClickException("no Python files found under the given sources")
    settings = MineSettings(
        raw=raw,
        min_lines=min_lines,
        max_lines=max_lines,
        min_docstring_chars=min_docstring_chars,
        decontaminate=not no_decontaminate,
        ngram=ngram,
        dedup=not no_dedup,
        near_threshold=near_threshold,
        self_contained=self_contained,
    )
    from lintseq.evaluation.problems import BenchmarkError

    try:
        summary = mine(files, output, settings, workers=workers, progress=not no_progress)
    except BenchmarkError as exc:
        raise click.ClickException(f"decontamination needs the benchmarks: {exc} (or pass --no-decontaminate)") from exc
    for line in summary.lines():
        click.echo(line, err=True)
    click.echo(f"-> {output} (summary: {summary_path(Path(output))})", err=True)
    if summary.kept == 0:
        raise click.ClickException("no rows were kept")
