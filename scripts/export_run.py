"""Copy what a finished (or stopped) experiment run says into a folder meant for the repository.

    python scripts/export_run.py RUN_DIR OUT --recipe NAME_OR_TOML --command "lintseq experiment ..."

OUT gets `report.md` and its plots (as the report stage wrote them), `scores/<stage>.json` (each
evaluate stage's pass@k, intervals and per-problem counts; LintSeq rows also `<stage>-strict.json`,
the strict reading's analysis), `results/<stage>.jsonl.gz` (each evaluation's per-problem, per-sample
verdicts, so problems can be paired across arms), `samples/<stage>.jsonl.gz` (every sample as the
model wrote it, so anyone can rescore it with another resolver: `lintseq evaluate` reads .gz),
`config.json` (the run's normalised config) and `recipe.toml` (the recipe as written), and `run.md`:
the command that reproduces the run, the code's commit, the machine, and each stage's wall time with
training and sampling tokens/s and MFU (lower bounds: loading and saving included; a stage's last
attempt only). Models stay out (weights are not committed; the run folder keeps them). Nothing is
copied by hand, so no number in OUT is edited.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from lintseq.cache import cache_dir
from lintseq.io import write_atomic, write_json

PEAK_BF16_FLOPS = 989.4e12  # H100/H200 SXM dense BF16, datasheet (the device notes measured ~790e12 on matmuls)


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stage_table(run_dir: Path) -> list[dict]:
    """Every stage folder in run order (config order when the plan is known), done or not."""
    order: list[str] = []
    try:
        from lintseq.experiment.layout import CONFIG_RECORD
        from lintseq.experiment.recipe import ExperimentConfig
        from lintseq.experiment.stages import build

        cfg = _json(run_dir / CONFIG_RECORD)
        order = [st.name for st in build(ExperimentConfig.from_dict(cfg))] if cfg else []
    except Exception:
        pass
    if not order and run_dir.is_dir():
        order = sorted(p.name for p in run_dir.iterdir() if p.is_dir())
    table = []
    for name in order:
        done, started = _json(run_dir / name / "done.json"), _json(run_dir / name / "started.json")
        row = {"stage": name, "state": "done" if done else "interrupted" if started else "not started"}
        if done:
            row.update(
                seconds=done["seconds"],
                resumed=done.get("resumed"),
                info=done.get("info"),
                hardware=done.get("hardware"),
            )
        table.append(row)
    return table


def _parameters(run_dir: Path, cache: Path) -> int | None:
    for arm in ("baseline", "lintseq"):
        s = _json(run_dir / f"train-{arm}" / "model" / "train_summary.json")
        if s and s.get("n_parameters"):
            return int(s["n_parameters"])
    for record in sorted(cache.glob("models/*/lintseq_convert.json")):
        doc = _json(record)
        if doc and doc.get("parameters"):
            return int(doc["parameters"])
    return None


def _mean_row_tokens(run_dir: Path, arm: str, max_len: int) -> float | None:
    """Mean tokens of the training rows that fit max_seq_length (lintseq's own count)."""
    from transformers import AutoTokenizer

    from lintseq.training.sft import load_training_rows, sequence_lengths

    tok = AutoTokenizer.from_pretrained(run_dir / f"train-{arm}" / "model")
    kept = [n for n in sequence_lengths(load_training_rows(run_dir / "format" / f"{arm}.jsonl"), tok) if n <= max_len]
    return sum(kept) / len(kept) if kept else None


def _steps_this_attempt(info: dict) -> int | None:
    """Optimizer steps the last attempt made (a resumed run starts at its checkpoint's step)."""
    start = info.get("resumed_from")
    if not start:
        return info.get("global_step")
    m = re.search(r"checkpoint-(\d+)", str(start))
    return info["global_step"] - int(m.group(1)) if m and info.get("global_step") else None


def throughput(run_dir: Path, cache: Path, table: list[dict]) -> list[dict]:
    """tokens/s and MFU of the training and sampling stages, over what their last attempt did
    (done.json's seconds cover that attempt only)."""
    cfg = _json(run_dir / "config.json") or {}
    params = _parameters(run_dir, cache)
    out = []
    for row in table:
        if row["state"] != "done" or not row["stage"].startswith(("train-", "sample-")):
            continue
        info, seconds = row.get("info") or {}, row["seconds"]
        gpu = (row.get("hardware") or {}).get("gpu")
        entry: dict = {"stage": row["stage"], "seconds": seconds, "gpu": gpu, "resumed": row.get("resumed")}
        if row["stage"].startswith("train-"):
            arm, train = row["stage"][len("train-") :], cfg.get("train", {})
            steps = _steps_this_attempt(info)
            try:
                mean = _mean_row_tokens(run_dir, arm, int(train.get("max_seq_length") or 1024))
            except Exception as exc:  # tokenizer or rows unreadable: leave the figure out, say why
                entry["note"] = f"tokens not counted: {type(exc).__name__}: {exc}"
                mean = None
            if mean and steps:
                entry["tokens"] = round(steps * int(train.get("batch_size", 1)) * mean)
                entry["steps"] = steps
            flops_per_token = 6
        else:  # the sampler counts the samples and tokens of this attempt; "all": it found them done
            if info.get("resumed") != "all":
                entry["tokens"], entry["samples"] = info.get("tokens"), info.get("samples")
            entry["cut_at_max_new_tokens"] = (info.get("finish") or {}).get("length", 0)
            flops_per_token = 2
        if entry.get("tokens") and seconds:
            entry["tokens_per_s"] = round(entry["tokens"] / seconds, 1)
            if gpu and params:
                entry["mfu"] = round(flops_per_token * params * entry["tokens_per_s"] / PEAK_BF16_FLOPS, 5)
        out.append(entry)
    return out


def recipe_text(recipe: str) -> str:
    from lintseq.experiment.recipe import recipe_path

    return (Path(recipe) if Path(recipe).suffix == ".toml" else recipe_path(recipe)).read_text(encoding="utf-8")


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
