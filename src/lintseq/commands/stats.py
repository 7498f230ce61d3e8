"""`lintseq stats`: a table and plots for a generate/format file, or two side by side."""

from __future__ import annotations

import click


@click.command("stats")
@click.argument("paths", metavar="FILE [FILE2]", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for stats.json, stats.md and the PNG plots.",
)
@click.option(
    "--tokenizer",
    default=None,
    help="Count tokens per row with this tokenizer (path or hub name) [characters without one].",
)
@click.option(
    "--instruction-field", default="instruction", show_default=True, help="Instruction field of generate output."
)
@click.option(
    "--rejects",
    "rejects",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Rejects file of each FILE, in order [the one the run wrote beside it].",
)
def command(
    paths: tuple[str, ...], output: str, tokenizer: str | None, instruction_field: str, rejects: tuple[str, ...]
) -> None:
    """Edits per sequence, lines per edit, tokens per row, what each edit adds (one line, a
    block with its header, several lines) and rejected rows by reason, for `lintseq generate`
    or `lintseq format` output. Two files (e.g. `generate --linter fast` and `--linter none`
    output) are compared side by side.

    \b
      lintseq stats edits.jsonl -o stats/
      lintseq stats fast.jsonl none.jsonl --tokenizer MODEL -o compare/
    """
    import importlib.util

    from lintseq.inspection.sequences import DataError
    from lintseq.inspection.stats import file_stats, labels_for, print_table, write_outputs

    if importlib.util.find_spec("matplotlib") is None:
        raise click.UsageError("lintseq stats draws its plots with matplotlib: pip install 'lintseq[eval]'")
    if len(paths) > 2:
        raise click.UsageError("give one FILE, or two to compare")
    if rejects and len(rejects) != len(paths):
        raise click.UsageError("give one --rejects per FILE, in the same order")
    tok = None
    if tokenizer:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(tokenizer)
        except (OSError, ValueError) as exc:
            raise click.UsageError(f"cannot load tokenizer {tokenizer!r}: {exc}") from None
    labels = labels_for(list(paths))
    try:
        all_stats = [
            file_stats(p, label, tok, instruction_field, rejects[i] if rejects else None)
            for i, (p, label) in enumerate(zip(paths, labels))
        ]
    except (DataError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    print_table(all_stats)
    written = write_outputs(all_stats, output)
    click.echo(f"wrote {', '.join(p.name for p in written)} to {output}", err=True)
