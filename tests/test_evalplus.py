"""HumanEval+ and MBPP+: bundled data, prompts shared with the base benchmarks, base and plus
scores in one pass, derived time limits, and a missing import reported once."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from lintseq.commands.evaluate import command
from lintseq.evaluation.problems import BenchmarkError, Problem, load_benchmark
from lintseq.evaluation.sandbox import Limits, Result, Sandbox
from lintseq.evaluation.scoring import (
    EnvironmentProblem,
    InputStats,
    Sample,
    _Benchmark,
    _Plan,
    _within,
    evaluate,
    evaluate_many,
)
from lintseq.evaluation.timing import CACHE_NAME, _entry, input_limits, reference_times, task_limit

ROOT = Path(__file__).resolve().parent.parent
RELEASE_SHA = {  # of the .gz files as EvalPlus released them
    "HumanEvalPlus-OriginFmt.jsonl.gz": "daa7661c8189924068069b0872a440b491edb60f8bdf431d5957adc88d18bae5",
    "MbppPlus-OriginFmt.jsonl.gz": "7a5aec547b134fa297ee6c45f829298aa3f58de02547b8d8a5c3d85d9cb10efc",
}
PLAIN_SHA = {
    "HumanEvalPlus.jsonl.gz": "272720b90ac375502c8ed23cd791c2a93dfb22a911641a494da74a426c09f101",
    "MbppPlus.jsonl.gz": "af43697e8791c4c149bdfd6b489d8b5412507551ac20e28a439f650b8225db63",
}
WRONG = "def {name}(*args, **kwargs):\n    return None\n"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Each test measures reference times into its own cache."""
    monkeypatch.setenv("LINTSEQ_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("name", sorted(RELEASE_SHA))
def test_bundled_data_is_the_release(name):
    data = resources.files("lintseq.data").joinpath(name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == RELEASE_SHA[name]


@pytest.mark.parametrize("name", sorted(PLAIN_SHA))
def test_plain_files_for_the_agreement_check_are_the_release(name):
    data = (ROOT / "tests" / "data" / "evalplus" / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == PLAIN_SHA[name]


def test_humaneval_plus_is_humaneval_with_more_tests():
    base = load_benchmark("humaneval")
    plus = load_benchmark("humaneval+")
    assert [p.task_id for p in plus] == [p.task_id for p in base] == [f"HumanEval/{i}" for i in range(164)]
    for b, p in zip(base, plus):
        assert (p.prompt, p.prelude, p.code_prompt, p.entry_point) == (
            b.prompt,
            b.prelude,
            b.code_prompt,
            b.entry_point,
        )
        assert p.base_test == b.test and p.derive_limit and not b.derive_limit and p.requires == ("numpy",)
        assert len(p.test) > len(b.test) and f"check({p.entry_point})" in p.test
    # the broken find_zero line is replaced (its call taken from the batched loop); numpy is
    # imported on first use
    assert "abs(_poly(*inp, _lintseq_out))" in plus[32].test and "_poly(*candidate" not in plus[32].test
    # every task's loop over its inputs takes the answers from `_lintseq_calls`
    assert all("_lintseq_calls(candidate, inputs)" in p.test and "candidate(*inp)" not in p.test for p in plus)
    assert sum("np = _LazyNumpy()" in p.test for p in plus) == 163
    assert not any(line == "import numpy as np" for p in plus for line in p.test.splitlines())


def test_mbpp_plus_has_sanitized_prompts_and_ids():
    sanitized = {p.task_id: p for p in load_benchmark("mbpp-sanitized:all")}
    plus = load_benchmark("mbpp+")
    assert len(plus) == 378 and plus[0].task_id == "MbppSanitized/2" and plus[-1].task_id == "MbppSanitized/809"
    for p in plus:
        s = sanitized[p.task_id]
        assert (p.prompt, p.prelude, p.entry_point) == (s.prompt, s.prelude, s.entry_point)
        assert p.base_test == s.test and p.derive_limit
        assert p.entry_point in p.test and "np = _LazyNumpy()" in p.test
    # MBPP+ draws on every split of sanitized MBPP, its training split included
    numbers = {int(p.task_id.split("/")[1]) for p in plus}
    assert len({n for n in numbers if n >= 601}) == 108 and len({n for n in numbers if 11 <= n <= 510}) == 224


def test_user_benchmark_fields_are_checked(tmp_path):
    bench = tmp_path / "bench.jsonl"
    row = {"task_id": "t/1", "prompt": "p", "test": "assert True\n"}
    for bad in ({"derive_limit": "yes"}, {"requires": "numpy"}, {"requires": [1]}, {"base_test": 3}):
        bench.write_text(json.dumps({**row, **bad}) + "\n")
        with pytest.raises(BenchmarkError, match=f"wrong type.*{next(iter(bad))}"):
            load_benchmark(str(bench))
    bench.write_text(json.dumps({**row, "requires": ["json"], "derive_limit": True}) + "\n")
    [p] = load_benchmark(str(bench))
    assert p.requires == ("json",) and p.derive_limit


def test_sandbox_imports_numpy():
    res = Sandbox(Limits(timeout=30), workers=1).run("import numpy\nprint(numpy.allclose([1.0], [1.0 + 1e-9]))\n")
    assert res.passed and "True" in res.output, res.output


def _samples(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["humaneval+", "mbpp+"])
def test_reference_solutions_pass_and_stubs_fail_on_a_subset(name, tmp_path):
    problems = load_benchmark(name)[::25]
    rows = []
    for p in problems:
        rows.append({"task_id": p.task_id, "sample": 0, "completion": p.canonical_solution})
        rows.append({"task_id": p.task_id, "sample": 1, "completion": WRONG.format(name=p.entry_point)})
    box = Sandbox(Limits(timeout=10), workers=2)
    report = evaluate(_samples(tmp_path / "s.jsonl", rows), problems, benchmark=name, k=[1, 2], sandbox=box)
    s = report.scores
    assert s["pass@1"] == 0.5 and s["pass@2"] == 1.0 and s["base"]["pass@1"] == 0.5
    assert all(r["statuses"][0] == "passed" and r["base_statuses"][0] == "passed" for r in report.per_problem)
    assert all(r["statuses"][1] != "passed" and r["base_statuses"][1] != "passed" for r in report.per_problem)
    limits = s["time_limits"]
    assert limits["tasks"] == len(problems) and limits["reference_failures"] == {}
    assert all(r["time_limit"] >= 4 for r in report.per_problem)
    cache = json.loads((tmp_path / "cache" / CACHE_NAME).read_text())
    # [seconds, milliseconds per input of the plus test's loop]
    assert len(cache) == len(problems) and all(t[0] > 0 and t[1] for t in cache.values())


def test_reference_times_are_cached_and_keyed_by_program(tmp_path):
    box = Sandbox(Limits(timeout=10), workers=2)
    cache = tmp_path / "times.json"
    programs = ["import time\ntime.sleep(0.3)\n", "x = 1\n"]
    first = reference_times(programs, box, cache=cache)
    assert first.measured == 2 and first.failures == {} and first.seconds[0] >= 0.3
    again = reference_times(programs, box, cache=cache)
    assert again.measured == 0 and again.seconds == first.seconds
    changed = reference_times([programs[0], "x = 2\n", "raise SystemExit(3)\n"], box, cache=cache)
    assert changed.measured == 2 and changed.seconds[0] == first.seconds[0]
    assert changed.seconds[2] is None and changed.failures[2].status == "failed"
    cache.write_text("{not json")  # a damaged cache is measured afresh and rewritten whole
    assert reference_times(programs, box, cache=cache).measured == 2
    assert len(json.loads(cache.read_text())) == 2  # what the damaged file held is measured again when needed
    assert not list(tmp_path.glob(".times.json.*"))  # no temporary file left behind
    assert task_limit(None, 10) == 10 and task_limit(1.0, 10) == 10 and task_limit(3.0, 10) == 12
    assert task_limit(3.0, 10, factor=2) == 10


def test_a_slow_reference_gets_a_longer_limit(tmp_path):
    """A task whose reference takes ~1.5 s gets max(4 s, 4 x ~1.5 s): a correct solution as slow
    as the reference passes, where the plain 1 s timeout fails it."""
    slow = "import time\n\ndef f():\n    time.sleep(1.5)\n    return 1\n"
    bench = tmp_path / "bench.jsonl"
    row = {
        "task_id": "t/slow",
        "prompt": "p",
        "test": "assert f() == 1\n",
        "entry_point": "f",
        "canonical_solution": slow,
    }
    bench.write_text(
        json.dumps({**row, "derive_limit": True}) + "\n" + json.dumps({**row, "task_id": "t/plain"}) + "\n"
    )
    samples = _samples(tmp_path / "s.jsonl", [{"task_id": t, "completion": slow} for t in ("t/slow", "t/plain")])
    box = Sandbox(Limits(timeout=1.0), workers=2)
    report = evaluate(samples, load_benchmark(str(bench)), benchmark="slow", k=[1], sandbox=box)
    statuses = {r["task_id"]: r["statuses"][0] for r in report.per_problem}
    assert statuses == {"t/slow": "passed", "t/plain": "timeout"}
    limits = report.scores["time_limits"]
    assert limits["above_floor"] == 1 and limits["above_timeout"] == 1 and limits["max_seconds"] >= 6.0
    assert limits["rule"] == "max(4 s, 4 x the reference solution's measured time)"


def test_a_looping_sample_stops_at_its_inputs_limit(tmp_path):
    """HumanEval+ 2 (truncate_number): a sample that loops on a plus input (999.99999) fails as
    "timeout", cut by that input's limit (EvalPlus's, max(1 s, 4 x the reference's time on it),
    of the candidate's CPU time), not by the task's (here 30 s: --min-time-limit)."""
    p = next(q for q in load_benchmark("humaneval+") if q.task_id == "HumanEval/2")
    loops = (
        "def truncate_number(number: float) -> float:\n    while number > 900:\n        pass\n    return number % 1.0\n"
    )
    rows = [{"task_id": p.task_id, "sample": i, "completion": c} for i, c in enumerate([p.canonical_solution, loops])]
    box = Sandbox(Limits(timeout=30), workers=2)
    report = evaluate(
        _samples(tmp_path / "s.jsonl", rows), [p], benchmark="humaneval+", k=[1], sandbox=box, min_time_limit=30
    )
    row = report.per_problem[0]
    assert row["statuses"] == ["passed", "timeout"] and row["time_limit"] >= 30
    assert "used its limit of 1 s of CPU time" in row["samples"][1]["output"]


def test_reference_times_cache_old_and_new_entries():
    """An entry is the seconds (as before per-input times) or [seconds, [ms per input]]."""
    assert _entry(0.5) == (0.5, None) and _entry([0.5, [1, 300]]) == (0.5, [1, 300])
    assert _entry([0.5, ["x"]]) == (0.5, None) and _entry(-1) is None and _entry(True) is None
    assert input_limits([1, 300, 2000]) == (1.0, 1.2, 8.0) and input_limits(None) == ()


def test_base_tests_get_the_derived_limit_and_shared_runs_the_larger_one():
    """A plus task's base test gets min(--timeout, its derived limit); a base run that the base
    benchmark's own score shares runs once, under the larger limit, and the score with the
    smaller one counts it as a timeout if it took longer."""
    p = Problem("t/1", "p", "assert f() == 1\n", "f", base_test="assert f()\n", derive_limit=True)
    sample = Sample("t/1", 0, "def f():\n    return 1\n", "program")
    plus = _Benchmark("plus", [p], {"t/1": p}, [sample], InputStats(), limits={"t/1": 4.0})
    own = Problem("t/1", "p", p.base_test, "f")
    base = _Benchmark("base", [own], {"t/1": own}, [sample], InputStats())
    plan = _Plan([base, plus], floor=10.0)
    assert plan.task_ids() == ["t/1"] and plan.task("t/1") == range(0, 2)
    programs, timeouts = plan.programs, plan.timeouts
    assert len(programs) == 2 and timeouts == [10.0, 4.0]  # the base run once, the plus run
    assert base.slots == plus.base_slots == [0] and plus.slots == [1]
    assert base.slot_limits == [10.0] and plus.base_slot_limits == [4.0] and plus.slot_limits == [4.0]
    slow = Result(True, "passed", 0, 6.0)
    assert _within(slow, 10.0) is slow and _within(slow, 4.0).status == "timeout"


def test_unclosed_fence_through_evaluate(tmp_path):
    """A sample cut off by the token limit inside its fence keeps its code, as `sample` reads it."""
    p = load_benchmark("humaneval")[0]
    rows = [
        {"task_id": p.task_id, "sample": 0, "completion": "Here you go:\n```python\n" + p.canonical_solution},
        {"task_id": p.task_id, "sample": 1, "completion": "```python\n" + p.canonical_solution + "```\nDone."},
    ]
    out = tmp_path / "scores.json"
    res = CliRunner().invoke(
        command,
        [
            str(_samples(tmp_path / "s.jsonl", rows)),
            "-b",
            "humaneval",
            "-b",
            "humaneval+",
            "-k",
            "1",
            "--json",
            str(out),
            "-q",
            "--workers",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    runs = json.loads(out.read_text())["runs"]
    assert [r["benchmark"] for r in runs] == ["humaneval", "humaneval+"]
    assert all(r["correct"] == 2 and r["pass@1"] == 1.0 for r in runs)


# Deliberately wrong solutions that the base tests let through and the plus tests catch.
SUBTLY_WRONG = {
    "HumanEval/0": (  # `<=` for `<`: two numbers exactly `threshold` apart are not closer than it
        "from typing import List\n\n"
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        "    s = sorted(numbers)\n"
        "    return any(s[i + 1] - s[i] <= threshold for i in range(len(s) - 1))\n"
    ),
    "HumanEval/55": (  # fib(0) is 0, not 1
        "def fib(n: int):\n"
        "    if n <= 2:\n"
        "        return 1\n"
        "    a, b = 1, 1\n"
        "    for _ in range(n - 2):\n"
        "        a, b = b, a + b\n"
        "    return b\n"
    ),
    "HumanEval/57": (  # off by one: the last pair is never compared
        "def monotonic(l: list):\n"
        "    inc = dec = True\n"
        "    for i in range(len(l) - 2):\n"
        "        inc = inc and l[i] <= l[i + 1]\n"
        "        dec = dec and l[i] >= l[i + 1]\n"
        "    return inc or dec\n"
    ),
    "MbppSanitized/66": "def pos_count(l):\n    return len([x for x in l if x >= 0])\n",  # 0 is not positive
    "MbppSanitized/138": "def is_Sum_Of_Powers_Of_Two(n):\n    return n >= 0 and n % 2 == 0\n",  # 0 is no such sum
    "MbppSanitized/256": (  # off by one: n - 1 is never counted
        "def count_Primes_nums(n):\n    return sum(all(i % j for j in range(2, i)) for i in range(2, n - 1))\n"
    ),
}


@pytest.mark.parametrize("name", ["humaneval+", "mbpp+"])
def test_subtly_wrong_solutions_pass_base_and_fail_plus(name, tmp_path):
    problems = {p.task_id: p for p in load_benchmark(name)}
    wrong = {t: prog for t, prog in SUBTLY_WRONG.items() if t in problems}
    rows = [{"task_id": t, "sample": 0, "completion": problems[t].canonical_solution} for t in wrong]
    rows += [{"task_id": t, "sample": 1, "completion": prog} for t, prog in wrong.items()]
    box = Sandbox(Limits(timeout=10), workers=2)
    report = evaluate(_samples(tmp_path / "s.jsonl", rows), list(problems.values()), benchmark=name, k=[1], sandbox=box)
    got = {r["task_id"]: (r["statuses"], r["base_statuses"]) for r in report.per_problem}
    assert got == {t: (["passed", "failed"], ["passed", "passed"]) for t in wrong}
    assert report.scores["pass@1"] == 0.5 and report.scores["base"]["pass@1"] == 1.0


def test_plus_tests_run_apart_from_the_candidate(tmp_path):
    """As in EvalPlus, the tests' own definitions do not replace the candidate's (MBPP+ 630's
    test defines the reference's helper `adjac`), and their imports are not the candidate's."""
    mbpp = {p.task_id: p for p in load_benchmark("mbpp+")}
    p = mbpp["MbppSanitized/630"]
    wrong_helper = p.canonical_solution.replace("ele[0] + 2", "ele[0] + 1")
    assert wrong_helper != p.canonical_solution and "def adjac" in wrong_helper
    he = load_benchmark("humaneval+")[0]
    no_import = (
        "def has_close_elements(numbers, threshold):\n    return bool(np.any(np.diff(sorted(numbers)) < threshold))\n"
    )
    box = Sandbox(Limits(timeout=20), workers=2)
    programs = [
        p.program_for(p.canonical_solution),
        p.program_for(wrong_helper),
        he.program_for("import numpy as np\n" + no_import),
        he.program_for(no_import),
    ]
    assert [r.status for r in box.run_many(programs)] == ["passed", "failed", "passed", "failed"]


def test_missing_module_is_reported_once_not_scored(tmp_path):
    """Tests that import what the sandbox cannot: one clear error, no table, no score file."""
    bench = tmp_path / "bench.jsonl"
    rows = [
        {
            "task_id": f"t/{i}",
            "prompt": "p",
            "entry_point": "f",
            "canonical_solution": "def f():\n    return 1\n",
            "test": "import lintseq_absent_module\nassert f() == 1\n",
        }
        for i in range(3)
    ]
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows))
    samples = _samples(
        tmp_path / "s.jsonl", [{"task_id": f"t/{i}", "completion": "def f():\n    return 1\n"} for i in range(3)]
    )
    out = tmp_path / "scores.json"
    res = CliRunner().invoke(command, [str(samples), "-b", str(bench), "--json", str(out), "-q", "--workers", "2"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert res.output.count("cannot import 'lintseq_absent_module'") == 1
    assert "3 of 3 runs" in res.output and "pass@1" not in res.output and not out.exists()
    # with derived limits the reference solutions fail first: reported before any sample runs
    bench.write_text("".join(json.dumps({**r, "derive_limit": True}) + "\n" for r in rows))
    box = Sandbox(Limits(timeout=5), workers=2)
    with pytest.raises(EnvironmentProblem, match="reference solution of t/0 fails because the sandbox cannot import"):
        evaluate(samples, load_benchmark(str(bench)), benchmark="b", k=[1], sandbox=box)
    # a module the tests declare they need is imported once before anything runs
    bench.write_text(
        "".join(
            json.dumps({**r, "test": "assert f() == 1\n", "requires": ["lintseq_absent_module"]}) + "\n" for r in rows
        )
    )
    with pytest.raises(
        EnvironmentProblem, match="cannot be evaluated because the sandbox cannot import 'lintseq_absent_module'"
    ):
        evaluate(samples, load_benchmark(str(bench)), benchmark="b", k=[1], sandbox=box)
    bench.write_text("".join(json.dumps({**r, "test": "assert f() == 1\n", "requires": ["json"]}) + "\n" for r in rows))
    assert evaluate(samples, load_benchmark(str(bench)), benchmark="b", k=[1], sandbox=box).scores["correct"] == 3
    # a sample importing something absent is the sample's failure, not the machine's
    samples = _samples(
        tmp_path / "t.jsonl",
        [{"task_id": "t/0", "completion": "import lintseq_other_absent\ndef f():\n    return 1\n"}],
    )
    bench.write_text(json.dumps({**rows[0], "test": "assert f() == 1\n"}) + "\n")
    report = evaluate(samples, load_benchmark(str(bench)), benchmark="b", k=[1], sandbox=box)
    assert report.scores["statuses"] == {"failed": 1}


def test_several_benchmarks_in_one_pass_and_compare(tmp_path):
    """-b humaneval -b humaneval+: HumanEval's tests run once for both (they are humaneval+'s
    base tests); the score file holds both runs and --compare reads it back."""
    problems = load_benchmark("humaneval")[:3]
    rows = [{"task_id": p.task_id, "sample": 0, "completion": p.canonical_solution} for p in problems]
    rows += [{"task_id": p.task_id, "sample": 1, "completion": WRONG.format(name=p.entry_point)} for p in problems]
    samples = _samples(tmp_path / "s.jsonl", rows)
    box = Sandbox(Limits(timeout=10), workers=2)
    reports = evaluate_many(
        samples,
        [("humaneval", load_benchmark("humaneval")), ("humaneval+", load_benchmark("humaneval+"))],
        k=[1],
        sandbox=box,
    )
    he, plus = (r.scores for r in reports)
    assert he["pass@1"] == plus["pass@1"] == plus["base"]["pass@1"] == 0.5
    assert he["one_pass"] == {"benchmarks": ["humaneval", "humaneval+"], "programs_run": 12}  # 6 + 6 plus, base shared
    out = tmp_path / "scores.json"
    res = CliRunner().invoke(
        command,
        [
            str(samples),
            "-b",
            "humaneval",
            "-b",
            "humaneval+",
            "-k",
            "1",
            "--json",
            str(out),
            "--label",
            "first",
            "-q",
            "--workers",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "humaneval+ base tests" in res.output
    res = CliRunner().invoke(
        command,
        [
            str(samples),
            "-b",
            "humaneval",
            "-k",
            "1",
            "--compare",
            str(out),
            "--label",
            "second",
            "-q",
            "--workers",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    paired = [line for line in lines if line.startswith("second - first")]
    table = [line for line in lines if line not in paired]
    assert (
        sum(line.startswith("first") for line in table) == 3 and sum(line.startswith("second") for line in table) == 1
    )
    # the same samples, paired on the one benchmark both files scored
    assert len(paired) == 1 and paired[0].startswith("second - first [humaneval] pass@1: +0.00 points")


@pytest.mark.slow
@pytest.mark.parametrize("name,count", [("humaneval+", 164), ("mbpp+", 378)])
def test_every_reference_solution_passes_with_two_workers(name, count, tmp_path):
    """Every canonical solution passes its plus and base tests under the derived limits, two at a
    time (the reference times are measured here first)."""
    problems = load_benchmark(name)
    rows = [{"task_id": p.task_id, "completion": p.canonical_solution} for p in problems]
    box = Sandbox(Limits(timeout=10), workers=2)
    report = evaluate(_samples(tmp_path / "s.jsonl", rows), problems, benchmark=name, k=[1], sandbox=box)
    s = report.scores
    failed = [
        (r["task_id"], r["statuses"], r["base_statuses"])
        for r in report.per_problem
        if r["correct"] != 1 or r["base_correct"] != 1
    ]
    # MBPP+ 255's reference answers with 932 MB of JSON, more than may cross from the candidate's
    # process to the harness (EvalPlus fails it too); its base test passes
    # (failed at the cap, or out of time first: its reference failed, so it gets --timeout)
    known = ["MbppSanitized/255"] if name == "mbpp+" else []
    assert [t for t, _, _ in failed] == known and all(base == ["passed"] for _, _, base in failed), failed
    assert s["correct"] == count - len(known) and s["base"]["correct"] == count, failed
    print(f"{name}: {count}/{count}; {s['time_limits']}")


@pytest.mark.slow
def test_verdicts_agree_with_evalplus():
    """EvalPlus's own evaluator and ours, verdict by verdict, on every 8th task's reference and
    two mutants (benchmarks/evalplus_agreement.py; the full set is its default), on the tasks
    whose reference solution EvalPlus passes (HumanEval/32 it never does, see the script)."""
    pytest.importorskip("evalplus")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "evalplus_agreement.py"), "--every", "8", "--mutants", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    agreements = [line for line in done.stdout.splitlines() if line.startswith("'+' verdicts agree on the tasks")]
    assert len(agreements) == 2
    for line in agreements:
        got, total = line.rsplit(":", 1)[1].strip().split("/")
        assert got == total and int(total) > 40


@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize(("timed", "workers"), [(False, 1), (True, 1), (True, 2)])
def test_expected_outputs_are_computed_once(tmp_path: Path, monkeypatch, timed: bool, workers: int, big: bool) -> None:
    """A plus test that computes each expected output with its reference (HumanEval+ 14, 15, 83,
    100, 130, 139; MBPP+ three) gets them from an earlier run of the same test; a wrong sample
    still fails against the kept outputs. `timed`: the task's limit is derived from its
    reference solution, whose timing run takes that solution's answers as the expected outputs
    (as EvalPlus does), so `ref_func` never runs, on whichever worker a sample lands (`workers`:
    the other worker gets them from the evaluator). `big`: outputs over 64 KiB are kept as their
    digest, which an answer with the same bytes matches; a wrong answer gets its expected output
    computed (once: the test stops there)."""
    monkeypatch.setenv("LINTSEQ_CACHE", str(tmp_path / "cache"))
    from lintseq.evaluation.problems import _apart, _batched

    test = (
        "def ref_func(n):\n"
        "    print('computed', n)\n"
        f"    return [n] * (n * {30000 if big else 1})\n\n"
        "def check(candidate):\n"
        "    inputs = [[1], [2], [3]]\n"
        "    for i, inp in enumerate(inputs):\n"
        "        assert candidate(*inp) == ref_func(*inp)\n\n"
        "check(f)\n"
    )
    times = 30000 if big else 1
    right, wrong = f"def f(n):\n    return [n] * (n * {times})\n", f"def f(n):\n    return [n] * (n * {times} - 1)\n"
    problem = Problem(
        "T/0",
        "Repeat.",
        _apart(_batched(test, "candidate", "T/0"), "f"),
        entry_point="f",
        canonical_solution=right if timed else "",
        derive_limit=timed,
    )
    assert "_lintseq_expected(ref_func, i, inp, _lintseq_out)" in problem.test
    rows = [{"task_id": "T/0", "program": p} for p in (right, right, wrong, right)]
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with Sandbox(Limits(timeout=10), workers=workers) as box:
        report = evaluate(path, [problem], benchmark="t", k=[1], sandbox=box)
    samples = report.per_problem[0]["samples"]
    assert [s["status"] for s in samples] == ["passed", "passed", "failed", "passed"]
    computed = [s["output"].count("computed") for s in samples]
    assert computed == ([0, 0, int(big), 0] if timed else [3, 0, int(big), 0]), [s["output"] for s in samples]


def test_base_input_counts_are_the_release_s():
    """The bundled table of base inputs per task is what the plain release files say, and those
    inputs are the first of each bundled test (the script checks; it exits 1 on a stale table)."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "evalplus_base_inputs.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    problems = {p.task_id: p for p in load_benchmark("humaneval+")}
    assert problems["HumanEval/0"].base_inputs == 7
    assert problems["HumanEval/32"].base_inputs == 99  # 100 base inputs, one of them twice
    assert all(p.base_inputs > 0 for p in load_benchmark("mbpp+"))


# HumanEval/0 with the reference's answers for its first `k` calls, then a wrong one or a loop
_AFTER = """from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    _calls.append(1)
    if len(_calls) > {k}:
        {then}
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])


_calls = []
"""


@pytest.mark.parametrize(
    "k,then,plus,base",
    [
        (7, "return 42", "failed", "passed"),  # every base input right, a plus input wrong
        (6, "return 42", "failed", "failed"),  # the last base input wrong
        (7, "while True: pass", "timeout", "passed"),  # loops on the first plus input
        (3, "while True: pass", "timeout", "timeout"),  # loops on a base input
    ],
)
def test_the_base_verdict_comes_from_the_plus_run(tmp_path, k, then, plus, base):
    """HumanEval+'s base verdict is EvalPlus's (every base input passes), read from the same run
    as the plus verdict: the test's first 7 inputs of HumanEval/0 are its base inputs, and no
    separate base test runs. A sample that loops after the base inputs keeps its base pass: its
    answers so far are sent before the first plus input."""
    (problem,) = [p for p in load_benchmark("humaneval+") if p.task_id == "HumanEval/0"]
    assert problem.base_inputs == 7
    rows = [{"task_id": "HumanEval/0", "program": problem.canonical_solution}]
    rows.append({"task_id": "HumanEval/0", "program": _AFTER.format(k=k, then=then)})
    with Sandbox(Limits(timeout=10), workers=1) as box:
        report = evaluate(_samples(tmp_path / "s.jsonl", rows), [problem], benchmark="humaneval+", k=[1], sandbox=box)
        runs = box.timings.samples
    (row,) = report.per_problem
    assert row["statuses"] == ["passed", plus] and row["base_statuses"] == ["passed", base]
    assert runs == 4  # the numpy check, the reference's timing and the two samples: no base test
    assert report.scores["base"]["pass@1"] == (1.0 if base == "passed" else 0.5)


def test_a_task_s_samples_run_while_a_slower_reference_is_timed(tmp_path):
    """References go first, and a task's samples as soon as its own reference is in: with two
    workers, the quick task's samples are done before the slow task's reference (3 s) is."""
    test = "assert f() == 1\n"
    slow = Problem("t/slow", "p", test, "f", canonical_solution="import time\ntime.sleep(3)\ndef f():\n    return 1\n")
    quick = Problem("t/quick", "p", test, "f", canonical_solution="def f():\n    return 1\n")
    slow.derive_limit = quick.derive_limit = True
    rows = [{"task_id": "t/quick", "program": "def f():\n    return 1\n", "sample": i} for i in range(3)]
    rows.append({"task_id": "t/slow", "program": "def f():\n    return 1\n"})
    seen: list[tuple[str, float]] = []

    def progress(items, desc):
        for result in items:
            seen.append((result.status, result.duration))
            yield result

    with Sandbox(Limits(timeout=10), workers=2) as box:
        (report,) = evaluate_many(
            _samples(tmp_path / "s.jsonl", rows), [("t", [slow, quick])], sandbox=box, k=[1], progress=progress
        )
    assert [r["statuses"] for r in report.per_problem] == [["passed"], ["passed"] * 3]
    assert len(seen) == 6  # two references, four samples
    durations = [d for _, d in seen]
    slow_reference = next(i for i, d in enumerate(durations) if d >= 3)
    assert slow_reference == 4, seen  # after the quick reference and its three samples
    assert report.scores["time_limits"]["reference_seconds"] >= 3
