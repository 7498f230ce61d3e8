"""The harness and the plain values between it and the candidate's process: what crosses, what
a test sees of the candidate (handles, exceptions, the entry point), and that a broken exchange
fails the test whatever the test catches."""

from __future__ import annotations

import json
import math
import os
import threading
from fractions import Fraction

import pytest

from lintseq.evaluation import _launcher
from lintseq.evaluation.problems import load_benchmark
from lintseq.evaluation.sandbox import Job, Limits, Sandbox


@pytest.fixture(scope="module")
def box():
    with Sandbox(Limits(timeout=10.0, memory_mb=1024), workers=2) as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        -3,
        10**400,
        -(10**5000),
        2.5,
        float("inf"),
        -0.0,
        "sé\udc80",
        b"\x00\xff",
        bytearray(b"ab"),
        1 + 2j,
        (1, (2.0, "x")),
        [[], {}, set(), frozenset({1})],
        {(1, 2): {"k": [None]}},
        range(1, 10, 3),
        Fraction(1, 3),
        list(range(100)),
        [0.5, 1] * 50,
        tuple([2**62] * 70),
        [2**64] * 70,
    ],
    ids=lambda v: type(v).__name__,
)
def test_plain_values_cross_unchanged(value):
    back = _launcher._decode(json.loads(json.dumps(_launcher._encode(value, None))), None)
    assert type(back) is type(value) and back == value
    if isinstance(value, list) and value and isinstance(value[0], float):
        assert [type(x) for x in back] == [type(x) for x in value]


def _through_a_frame(values: list) -> list:
    """`values` as the candidate answers them (one frame of replies, raw parts after the JSON)
    and as the harness reads them back."""
    r, w = os.pipe()
    replies = _launcher._Replies(w)
    for value in values:
        _launcher._RAW[:] = [[], 0]
        replies.add(["v", _launcher._encode(value, None)], False, *_launcher._RAW)
    _launcher._RAW[:] = [None, 0]
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(_launcher._read_frame(r, replies=True)))
    reader.start()
    replies.flush()
    reader.join()
    os.close(r)
    os.close(w)
    return [_launcher._decode(reply[1], None, raw) for reply, raw in got]


def test_long_strings_and_numbers_cross_raw_beside_the_json():
    """The candidate's long strings and runs of numbers go as raw bytes after the frame's JSON
    (no escaping, no base64); the harness takes them back exactly, and refuses a frame whose
    replies point outside it."""
    values = [
        "x" * 5000 + "sé\udc80",
        [0.5, 1, float("nan")] * 40,
        tuple(range(-70, 70)),
        ["a" * 5000, [2.5] * 80, "short"],
        "y" * 10,
    ]
    back = _through_a_frame(values)
    assert [type(v) for v in back] == [type(v) for v in values]
    assert back[0] == values[0] and back[2] == values[2] and back[3] == values[3] and back[4] == values[4]
    assert [type(x) for x in back[1]] == [type(x) for x in values[1]] and repr(back[1]) == repr(values[1])
    encoded = _launcher._encode("z" * 5000, None)  # from the harness (no raw parts): inline
    assert encoded == "z" * 5000
    for bad in (b'[[["v",["S",0,9]]],[0]]abc', b'[[["v",["S",0,3]]],[7]]abc', b'[[["v",["S",-1,3]]],[0]]abc'):
        r, w = os.pipe()
        head = bad[: bad.index(b"abc")]
        _launcher._write_bytes(w, b"X" + len(head).to_bytes(4, "little") + head + b"abc")
        with pytest.raises(ValueError):
            frame = _launcher._read_frame(r, replies=True)
            [_launcher._decode(reply[1], None, raw) for reply, raw in frame]
        os.close(r)
        os.close(w)


