"""Copy what a finished (or stopped) experiment run says into a folder meant for the repository.

    python scripts/export_run.py RUN_DIR OUT --recipe NAME_OR_TOML --command "lintseq experiment ..."

OUT gets `report.md` and its plots (as the report stage wrote them), `scores/<stage>.json` (each
evaluate stage's pass@k, intervals and per-problem counts; LintSeq rows also `<stage>-strict.json`,
the strict reading's analysis), `results/<stage>.jsonl.gz` (each evaluation's per-problem, per-sample
verdicts, so problems can be paired across arms), `samples/<stage>.jsonl.gz` (every sample as the
model wrote it, so anyone can rescore it with another resolver: `lintseq evaluate` reads .gz),
`config.json` (the run's normalised config) and `recipe.toml` (the recipe as written), and `run.md`:
the command that reproduces the run, the code's commit, the machine, and each stage's wall time with
training and sampling tokens/s (scripts/gpu/report.py's counts: lower bounds, loading and saving
included). Models stay out (weights are not committed; the run folder keeps them). Nothing is
copied by hand, so no number in OUT is edited.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))
from report import recipe_text, stage_table, throughput

from lintseq.cache import cache_dir
from lintseq.io import write_atomic, write_json


def _commit() -> str:
    """This checkout's HEAD (and whether src/ differs from it)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"], capture_output=True, text=True
        )
        return head.stdout.strip() + (" (src/ modified)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine() -> str:
    import torch

    threads = os.environ.get("OMP_NUM_THREADS")
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}"
        + (f", OMP_NUM_THREADS={threads}" if threads else "")
    )


def run_markdown(run_dir: Path, recipe: str, command: str, commit: str, table: list[dict], rates: list[dict]) -> str:
    lines = [
        f"# How `{recipe}` was run",
        "",
        "```bash",
        command,
        "```",
        "",
        f"- code: {commit}",
        f"- exported from: {run_dir} on {_machine()}",
        "",
        "| stage | state | seconds | resumed |",
        "| --- | --- | ---: | --- |",
    ]
    lines += [f"| {r['stage']} | {r['state']} | {r.get('seconds', '')} | {r.get('resumed') or ''} |" for r in table]
    total = sum(r.get("seconds") or 0 for r in table)
    lines += [
        f"| total | | {total:.0f} | |",
        "",
        "Throughput (stage wall time, model loading and saving included, so lower bounds; a stage",
        "resumed after a stop counts its last attempt only):",
        "",
        "| stage | tokens | seconds | tokens/s | note |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for t in rates:
        note = t.get("note") or (
            f"{t['cut_at_max_new_tokens']} of {t['samples']} samples hit max_new_tokens" if t.get("samples") else ""
        )
        lines.append(
            f"| {t['stage']} | {t.get('tokens') or ''} | {t['seconds']} | {t.get('tokens_per_s') or ''} | {note} |"
        )
    return "\n".join(lines) + "\n"


def export(run_dir: Path, out: Path, recipe: str, command: str, commit: str) -> None:
    if not (run_dir / "config.json").is_file():
        raise SystemExit(f"{run_dir}: no config.json; not an experiment run folder")
    table = stage_table(run_dir)
    rates = throughput(run_dir, cache_dir(), table)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("report.md", "config.json"):
        if (run_dir / name).is_file():
            write_atomic(out / name, (run_dir / name).read_bytes())
    for plot in sorted((run_dir / "report").glob("*.png")):
        (out / "report").mkdir(exist_ok=True)
        write_atomic(out / "report" / plot.name, plot.read_bytes())
    for scores in sorted(run_dir.glob("evaluate-*/scores*.json")):
        (out / "scores").mkdir(exist_ok=True)
        suffix = scores.stem.removeprefix("scores")  # "" or "-strict"
        write_atomic(out / "scores" / f"{scores.parent.name}{suffix}.json", scores.read_bytes())
    for folder, pattern in (("results", "evaluate-*/results.jsonl"), ("samples", "sample-*/samples.jsonl")):
        for path in sorted(run_dir.glob(pattern)):
            (out / folder).mkdir(exist_ok=True)
            # mtime 0: the same run exports to the same bytes
            write_atomic(out / folder / f"{path.parent.name}.jsonl.gz", gzip.compress(path.read_bytes(), mtime=0))
    write_atomic(out / "recipe.toml", recipe_text(recipe))
    write_json(
        out / "run.json", {"command": command, "commit": commit, "stages": table, "throughput": rates}, default=str
    )
    write_atomic(out / "run.md", run_markdown(run_dir, recipe, command, commit, table, rates))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--recipe", required=True, help="the recipe's name or .toml path, as given to the experiment")
    ap.add_argument("--command", required=True, help="the command that reproduces the run")
    ap.add_argument("--commit", help="the commit whose code ran (default: this checkout's HEAD)")
    a = ap.parse_args()
    export(a.run_dir, a.out, a.recipe, a.command, a.commit or _commit())
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
