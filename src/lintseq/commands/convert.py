"""`lintseq convert`: a GGUF file (or a known short name) as a Hugging Face model folder."""

from __future__ import annotations

import click

from lintseq.models.gguf import ConvertError


@click.command("convert")
@click.argument("source", metavar="GGUF_OR_NAME", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder to write [for a short name: the cache, printed at the end].",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@click.option("--list", "list_names", is_flag=True, help="List the short model names and whether they are installed.")
def command(source: str | None, output: str | None, overwrite: bool, list_names: bool) -> None:
    """Write a GGUF file's model (dequantized to float32) and tokenizer as a folder that
    `lintseq train --model`, `lintseq sample -m` and transformers load as they are.

    GGUF_OR_NAME is a .gguf file transformers can read (needs `pip install 'lintseq[gguf]'`) or
    a short name such as smollm2-135m (see --list). Short names are accepted directly wherever a
    model is named (`train --model`, `sample -m`, `format --tokenizer`, `[model] name` in an
    experiment); they are converted once into the cache ($LINTSEQ_CACHE, else
    ~/.cache/lintseq), so this command is only needed to do it ahead of time.
    """
    from lintseq.models.names import KNOWN, describe, resolve_model

    if list_names:
        for line in describe():
            click.echo(line)
        return
    if not source:
        raise click.UsageError("give a GGUF file or a short model name (see --list)")
    try:
        if source in KNOWN and output is None:
            click.echo(resolve_model(source))
            return
        if source in KNOWN:
            from lintseq.models.names import packaged_file

            source = str(packaged_file(KNOWN[source]))
        if output is None:
            raise click.UsageError("converting a file needs -o/--output FOLDER")
        from lintseq.models.gguf import convert

        click.echo(convert(source, output, overwrite=overwrite))
    except ConvertError as exc:
        raise click.ClickException(str(exc)) from None
