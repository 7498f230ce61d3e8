"""`lintseq sample`: k completions per benchmark problem from a model, written as JSON Lines."""

from __future__ import annotations

import click

from lintseq.commands.options import options_from, pick, quiet_option
from lintseq.inference.backends import make_backend
from lintseq.inference.sample import STYLES, sample_benchmark
from lintseq.inference.samples_file import ResumeMismatch
from lintseq.inference.types import BackendError, BackendUnavailable, SampleSettings


def _load_problems(benchmark: str, limit: int | None) -> list:
    try:
        from lintseq.evaluation.problems import load_benchmark
    except ImportError as e:
        raise click.ClickException(f"benchmarks are not available in this install ({e})") from e
    try:
        problems = load_benchmark(benchmark)
    except (OSError, ValueError, KeyError) as e:
        raise click.ClickException(f"cannot load benchmark {benchmark!r}: {e}") from e
    return problems[:limit] if limit is not None else problems


def _chat_tokenizer(name: str | None):
    """The tokenizer whose chat template renders the prompts (the one `format --chat` used)."""
    if name is None:
        raise click.UsageError("--chat with --backend openai needs --tokenizer (the served model's)")
    from lintseq.formatting import load_chat_tokenizer

    try:
        return load_chat_tokenizer(name)
    except ValueError as e:
        raise click.UsageError(f"--chat: {e}") from None


@click.command(name="sample")
@click.option(
    "--model", "-m", required=True, help="Model directory or name (for --backend openai: the served model's name)."
)
@click.option(
    "--benchmark",
    "-b",
    required=True,
    help="humaneval, humaneval+, mbpp[:split], mbpp-sanitized[:split], mbpp+, or a FILE.jsonl of problems "
    "(humaneval+ has HumanEval's prompts and mbpp+ sanitized MBPP's, so their samples also score on those).",
)
@click.option(
    "--style",
    type=click.Choice(STYLES),
    default="lintseq",
    show_default=True,
    help="lintseq or baseline: the format a model was fine-tuned on with `lintseq format`. completion: for "
    "models never trained on our formats (base models, zero-shot scores): the model continues the "
    "benchmark's own code prompt (HumanEval's signature and docstring; MBPP's task-and-first-assert "
    "docstring) and stops at the bigcode-evaluation-harness's stop words. For an instruct model "
    "zero-shot, use --chat --style baseline instead.",
)
@click.option(
    "--chat",
    is_flag=True,
    help="Render prompts through the tokenizer's chat template: for models trained on "
    "`format --chat` rows, and for instruct models zero-shot (with --style baseline).",
)
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False), help="Samples file (JSON Lines).")
@click.option("--base-url", default=None, help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1.")
@click.option(
    "--api-key", default=None, envvar="OPENAI_API_KEY", help="API key for --backend openai [env OPENAI_API_KEY]."
)
@click.option(
    "--extra-fields/--no-extra-fields",
    "vllm_extras",
    default=True,
    show_default=True,
    help="openai: send vLLM's extra fields (min_p, keep special tokens, return token ids); turn off for endpoints that reject them.",
)
@click.option(
    "--tokenizer", default=None, help="Tokenizer directory or name, if not the model's (openai: for token counts)."
)
@options_from(SampleSettings)
@click.option("--overwrite", is_flag=True, help="Start again even if OUTPUT or OUTPUT.partial exists.")
@quiet_option()
def command(model, benchmark, style, chat, output, overwrite, quiet, **opts) -> None:
    """Sample N completions per problem of a benchmark and write one JSON line per sample.

    Each line has task_id, sample, completion (raw text after the prompt), program (the edit
    sequence resolved by the paper's rule for --style lintseq, the fence-stripped text for
    baseline, the code prompt followed by the completion for completion; `evaluate` scores the
    completion, so this is for reading), resolved_clean (the edits are well-formed diffs),
    n_edits, finish_reason, n_tokens and the run's model, backend and settings. Rows go to
    OUTPUT.partial as problems finish; rerunning the same command after a crash resumes it, and
    OUTPUT appears only when every problem is done.
    """
    try:
        job = SampleSettings(**pick(SampleSettings, opts))
    except ValueError as e:
        raise click.BadParameter(str(e)) from e
    settings, backend = job.decoding(), job.backend
    if chat and style == "completion":
        raise click.UsageError("--style completion continues the benchmark's code; it does not go through --chat")
    if backend == "openai" and not opts["base_url"]:
        raise click.UsageError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
    chat_tokenizer = _chat_tokenizer(opts["tokenizer"] or (None if backend == "openai" else model)) if chat else None
    problems = _load_problems(benchmark, job.limit)
    if not problems:
        raise click.ClickException(f"benchmark {benchmark!r} has no problems")
    if quiet and backend != "openai":
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    try:
        engine = make_backend(
            backend,
            model,
            **job.backend_options(opts["tokenizer"], opts["base_url"], opts["api_key"], opts["vllm_extras"]),
        )
        stats = sample_benchmark(
            problems,
            engine,
            settings,
            style=style,
            out=output,
            model=model,
            benchmark=benchmark,
            overwrite=overwrite,
            progress=not quiet,
            chat_tokenizer=chat_tokenizer,
        )
    except (BackendUnavailable, BackendError, FileExistsError, ResumeMismatch, ValueError, OSError) as e:
        raise click.ClickException(str(e)) from e
    mean = stats.tokens / stats.samples if stats.samples else 0.0
    finish = ", ".join(f"{k} {v}" for k, v in sorted(stats.finish.items())) or "-"
    click.echo(
        f"{output}: {stats.problems} problems x {settings.n} samples"
        + (f" ({stats.resumed} problems resumed)" if stats.resumed else "")
        + f"; this run: {stats.samples} samples, {stats.clean} resolved clean, "
        f"mean {mean:.1f} tokens, finish: {finish}"
    )
