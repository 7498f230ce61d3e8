"""Verdicts and time: `lintseq evaluate` on HumanEval+ / MBPP+ against EvalPlus's own evaluator,
on the same samples, in one run, with the same number of workers.

Samples per task: the reference solution, and up to --mutants subtly wrong variants of it (one
AST mutation each: a boundary comparison flipped, `<` <-> `<=`, `>` <-> `>=`; an integer constant
off by one; a `range` ending one early), so both evaluators see passes, base-only passes and
failures. Some mutants are equivalent to the reference and rightly pass.

EvalPlus (`pip install 'lintseq[evalplus]'`) runs offline on the plain release files in
tests/data/evalplus (HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH, restricted to the tasks
sampled); a sample passes its "+" benchmark when its base and plus statuses both pass. Both
start cold: lintseq measures the reference solutions' times (a fresh cache directory), EvalPlus
computes its expected outputs (a fresh XDG_CACHE_HOME).

    python benchmarks/evalplus_agreement.py                       # both, every task, 3 mutants
    python benchmarks/evalplus_agreement.py -b humaneval+ --every 8 --mutants 2

Prints the agreement on the "+" verdicts (and on the base verdicts, where lintseq runs the base
benchmark's own tests and EvalPlus its base inputs), every disagreement with its task id, both
times, and how many tasks needed the derived time limit. A task whose reference solution
EvalPlus itself fails cannot be judged by it (EvalPlus 0.3.1 fails every HumanEval/32 sample: its
find_zero oracle skips recording the pass; on a busy machine its per-input limits fail slow
references, e.g. MBPP+ 255, 599): such tasks are listed apart, and the script exits 1 only on a
"+" disagreement on the other tasks.
"""

from __future__ import annotations

import argparse
import ast
import copy
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "evalplus"
PLAIN = {
    "humaneval+": ("HumanEvalPlus.jsonl.gz", "HUMANEVAL_OVERRIDE_PATH", "humaneval"),
    "mbpp+": ("MbppPlus.jsonl.gz", "MBPP_OVERRIDE_PATH", "mbpp"),
}
FLIPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}


