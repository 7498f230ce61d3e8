"""The CPU check of the GPU run: device.py's calls on this machine, as the device would see them.

    python scripts/gpu/prepare.py && python scripts/gpu/cpu_check.py     # ~5-10 min on 2 cores

Run it with the project's venv (it provides the packages the device has). It builds:

- a device-like Python: a fresh venv that sees, of this venv's packages, only those
  device-packages.txt lists (symlinked), so what the device lacks must come from the carried
  wheels, and lintseq from the checkout's src/ as on the device;
- a tiny copy of the recipe (device = "cpu", 2 problems per benchmark, n = 2, a few training
  steps; everything else, the benchmarks included, as the recipe has it);
- three calls, each with its own $OUT and only what that call would carry:
  1. the wheels and model part 2 (parts may come in any order): installs, checks, keeps it;
  2. the wheels and part 1: joins, checks, installs, converts, runs the experiment until
     --cut-after seconds, so the next call has to resume it;
  3. the wheels only: resumes to the end.
It fails unless the last call's $OUT holds the report, the scores and the throughput table.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from prepare import PLATFORMS, device_packages  # noqa: E402

OWN_TOOLS = {"pip", "setuptools", "wheel"}  # the new venv has its own
TINY = {  # what the tiny copy changes; every other setting is the recipe's
    "data": {"limit": 12, "mined_rows": 4},
    "data.mine": {"max_files": 20},
    "generate": {"s": 2},
    "train": {"baseline_epochs": 1, "batch_size": 4, "micro_batch_size": 2, "max_seq_length": 512, "save_steps": 2},
    "sample": {"limit": 2, "n": 2, "max_new_tokens": 48, "batch_size": 4, "device": "cpu", "dtype": "float32"},
    "evaluate": {"k": [1, 2], "workers": 2},
}


def device_like_python(work: Path) -> Path:
    """A venv whose only third-party packages are this venv's copies of the device's."""
    venv, farm = work / "devenv", work / "device" / "site-packages"  # the name matters to dill, as there
    python = venv / "bin" / "python"
    if python.exists() and (farm / ".complete").exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(farm, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    farm.mkdir(parents=True)
    listed = device_packages()
    here = {canonicalize_name(d.metadata["Name"]): d for d in md.distributions()}
    # the device's packages, plus what this venv's copies of them need (their versions here may
    # differ from the device's and need other things); not lintseq's or the carried wheels' needs
    todo, linked = [n for n in here if n in listed and n not in OWN_TOOLS], set()
    while todo:
        name = todo.pop()
        if name in linked or name in OWN_TOOLS:
            continue
        linked.add(name)
        dist = here[name]
        for top in {Path(str(f)).parts[0] for f in dist.files or ()} - {"..", "__pycache__"}:
            src = Path(str(dist.locate_file(top)))
            if src.exists() and not (farm / top).exists() and not top.endswith(".pth"):
                (farm / top).symlink_to(src)
        for text in dist.requires or ():
            req = Requirement(text)
            if (req.marker is None or req.marker.evaluate({"extra": ""})) and canonicalize_name(req.name) in here:
                todo.append(canonicalize_name(req.name))
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "device_packages.pth").write_text(f"{farm}\n")
    (farm / ".complete").write_text("\n".join(sorted(linked)) + "\n")
    extra = sorted(linked - set(listed))
    print(
        f"device-like python: {len(linked)} packages linked from this venv; not on the device's list but "
        f"needed by this venv's versions of its packages: {', '.join(extra) or 'none'}"
    )
    return python


def local_wheels(gpu_dir: Path, dest: Path) -> Path:
    """The carried wheels, with any built for CPython 3.12 only swapped for this Python's build."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    for w in sorted(gpu_dir.glob("whl/*.whl")):
        name, version, _, tags = parse_wheel_filename(w.name)
        if all(t.interpreter.startswith(("py3", "cp3")) and t.interpreter not in ("py312", "cp312") for t in tags):
            shutil.copy(w, dest)
            continue
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                *(a for p in PLATFORMS for a in ("--platform", p)),
                "-d",
                str(dest),
                f"{name}=={version}",
            ],
            check=True,
        )
        print(f"  {w.name}: swapped for the {tag} build of the same version (this Python is not 3.12)")
    return dest


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def tiny_recipe(recipe: str, out: Path) -> Path:
    """The recipe with TINY's settings over it (the benchmarks, model and styles unchanged)."""
    sys.path.insert(0, str(REPO / "src"))
    from lintseq.experiment.config import recipe_path

    raw = tomllib.loads(recipe_path(recipe).read_text(encoding="utf-8"))
    for dotted, values in TINY.items():
        table = raw
        for key in dotted.split("."):
            table = table.setdefault(key, {})
        table.update(values)
    lines = [f"# {recipe}, shrunk for scripts/gpu/cpu_check.py (changed: {json.dumps(TINY)})"]
    lines += [f"{k} = {_toml(v)}" for k, v in raw.items() if not isinstance(v, dict)]

    def tables(prefix: str, table: dict) -> None:
        lines.extend(["", f"[{prefix}]"] + [f"{k} = {_toml(v)}" for k, v in table.items() if not isinstance(v, dict)])
        for k, v in table.items():
            if isinstance(v, dict):
                tables(f"{prefix}.{k}", v)

    for k, v in raw.items():
        if isinstance(v, dict):
            tables(k, v)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def call(
    number: int, python: Path, work: Path, wheels: Path, parts: list[Path], run_seconds: float, recipe: Path
) -> Path:
    """One device call: only the wheels and `parts` carried, a fresh $OUT."""
    carried = work / f"carried-{number}"
    shutil.rmtree(carried, ignore_errors=True)
    carried.mkdir()
    (carried / "whl").symlink_to(wheels)
    for part in parts:
        (carried / part.name).symlink_to(part)
    out = work / f"out-{number}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "LINTSEQ_CACHE")}
    env.update(
        OUT=str(out),
        LINTSEQ_GPU_STATE=str(work / "state"),
        LINTSEQ_GPU_CARRIED=str(carried),
        LINTSEQ_GPU_RECIPE=str(recipe),
    )
    # torch's threads spin when a shared machine's cores are busy (measured here: 48 sampling steps
    # at batch 4 took 117-148 s with 2 threads under load, 10-11 s with one)
    env.setdefault("OMP_NUM_THREADS", "1")
    print(
        f"\n==== call {number}: carries whl {' '.join(p.name for p in parts)}; --run-seconds {run_seconds:.0f}",
        flush=True,
    )
    done = subprocess.run(
        ["nice", "-n", "10", str(python), str(HERE / "device.py"), "--run-seconds", str(run_seconds)], cwd=REPO, env=env
    )
    print(
        f"==== call {number} exit {done.returncode}; $OUT: "
        + ", ".join(f"{f.name} ({f.stat().st_size} B)" for f in sorted(out.iterdir()))
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/lintseq-gpu-check"))
    ap.add_argument("--recipe", default=os.environ.get("LINTSEQ_GPU_RECIPE", "smollm2-135m"))
    ap.add_argument("--cut-after", type=float, default=150, help="call 2's --run-seconds (cut mid-run on purpose)")
    ap.add_argument("--keep-state", action="store_true", help="do not start from a fresh machine")
    args = ap.parse_args()
    gpu_dir = REPO / ".gpu"
    parts = sorted(gpu_dir.glob("model-*"))
    if len(parts) < 2 or not any(gpu_dir.glob("whl/*.whl")):
        sys.exit("run `python scripts/gpu/prepare.py` first (it writes .gpu/whl and .gpu/model-*)")
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.keep_state:
        shutil.rmtree(args.work / "state", ignore_errors=True)
    python = device_like_python(args.work)
    wheels = local_wheels(gpu_dir, args.work / "whl")
    recipe = tiny_recipe(args.recipe, args.work / "cpu-check.toml")
    call(1, python, args.work, wheels, parts[1:], 600, recipe)
    call(2, python, args.work, wheels, parts[:1], args.cut_after, recipe)
    out = call(3, python, args.work, wheels, [], 3600, recipe)
    doc = json.loads((out / "run.json").read_text())
    names: list[str] = []
    if (out / "results.tar.gz").exists():
        with tarfile.open(out / "results.tar.gz") as results:
            names = results.getnames()
    problems = [
        p
        for p, bad in [
            ("the run is not complete", not doc["complete"]),
            ("no report.md in $OUT", not (out / "report.md").exists()),
            ("no scores in results.tar.gz", not any(n.endswith("scores.json") for n in names)),
            ("no plots in results.tar.gz", not any(n.endswith(".png") for n in names)),
            (
                "no training tokens/s",
                not any(t.get("tokens_per_s") for t in doc["throughput"] if t["stage"].startswith("train-")),
            ),
            (
                "no sampling tokens/s",
                not any(t.get("tokens_per_s") for t in doc["throughput"] if t["stage"].startswith("sample-")),
            ),
            (
                "call 2 was not cut at its deadline (raise --cut-after's effect: lower it)",
                not any(e.get("stopped_at_deadline") for e in doc["calls"] if e["call"] == 2),
            ),
        ]
        if bad
    ]
    print(
        "\n".join(f"CHECK FAILED: {p}" for p in problems)
        or "\nCPU check passed: every call's $OUT is under " + str(args.work)
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
