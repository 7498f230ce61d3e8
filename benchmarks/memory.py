"""Peak memory of a long run: does RSS stay flat over 10,000 programs?

Each backend runs in its own fresh process (so one backend's footprint does not hide another's),
cycling the corpus with a new seed on every pass, and reports peak RSS (`VmHWM`, the same figure
as `ru_maxrss`) and current RSS at checkpoints: a tenth of the run, the end of the first pass
over the corpus (pylint's astroid has then loaded every module the corpus imports), the end.

    python benchmarks/memory.py                       # fast on 10,000 (1k and 10k)
    python benchmarks/memory.py --pylint 2000         # and pylint on 2,000 (200, 400, 2k)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "data" / "stdlib.jsonl"


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    import resource  # not Linux: ru_maxrss (KiB on Linux, bytes on macOS) is the fallback

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(corpus: Path, field: str, linter: str, count: int, checkpoints: list[int]) -> None:
    """Runs in the measured process: one JSON line per checkpoint on stdout."""
    import lintseq
    from lintseq.engine.edit_paths import derive_seed

    codes = [json.loads(line)[field] for line in corpus.read_text().splitlines() if line.strip()]
    if len(codes) < count:  # the end of the first pass: every import the corpus makes is loaded
        checkpoints = sorted(set(checkpoints) | {len(codes)})
    print(json.dumps({"at": 0, "peak_mb": _status_mb("VmHWM"), "rss_mb": _status_mb("VmRSS")}), flush=True)
    start = time.process_time()
    for i in range(count):
        code = codes[i % len(codes)]
        lintseq.sample_edit_sequence(code, seed=derive_seed(i // len(codes), code), linter=linter)
        if i + 1 in checkpoints:
            print(
                json.dumps(
                    {
                        "at": i + 1,
                        "peak_mb": _status_mb("VmHWM"),
                        "rss_mb": _status_mb("VmRSS"),
                        "cpu_s": time.process_time() - start,
                    }
                ),
                flush=True,
            )


def measure(args: argparse.Namespace, linter: str, count: int) -> list[dict]:
    checkpoints = sorted({max(1, count // 10), count})
    cmd = [
        sys.executable,
        __file__,
        "--child",
        linter,
        "--count",
        str(count),
        "--checkpoints",
        ",".join(map(str, checkpoints)),
        "--corpus",
        str(args.corpus),
        "--field",
        args.field,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"{linter} run failed:\n{out.stderr[-2000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--field", default="response")
    ap.add_argument("--fast", type=int, default=10_000, help="programs for the fast backend")
    ap.add_argument("--pylint", type=int, default=0, help="programs for the pylint backend (0: skip)")
    ap.add_argument("--none", type=int, default=0, help="programs for the no-linter ablation")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--checkpoints", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.corpus, args.field, args.child, args.count, [int(c) for c in args.checkpoints.split(",")])
        return
    if not args.corpus.exists():
        subprocess.run(
            [sys.executable, str(HERE / "stdlib_corpus.py"), "-n", "400", "-o", str(args.corpus)], check=True
        )

    print(f"corpus {args.corpus}; each backend in a fresh process; MB = MiB")
    print(f"\n{'backend':<10}{'programs':>10}{'peak RSS':>10}{'RSS':>8}{'cpu s':>9}  peak growth since the row above")
    for linter, count in (("fast", args.fast), ("pylint", args.pylint), ("none", args.none)):
        if count <= 0:
            continue
        points = measure(args, linter, count)
        for prev, p in zip([None] + points, points):
            cpu = f"{p['cpu_s']:9.1f}" if "cpu_s" in p else f"{'':9}"
            grow = f"  {p['peak_mb'] - prev['peak_mb']:+.1f} MB" if prev else ""
            print(f"{linter:<10}{p['at']:>10}{p['peak_mb']:>10.1f}{p['rss_mb']:>8.1f}{cpu}{grow}")


if __name__ == "__main__":
    main()
