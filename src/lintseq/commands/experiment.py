"""`lintseq experiment`: baseline vs LintSeq, from the base model to the report, in one command."""

from __future__ import annotations

import click

from lintseq.commands.options import quiet_option


@click.command("experiment")
@click.argument("config", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--recipe", default=None, help="A bundled recipe instead of CONFIG (see --list-recipes).")
@click.option("--list-recipes", is_flag=True, help="Print the bundled recipes and exit.")
@click.option("-o", "--output", "run_dir", type=click.Path(file_okay=False), default=None, help="Run directory.")
@click.option(
    "--plan", is_flag=True, help="Print the stages, what each does and whether it would be skipped; run nothing."
)
@click.option(
    "--stages",
    "patterns",
    multiple=True,
    help="Run only the stages whose names match these glob patterns (comma-separated or repeated, e.g. "
    "'train-*,gate-*,sample-*'); a stage left out is taken as its done.json records it, files unchecked.",
)
@click.option("--until", default=None, metavar="STAGE", help="Run the stages up to and including STAGE only.")
@quiet_option("No progress bars in the stages (their log lines stay).")
def command(
    config: str | None,
    recipe: str | None,
    list_recipes: bool,
    run_dir: str | None,
    plan: bool,
    patterns: tuple[str, ...],
    until: str | None,
    quiet: bool,
) -> None:
    """Run the paper's controlled comparison described by CONFIG (TOML): [mine] -> [pretrain] ->
    generate -> format -> train both arms (matched optimizer steps, same seed) -> sample ->
    evaluate -> RUN_DIR/report.md.

    Every stage writes into RUN_DIR/<stage>/ with a done.json marker; rerunning skips finished
    stages, resumes an interrupted one, and after a config change re-runs only the stages it
    affects and those downstream. --stages and --until split a run between machines that share
    RUN_DIR by carrying it (scripts/gpu/README.md).
    """
    from lintseq.experiment import recipe as config_mod
    from lintseq.experiment import regime, runner, stages
    from lintseq.experiment.layout import REPORT

    if list_recipes:
        for name in config_mod.recipe_names():
            click.echo(name)
        return
    if bool(config) == bool(recipe):
        raise click.UsageError("give exactly one of CONFIG and --recipe NAME")
    if not run_dir:
        raise click.UsageError("give the run directory with -o RUN_DIR")
    try:
        if config:
            cfg = config_mod.load(config)
        else:
            assert recipe is not None  # exactly one of CONFIG and --recipe, checked above
            cfg = config_mod.load(config_mod.recipe_path(recipe))
    except config_mod.ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        only = runner.select(stages.build(cfg), [p for text in patterns for p in text.split(",") if p], until)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    loud = regime.warning(regime.outside(cfg, regime.measured(run_dir)))
    if loud:
        click.secho(loud, err=True, fg="yellow", bold=True)
    if plan:
        for p in runner.plan(cfg, run_dir, only):
            click.echo(f"{p.action:<6} {p.stage.name:<28} {p.stage.what}  [{p.reason}]")
        return
    try:
        steps = runner.run(cfg, run_dir, progress=not quiet, log=lambda m: click.echo(m, err=True), only=only)
    except (ValueError, RuntimeError, OSError) as exc:
        raise click.ClickException(
            f"{type(exc).__name__}: {exc} (the stages that finished are kept: "
            "rerun the same command once this is fixed)"
        ) from exc
    blocked = [p.stage.name for p in steps if p.action == "blocked"]
    if blocked:
        raise click.ClickException(f"not run, an upstream stage left out is not done: {', '.join(blocked)}")
    if only is None or REPORT in only:
        click.echo(f"report: {run_dir}/report.md")
