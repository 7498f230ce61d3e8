"""`lintseq generate`: a dataset of programs in, LintSeq edit sequences out."""

from __future__ import annotations

import importlib.resources
import importlib.util
import sys
from pathlib import Path

import click

from lintseq.generate import Settings, default_workers, generate
from lintseq.journal import ResumeError


def bundled_sample() -> Path:
    return Path(str(importlib.resources.files("lintseq") / "data" / "sample.jsonl"))


@click.command("generate")
@click.argument("input_path", metavar="INPUT", required=False, type=click.Path(exists=False, dir_okay=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=True, path_type=Path),
              help="Output JSONL (or .parquet); with --engine ray a directory (Parquet parts if it ends in .parquet).")
@click.option("--sample", "use_sample", is_flag=True, help="Use the bundled sample dataset as INPUT.")
@click.option("--instruction-field", default="instruction", show_default=True)
@click.option("--code-field", default="response", show_default=True)
@click.option("-s", "--samples", default=1, show_default=True, type=click.IntRange(1), help="Edit sequences per program.")
@click.option("-n", "--limit", type=click.IntRange(1), default=None, help="Use a random subset of N rows.")
@click.option("--seed", default=0, show_default=True, type=int, help="Run seed; per-program seeds derive from it.")
@click.option("--workers", type=click.IntRange(1), default=None, help="Processes (default: all cores).")
@click.option("--linter", type=click.Choice(["fast", "pylint", "none"]), default="fast", show_default=True,
              help="fast: in-process; pylint: the release's judgement; none: the no-linter ablation.")
@click.option("--weighting", type=click.Choice(["indent", "uniform"]), default="indent", show_default=True,
              help="Which line to delete first: weighted by depth + 1, or uniformly.")
@click.option("--no-markdown", is_flag=True, help="Do not reduce Markdown answers to their code blocks.")
@click.option("--rejects", type=click.Path(path_type=Path), default=None,
              help="Where rejected rows go (default: OUTPUT stem + .rejects.jsonl).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run.")
@click.option("--restart", is_flag=True, help="Discard an interrupted run and start over.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", default=None, help="Ray cluster address (with --engine ray; default: start a local one).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def command(input_path, output, use_sample, instruction_field, code_field, samples, limit, seed, workers, linter,
            weighting, no_markdown, rejects, resume, restart, engine, address, quiet) -> None:
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
    settings = Settings(instruction_field, code_field, samples, seed, linter, weighting, not no_markdown, limit)
    if linter == "pylint" and importlib.util.find_spec("pylint") is None:
        raise click.ClickException("--linter pylint needs pylint: pip install 'lintseq[pylint]'")
    try:
        if engine == "ray":
            try:
                from lintseq.ray_engine import EngineError, generate_ray
            except ImportError as exc:
                raise click.ClickException(
                    f"--engine ray needs Ray Data ({exc.name} is missing): pip install 'lintseq[ray]'"
                ) from None
            try:
                summary = generate_ray(input_path, output, settings, address=address, rejects_path=rejects,
                                       workers=workers, progress=not quiet, restart=restart)
            except EngineError as exc:
                raise click.ClickException(str(exc)) from None
        else:
            if not input_path.exists():
                raise click.BadParameter(f"{input_path} does not exist (globs need --engine ray)", param_hint="INPUT")
            if input_path.is_dir():
                raise click.UsageError("a directory of shards needs --engine ray")
            summary = generate(input_path, output, settings, workers=workers or default_workers(),
                               rejects_path=rejects, resume=resume, restart=restart, progress=not quiet)
    except ResumeError as exc:
        raise click.ClickException(str(exc)) from None
    if not quiet:
        click.echo(summary.render(), err=True)
        click.echo(f"wrote {output}", err=True)
    if summary.programs == 0 and summary.rows_in > 0:
        sys.exit(1)
