"""`lintseq format`: generate output (or raw rows) -> prompt/completion training rows."""

from __future__ import annotations

import click

from lintseq.formatting import STYLES, Style, format_file, load_chat_tokenizer


@click.command("format")
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output JSON Lines file.")
@click.option(
    "--style",
    type=click.Choice(STYLES),
    default="lintseq",
    show_default=True,
    help="lintseq: instruction -> edit sequence; baseline: instruction -> program.",
)
@click.option("--instruction-field", default="instruction", show_default=True)
@click.option(
    "--code-field",
    default="response",
    show_default=True,
    help="Program field, used by the baseline style on rows without edit_path.",
)
@click.option("--chat", is_flag=True, help="Render the prompt through the tokenizer's chat template.")
@click.option("--tokenizer", type=str, default=None, help="Tokenizer (path or name) for --chat.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where rejected rows go [beside OUTPUT: out.jsonl -> out.rejects.jsonl].",
)
def command(
    input_path: str,
    output: str,
    style: Style,
    instruction_field: str,
    code_field: str,
    chat: bool,
    tokenizer: str | None,
    rejects: str | None,
) -> None:
    """Turn `lintseq generate` output (or raw instruction/program rows for the baseline)
    into TRL prompt/completion rows.

    The baseline keeps one row per program from generate output (sample 0), so matched-step
    comparisons see each program once per epoch, as in the paper.
    """
    chat_tokenizer = None
    if chat:
        if not tokenizer:
            raise click.UsageError("--chat needs --tokenizer PATH_OR_NAME")
        try:
            chat_tokenizer = load_chat_tokenizer(tokenizer)
        except ValueError as e:
            raise click.UsageError(str(e)) from None
    stats = format_file(
        input_path,
        output,
        style,
        rejects=rejects,
        instruction_field=instruction_field,
        code_field=code_field,
        chat_tokenizer=chat_tokenizer,
    )
    click.echo(f"{style}: {stats.summary()} -> {output}", err=True)
    for reason, count in stats.rejected.most_common():
        click.echo(f"  rejected {count}: {reason}", err=True)
    if stats.written == 0:
        raise click.ClickException("no rows were written")
