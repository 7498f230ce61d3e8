"""Programs/s per core of `sample_edit_sequence` for each linter, in one run on the same programs.

Absolute times on shared machines drift; the ratios printed at the end hold, because every
backend is timed in the same run on the same programs. Times are CPU seconds of one process
(`time.process_time`), so the figure is per core; wall seconds are printed alongside.

    python benchmarks/speed.py                                # stdlib: fast, none on 400; pylint on 100
    python benchmarks/speed.py --corpus site --release        # installed packages, and the authors' release
    python benchmarks/speed.py --corpus stdlib --corpus site --release

Corpora: `stdlib` (benchmarks/stdlib_corpus.py: short, self-contained standard-library
functions), `site` (benchmarks/site_corpus.py: a fixed sample of the functions `lintseq mine
--site-packages --self-contained` finds in the installed packages, real-world third-party
code with longer functions), or a JSONL path. The two named ones are built on first use.

`fast` and `none` are timed `--repeat` times (median shown); pylint and the release once.

`--release` times `pylintseq==0.0.2` (the authors' package) the way its CLI calls it, in a
separate interpreter that has it installed (`--release-python`; create it with
`python -m venv /tmp/pylintseq-venv && /tmp/pylintseq-venv/bin/pip install pylintseq==0.0.2
pylint==3.2.6 astroid==3.2.4`). It runs from an empty temp directory so it reads no config.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import lintseq
from lintseq.engine.edit_paths import derive_seed
from lintseq.linters import Linter, get_linter

HERE = Path(__file__).resolve().parent
# named corpora: their file, and the command that builds it when it is missing
CORPORA = {
    "stdlib": (HERE / "data" / "stdlib.jsonl", ["stdlib_corpus.py", "-n", "400"]),
    "site": (HERE / "data" / "site.jsonl", ["site_corpus.py", "-n", "400"]),
}
DEFAULT_RELEASE_PYTHON = "/tmp/pylintseq-venv/bin/python"

# Runs inside the release's interpreter: programs on stdin (JSON), timings on stdout (JSON).
RELEASE_SCRIPT = r"""
import json, sys, time
import numpy as np, random
import pylintseq.utils as U
from pylintseq.utils import inflate_edit_path, lintseq_backward_sampling_pythonic, strip_chain_of_thought

calls = [0]
_lint = U.file_linter
def counting_linter(*a, **k):
    calls[0] += 1
    return _lint(*a, **k)
U.file_linter = counting_linter

job = json.load(sys.stdin)
def one(code, seed):
    np.random.seed(seed % 2**32); random.seed(seed)
    code = strip_chain_of_thought(code)
    path = lintseq_backward_sampling_pythonic(
        code, children_per_round=1, top_k=1, max_population_size=1, max_depth=512,
        indent_bias_sampling_factor=1, ignore_imports=False, ignore_comments=True,
        ignore_global_defs=True, ignore_init_errors=False)
    if path is None:
        return 0
    return len(inflate_edit_path(code, path[0][0])[1])
for code, seed in job["warmup"]:
    one(code, seed)
