"""RUN_DIR/report.md and its plots: did LintSeq beat the baseline, by how much, at what cost.

Per benchmark: pass@k against k for both arms (and the zero-shot base model, when sampled)
with 95% intervals (bootstrap over problems), the paired difference LintSeq - baseline per k
over the same problems with its 95% paired bootstrap interval (a difference is claimed only
where that interval excludes 0), pass@k against the total tokens sampled (k samples per
problem times the mean sample length, the paper's cost view), the share of distinct programs
per arm, the share of samples that hit the token cap, the share of LintSeq samples whose
edits are well-formed diffs, the strict reading's scores as an analysis row, and a table of
each stage's wall time and hardware.

The report stage hands it every path it reads (`ReportFiles`): what the files are called and
where they live is the stage graph's business (`lintseq.experiment.layout`), not the report's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from lintseq.evaluation.passk import bootstrap_interval, paired_difference, pass_at_k, verdict
from lintseq.experiment.layout import ARMS, BASE, FORMAT, GATE, slug
from lintseq.experiment.recipe import ExperimentConfig
from lintseq.io import load_jsonl, write_atomic

RESAMPLES = 2000
COLORS = {"baseline": "tab:blue", "lintseq": "tab:orange", BASE: "tab:gray"}
LABELS = {"baseline": "baseline", "lintseq": "lintseq", BASE: "base (zero-shot)"}


@dataclass(frozen=True)
class RowFiles:
    """What one row (an arm, or the base model) left for one benchmark."""

    samples: Path
    results: Path  # the evaluation's per-problem results
    scores: Path
    lintseq_style: bool  # its samples are edit sequences: their resolved-clean share is reported
    scores_strict: Path | None = None  # the same samples by the diff format's strict reading (design §2.6)


@dataclass(frozen=True)
class ReportFiles:
    benchmarks: dict[str, dict[str, RowFiles]]  # benchmark (as configured) -> row -> files, in report order
    done: dict[str, Path]  # every stage but the report -> its done.json, in run order (the time table)
    training: Path  # train-baseline's done.json: the optimizer steps both arms took
    markdown: Path  # report.md
    figures: Path  # the folder for the plots (report.md links them relative to its own folder)


def arm_curve(results: list[dict], samples: list[dict]) -> dict:
    """pass@k with its 95% interval for every k up to the fewest samples of a problem, and the
    total tokens sampled to reach each k."""
    ns = [r["n"] for r in results]
    cs = [r["correct"] for r in results]
    top = min(ns) if ns else 0
    ks = list(range(1, top + 1))
    scores = pass_at_k(ns, cs, ks)
    tokens = [s.get("n_tokens") or 0 for s in samples]
    mean_tokens = sum(tokens) / len(tokens) if tokens else 0.0
    return {
        "k": ks,
        "pass": [scores[f"pass@{k}"] for k in ks],
        "interval": [bootstrap_interval(ns, cs, k, resamples=RESAMPLES) for k in ks],
        "tokens": [k * mean_tokens * len(ns) for k in ks],
        "mean_tokens": mean_tokens,
        "problems": len(ns),
    }


def _save(fig, path: Path) -> None:
    from lintseq.evaluation.plot import save_png

    save_png(fig, path)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(curves: dict[str, dict], benchmark: str, path: Path, x: str) -> None:
    """pass@k (%) with shaded 95% intervals against k (`x="k"`) or total tokens (`x="tokens"`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for arm, c in curves.items():
        xs = c[x]
        ax.plot(
            xs,
            [100 * v for v in c["pass"]],
            marker="o" if len(xs) <= 20 else None,
            label=LABELS.get(arm, arm),
            color=COLORS.get(arm),
        )
        ax.fill_between(
            xs,
            [100 * lo for lo, _ in c["interval"]],
            [100 * hi for _, hi in c["interval"]],
            alpha=0.2,
            color=COLORS.get(arm),
        )
    top = max((c["k"][-1] for c in curves.values() if c["k"]), default=1)
    if x == "k":
        from lintseq.evaluation.plot import k_axis

        k_axis(ax, top)
    if x == "tokens":
        ax.set_xscale("log")
    ax.set_xlabel("k (samples per problem)" if x == "k" else "total tokens sampled")
    ax.set_ylabel("pass@k (%)")
    highest = max((hi for c in curves.values() for _, hi in c["interval"]), default=0.0)
    ax.set_ylim(0, max(5.0, min(100.0, 110 * highest)))
    ax.set_title(f"{benchmark}: pass@k" + (" vs sampling cost" if x == "tokens" else "") + " (95% bootstrap CI)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    _save(fig, path)


def plot_diversity(div: dict[str, dict[str, float]], path: Path) -> None:
    plt = _plt()
    benches = list(div)
    shown = [r for r in (BASE, *ARMS) if any(r in div[b] for b in benches)]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    width = 0.8 / len(shown)
    for i, arm in enumerate(shown):
        ax.bar(
            [j + i * width for j in range(len(benches))],
            [div[b].get(arm, 0.0) for b in benches],
            width,
            label=LABELS[arm],
            color=COLORS[arm],
        )
    ax.set_xticks([j + width * (len(shown) - 1) / 2 for j in range(len(benches))], benches)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("distinct programs / samples")
    ax.set_title("Diversity of samples per problem (mean)")
    ax.legend()
    _save(fig, path)


def per_task(results: list[dict]) -> dict[str, tuple[int, int]]:
    """{task id: (n, correct)} from an evaluation's per-problem results: what pairing needs."""
    return {r["task_id"]: (int(r["n"]), int(r["correct"])) for r in results}


def paired(cfg: ExperimentConfig, tasks: dict[str, dict[str, tuple[int, int]]]) -> list[dict]:
    """LintSeq - baseline per k over the problems both arms scored, with 95% paired intervals."""
    out = []
    for k in cfg.evaluate.k:
        d = paired_difference(tasks["lintseq"], tasks["baseline"], k, resamples=RESAMPLES)
        if d is not None:
            out.append(d)
    return out


def headline(deltas: dict[str, list[dict]]) -> str:
    """One sentence: at the largest k, what the paired interval lets the run claim per benchmark."""
    parts, claims = [], []
    for bench, ds in deltas.items():
        if not ds:
            parts.append(f"{bench}: no k with enough samples")
            continue
        d = ds[-1]
        lo, hi = d["interval"]
        claim = verdict(d["interval"], "LintSeq beats the baseline", "LintSeq loses to the baseline")
        claims.append(claim)
        parts.append(
            f"{bench} pass@{d['k']} {100 * d['delta']:+.1f} points (95% CI {100 * lo:+.1f} to {100 * hi:+.1f}): {claim}"
        )
    if claims and all(c == claims[0] for c in claims):
        summary = claims[0] if claims[0] != "no difference shown" else "No difference shown"
    else:
        summary = "Mixed"
    return f"**{summary} at the largest k** (paired over problems): " + "; ".join(parts) + "."


def _info(done_files: dict[str, Path], stage: str) -> dict | None:
    path = done_files.get(stage)
    return json.loads(path.read_text(encoding="utf-8")).get("info") if path and path.is_file() else None


def _regime_lines(cfg: ExperimentConfig, done_files: dict[str, Path]) -> list[str]:
    """What the comparison stands on: the regime, the shared program set, the go/no-go check."""
    from lintseq.experiment.regime import outside

    fmt = _info(done_files, FORMAT)
    problems = outside(cfg, fmt)
    lines = []
    if problems:
        lines += ["> **Outside the paper's regime**: read this comparison as a smoke run.", ">"]
        lines += [f"> - {p}" for p in problems] + [""]
    if fmt and "programs" in fmt:
        lines.append(
            f"Both arms trained on the same {fmt['programs']} programs ({fmt['dropped_programs']} left out of both: a "
            f"row longer than {fmt['max_seq_length']} tokens); longest answers "
            + ", ".join(f"{arm} {n}" for arm, n in fmt["longest_completion_tokens"].items())
            + f" tokens, against a sampling cap of {cfg.sample.max_new_tokens}."
        )
    gate = _info(done_files, GATE)
    if gate:
        lines.append(
            f"Go/no-go before sampling: {gate['resolved']} of {gate['samples']} LintSeq samples were edit sequences "
            f"whose every hunk applies ({100 * gate['share']:.0f}%; the run would have stopped below "
            f"{100 * gate['min_share']:.0f}%)"
            + (f"; {gate['parse']} resolved into a program that parses." if "parse" in gate else ".")
        )
    return lines + [""] if lines and lines[-1] else lines


def _stage_table(done_files: dict[str, Path]) -> list[str]:
    rows = ["| stage | wall time | hardware | resumed |", "|---|---:|---|---|"]
    total = 0.0
    for name, path in done_files.items():
        done = json.loads(path.read_text(encoding="utf-8"))
        hw = done.get("hardware", {})
        total += done["seconds"]
        gpu = f", {hw['gpu']}" if hw.get("gpu") else ", no GPU"
        rows.append(
            f"| {name} | {done['seconds']:.1f} s | {hw.get('cpus')} CPUs{gpu} | {'yes' if done.get('resumed') else ''} |"
        )
    rows.append(f"| **total** | {total:.1f} s | | |")
    return rows


@dataclass
class Measured:
    """One benchmark's rows, as read from their files: what its table and plots show."""

    scores: dict[str, dict] = field(default_factory=dict)
    curves: dict[str, dict] = field(default_factory=dict)
    diversity: dict[str, float] = field(default_factory=dict)
    clean: dict[str, float | None] = field(default_factory=dict)
    capped: dict[str, float] = field(default_factory=dict)
    tasks: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)


def measure(by_row: dict[str, RowFiles]) -> Measured:
    m = Measured()
    for arm, row_files in by_row.items():
        samples = load_jsonl(row_files.samples)
        results = load_jsonl(row_files.results)
        m.scores[arm] = json.loads(row_files.scores.read_text(encoding="utf-8"))
        m.curves[arm] = arm_curve(results, samples)
        m.tasks[arm] = per_task(results)
        m.diversity[arm] = m.scores[arm]["diversity"]["mean_distinct_share"]
        m.clean[arm] = clean_share(m.scores[arm]) if row_files.lintseq_style else None
        m.capped[arm] = sum(s.get("finish_reason") == "length" for s in samples) / len(samples) if samples else 0.0
    return m


def write_report(cfg: ExperimentConfig, files: ReportFiles) -> dict:
    """Write the plots into `files.figures` and the report to `files.markdown`; return the
    headline figures."""
    out = files.figures
    measured = {bench: measure(by_row) for bench, by_row in files.benchmarks.items()}
    deltas = {bench: paired(cfg, m.tasks) for bench, m in measured.items()}
    for bench, m in measured.items():
        plot_curves(m.curves, bench, out / f"passk-{slug(bench)}.png", "k")
        plot_curves(m.curves, bench, out / f"passk-tokens-{slug(bench)}.png", "tokens")
    plot_diversity({slug(bench): m.diversity for bench, m in measured.items()}, out / "diversity.png")
    link = Path(os.path.relpath(out, files.markdown.parent)).as_posix()

    lines = ["# LintSeq vs baseline", "", headline(deltas), ""]
    lines += _regime_lines(cfg, files.done)
    lines += _settings_lines(cfg, files)
    for bench, m in measured.items():
        lines += _benchmark_lines(bench, m, files.benchmarks[bench], list(cfg.evaluate.k), deltas[bench], link)
    lines += [
        "LintSeq samples are resolved into programs by the paper's rule (the authors' `resolve_edit_path`: every row of "
        "a hunk inserted at its new-side start, counts and old side ignored), as every LintSeq score in the paper was. "
        "Well-formed diffs: the share of samples whose every hunk the diff format's strict reading applies as written. "
        "The strict row scores the same samples by that reading (`lintseq evaluate --resolution strict`: a hunk whose "
        "header disagrees with its rows is skipped): an analysis of how much of the score rests on malformed hunks, "
        "not the method's score. Hit token cap: samples that ended at the new-token limit, not at an end marker.",
        "",
    ]
    lines += [
        "## Diversity",
        "",
        "Share of distinct programs (after normalising formatting) among each problem's samples.",
        "",
        f"![diversity]({link}/diversity.png)",
        "",
        "## Time and hardware per stage",
        "",
    ]
    lines += _stage_table(files.done)
    write_atomic(files.markdown, "\n".join(lines) + "\n")
    return {
        slug(bench): {arm: {k: v for k, v in s.items() if k.startswith("pass@")} for arm, s in m.scores.items()}
        | {"paired": deltas[bench]}
        for bench, m in measured.items()
    }


def _settings_lines(cfg: ExperimentConfig, files: ReportFiles) -> list[str]:
    model = cfg.model.name or f"{cfg.model.init} GPT-2 pre-trained from scratch"
    sample = cfg.sample
    steps = json.loads(files.training.read_text(encoding="utf-8"))["info"]
    lines = [
        f"Base model: {model}. Both arms: {steps.get('global_step')} optimizer steps, seed {cfg.seed}, "
        f"baseline {cfg.train.baseline_epochs} epochs; LintSeq on s = {cfg.generate.samples} edit sequences per program. "
        f"Sampling: n = {sample.n}, temperature {sample.temperature}, top-p {sample.top_p}, "
        f"min-p {sample.min_p}, at most {sample.max_new_tokens} new tokens"
        + (", prompts through the base model's chat template" if cfg.format.chat else "")
        + "."
    ]
    if any(BASE in by_row for by_row in files.benchmarks.values()):
        style = (
            "chat template, baseline prompt"
            if sample.zero_shot == "chat"
            else "completion of the benchmark's code prompt"
        )
        lines += [f"The base row is the untouched base model sampled zero-shot with the same settings ({style})."]
    return [*lines, ""]


def _benchmark_lines(
    bench: str, m: Measured, by_row: dict[str, RowFiles], ks: list[int], deltas: list[dict], link: str
) -> list[str]:
    """One benchmark's section: pass@k per row with intervals, the strict reading, the paired
    differences and the plots."""
    b, c = slug(bench), m.curves
    lines = [
        f"## {bench} ({c['baseline']['problems']} problems)",
        "",
        "| arm | "
        + " | ".join(f"pass@{k} (95% CI)" for k in ks)
        + " | distinct | mean tokens | hit token cap | well-formed diffs |",
        "|---|" + "---:|" * len(ks) + "---:|---:|---:|---:|",
    ]
    for arm in by_row:
        cells = []
        for k in ks:
            if k <= len(c[arm]["k"]):
                lo, hi = c[arm]["interval"][k - 1]
                cells.append(f"{100 * c[arm]['pass'][k - 1]:.1f} ({100 * lo:.1f}-{100 * hi:.1f})")
            else:
                cells.append("-")
        share = m.clean[arm]
        lines.append(
            f"| {LABELS[arm]} | "
            + " | ".join(cells)
            + f" | {m.diversity[arm]:.3f} | {c[arm]['mean_tokens']:.1f} | {100 * m.capped[arm]:.1f}% | "
            + ("-" if share is None else f"{100 * share:.1f}%")
            + " |"
        )
    return [
        *lines,
        *_strict_rows(by_row, ks),
        "",
        *_paired_rows(deltas),
        "",
        f"![pass@k on {bench}]({link}/passk-{b}.png)",
        f"![pass@k vs tokens on {bench}]({link}/passk-tokens-{b}.png)",
        "",
    ]


def _strict_rows(by_row: dict[str, RowFiles], ks: list[int]) -> list[str]:
    """Table rows for the LintSeq samples rescored by the diff format's strict reading."""
    lines = []
    for arm, row_files in by_row.items():
        path = row_files.scores_strict
        if not row_files.lintseq_style or path is None or not path.is_file():
            continue
        s = json.loads(path.read_text(encoding="utf-8"))
        cells = []
        for k in ks:
            value, interval = s.get(f"pass@{k}"), s.get("intervals95", {}).get(f"pass@{k}")
            cells.append(
                "-" if value is None else f"{100 * value:.1f} ({100 * interval[0]:.1f}-{100 * interval[1]:.1f})"
            )
        distinct = s["diversity"]["mean_distinct_share"]
        lines.append(
            f"| {LABELS[arm]}, strict diff format (analysis) | " + " | ".join(cells) + f" | {distinct:.3f} | | | |"
        )
    return lines


def _paired_rows(deltas: list[dict]) -> list[str]:
    if not deltas:
        return []
    lines = [
        f"Paired difference, LintSeq - baseline, over the {deltas[0]['problems']} problems both arms scored "
        "(95% paired bootstrap interval, in points):",
        "",
        "| k | delta | 95% CI | claim |",
        "|---:|---:|---|---|",
    ]
    for d in deltas:
        lo, hi = d["interval"]
        lines.append(
            f"| {d['k']} | {100 * d['delta']:+.1f} | {100 * lo:+.1f} to {100 * hi:+.1f} | "
            f"{verdict(d['interval'], 'LintSeq beats the baseline', 'LintSeq loses to the baseline')} |"
        )
    return lines


def clean_share(scores: dict) -> float:
    """The share of samples whose edit sequence is a well-formed diff (the strict reading would
    apply every hunk as written), from the evaluation's own resolution counts."""
    evaluated = scores.get("samples_evaluated") or 0
    return scores.get("resolution", {}).get("clean", 0) / evaluated if evaluated else 0.0
