import gzip
import hashlib
import json
from importlib import resources

import pytest

from lintseq.diffs import DIFF_TOKEN
from lintseq.evaluation.problems import BenchmarkError, Problem, load_benchmark
from lintseq.evaluation.sandbox import Limits, Sandbox

SHA = {
    "mbpp.jsonl.gz": "ccf64ceae9c5403bf50a044cb6d505bfd2a2963ee58338ba268fd65beab92a9f",
    "sanitized-mbpp.json.gz": "ca95deaa9a01ef0a6f439f88bcf0dd3db3563d22f22aad6cae04ebb9a8d8c8e9",
}


@pytest.mark.parametrize("name", sorted(SHA))
def test_bundled_data_is_upstream(name):
    raw = gzip.decompress(resources.files("lintseq.data").joinpath(name).read_bytes())
    assert hashlib.sha256(raw).hexdigest() == SHA[name]


@pytest.mark.parametrize(
    "name,count,first,last",
    [
        ("humaneval", 164, "HumanEval/0", "HumanEval/163"),
        ("mbpp", 500, "Mbpp/11", "Mbpp/510"),
        ("mbpp-sanitized", 257, "MbppSanitized/11", "MbppSanitized/479"),
        ("mbpp:train", 374, "Mbpp/601", "Mbpp/974"),
        ("mbpp:validation", 90, "Mbpp/511", "Mbpp/600"),
        ("mbpp-sanitized:train", 120, None, None),
    ],
)
def test_counts(name, count, first, last):
    problems = load_benchmark(name)
    assert len(problems) == count
    assert len({p.task_id for p in problems}) == count
    if first:
        assert problems[0].task_id == first and problems[-1].task_id == last
    assert all(p.entry_point and p.test and p.canonical_solution for p in problems)


def test_prompts():
    he = {p.task_id: p for p in load_benchmark("humaneval")}
    p0 = he["HumanEval/0"]
    assert p0.prompt.startswith(
        "Write a Python function `has_close_elements(numbers: List[float], threshold: float) -> bool` "
        "to solve the following problem:\nCheck if in given list of numbers"
    )
    assert p0.prelude == "from typing import List\n"
    assert "def encode_cyclic" in he["HumanEval/38"].prelude
    assert p0.prompt_for("lintseq") == p0.prompt + "\n" + DIFF_TOKEN
    assert p0.prompt_for("baseline") == p0.prompt + "\n"
    assert DIFF_TOKEN not in p0.prompt
    with pytest.raises(ValueError):
        p0.prompt_for("chat")
    m = load_benchmark("mbpp")[0]
    assert m.prompt.endswith("\nYour code should satisfy this signature: `def remove_Occ(s, ch):`")
    assert m.entry_point == "remove_Occ"


def test_user_jsonl(tmp_path):
    path = tmp_path / "bench.jsonl"
    rows = [{"task_id": "t/1", "prompt": "Add.", "test": "assert add(1, 2) == 3", "entry_point": "add", "extra": 1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    [p] = load_benchmark(str(path))
    assert p == Problem("t/1", "Add.", "assert add(1, 2) == 3", "add")
    path.write_text('{"task_id": "x", "prompt": "p"}\n')
    with pytest.raises(BenchmarkError, match="test"):
        load_benchmark(str(path))
    path.write_text("not json\n")
    with pytest.raises(BenchmarkError, match="not JSON"):
        load_benchmark(str(path))
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        load_benchmark("humaneval-xl")
    with pytest.raises(BenchmarkError, match="split"):
        load_benchmark("mbpp:nope")


WRONG = "def {name}(*args, **kwargs):\n    return None\n"


def _score(problems, wrong=False, timeout=20.0):
    box = Sandbox(Limits(timeout=timeout), workers=2)
    programs = [p.program_for(WRONG.format(name=p.entry_point) if wrong else p.canonical_solution) for p in problems]
    return [r.passed for r in box.run_many(programs)], box


@pytest.mark.parametrize("name", ["humaneval", "mbpp", "mbpp-sanitized"])
def test_canonical_pass_wrong_fail_subset(name):
    problems = load_benchmark(name)[::25]
    passed, _ = _score(problems)
    assert all(passed)
    assert not any(_score(problems, wrong=True)[0])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["humaneval", "mbpp", "mbpp-sanitized"])
def test_canonical_solutions_score_one_full(name):
    problems = load_benchmark(name)
    passed, _ = _score(problems, timeout=60.0)
    assert sum(passed) == len(problems), [p.task_id for p, ok in zip(problems, passed) if not ok]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["humaneval", "mbpp", "mbpp-sanitized"])
def test_wrong_solutions_score_zero_full(name):
    problems = load_benchmark(name)
    passed, _ = _score(problems, wrong=True)
    assert not any(passed)


def test_completion_prompts_follow_the_harness():
    he = load_benchmark("humaneval")[0]
    assert he.prompt_for("completion") == he.code_prompt.strip() and he.code_prompt.endswith('"""\n')
    mb = load_benchmark("mbpp")[0]
    text = mb.prompt_for("completion")
    assert text.startswith('"""\n') and text.endswith('\n"""\n') and "assert " in text
    assert "\nassert" in mb.stop and "\ndef" in he.stop
    with pytest.raises(ValueError, match="chat template"):
        he.prompt_for("completion", chat_tokenizer=object())