cpu, wall, edits, failed, calls[0] = time.process_time(), time.perf_counter(), 0, 0, 0
for code, seed in job["programs"]:
    n = one(code, seed)
    edits += n
    failed += n == 0
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "edits": edits, "failed": failed, "calls": calls[0]}))
"""


def load_corpus(name: str, field: str) -> tuple[Path, list[dict]]:
    """The rows of a named corpus (built on first use) or of a JSONL file."""
    if name in CORPORA:
        path, build = CORPORA[name]
        if not path.exists():
            print(f"building the {name} corpus into {path} ...", file=sys.stderr)
            subprocess.run([sys.executable, str(HERE / build[0]), *build[1:], "-o", str(path)], check=True)
    else:
        path = Path(name)
        if not path.exists():
            raise SystemExit(f"corpus {path} not found (or name one of {', '.join(CORPORA)})")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    missing = sum(field not in r for r in rows)
    if missing:
        raise SystemExit(f"{path}: {missing} rows have no {field!r} field")
    return path, rows


def describe(path: Path, rows: list[dict], field: str) -> str:
    """Size of a corpus and, for mined rows (`id` = distribution:path:name), where from."""
    codes = [r[field] for r in rows]
    lines = sum(c.count("\n") for c in codes) / len(codes)
    text = f"{len(codes)} programs ({lines:.1f} lines on average) from {path}"
    sources = Counter(str(r.get("id", "")).split(":", 1)[0] for r in rows if ":" in str(r.get("id", "")))
    if sources:
        top = ", ".join(f"{name} {n}" for name, n in sources.most_common(10))
        text += f"\n  from {len(sources)} sources: {top}{', ...' if len(sources) > 10 else ''}"
    return text


class CountingLinter(Linter):
    """Counts the calls the sampler makes to a text-linting backend (pylint)."""

    def __init__(self, inner: Linter) -> None:
        self.inner, self.calls, self.name = inner, 0, inner.name

    def error_lines(self, source: str) -> set[int]:
        self.calls += 1
        return self.inner.error_lines(source)


def time_lintseq(codes: list[str], linter: str, warmup: list[str], seed: int, repeat: int = 1) -> dict:
    """CPU and wall seconds for one sequence per program (the median of `repeat` passes, since
    a pass of `fast` takes a fraction of a second); linter construction not included."""
    if repeat > 1:
        runs = sorted((time_lintseq(codes, linter, warmup, seed) for _ in range(repeat)), key=lambda t: t["cpu"])
        return runs[len(runs) // 2]

    use: str | Linter = linter
    if linter == "pylint":  # `fast` may analyse incrementally; only wrap pylint's text calls
        use = CountingLinter(get_linter(linter))
    elif linter != "none":
        get_linter(linter)
    for code in warmup:
        lintseq.sample_edit_sequence(code, seed=derive_seed(seed, code), linter=use)
    if isinstance(use, CountingLinter):
        use.calls = 0
    cpu, wall, edits = time.process_time(), time.perf_counter(), 0
    for code in codes:
        edits += len(lintseq.sample_edit_sequence(code, seed=derive_seed(seed, code), linter=use))
    return {
        "cpu": time.process_time() - cpu,
        "wall": time.perf_counter() - wall,
        "edits": edits,
        "failed": 0,
        "calls": use.calls if isinstance(use, CountingLinter) else None,
    }


def time_release(codes: list[str], warmup: list[str], seed: int, python: str) -> dict:
    if not Path(python).exists():
        raise SystemExit(
            f"{python} not found; create it with: python -m venv /tmp/pylintseq-venv && "
            "/tmp/pylintseq-venv/bin/pip install pylintseq==0.0.2 pylint==3.2.6 astroid==3.2.4"
        )
    job = {
        "warmup": [[c, derive_seed(seed, c)] for c in warmup],
        "programs": [[c, derive_seed(seed, c)] for c in codes],
    }
    with tempfile.TemporaryDirectory() as empty:
        out = subprocess.run(
            [python, "-c", RELEASE_SCRIPT],
            input=json.dumps(job),
            cwd=empty,
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode:
        raise SystemExit(f"the release failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(name: str, n: int, t: dict) -> dict:
    return {
        "backend": name,
        "programs": n,
        "cpu_s": t["cpu"],
        "wall_s": t["wall"],
        "per_s": n / t["cpu"] if t["cpu"] else float("inf"),
        "ms": 1000 * t["cpu"] / n,
        "edits": t["edits"] / n,
        "failed": t["failed"],
        "calls": t["calls"] / n if t.get("calls") else None,
        "ms_per_call": 1000 * t["cpu"] / t["calls"] if t.get("calls") else None,
    }


def run_corpus(name: str, args: argparse.Namespace) -> list[dict]:
    path, rows = load_corpus(name, args.field)
    codes = [r[args.field] for r in rows][: args.n]
    subset = codes[: args.pylint_subset]
    warmup = codes[-args.warmup :] if args.warmup else []
    print(
        f"\n== {name}: {describe(path, rows[: len(codes)], args.field)}\n"
        f"  pylint subset {len(subset)}; python {sys.version.split()[0]}"
    )

    rows_out = []
    for backend in ("fast", "none"):
        rows_out.append(row(backend, len(codes), time_lintseq(codes, backend, warmup, args.seed, args.repeat)))
        rows_out.append(
            row(f"{backend} (subset)", len(subset), time_lintseq(subset, backend, warmup, args.seed, args.repeat))
        )
    if not args.no_pylint:
        rows_out.append(row("pylint (subset)", len(subset), time_lintseq(subset, "pylint", warmup, args.seed)))
    if args.release:
        rows_out.append(
            row("release 0.0.2 (subset)", len(subset), time_release(subset, warmup, args.seed, args.release_python))
        )

    print(
        f"\n{'backend':<24}{'programs':>9}{'cpu s':>9}{'wall s':>9}{'prog/s':>10}{'ms/prog':>10}"
        f"{'edits':>7}{'lints':>7}{'ms/lint':>9}"
    )
    for r in rows_out:
        calls = f"{r['calls']:>7.1f}{r['ms_per_call']:>9.2f}" if r["calls"] else ""
        print(
            f"{r['backend']:<24}{r['programs']:>9}{r['cpu_s']:>9.2f}{r['wall_s']:>9.2f}"
            f"{r['per_s']:>10.1f}{r['ms']:>10.2f}{r['edits']:>7.1f}{calls}"
        )
        if r["failed"]:
            print(f"{'':<24}({r['failed']} programs returned no edit path)")
    by = {r["backend"]: r["per_s"] for r in rows_out}
    print("\n(edits: per program; lints: linter calls per program; cpu s: process CPU time)")
    print(f"ratios on {name} (programs/s, same run; subset rows on the same subset):")
    if "pylint (subset)" in by:
        print(f"  fast / pylint    {by['fast (subset)'] / by['pylint (subset)']:8.1f}x")
    print(f"  fast / none      {by['fast'] / by['none']:8.2f}x")
    if args.release:
        rel = by["release 0.0.2 (subset)"]
        print(f"  fast / release   {by['fast (subset)'] / rel:8.1f}x")
        if "pylint (subset)" in by:
            print(f"  pylint / release {by['pylint (subset)'] / rel:8.1f}x")
    return [dict(r, corpus=name) for r in rows_out]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--corpus",
        action="append",
        default=None,
        help=f"{' or '.join(CORPORA)} or a JSONL path; repeat for several (default stdlib)",
    )
    ap.add_argument("--field", default="response")
    ap.add_argument("-n", type=int, default=None, help="programs for fast and none (default all)")
    ap.add_argument(
        "--pylint-subset",
        type=int,
        default=100,
        help="programs for pylint and the release: the first N of the same set",
    )
    ap.add_argument("--no-pylint", action="store_true", help="do not time the pylint backend")
    ap.add_argument("--release", action="store_true", help="also time pylintseq 0.0.2")
    ap.add_argument("--release-python", default=DEFAULT_RELEASE_PYTHON)
    ap.add_argument("--warmup", type=int, default=3, help="untimed programs per backend first")
    ap.add_argument("--repeat", type=int, default=5, help="timed passes per lintseq backend; the median is shown")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the tables as JSON")
    args = ap.parse_args()
    rows = [r for name in (args.corpus or ["stdlib"]) for r in run_corpus(name, args)]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
