"""Is an experiment in the paper's regime? (docs/design.md §6.6)

The paper compares the arms where each is a fair test of its data: both train on the same
programs, every program is seen by both arms (the LintSeq arm's s sequences per program get
baseline epochs / s epochs, at least one, with the baseline's optimizer steps), warm-up is a
real ramp, the token cap fits the longest answers, and the whole benchmark is sampled. A run
outside it is allowed (smoke runs are), but `lintseq experiment` says so loudly before it
starts, and the report says so above its numbers.

Some checks need only the config; those about steps and lengths need the training rows, which
the format stage measures (`measured`: its info, once it has run).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lintseq.experiment import layout as names
from lintseq.experiment.recipe import ExperimentConfig
from lintseq.experiment.stages import train_default

MIN_WARMUP_STEPS = 2  # one warm-up step is a step at learning rate 0 and no ramp ...
SHORT_RUN = 100  # ... which matters in a run this short (the paper's 0.001 of thousands of steps is one step too)


def outside(cfg: ExperimentConfig, measured: dict | None = None) -> list[str]:
    """What keeps this experiment out of the paper's regime (empty: nothing found)."""
    out = []
    t, s = cfg.train, cfg.generate.samples
    max_steps = t.settings.get("max_steps")
    if max_steps:
        out.append(
            f"[train] max_steps = {max_steps} gives both arms the same fixed steps, so the LintSeq arm need not "
            "see every program; the paper sets baseline_epochs, and LintSeq epochs = baseline epochs / s"
        )
    elif t.baseline_epochs / s < 1:
        out.append(
            f"the LintSeq arm gets baseline_epochs / s = {t.baseline_epochs:g} / {s} = {t.baseline_epochs / s:.2f} of an "
            f"epoch of its rows, so it does not see every program; give baseline_epochs >= s = {s}"
        )
    if cfg.sample.limit is not None:
        from lintseq.evaluation.problems import load_benchmark

        cut = [b for b in cfg.sample.benchmarks if cfg.sample.limit < len(load_benchmark(b))]
        if cut:
            out.append(f"[sample] limit = {cfg.sample.limit}: only the first problems of {', '.join(cut)} are sampled")
    if not cfg.gate.problems:
        out.append("[gate] problems = 0: no go/no-go check of the LintSeq arm before sampling")
    if measured:
        programs = measured.get("programs")
        batch = t.settings.get("batch_size", train_default("batch_size"))
        ratio = t.settings.get("warmup_ratio", train_default("warmup_ratio"))
        if programs and not max_steps:
            steps = math.ceil(t.baseline_epochs * programs / batch)
            warm = math.ceil(ratio * steps)
            if warm < MIN_WARMUP_STEPS and steps < SHORT_RUN:
                out.append(
                    f"warm-up: warmup_ratio {ratio:g} of about {steps} optimizer steps is {warm} step, a step at "
                    f"learning rate 0 ({1 / steps:.0%} of the run) and no ramp; give warmup_ratio >= "
                    f"{MIN_WARMUP_STEPS / steps:.2f}"
                )
        longest = measured.get("longest_completion_tokens") or {}
        if longest and max(longest.values()) > cfg.sample.max_new_tokens:
            arms = ", ".join(f"{arm} {n}" for arm, n in longest.items())
            out.append(
                f"[sample] max_new_tokens = {cfg.sample.max_new_tokens} is below the longest training answers "
                f"({arms} tokens): the cap would cut answers the arms were trained to give"
            )
    return out


def warning(problems: list[str]) -> str:
    """The loud form, for the terminal and the report."""
    if not problems:
        return ""
    return "OUTSIDE THE PAPER'S REGIME (docs/design.md §6.6); read its comparison as a smoke run:\n" + "\n".join(
        f"  - {p}" for p in problems
    )


def measured(run_dir: str | Path) -> dict | None:
    """What the format stage measured in this run directory, once it has run."""
    done = names.Layout(Path(run_dir)).done(names.FORMAT)
    try:
        return json.loads(done.read_text(encoding="utf-8")).get("info")
    except (OSError, ValueError):
        return None
