"""`lintseq train`: fine-tune (or train from scratch) a causal LM on `lintseq format` rows."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from lintseq.commands import command_line_wins

from lintseq.training.config import INIT_SIZES, TrainConfig, load_config

@click.command("train")
@click.option("--model", "model", default=None, help="Pretrained causal LM (path or hub name).")
@click.option("--init", "init", type=click.Choice(INIT_SIZES), default=None, help="Train from scratch at this size.")
@click.option("--data", type=click.Path(exists=True, dir_okay=False), default=None, help="Formatted JSONL.")
@click.option("--output", "-o", type=click.Path(file_okay=False), default=None, help="Model directory to write.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML/JSON settings (e.g. a saved lintseq_train_config.toml); options given here win.")
@click.option("--tokenizer", default=None, help="Tokenizer path/name [the model's; trained on the data with --init].")
@click.option("--vocab-size", type=int, default=8192, show_default=True, help="For a tokenizer trained on the data.")
@click.option("--epochs", type=float, default=1.0, show_default=True)
@click.option("--max-steps", type=int, default=None, help="Optimizer steps (overrides --epochs).")
@click.option("--match-steps-with", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Take as many optimizer steps as a run on this formatted file would.")
@click.option("--match-epochs", type=float, default=None, help="Epochs of that other run [--epochs].")
@click.option("--max-seq-length", type=int, default=1024, show_default=True,
              help="Longer rows are dropped (and counted), never truncated.")
@click.option("--batch-size", type=int, default=512, show_default=True, help="Effective batch, in sequences.")
@click.option("--micro-batch-size", type=int, default=8, show_default=True, help="Sequences per device per pass.")
@click.option("--lr", type=float, default=None, help="Learning rate [by model size: 3e-4 / 5e-5 / 1e-5].")
@click.option("--lr-scheduler", default="linear", show_default=True)
@click.option("--warmup-ratio", type=float, default=0.001, show_default=True)
@click.option("--weight-decay", type=float, default=0.01, show_default=True)
@click.option("--optim", default="adamw_torch", show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--bf16/--no-bf16", default=None, help="[on when the GPU supports it]")
@click.option("--gradient-checkpointing/--no-gradient-checkpointing", default=False, show_default=True)
@click.option("--packing/--no-packing", default=False, show_default=True)
@click.option("--lora", is_flag=True, help="Train a LoRA adapter (merged into the model when saved).")
@click.option("--lora-r", type=int, default=16, show_default=True)
@click.option("--lora-alpha", type=int, default=32, show_default=True)
@click.option("--lora-dropout", type=float, default=0.05, show_default=True)
@click.option("--lora-target-modules", default="all-linear", show_default=True)
@click.option("--logging-steps", type=int, default=10, show_default=True)
@click.option("--report-to", type=click.Choice(["none", "tensorboard", "wandb"]), default="none", show_default=True)
@click.option("--save-steps", type=int, default=500, show_default=True,
              help="Write a checkpoint (to OUTPUT.checkpoints/) every N optimizer steps.")
@click.option("--save-total-limit", type=int, default=1, show_default=True, help="Checkpoints kept; 0 keeps all.")
@click.option("--resume", is_flag=True, help="Continue a stopped run from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output directory (and a stopped run's checkpoints).")
@click.pass_context
def command(ctx: click.Context, config_path: str | None, **options) -> None:
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
        result = train(cfg)
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
