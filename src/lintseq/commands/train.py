"""`lintseq train`: fine-tune (or train from scratch) a causal LM on `lintseq format` rows."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from lintseq.commands import command_line_wins
from lintseq.commands.options import options_from, quiet_option
from lintseq.training.config import TrainConfig, load_config


@click.command("train")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="TOML/JSON settings (e.g. a saved lintseq_train_config.toml); options given here win.",
)
@options_from(TrainConfig)
@quiet_option()
@click.pass_context
def command(ctx: click.Context, config_path: str | None, quiet: bool, **options) -> None:
    """Fine-tune a causal LM with TRL's SFTTrainer on prompt/completion rows (loss on the
    completion only), adding <|diff|> as one new token. Saves a directory that transformers
    and vLLM load as is, with the resolved settings in lintseq_train_config.toml. A stopped
    run continues from its last checkpoint with --resume.

    The paper's comparison at equal optimizer steps:

    \b
      lintseq train --model M --data base.jsonl --epochs 10 -o runs/base
      lintseq train --model M --data lintseq.jsonl --match-steps-with base.jsonl --match-epochs 10 -o runs/lintseq
    """
    values = command_line_wins(ctx, options, load_config(config_path) if config_path else {})
    try:
        cfg = TrainConfig.from_dict(values)
        cfg.validate()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from lintseq.training.sft import train

    try:
        result = train(cfg, progress=not quiet)
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    if not result.main_process:
        return  # under a launcher the main process reports
    final = f", final loss {result.losses[-1]:.4f}" if result.losses else ""
    dropped = f" ({result.dropped_too_long} too long, dropped)" if result.dropped_too_long else ""
    resumed = f" (resumed from {Path(result.resumed_from).name})" if result.resumed_from else ""
    click.echo(
        f"trained {result.global_step} steps{resumed} on {result.rows} rows{dropped}{final} -> {result.output}",
        err=True,
    )