def _sites(tree: ast.AST) -> list[tuple[int, str]]:
    """(walk index, kind) of every place a mutation applies."""
    sites = []
    for i, node in enumerate(ast.walk(tree)):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in FLIPS:
            sites.append((i, "flip"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            sites.append((i, "plus1"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" and node.args:
            sites.append((i, "range"))
    return sites


def _mutate(tree: ast.AST, index: int, kind: str) -> str:
    tree = copy.deepcopy(tree)
    node = next(n for i, n in enumerate(ast.walk(tree)) if i == index)
    if kind == "flip":
        node.ops[0] = FLIPS[type(node.ops[0])]()
    elif kind == "plus1":
        node.value += 1
    else:
        end = len(node.args) - 1 if len(node.args) > 1 else 0
        node.args[end] = ast.BinOp(node.args[end], ast.Sub(), ast.Constant(1))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def mutants(program: str, limit: int) -> list[tuple[str, str]]:
    """Up to `limit` (description, program) variants, at sites spread over the program."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return []
    sites = _sites(tree)
    if not sites or limit < 1:
        return []
    step = len(sites) / min(limit, len(sites))
    chosen = [sites[int(i * step)] for i in range(min(limit, len(sites)))]
    out = []
    for index, kind in chosen:
        try:
            out.append((f"{kind}@{index}", _mutate(tree, index, kind)))
        except (ValueError, TypeError, RecursionError):
            continue
    return out


def evalplus_id(task_id: str) -> str:
    return task_id.replace("MbppSanitized/", "Mbpp/")


def run_evalplus(bench: str, rows: list[dict], ids: set[str], workers: int, tmp: Path) -> tuple[dict, float, float]:
    """EvalPlus's results ({task_id: [result, ...]}), its total seconds and its ground-truth seconds."""
    name, env_var, dataset = PLAIN[bench]
    plain = tmp / name.removesuffix(".gz")
    with gzip.open(DATA / name, "rt", encoding="utf-8") as fh:
        plain.write_text("".join(line for line in fh if json.loads(line)["task_id"] in ids), encoding="utf-8")
    samples = tmp / f"evalplus-{dataset}.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = {**os.environ, env_var: str(plain), "XDG_CACHE_HOME": str(tmp / "evalplus-cache")}
    code = (
        "import os, sys, time\nfrom evalplus.evaluate import evaluate\nt = time.perf_counter()\n"
        f"evaluate(dataset={dataset!r}, samples={str(samples)!r}, parallel={workers})\n"
        "print('ELAPSED', time.perf_counter() - t, flush=True)\nos._exit(0)\n"
    )  # not waiting for its 20 s watchdog thread
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode != 0 or "ELAPSED" not in done.stdout:
        sys.exit(f"EvalPlus failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    elapsed = float(re.search(r"ELAPSED ([\d.]+)", done.stdout).group(1))
    gt = re.search(r"Expected outputs computed in ([\d.]+)s", done.stdout)
    result = json.loads(Path(str(samples).replace(".jsonl", "_eval_results.json")).read_text())
    return result["eval"], elapsed, float(gt.group(1)) if gt else 0.0


def compare(bench: str, args: argparse.Namespace, tmp: Path) -> bool:
    from lintseq.evaluation.problems import load_benchmark
    from lintseq.evaluation.sandbox import Limits, Sandbox
    from lintseq.evaluation.scoring import evaluate

    problems = load_benchmark(bench)[:: args.every]
    ours_rows, theirs_rows, what = [], [], {}
    for p in problems:
        variants = [("reference", p.canonical_solution), *mutants(p.canonical_solution, args.mutants)]
        for i, (desc, program) in enumerate(variants):
            ours_rows.append({"task_id": p.task_id, "sample": i, "completion": program})
            theirs_rows.append({"task_id": evalplus_id(p.task_id), "solution": program})
            what[(p.task_id, i)] = desc
    n = len(ours_rows)
    print(f"\n== {bench}: {len(problems)} tasks, {n} samples ({n - len(problems)} mutants), {args.workers} workers")

    samples = tmp / f"ours-{bench}.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in ours_rows), encoding="utf-8")
    os.environ["LINTSEQ_CACHE"] = str(tmp / "lintseq-cache")
    box = Sandbox(Limits(timeout=args.timeout), workers=args.workers)
    t0 = time.perf_counter()
    report = evaluate(samples, problems, benchmark=bench, k=[1], sandbox=box, completion_format="program")
    ours = time.perf_counter() - t0
    box.close()

    theirs_eval, theirs, gt = run_evalplus(
        bench, theirs_rows, {evalplus_id(p.task_id) for p in problems}, args.workers, tmp
    )

    plus_diff, base_diff, caught, harness = [], [], [], []
    agree = base_agree = trusted = trusted_agree = 0
    for row in report.per_problem:
        results = theirs_eval[evalplus_id(row["task_id"])]
        ref = results[0]  # sample 0 is the reference solution
        judged = ref["base_status"] == ref["plus_status"] == "pass"
        if not judged:
            harness.append(f"{row['task_id']} (base {ref['base_status']}, plus {ref['plus_status']})")
        for i, (st, base_st, r) in enumerate(zip(row["statuses"], row["base_statuses"], results)):
            theirs_plus = r["base_status"] == r["plus_status"] == "pass"
            theirs_base = r["base_status"] == "pass"
            trusted += judged
            if (st == "passed") == theirs_plus:
                agree += 1
                trusted_agree += judged
            else:
                plus_diff.append(
                    f"{row['task_id']} sample {i} ({what[(row['task_id'], i)]}): lintseq {st}, "
                    f"EvalPlus base {r['base_status']} plus {r['plus_status']}"
                    + ("" if judged else " [EvalPlus fails the reference on this task]")
                )
            if base_st == "passed" and st != "passed":
                caught.append(f"{row['task_id']} sample {i} ({what[(row['task_id'], i)]})")
            if (base_st == "passed") == theirs_base:
                base_agree += 1
            else:
                base_diff.append(
                    f"{row['task_id']} sample {i} ({what[(row['task_id'], i)]}): lintseq base {base_st}, "
                    f"EvalPlus base {r['base_status']}"
                )
    s = report.scores
    lim = s["time_limits"]
    ref_total = sum(1 for r in report.per_problem if r["samples"] and r["statuses"][0] == "passed")
    print(f"references passing: lintseq {ref_total}/{len(problems)}")
    print(f"'+' verdicts agree: {agree}/{n}; base verdicts agree: {base_agree}/{n}")
    print(f"'+' verdicts agree on the tasks whose reference solution EvalPlus passes: {trusted_agree}/{trusted}")
    print(f"EvalPlus fails its own reference solution on {len(harness)} task(s): {', '.join(harness) or '-'}")
    print(f"pass@1 (+): lintseq {s['pass@1']:.4f}; base: lintseq {s['base']['pass@1']:.4f}")
    print(f"samples passing the base tests but not the plus tests (lintseq): {len(caught)}")
    if args.verbose:
        for line in caught:
            print("  caught by plus:", line)
    for line in plus_diff:
        print("  + differs:", line)
    for line in base_diff:
        print("  base differs:", line)
    print(
        f"time limits ({lim['rule']}): {lim['above_floor']} of {lim['tasks']} tasks above the floor, "
        f"{lim['above_timeout']} above --timeout {args.timeout:g} s; largest {lim['max_seconds']:.1f} s"
    )
    print(
        f"lintseq : {ours:7.1f} s (timing {lim['tasks']} references and running {n} samples in one pass of "
        f"{s['seconds']:.1f} s; the last reference was in at {lim['reference_seconds']:.1f} s)"
    )
    print(f"EvalPlus: {theirs:7.1f} s ({gt:.1f} s computing expected outputs, {theirs - gt:.1f} s running {n} samples)")
    print(f"ratio (EvalPlus time / lintseq time): {theirs / ours:.2f}x")
    return trusted_agree == trusted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-b", "--benchmark", action="append", choices=sorted(PLAIN), help="default: both")
    ap.add_argument("--mutants", type=int, default=3, help="wrong variants per task")
    ap.add_argument("--every", type=int, default=1, help="every N-th task only")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=10.0, help="lintseq's --timeout (for the base tests)")
    ap.add_argument("--verbose", "-v", action="store_true", help="list the samples only the plus tests catch")
    args = ap.parse_args()
    try:
        import evalplus  # noqa: F401
    except ImportError:
        sys.exit("EvalPlus is not installed: pip install 'lintseq[evalplus]'")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for bench in args.benchmark or sorted(PLAIN):
            ok &= compare(bench, args, Path(tmp))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
