"""`lintseq pretrain`: a causal LM from scratch on a raw code corpus, resumable."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from lintseq.commands import command_line_wins

from lintseq.training.config import INIT_SIZES, PRETRAIN_CONFIG_NAME, PretrainConfig, load_config


@click.command("pretrain")
@click.option("--data", type=click.Path(exists=True), default=None,
              help="Corpus: JSONL with a text field (`lintseq mine --raw`), or a directory of .py files.")
@click.option("--output", "-o", type=click.Path(file_okay=False), default=None, help="Model directory to write.")
@click.option("--init", "init", type=click.Choice(INIT_SIZES), default="150m", show_default=True,
              help="GPT-2 shape: tiny (tests), 150m (12x768), 400m (24x1024).")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="TOML/JSON settings (e.g. a saved lintseq_pretrain_config.toml); options given here win.")
@click.option("--tokenizer", default=None, help="Tokenizer path [a byte-level BPE trained on the corpus].")
@click.option("--vocab-size", type=int, default=32768, show_default=True, help="For a tokenizer trained on the corpus.")
@click.option("--text-field", default="text", show_default=True, help="JSONL field holding a document.")
@click.option("--epochs", type=float, default=1.0, show_default=True)
@click.option("--max-steps", type=int, default=None, help="Optimizer steps (overrides --epochs).")
@click.option("--seq-length", type=int, default=1024, show_default=True, help="Tokens per packed sequence.")
@click.option("--batch-size", type=int, default=256, show_default=True, help="Effective batch, in sequences.")
@click.option("--micro-batch-size", type=int, default=8, show_default=True, help="Sequences per device per pass.")
@click.option("--lr", type=float, default=3e-4, show_default=True)
@click.option("--lr-scheduler", default="cosine", show_default=True)
@click.option("--warmup-ratio", type=float, default=0.01, show_default=True)
@click.option("--weight-decay", type=float, default=0.1, show_default=True)
@click.option("--adam-beta2", type=float, default=0.95, show_default=True)
@click.option("--max-grad-norm", type=float, default=1.0, show_default=True)
@click.option("--optim", default="adamw_torch", show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--bf16/--no-bf16", default=None, help="[on when the GPU supports it]")
@click.option("--gradient-checkpointing/--no-gradient-checkpointing", default=False, show_default=True)
@click.option("--save-steps", type=int, default=500, show_default=True, help="Checkpoint every N optimizer steps.")
@click.option("--save-total-limit", type=int, default=2, show_default=True, help="Checkpoints kept (0: all).")
@click.option("--resume", is_flag=True,
              help="Continue the run in --output from its last checkpoint (its saved settings are the defaults).")
@click.option("--logging-steps", type=int, default=10, show_default=True)
@click.option("--report-to", type=click.Choice(["none", "tensorboard", "wandb"]), default="none", show_default=True)
@click.option("--overwrite", is_flag=True, help="Delete an existing output directory first.")
@click.pass_context
def command(ctx: click.Context, config_path: str | None, **options) -> None:
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
        result = pretrain(cfg)
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
