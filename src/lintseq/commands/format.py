"""`lintseq format`: generate output (or raw rows) -> prompt/completion training rows."""

from __future__ import annotations

from typing import Any

import click

from lintseq.commands.options import options_from
from lintseq.formatting import FormatSettings, format_file, load_chat_tokenizer


@click.command("format")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output JSON Lines file.")
@options_from(FormatSettings)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where rejected rows go [beside OUTPUT: out.jsonl -> out.rejects.jsonl].",
)
def command(input_path: str, output: str, rejects: str | None, **fields: Any) -> None:
    """Turn `lintseq generate` output (or raw instruction/program rows for the baseline)
    into TRL prompt/completion rows.

    The baseline keeps one row per program from generate output (sample 0), so matched-step
    comparisons see each program once per epoch, as in the paper.
    """
    settings = FormatSettings(**fields)
    style = settings.style
    chat_tokenizer = None
    if settings.chat:
        if not settings.tokenizer:
            raise click.UsageError("--chat needs --tokenizer PATH_OR_NAME")
        try:
            chat_tokenizer = load_chat_tokenizer(settings.tokenizer)
        except ValueError as e:
            raise click.UsageError(str(e)) from None
    stats = format_file(
        input_path,
        output,
        style,  # type: ignore[arg-type]  # one of STYLES, by the option's choices
        rejects=rejects,
        instruction_field=settings.instruction_field,
        code_field=settings.code_field,
        chat_tokenizer=chat_tokenizer,
    )
    click.echo(f"{style}: {stats.summary()} -> {output}", err=True)
    for reason, count in stats.rejected.most_common():
        click.echo(f"  rejected {count}: {reason}", err=True)
    if stats.written == 0:
        raise click.ClickException("no rows were written")
