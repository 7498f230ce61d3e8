"""The hard invariants on real code: every sequence from the bundled sample and the stdlib corpus.

For each backend: replaying the edits gives the source back exactly, every edit is
insertion-only, every intermediate state is a subsequence of the source lines, and (for the
backends that lint) every intermediate state is clean when linted again from its text.
"""

from __future__ import annotations

import re

import pytest

from lintseq import apply_edits, normalize, sample_edit_sequence
from lintseq.engine.edit_paths import derive_seed
from lintseq.linters import get_linter

HUNK = re.compile(r"@@ -(\d+),0 \+(\d+)(?:,(\d+))? @@")
PYLINT_DEFAULT = 20  # programs the default run gives the pylint backend; `-m slow` does all


def check_insertion_only(edit: str) -> None:
    """Hunks `@@ -a,0 +c[,k] @@`, each followed by exactly k `+` lines, and nothing else."""
    lines = edit.split("\n")
    assert lines and lines[0].startswith("@@"), edit
    i = 0
    while i < len(lines):
        m = HUNK.fullmatch(lines[i])
        assert m, f"not an insertion hunk header: {lines[i]!r}"
        k = int(m.group(3)) if m.group(3) is not None else 1
        assert k >= 1
        body = lines[i + 1 : i + 1 + k]
        assert len(body) == k and all(b.startswith("+") for b in body), edit
        i += 1 + k


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(line in it for line in part)


def check_sequence(code: str, linter: str) -> int:
    """All invariants for one program; returns the number of states linted."""
    edits = sample_edit_sequence(code, seed=derive_seed(0, code), linter=linter)
    assert apply_edits(edits) == normalize(code)
    for edit in edits:
        check_insertion_only(edit)
    source = normalize(code).split("\n")
    lint = None if linter == "none" else get_linter(linter)
    for k in range(1, len(edits)):
        state = apply_edits(edits[:k])
        assert is_subsequence(state.split("\n"), source)
        if lint is not None:
            assert lint.error_lines(state) == set(), f"{linter} finds errors in state {k}:\n{state}"
    return max(0, len(edits) - 1)


def _codes(rows: list[dict]) -> list[str]:
    return [row["response"] for row in rows]


@pytest.mark.parametrize("linter", ["fast", "none"])
def test_every_sample_sequence(sample_rows, linter):
    codes = _codes(sample_rows)
    assert len(codes) >= 100
    assert sum(check_sequence(code, linter) for code in codes) > len(codes)


@pytest.mark.parametrize("linter", ["fast", "none"])
def test_every_stdlib_sequence(stdlib_rows, linter):
    codes = _codes(stdlib_rows)
    assert len(codes) >= 300
    assert sum(check_sequence(code, linter) for code in codes) > len(codes)


def test_pylint_sequences_subset(sample_rows, stdlib_rows):
    pytest.importorskip("pylint")
    half = PYLINT_DEFAULT // 2
    codes = _codes(sample_rows)[:half] + _codes(stdlib_rows)[::30][:half]
    assert sum(check_sequence(code, "pylint") for code in codes) > 0


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["sample", "stdlib"])
def test_pylint_sequences_all(request, corpus):
    pytest.importorskip("pylint")
    rows = request.getfixturevalue(f"{corpus}_rows")
    for code in _codes(rows):
        check_sequence(code, "pylint")
