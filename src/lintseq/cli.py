"""The `lintseq` command. Each subcommand lives in `lintseq.commands.<name>` and is imported
only when used, so `lintseq generate` never pays for torch or ray."""

from __future__ import annotations

import importlib
import importlib.util

import click

COMMANDS = {
    "generate": "Turn (instruction, program) rows into LintSeq edit sequences.",
    "format": "Render training rows (LintSeq or baseline style) for fine-tuning.",
    "train": "Fine-tune a causal LM on formatted rows (LintSeq or baseline).",
    "pretrain": "Pre-train a model from scratch on a raw code corpus.",
    "sample": "Sample k completions per benchmark problem from a model.",
    "evaluate": "Run samples against benchmark tests in a sandbox; report pass@k.",
    "mine": "Mine instruction data from Python source trees.",
    "experiment": "Run the baseline-vs-LintSeq experiment from one config.",
    "convert": "Turn a GGUF file (or a short model name) into a model folder.",
    "show": "Show one program's edit sequence step by step (terminal or HTML).",
    "stats": "Numbers and plots for a generate/format file, or two side by side.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._spec(name) is not None]

    @staticmethod
    def _spec(name: str):
        return importlib.util.find_spec(f"lintseq.commands.{name}")

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or self._spec(name) is None:
            return None
        module = importlib.import_module(f"lintseq.commands.{name}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lintseq")
def main() -> None:
    """LintSeq: train code models on synthetic, lint-clean edit sequences."""


if __name__ == "__main__":
    main()
