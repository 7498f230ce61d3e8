"""`lintseq evaluate`: run samples against a benchmark's tests in the sandbox; report pass@k."""

from __future__ import annotations

import sys

import click

from lintseq.commands.options import options_from, quiet_option
from lintseq.evaluation.evaluate_settings import EvaluateSettings

BENCHMARK_HELP = (
    "humaneval, humaneval+, mbpp[:split], mbpp-sanitized[:split], mbpp+, or a JSONL file of problems. Repeat to score "
    "the samples on several benchmarks in one pass (e.g. -b humaneval -b humaneval+: same prompts and task ids)."
)


@click.command("evaluate")
@click.argument("samples", type=click.Path(exists=True, dir_okay=False))
@click.option("--benchmark", "-b", "benchmarks", required=True, multiple=True, help=BENCHMARK_HELP)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    help='Write the scores (pass@k, metadata) as JSON (several benchmarks: {"runs": [...]}).',
)
@click.option("--results", type=click.Path(dir_okay=False), help="Write per-problem results as JSON Lines.")
@click.option("--plot", type=click.Path(dir_okay=False), help="Write a PNG of pass@k against k.")
@click.option("--label", help="Name of this run in the table, JSON and plot (default: the samples file name).")
@click.option(
    "--compare",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Score JSON of another run to put beside this one (repeatable).",
)
@options_from(EvaluateSettings)
@quiet_option()
def command(samples, benchmarks, json_out, results, plot, label, compare, quiet, **fields):
    """Score SAMPLES (JSON Lines with task_id and completion, or program) on one or more benchmarks.

    The completion text is scored (a program field only when a row has none): edit sequences
    are resolved by --resolution. With --compare, each other run scored on the same benchmark
    gets a paired bootstrap over the problems both scored: delta = this run - the other, per k,
    with its 95% interval, and a difference is claimed only where that interval excludes 0.

    \b
    humaneval+ and mbpp+ are EvalPlus's HumanEval+ (164 tasks) and MBPP+ (378 tasks), bundled:
    the prompts are HumanEval's and sanitized MBPP's (task ids HumanEval/N, MbppSanitized/N), so
    samples from `sample -b humaneval` (or mbpp-sanitized:all) score on them too. A sample passes
    when it passes every base and plus input, as in EvalPlus; the base score (every base
    input passes, read from the same run) is reported on the line above. The tests need numpy
    in the sandbox.

    \b
    Time limits: a task's tests run as one program, so its limit is max(--min-time-limit,
    --time-factor x T), T the wall time of the reference solution's program, measured in the
    same sandbox with the same workers the first time a task is evaluated on this machine, and
    cached in $LINTSEQ_CACHE (default $XDG_CACHE_HOME/lintseq or ~/.cache/lintseq)/reference-times.json.
    Within it, each input gets twice EvalPlus's limit, 2 x max(1 s, --time-factor x the
    reference's time on it): a sample that loops stops there. Other benchmarks get --timeout.
    """
    from tqdm import tqdm

    from lintseq.evaluation.problems import BenchmarkError, load_benchmark
    from lintseq.evaluation.scoring import EnvironmentProblem, evaluate_many
    from lintseq.evaluation.tables import load_scores, paired_table, table

    settings = EvaluateSettings(**fields)
    if len(set(benchmarks)) != len(benchmarks):
        raise click.BadParameter(f"a benchmark is named twice: {', '.join(benchmarks)}")
    try:
        loaded = [(b, load_benchmark(b)) for b in benchmarks]
    except (BenchmarkError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        others = [d for p in compare for d in load_scores(p)]
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    sandbox = _sandbox(settings)
    progress = None if quiet else (lambda it, desc: tqdm(it, desc=desc, unit="program", file=sys.stderr))
    try:
        reports = evaluate_many(samples, loaded, settings, sandbox=sandbox, label=label, progress=progress)
    except EnvironmentProblem as exc:
        raise click.ClickException(str(exc)) from exc
    several = len(reports) > 1
    for report in reports:
        _warn(report.scores, f"{report.scores['benchmark']}: " if several else "")
    docs = [r.scores for r in reports]
    _write(reports, others, json_out, results, plot)
    click.echo(table([*docs, *others]))
    paired = paired_table(docs, others)
    if paired:
        click.echo(paired)
    first, info = docs[0], sandbox.info
    click.echo(
        f"{first['samples_evaluated']} samples on {first['problems_scored']} problems of {', '.join(benchmarks)} "
        f"in {first['seconds']:.1f} s; sandbox: {info.mode} (network isolated: {info.network_isolated}); "
        + "; ".join(
            f"{d['benchmark']} statuses: {d['statuses']}" if several else f"statuses: {d['statuses']}" for d in docs
        )
    )


def _sandbox(settings: EvaluateSettings):
    """The sandbox, saying on stderr when it is weaker than the strongest mode (or none at all)."""
    from lintseq.evaluation.sandbox import SandboxUnavailable

    try:
        sandbox = settings.sandbox()
    except SandboxUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    if sandbox.info.mode == "none":
        click.echo("warning: --unsafe-no-sandbox: samples run with your permissions and network access", err=True)
    elif sandbox.info.tried:
        click.echo(f"warning: sandbox mode {sandbox.info.mode!r}: {sandbox.info.detail}", err=True)
    return sandbox


def _write(reports: list, others: list[dict], json_out: str | None, results: str | None, plot: str | None) -> None:
    """The files asked for: scores JSON, per-problem JSONL, a pass@k plot (with the compared runs)."""
    from lintseq.evaluation.plot import plot_pass_at_k
    from lintseq.evaluation.tables import scores_document, with_base
    from lintseq.io import write_json, write_jsonl

    docs = [r.scores for r in reports]
    several = len(reports) > 1
    if json_out:
        write_json(json_out, scores_document(docs))
    if results:
        write_jsonl(
            results,
            [{"benchmark": r.scores["benchmark"], **row} if several else row for r in reports for row in r.per_problem],
            ensure_ascii=True,
        )
    if plot:
        runs = with_base([*docs, *others])
        if len({r.get("benchmark") for r in runs}) > 1:
            runs = [{**r, "label": f"{r.get('label', '')} [{r.get('benchmark', '')}]"} for r in runs]
        plot_pass_at_k(runs, plot)


def _warn(s: dict, prefix: str) -> None:
    inp = s["input"]
    bad = inp["malformed_lines"] + inp["missing_fields"] + inp["unknown_task_ids"] + inp["duplicate_samples"]
    if bad:
        click.echo(
            f"warning: {prefix}skipped {inp['malformed_lines']} malformed line(s), {inp['missing_fields']} row(s) "
            f"without task_id/text, {inp['unknown_task_ids']} row(s) with unknown task_id "
            f"(e.g. {inp['unknown_task_id_examples']}), {inp['duplicate_samples']} repeated (task_id, sample) row(s)",
            err=True,
        )
    if s["benchmark"].lower() == "mbpp+" and any(t.startswith("Mbpp/") for t in inp["unknown_task_id_examples"]):
        click.echo(
            f"note: {prefix}mbpp+ names its tasks MbppSanitized/N, as mbpp-sanitized does (EvalPlus writes Mbpp/N)",
            err=True,
        )
    if s["problems_without_samples"]:
        click.echo(
            f"warning: {prefix}{s['problems_without_samples']} of {s['problems']} problems have no samples; "
            "pass@k is over the problems that do",
            err=True,
        )
    if s["k_not_reported"]:
        click.echo(
            f"note: {prefix}pass@k not reported for k={s['k_not_reported']} (fewer samples than k for some problem)",
            err=True,
        )
    limits = s.get("time_limits")
    if limits and limits["reference_failures"]:
        fails = limits["reference_failures"]
        click.echo(
            f"warning: {prefix}the reference solution failed in the sandbox on {len(fails)} task(s) "
            f"({', '.join(f'{t}: {st}' for t, st in list(fails.items())[:5])}); those tasks get --timeout",
            err=True,
        )
