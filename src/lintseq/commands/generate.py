"""`lintseq generate`: a dataset of programs in, LintSeq edit sequences out."""

from __future__ import annotations

import importlib.resources
import importlib.util
import sys
from pathlib import Path

import click

from lintseq.commands.options import options_from, quiet_option, workers_option
from lintseq.engine.generate import Settings, default_workers, generate
from lintseq.engine.journal import ResumeError


def bundled_sample() -> Path:
    return Path(str(importlib.resources.files("lintseq") / "data" / "sample.jsonl"))


@click.command("generate")
@click.argument(
    "input_path", metavar="INPUT", required=False, type=click.Path(exists=False, dir_okay=True, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=True, path_type=Path),
    help="Output JSONL (or .parquet); with --engine ray a directory (Parquet parts if it ends in .parquet).",
)
@click.option("--sample", "use_sample", is_flag=True, help="Use the bundled sample dataset as INPUT.")
@options_from(Settings)
@workers_option("Processes (default: all cores).", type=click.IntRange(1), default=None)
@click.option(
    "--rejects",
    type=click.Path(path_type=Path),
    default=None,
    help="Where rejected rows go [beside OUTPUT: out.jsonl -> out.rejects.jsonl].",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run.")
@click.option("--overwrite", is_flag=True, help="Discard an interrupted run and start over.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default=None, help="Ray cluster address (with --engine ray; default: start a local one).")
@quiet_option("No progress bar or summary.")
def command(
    input_path, output, use_sample, workers, rejects, resume, overwrite, engine, address, quiet, **fields
) -> None:
    """Turn (instruction, program) rows into (instruction, edit sequence) rows.

    INPUT is JSON Lines or Parquet. Each output row keeps the input fields and adds
    `edit_path` (the insertion-only diffs), `sample`, `seed`, `n_edits` and `row`.
    """
    if use_sample:
        if input_path is not None:
            raise click.UsageError("give INPUT or --sample, not both")
        input_path = bundled_sample()
    if input_path is None:
        raise click.UsageError("missing INPUT (or --sample for the bundled dataset)")
    settings = Settings(**fields)
    if settings.linter == "pylint" and importlib.util.find_spec("pylint") is None:
        raise click.ClickException("--linter pylint needs pylint: pip install 'lintseq[pylint]'")
    try:
        if engine == "ray":
            try:
                from lintseq.engine.ray import EngineError, generate_ray
            except ImportError as exc:
                raise click.ClickException(
                    f"--engine ray needs Ray Data ({exc.name} is missing): pip install 'lintseq[ray]'"
                ) from None
            try:
                summary = generate_ray(
                    input_path,
                    output,
                    settings,
                    address=address,
                    rejects_path=rejects,
                    workers=workers,
                    progress=not quiet,
                    restart=overwrite,
                )
            except EngineError as exc:
                raise click.ClickException(str(exc)) from None
        else:
            if not input_path.exists():
                raise click.BadParameter(f"{input_path} does not exist (globs need --engine ray)", param_hint="INPUT")
            if input_path.is_dir():
                raise click.UsageError("a directory of shards needs --engine ray")
            summary = generate(
                input_path,
                output,
                settings,
                workers=workers or default_workers(),
                rejects_path=rejects,
                resume=resume,
                restart=overwrite,
                progress=not quiet,
            )
    except ResumeError as exc:
        raise click.ClickException(str(exc)) from None
    if not quiet:
        click.echo(summary.render(), err=True)
        click.echo(f"wrote {output}", err=True)
    if summary.programs == 0 and summary.rows_in > 0:
        sys.exit(1)
