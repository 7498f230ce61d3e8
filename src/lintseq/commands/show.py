"""`lintseq show`: one program's edit sequence, step by step (terminal or HTML)."""

from __future__ import annotations

import click


@click.command("show")
@click.argument("path", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option("--row", type=int, default=None, help="Input row number (the `row` field) [the first in the file].")
@click.option("--task", default=None, help="Task id, in a `lintseq sample` file (e.g. HumanEval/3) [the first].")
@click.option("--sample", type=int, default=None, help="Which of the row's (or task's) samples [the first].")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the same view as an HTML page instead of printing it.",
)
@click.option(
    "--instruction-field", default="instruction", show_default=True, help="Instruction field of generate output."
)
def command(
    path: str, row: int | None, task: str | None, sample: int | None, html_path: str | None, instruction_field: str
) -> None:
    """Show what LintSeq did to one program: each edit's hunks, then the program after it
    with the lines the edit added marked. FILE is `lintseq generate` or `lintseq format`
    output (JSONL or Parquet), or `lintseq sample` output, whose edits are replayed by the
    paper's rule, as `evaluate` resolves them.

    \b
      lintseq show edits.jsonl --row 3 --sample 1
      lintseq show edits.jsonl --row 3 --html row3.html
      lintseq show samples.jsonl --task HumanEval/3 --sample 2
    """
    from lintseq.inspection.sequences import DataError, find_sequence
    from lintseq.inspection.view import export_html, show

    try:
        seq = find_sequence(path, row, sample, instruction_field, task)
    except DataError as exc:
        raise click.ClickException(str(exc)) from None
    if html_path:
        export_html(seq, path, html_path)
        click.echo(f"wrote {html_path}", err=True)
    else:
        show(seq, path)
