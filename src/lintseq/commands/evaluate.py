"""`lintseq evaluate`: run samples against a benchmark's tests in the sandbox; report pass@k."""

from __future__ import annotations

import sys

import click


def _ks(_ctx, _param, value: str) -> list[int]:
    try:
        ks = sorted({int(k) for k in value.split(",") if k.strip()})
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}")
    if not ks or ks[0] < 1:
        raise click.BadParameter("every k must be >= 1")
    return ks


@click.command("evaluate")
@click.argument("samples", type=click.Path(exists=True, dir_okay=False))
@click.option("--benchmark", "-b", required=True, help="humaneval, mbpp[:split], mbpp-sanitized[:split], or a JSONL file of problems.")
@click.option("--completion-format", type=click.Choice(["auto", "diff", "program"]), default="auto", show_default=True,
              help="diff: resolve edit sequences; program: plain programs; auto: detect per sample.")
@click.option("-k", "ks", default="1,5,10", show_default=True, callback=_ks, help="Comma-separated k for pass@k (reported only for k <= n).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the scores (pass@k, metadata) as JSON.")
@click.option("--results", type=click.Path(dir_okay=False), help="Write per-problem results as JSON Lines.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a PNG of pass@k against k.")
@click.option("--label", help="Name of this run in the table, JSON and plot (default: the samples file name).")
@click.option("--compare", multiple=True, type=click.Path(exists=True, dir_okay=False), help="Score JSON of another run to put beside this one (repeatable).")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Wall-clock seconds per sample (CPU time gets the same).")
@click.option("--memory-mb", type=int, default=4096, show_default=True, help="Address-space limit per sample.")
@click.option("--workers", type=int, default=None, help="Samples run at once (default: CPU count).")
@click.option("--unsafe-no-sandbox", is_flag=True,
              help="Run samples without any isolation, with your permissions and network access (for machines "
                   "whose kernel allows no sandbox; without it, evaluate refuses there). Only for samples you trust.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def command(samples, benchmark, completion_format, ks, json_out, results, plot, label, compare, timeout, memory_mb, workers,
            unsafe_no_sandbox, quiet):
    """Score SAMPLES (JSON Lines with task_id and completion, or program) on a benchmark."""
    from tqdm import tqdm

    from lintseq.evaluation.plot import plot_pass_at_k
    from lintseq.evaluation.problems import BenchmarkError, load_benchmark
    from lintseq.evaluation.report import load_scores, table, write_json, write_jsonl
    from lintseq.evaluation.run import evaluate
    from lintseq.evaluation.sandbox import Limits, Sandbox, SandboxUnavailable

    if timeout <= 0 or memory_mb < 64:
        raise click.BadParameter("need --timeout > 0 and --memory-mb >= 64")
    try:
        problems = load_benchmark(benchmark)
    except (BenchmarkError, OSError) as exc:
        raise click.ClickException(str(exc))
    try:
        others = [load_scores(p) for p in compare]
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc))
    try:
        sandbox = Sandbox(Limits(timeout=timeout, memory_mb=memory_mb), workers=workers,
                          isolation="none" if unsafe_no_sandbox else "auto")
    except SandboxUnavailable as exc:
        raise click.ClickException(str(exc))
    info = sandbox.info
    if info.mode == "none":
        click.echo("warning: --unsafe-no-sandbox: samples run with your permissions and network access", err=True)
    progress = None if quiet else (lambda it: tqdm(it, desc="running samples", unit="sample", file=sys.stderr))
    report = evaluate(samples, problems, benchmark=benchmark, ks=ks, completion_format=completion_format,
                      sandbox=sandbox, label=label, progress=progress)
    s = report.scores
    inp = s["input"]
    bad = inp["malformed_lines"] + inp["missing_fields"] + inp["unknown_task_ids"] + inp["duplicate_samples"]
    if bad:
        click.echo(f"warning: skipped {inp['malformed_lines']} malformed line(s), {inp['missing_fields']} row(s) "
                   f"without task_id/text, {inp['unknown_task_ids']} row(s) with unknown task_id "
                   f"(e.g. {inp['unknown_task_id_examples']}), {inp['duplicate_samples']} repeated (task_id, sample) row(s)",
                   err=True)
    if s["problems_without_samples"]:
        click.echo(f"warning: {s['problems_without_samples']} of {s['problems']} problems have no samples; "
                   "pass@k is over the problems that do", err=True)
    if s["k_not_reported"]:
        click.echo(f"note: pass@k not reported for k={s['k_not_reported']} (fewer samples than k for some problem)", err=True)
    if json_out:
        write_json(json_out, s)
    if results:
        write_jsonl(results, report.per_problem)
    if plot:
        plot_pass_at_k([s, *others], plot)
    click.echo(table([s, *others]))
    click.echo(f"{s['samples_evaluated']} samples on {s['problems_scored']} problems of {benchmark} in {s['seconds']:.1f} s; "
               f"sandbox: {info.mode} (network isolated: {info.network_isolated}); statuses: {s['statuses']}")
