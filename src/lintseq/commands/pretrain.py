"""`lintseq pretrain`: a causal LM from scratch on a raw code corpus, resumable."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from lintseq.commands import command_line_wins
from lintseq.commands.options import options_from, quiet_option
from lintseq.training.config import PRETRAIN_CONFIG_NAME, PretrainConfig, load_config


@click.command("pretrain")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="TOML/JSON settings (e.g. a saved lintseq_pretrain_config.toml); options given here win.",
)
@options_from(PretrainConfig)
@quiet_option()
@click.pass_context
def command(ctx: click.Context, config_path: str | None, quiet: bool, **options) -> None:
    """Pre-train a GPT-2-style model from scratch with the plain next-token loss: a byte-level
    BPE tokenizer trained on the corpus (with <|diff|> in its vocabulary), documents joined
    with EOS and packed into --seq-length sequences, checkpoints every --save-steps steps.
    The output directory is ready for `lintseq train --model DIR`.

    \b
      lintseq mine --raw /usr/lib/python3.11 -o corpus.jsonl
      lintseq pretrain --data corpus.jsonl --init 150m --max-steps 20000 -o runs/tiny150m
      lintseq pretrain -o runs/tiny150m --resume      # after an interruption
    """
    values: dict = {}
    output = options.get("output")
    if options["resume"] and output and (Path(output) / PRETRAIN_CONFIG_NAME).exists():
        values = load_config(Path(output) / PRETRAIN_CONFIG_NAME, PretrainConfig, "pretrain")
    if config_path:
        values.update(load_config(config_path, PretrainConfig, "pretrain"))
    values = command_line_wins(ctx, options, values)
    try:
        cfg = PretrainConfig.from_dict(values)
        cfg.validate()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from lintseq.training.pretrain import pretrain

    try:
        result = pretrain(cfg, progress=not quiet)
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    if not result.main_process:
        return  # under a launcher the main process reports
    final = f", final loss {result.losses[-1]:.4f}" if result.losses else ""
    resumed = f" (resumed from {Path(result.resumed_from).name})" if result.resumed_from else ""
    click.echo(
        f"pre-trained {result.global_step} steps{resumed} on {result.n_tokens} tokens "
        f"({result.n_sequences} sequences){final} -> {result.output}",
        err=True,
    )
