"""pass@k against k, one line per run (e.g. baseline vs LintSeq), from score documents."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lintseq.io import atomic_write


def curve_points(scores: dict) -> tuple[list[int], list[float]]:
    """(k, pass@k) from a score document: its full `curve` when present, else its pass@k keys."""
    if scores.get("curve"):
        pts = sorted((int(k), float(v)) for k, v in scores["curve"].items())
    else:
        pts = sorted((int(key[5:]), float(v)) for key, v in scores.items() if key.startswith("pass@"))
    return [k for k, _ in pts], [v for _, v in pts]


def plot_pass_at_k(runs: Sequence[dict], path: str | Path, title: str | None = None) -> None:
    """Write a PNG (atomically) with one pass@k curve per score document in `runs`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    top = 1
    for run in runs:
        ks, vs = curve_points(run)
        if not ks:
            continue
        top = max(top, ks[-1])
        ax.plot(ks, [100 * v for v in vs], marker="o" if len(ks) <= 20 else None, label=run.get("label", "run"))
    k_axis(ax, top)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("pass@k (%)")
    bench: set[str] = {r["benchmark"] for r in runs if r.get("benchmark")}
    ax.set_title(title or (f"pass@k on {', '.join(sorted(bench))}" if bench else "pass@k"))
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_png(fig, Path(path))


def save_png(fig, path: Path) -> None:
    """Write a figure atomically (temp file, then rename) and release it."""
    import matplotlib.pyplot as plt

    try:
        fig.tight_layout()
        with atomic_write(path, "wb") as fh:
            fig.savefig(fh, format="png")
    finally:
        plt.close(fig)


def k_axis(ax, top: int) -> None:
    """Whole-number ticks for k: a log2 axis from k = 8 up, plain integers below."""
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    if top >= 8:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ScalarFormatter())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