def test_subclasses_cross_as_their_base_and_the_rest_as_handles():
    class Liar(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    handles = []
    got = _launcher._encode([Liar(3), object()], lambda v: handles.append(v) or ["r", len(handles) - 1])
    assert got == ["l", 3, ["r", 0]] and type(_launcher._decode(got, _launcher.Remote)[1]) is _launcher.Remote
    assert math.isnan(_launcher._decode(json.loads(json.dumps(_launcher._encode(float("nan"), None))), None))


def _job(candidate: str, test: str, entry: str = "f") -> Job:
    return Job(candidate, "", test, entry)


def test_what_a_test_sees_of_the_candidate(box):
    jobs = {
        # an exception of the candidate's, caught by the test as the builtin it names
        "raises": _job(
            "def f():\n    raise ValueError('no')\n",
            "try:\n    f()\nexcept ValueError as e:\n    assert str(e) == 'no'\nelse:\n    raise AssertionError\n",
        ),
        # the tested function may shadow a builtin (MBPP 126's `sum`); other names may not
        "entry_shadows": _job(
            "def sum(a, b):\n    return a + b\ndef len(x):\n    return 7\n",
            "assert sum(1, 2) == 3 and len([1]) == 1\n",
            "sum",
        ),
        # a module the candidate imported, as the harness's own copy
        "module": _job("import math\ndef f(x):\n    return x\n", "assert math.sqrt(f(4)) == 2.0\n"),
        # objects of the candidate's: built, read and changed through handles
        "objects": _job(
            "class Node:\n    def __init__(self, v):\n        self.v, self.next = v, None\n"
            "def f(node):\n    return node.v + (f(node.next) if node.next else 0)\n",
            "a = Node(1)\na.next = Node(2)\nassert a.v == 1 and f(a) == 3\nassert a != Node(1)\n",
        ),
        # generators cross as their items
        "generator": _job("def f(n):\n    return (i * i for i in range(n))\n", "assert list(f(3)) == [0, 1, 4]\n"),
    }
    results = dict(zip(jobs, box.run_many(jobs.values())))
    assert all(r.passed for r in results.values()), results


def test_a_broken_exchange_fails_whatever_the_test_catches(box):
    catch_all = "for i in range(3):\n    try:\n        f(i)\n    except BaseException:\n        pass\n"
    died, stopped = box.run_many(
        [
            _job("import os\ndef f(i):\n    os._exit(0)\n", catch_all),
            # StopIteration would end map() early in one process; here it is an error of the test
            _job("def f(i):\n    raise StopIteration\n", "assert all(map(f, [1, 2]))\n"),
        ]
    )
    assert not died.passed and "broke the exchange" in died.output, died
    assert not stopped.passed and "CandidateError" in stopped.output, stopped


def test_mbpp_tasks_with_the_candidates_classes_and_builtin_names(box):
    """MBPP 367 builds trees of the candidate's `Node`s; MBPP+ 126's entry point is `sum`."""
    mbpp = {p.task_id: p for p in load_benchmark("mbpp")}
    plus = {p.task_id: p for p in load_benchmark("mbpp+")}
    jobs = [mbpp["Mbpp/367"].job_for(mbpp["Mbpp/367"].canonical_solution)]
    jobs += [
        plus["MbppSanitized/126"].job_for(plus["MbppSanitized/126"].canonical_solution, base=b) for b in (False, True)
    ]
    wrong = mbpp["Mbpp/367"].canonical_solution.replace("<= 1", "<= 0")
    jobs.append(mbpp["Mbpp/367"].job_for(wrong))
    *right, bad = box.run_many(jobs)
    assert all(r.passed for r in right), right
    assert not bad.passed


# A plus test's loop, as `problems._batched` writes it: the inputs go across in one batch.
BATCH_TEST = """
from fractions import Fraction
_lintseq_calls = globals()["_lintseq_batch"]
shared = [1, 2]
inputs = {inputs}
for i, (inp, out) in enumerate(zip(inputs, _lintseq_calls(f, inputs))):
    assert out == {expect}, (inp, out)
"""


def _batch_job(candidate: str, inputs: list | str, expect: str = "inp[0] * 2", **fields) -> Job:
    return Job(candidate, "", BATCH_TEST.format(inputs=inputs, expect=expect), "f", apart=True, **fields)


def test_a_batch_of_plain_inputs_crosses_unchanged_and_unshared(box):
    """Plain inputs go across marshalled (format 2: no shared references), anything else as
    tagged JSON; either way the candidate gets equal values of the same types, no two aliased."""
    inputs = '[[(1, 2.5, "s", b"b", None)], [{1: {2}, "k": frozenset({3})}], [10**400], [1 + 2j], [shared], [shared]]'
    mutates = "def f(x):\n    if type(x) is list:\n        x.append(0)\n    return x\n"
    # each input comes back as it was sent: had the two `shared` lists arrived as one list, the
    # second would come back with two zeros
    expect = "(inp[0] + [0] if type(inp[0]) is list else inp[0])"
    plain = box.run(_batch_job(mutates, inputs, expect))
    assert plain.passed, plain
    tagged = box.run(_batch_job(mutates, "[[Fraction(1, 3)], [shared], [shared]]", expect))  # Fraction: no marshal
    assert tagged.passed, tagged
    assert _launcher._marshalled(["M", 0, [(Fraction(1, 3),)], False, []]) is None


def test_per_input_limits_stop_a_looping_sample_at_the_input(box):
    """The harness fails the test once an answer is later than its input's limit: the verdict
    is "timeout", given long before the task's own limit (60 s here). The limit is the
    candidate's CPU time; one that sleeps instead is stopped at twice the limit of waiting, and
    one that sleeps less than that passes."""
    loops = "def f(x):\n    while x == 3:\n        pass\n    return 2 * x\n"
    sleeps = "import time\ndef f(x):\n    time.sleep({} if x == 2 else 0)\n    return 2 * x\n"
    inputs = [[1], [2], [3], [4]]
    long_task = Limits(timeout=60.0, memory_mb=1024)
    with Sandbox(long_task, workers=2) as sandbox:
        looped, too_slow, slept, in_time = sandbox.run_many(
            [
                _batch_job(loops, inputs, input_limits=(1.0,) * 4),
                _batch_job(sleeps.format(2.5), inputs, input_limits=(1.0,) * 4),
                _batch_job(sleeps.format(1.2), inputs, input_limits=(1.0,) * 4),
                # a quick answer held with a slow input's is not late: the candidate sends what
                # it holds before an input with a longer limit
                _batch_job(sleeps.format(2.5), inputs, input_limits=(1.0, 6.0, 1.0, 1.0)),
            ]
        )
    assert looped.status == "timeout" and "used its limit of 1 s of CPU time" in looped.output, looped
    assert too_slow.status == "timeout" and "within 2 x its limit of 1 s" in too_slow.output, too_slow
    assert slept.passed and in_time.passed, (slept, in_time)


def test_a_measured_run_reports_each_inputs_time(box):
    sleeps = "import time\ndef f(x):\n    time.sleep(x / 10)\n    return 2 * x\n"
    res = box.run(_batch_job(sleeps, [[0], [3], [1]], measure=True))
    assert res.passed and res.input_ms is not None and len(res.input_ms) == 3, res
    assert res.input_ms[1] >= 300 and res.input_ms[2] >= 100 and res.input_ms[0] < res.input_ms[1]
    assert box.run(_batch_job(sleeps, [[0], [3], [1]])).input_ms is None  # only when asked


def test_a_test_that_does_not_compile_fails_saying_why(box):
    """The fork server gets such a test as its text (it keeps no compiled code of it) and the
    harness compiles it again, to say why: a failure, never an empty test that passes."""
    res = box.run(Job("def f():\n    return 1\n", "", "assert f() == 1  # é\ndef g(:\n", "f"))
    assert not res.passed and res.status == "failed" and "SyntaxError" in res.output, res


def test_a_server_forgets_tests_as_told_and_gets_them_again(monkeypatch):
    """Each fork server keeps at most KEPT_TESTS tests; the evaluator says which to forget and
    sends a forgotten one again when it is needed: every verdict stays right, however the tests
    cycle through one worker."""
    from lintseq.evaluation import sandbox

    monkeypatch.setattr(sandbox, "KEPT_TESTS", 2)
    jobs = [Job(f"def f():\n    return {k}\n", "", f"assert f() == {k}\n", "f") for k in range(4)] + [
        Job("def f():\n    return 9\n", "", f"assert f() == {k}\n", "f") for k in range(4)
    ]
    with Sandbox(Limits(timeout=10.0), workers=1) as box:
        results = list(box.run_many(jobs * 2))
        slot = box._slots.get()
        box._slots.put(slot)
        kept = list(slot[1].tests)
    assert [r.passed for r in results] == ([True] * 4 + [False] * 4) * 2, results
    assert len(kept) == 2
