"""The incremental fast backend (pieces.py + memo.py) decides every state exactly as linting
the state's text does (`FastLinter(incremental=False)`), and large programs run to the end.

States checked: those of the backward walk, plus states one random deletion away from each
(which are often not clean: dangling `else:`, emptied blocks, decorators left behind).
"""

from __future__ import annotations

import random

import pytest
from conftest import load_benchmark_script
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from programs import programs

from lintseq.diffs import apply_edits
from lintseq.engine.edit_paths import backward_states, sample_edit_sequence
from lintseq.engine.units import normalize, split_units
from lintseq.linters.fast import FastLinter

large = load_benchmark_script("large_program")


def _disagreements(code: str, seed: int, neighbours: int = 2) -> list[tuple[list[int], set[int], set[int]]]:
    program = split_units(code)
    new, old = FastLinter(incremental=True), FastLinter(incremental=False)
    rng = random.Random(seed)
    states = backward_states(program, old, random.Random(seed))
    candidates = list(states)
    for keep in states:
        for _ in range(neighbours if keep else 0):
            u = rng.choice(keep)
            gone = {u, *program.block(u)}
            candidates.append([i for i in keep if i not in gone])
    wrong = []
    for keep in candidates:
        a, b = new.error_units(program, keep), old.error_units(program, keep)
        if a != b:
            wrong.append((keep, a, b))
    return wrong


def _agree_generated(code: str, seed: int) -> None:
    assert _disagreements(code, seed) == []


def _agree_concatenated(parts: list[str], seed: int) -> None:
    """Several top-level statements and classes, so that pieces merge and split."""
    assert _disagreements("".join(normalize(p) for p in parts), seed) == []


_GENERATED = given(code=programs(), seed=st.integers(0, 2**32))
_CONCATENATED = given(parts=st.lists(programs(), min_size=2, max_size=4), seed=st.integers(0, 2**32))
_QUICK = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])

test_incremental_agrees_on_generated_programs = settings(max_examples=80, **_QUICK)(_GENERATED(_agree_generated))
test_incremental_agrees_on_concatenated_programs = settings(max_examples=30, **_QUICK)(
    _CONCATENATED(_agree_concatenated)
)
test_incremental_agrees_on_many_generated_programs = pytest.mark.slow(
    settings(max_examples=2000, **_QUICK)(_GENERATED(_agree_generated))
)
test_incremental_agrees_on_many_concatenated_programs = pytest.mark.slow(
    settings(max_examples=1000, **_QUICK)(_CONCATENATED(_agree_concatenated))
)


def test_incremental_agrees_on_stdlib(stdlib_rows) -> None:
    codes = [row["response"] for row in stdlib_rows][::4]
    wrong = {i: d for i, code in enumerate(codes) if (d := _disagreements(code, i, neighbours=1))}
    assert not wrong


@pytest.mark.parametrize("kind", sorted(large.KINDS))
def test_incremental_agrees_on_large_program_kinds(kind: str) -> None:
    code = large.lines_to_program(kind, 60)
    for seed in range(4):
        assert _disagreements(code, seed) == []


@pytest.mark.parametrize("kind", sorted(large.KINDS))
def test_same_sequences_as_text_path(kind: str) -> None:
    code = large.lines_to_program(kind, 300)
    edits = sample_edit_sequence(code, seed=3, linter=FastLinter(incremental=True))
    assert edits == sample_edit_sequence(code, seed=3, linter=FastLinter(incremental=False))
    assert apply_edits(edits) == normalize(code)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(large.KINDS))
def test_five_thousand_lines_run_to_the_end(kind: str) -> None:
    code = large.lines_to_program(kind, 5000)
    edits = sample_edit_sequence(code, seed=0)
    assert apply_edits(edits) == normalize(code)
