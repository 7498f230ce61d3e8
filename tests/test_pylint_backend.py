"""The pylint backend against pylint itself run the ordinary way, in a subprocess."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

pytest.importorskip("pylint")

from astroid import MANAGER
from astroid.context import _INFERENCE_CACHE

from lintseq.engine.edit_paths import random_states
from lintseq.engine.units import split_units
from lintseq.linters import get_linter
from lintseq.linters.pylint_backend import (
    MODNAME,
    OUR_FLAGS,
    RELEASE_FLAGS,
    PylintLinter,
    blamed_line,
    counts,
)

CRAFTED = [
    "x = 1\nif x:\nprint(x)\n",
    "def f():\n    return 1\n  x = 2\n",
    "print(undefined_name)\n",
    "def f():\n    print(a)\n    a = 1\n",
    "import random\nif random.random():\n    y = 1\nprint(y)\n",
    "class A:\n    def f(self):\n        return self.x\n",
    "class B:\n    def __init__(self):\n        self.v = 1\n\n\n"
    "class C(B):\n    def __init__(self):\n        self.w = 2\n",
    "def f():\n  return 1\n",
    "def g():\n    pass\n\n\nx = g()\n",
    "return 5\n",
    "for i in range(3):\n    pass\nbreak\n",
    "foo(1,\n  2\n",
    "x = [1,\n2)\n",
    "try:\n    x = 1\nprint(x)\n",
    "else:\n    pass\n",
    "import os\nimport numpy_surely_missing\nfrom os import nope\n",
    "def f(x):\n\treturn x\n",
    "nonlocal z\n",
    "class A:\n    pass\n\n\nclass A:\n    pass\n",
    "def f():\n    yield 1\n\n\nawait f()\n",
    "def f(:\n    pass\n",
    "",
    "# only a comment\n",
]


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def _programs(n_sample: int = 4, n_stdlib: int = 6, n_states: int = 2) -> list[str]:
    """Crafted cases, bundled MBPP programs (tabs), and random states of stdlib functions."""
    progs = list(CRAFTED)
    sample = resources.files("lintseq").joinpath("data/sample.jsonl").read_text()
    progs += [json.loads(line)["response"] for line in sample.splitlines()[:n_sample]]
    stdlib = _repo_root() / "benchmarks" / "data" / "stdlib.jsonl"
    if stdlib.exists():
        codes = [json.loads(line)["response"] for line in stdlib.read_text().splitlines()]
    else:
        codes = [json.loads(line)["response"] for line in sample.splitlines()[8:20]]
    for i, code in enumerate(codes[:: max(1, len(codes) // n_stdlib)][:n_stdlib]):
        program = split_units(code)
        for state in random_states(program, random.Random(i))[:n_states]:
            progs.append(program.text(state))
    return progs


def _pylint_subprocess(programs: list[str], tmp_path: Path) -> list[list[tuple[str, int, str]]]:
    rc = tmp_path / "empty.rc"
    rc.write_text("")
    files = []
    for i, text in enumerate(programs):
        path = tmp_path / f"p{i:03d}.py"
        path.write_text(text)
        files.append(path.name)
    cmd = [
        sys.executable,
        "-m",
        "pylint",
        f"--rcfile={rc}",
        *RELEASE_FLAGS,
        *OUR_FLAGS,
        "--msg-template={path}\x1f{msg_id}\x1f{line}\x1f{msg}",
        *files,
    ]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    found: dict[str, list[tuple[str, int, str]]] = {name: [] for name in files}
    for line in out.stdout.splitlines():
        parts = line.split("\x1f")
        if len(parts) == 4:
            found[parts[0]].append((parts[1], int(parts[2]), parts[3]))
    assert out.returncode != 32, out.stderr
    return [found[name] for name in files]


def _check_against_subprocess(programs: list[str], tmp_path: Path) -> None:
    expected = _pylint_subprocess(programs, tmp_path)
    assert sum(map(len, expected)) > len(programs)  # the oracle really ran
    linter = PylintLinter()
    for text, theirs in zip(programs, expected):
        ours = linter.messages(text)
        assert Counter((m, ln) for m, ln, _ in ours) == Counter((m, ln) for m, ln, _ in theirs), text
        last = max(1, len(text.splitlines()))
        want = {blamed_line(m, ln, msg, last) for m, ln, msg in theirs if counts(m)}
        assert linter.error_lines(text) == want, text


def test_same_messages_and_lines_as_pylint_run(tmp_path):
    _check_against_subprocess(_programs(), tmp_path)


@pytest.mark.slow
def test_same_messages_and_lines_as_pylint_run_more(tmp_path):
    _check_against_subprocess(_programs(n_sample=100, n_stdlib=60, n_states=4), tmp_path)


@pytest.mark.parametrize(
    "source, lines",
    [
        ("x = 1\nif x:\nprint(x)\n", {2}),  # empty block: the header, as the release deletes
        ("def f():\n    pass\nclass A:\n", {3}),
        ("x = [1,\n2)\n", {1}),  # unmatched bracket: where it was opened
        ("print(undefined_name)\n", {1}),
        ("def f():\n  return 1\n", {2}),  # W0311 counts
        (
            "class B:\n    def __init__(self):\n        self.v = 1\n\n\n"
            "class C(B):\n    def __init__(self):\n        self.w = 2\n",
            {7},
        ),  # W0231 counts
        ("import numpy_surely_missing\nfrom os import nope\n", set()),  # E0401/E0611 do not
        ("import os\n", set()),  # other warnings do not
        ("", set()),
    ],
)
def test_release_decisions(source, lines):
    assert get_linter("pylint").error_lines(source) == lines


def test_no_drift_over_many_calls():
    linter = PylintLinter()
    probe = "class A:\n    def f(self):\n        return self.x\n\n\ny = A().f() + zz\n"
    others = _programs(n_sample=2, n_stdlib=3, n_states=2)
    # Same module name, a class that does have `x`: a stale cache would clear the probe.
    others.insert(0, "class A:\n    x = 1\n\n    def f(self):\n        return self.x\n")
    first = linter.messages(probe)
    assert {m for m, _, _ in first} >= {"E1101", "E0602"}
    for text in others:
        linter.messages(text)
    sizes = len(MANAGER.astroid_cache)
    assert linter.messages(probe) == first
    for text in others:
        linter.messages(text)
    assert linter.messages(probe) == first
    assert MODNAME not in MANAGER.astroid_cache
    assert not _INFERENCE_CACHE
    assert len(MANAGER.astroid_cache) == sizes  # no growth once the stdlib it uses is loaded


def test_reads_no_config_and_writes_no_files(tmp_path, monkeypatch):
    (tmp_path / "pylintrc").write_text("[MAIN]\ndisable=all\n")
    (tmp_path / "pyproject.toml").write_text('[tool.pylint."messages control"]\ndisable = ["E0602"]\n')
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert PylintLinter().error_lines("print(undefined_name)\n") == {1}
    assert sorted(p.name for p in tmp_path.iterdir()) == before
