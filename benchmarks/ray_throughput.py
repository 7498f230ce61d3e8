"""Rows/s of `generate` with the Ray engine against the local engine, in one run on one corpus.

Each engine runs on the same stdlib corpus: local with 1 and 2 worker processes, Ray on a local
instance with 1 and 2 CPUs. For Ray two figures: `cold` is the first run on a fresh instance
(worker processes start and import lintseq), `warm` a second run on the same instance, which
is what a long job on a running cluster sees. Wall time covers the whole call (scan, plan,
process, write) for both engines; Ray's own start-up (`ray.init`) is printed apart. Absolute
rates drift on a shared machine; the ratios against local with 1 worker, taken in the same
run with the runs interleaved (median of `--rounds`), are the figures to quote.

    python benchmarks/ray_throughput.py                    # stdlib.jsonl 5 times over (2000 rows)
    python benchmarks/ray_throughput.py --repeat 20 -s 2   # a longer run
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lintseq.engine.generate import Settings, generate

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "data" / "stdlib.jsonl"


def _corpus(src: Path, repeat: int, dest: Path) -> int:
    """The corpus `repeat` times over (copies redo the same work: seeds derive from the code);
    without a corpus file, 400 functions mined from the stdlib (benchmarks/stdlib_corpus.py)."""
    if src.exists():
        lines = [line for line in src.read_text().splitlines() if line.strip()]
    else:
        sys.path.insert(0, str(HERE))
        from stdlib_corpus import mine

        lines = [json.dumps(row) for row in mine(400)]
    with open(dest, "w") as f:
        for k in range(repeat):
            for line in lines:
                row = json.loads(line)
                row["instruction"] = f"{row.get('instruction', '')} (copy {k})"
                f.write(json.dumps(row) + "\n")
    return len(lines) * repeat


def _timed(fn, *args, **kwargs) -> float:
    began = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - began


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--repeat", type=int, default=5, help="use the corpus this many times over")
    ap.add_argument("--rounds", type=int, default=2, help="timed runs per configuration (median kept)")
    ap.add_argument("-s", "--samples", type=int, default=1)
    args = ap.parse_args()

    import ray

    from lintseq.engine.ray import generate_ray

    settings = Settings(samples=args.samples)
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "corpus.jsonl"
        rows = _corpus(args.corpus, args.repeat, src)
        print(f"{rows} rows, {args.samples} sample(s) each, median of {args.rounds} round(s)")
        for cpus in (1, 2):
            began = time.perf_counter()
            ray.init(num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING)
            print(f"  ray.init with {cpus} CPU(s): {time.perf_counter() - began:.1f} s (not counted below)")
            try:
                run_ray = functools.partial(generate_ray, src, tmp / "ray", settings, workers=cpus, progress=False)
                times.setdefault(f"ray, {cpus} CPU(s), cold", []).append(_timed(run_ray))
                for _ in range(args.rounds):  # interleaved, so a change in machine load hits all alike
                    for workers in (1, 2):
                        times.setdefault(f"local, {workers} worker(s)", []).append(
                            _timed(generate, src, tmp / "local.jsonl", settings, workers=workers, progress=False)
                        )
                    times.setdefault(f"ray, {cpus} CPU(s), warm", []).append(_timed(run_ray))
            finally:
                ray.shutdown()
    order = [
        "local, 1 worker(s)",
        "local, 2 worker(s)",
        "ray, 1 CPU(s), cold",
        "ray, 1 CPU(s), warm",
        "ray, 2 CPU(s), cold",
        "ray, 2 CPU(s), warm",
    ]
    median = {name: statistics.median(times[name]) for name in order}
    base = rows / median["local, 1 worker(s)"]
    print(f"\n{'engine':<26}{'seconds':>9}{'rows/s':>9}{'vs local 1':>12}")
    for name in order:
        rate = rows / median[name]
        print(f"{name:<26}{median[name]:>9.2f}{rate:>9.1f}{rate / base:>11.2f}x")
    print(
        f"ray 2 CPUs / ray 1 CPU (warm): {median['ray, 1 CPU(s), warm'] / median['ray, 2 CPU(s), warm']:.2f}x; "
        f"local 2 / local 1: {median['local, 1 worker(s)'] / median['local, 2 worker(s)']:.2f}x"
    )


if __name__ == "__main__":
    main()
