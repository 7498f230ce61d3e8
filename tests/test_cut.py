"""States' trees cut out of the full program's tree (cut.py) are what parsing the state's
text gives, and the fast backend decides alike whether it cuts or parses."""

from __future__ import annotations

import ast
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from programs import programs

from lintseq.engine.edit_paths import backward_states
from lintseq.engine.units import Program, split_units
from lintseq.linters.cut import Cutter
from lintseq.linters.fast import FastLinter
from lintseq.linters.syntax import parse


def _shape(node: object) -> object:
    """A tree without end positions (a cut leaves its parents' ends as they were)."""
    if isinstance(node, list):
        return [_shape(x) for x in node]
    if not isinstance(node, ast.AST):
        return node
    return (
        type(node).__name__,
        [(f, _shape(getattr(node, f, None))) for f in node._fields],
        getattr(node, "lineno", None),
        getattr(node, "col_offset", None),
    )


def _padded(program: Program, keep: list[int]) -> str:
    """The state's text with deleted lines left blank: the full program's line numbers."""
    lines = [""] * len(program.lines)
    for i in keep:
        u = program.units[i]
        lines[u.start : u.end + 1] = program.lines[u.start : u.end + 1]
    return "\n".join(lines) + "\n"


def _states(program: Program, rng: random.Random, arbitrary: bool) -> list[list[int]]:
    """A walk down to the empty state: a unit and its block at a time, or (`arbitrary`)
    sometimes any few units."""
    keep, out = list(range(len(program.units))), []
    while keep:
        if arbitrary and rng.random() < 0.3:
            keep = sorted(rng.sample(keep, max(0, len(keep) - rng.randint(1, 3))))
        else:
            u = rng.choice(keep)
            gone = {u, *program.block(u)}
            keep = [i for i in keep if i not in gone]
        out.append(keep)
    return out


def _check_cuts(code: str, seed: int) -> dict[str, int]:
    program = split_units(code)
    tree = parse(program.text(range(len(program.units))))
    assert not isinstance(tree, int)
    cutter, owner = Cutter(program, tree, program.line_owner()), program.line_owner()
    rng = random.Random(seed)
    seen = {"cut": 0, "error": 0, "parsed": 0}
    for arbitrary in (False, True):
        for keep in _states(program, rng, arbitrary):
            got, want = cutter.body(keep), parse(_padded(program, keep))
            if got is None:
                seen["parsed"] += 1
            elif isinstance(got, int):
                assert isinstance(want, int) and owner[want - 1] == got, (keep, got, want)
                seen["error"] += 1
            else:
                assert not isinstance(want, int) and _shape(got) == _shape(want.body), keep
                seen["cut"] += 1
    return seen


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(code=programs(), seed=st.integers(0, 2**32))
def test_cut_is_the_parsed_state(code: str, seed: int) -> None:
    _check_cuts(code, seed)


ELSE_AND_FRIENDS = """\
import os


@property
@staticmethod
def f(a, b):
    if a:
        x = 1
    elif b:
        x = 2
    elif a and b:
        x = 3
    else:
        x = 4
    for i in a:
        print(i)
    else:
        print(b)
    while b:
        b -= 1
    else:
        pass
    try:
        y = os.sep
    except ValueError:
        y = 1
    except (KeyError, TypeError) as e:
        y = e
    else:
        y = 2
    finally:
        print(y)
    with open(a) as fh, open(b):
        fh.read()
    match x:
        case 1:
            pass
        case [_, *rest]:
            print(rest)
        case _:
            pass
    return x


class C(object):
    def m(self):
        return 1

    def n(self): return 2
"""


def test_cut_clauses_decorators_and_errors() -> None:
    seen = {"cut": 0, "error": 0, "parsed": 0}
    for seed in range(60):
        for key, n in _check_cuts(ELSE_AND_FRIENDS, seed).items():
            seen[key] += n
    assert all(seen.values()), seen  # every outcome occurs


def _disagreements(code: str, seed: int) -> list[tuple[list[int], set[int], set[int]]]:
    """States of a backward walk and one deletion away: the default path (cuts, for a small
    program) against linting each state's text."""
    program = split_units(code)
    cut, text = FastLinter(), FastLinter(incremental=False)
    rng = random.Random(seed)
    wrong = []
    for keep in backward_states(program, text, random.Random(seed)):
        for state in [keep] + [
            [i for i in keep if i not in {u, *program.block(u)}] for u in rng.sample(keep, min(2, len(keep)))
        ]:
            a, b = cut.error_units(program, state), text.error_units(program, state)
            if a != b:
                wrong.append((state, a, b))
    return wrong


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(code=programs(), seed=st.integers(0, 2**32))
def test_cut_path_decides_like_the_text(code: str, seed: int) -> None:
    assert _disagreements(code, seed) == []


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(code=programs(), seed=st.integers(0, 2**32))
def test_cut_is_the_parsed_state_on_many_programs(code: str, seed: int) -> None:
    _check_cuts(code, seed)
    assert _disagreements(code, seed) == []


def test_cut_path_on_the_stdlib(stdlib_rows) -> None:
    codes = [row["response"] for row in stdlib_rows][::3]
    assert not {i: d for i, code in enumerate(codes) if (d := _disagreements(code, i))}
    for i, code in enumerate(codes):
        _check_cuts(code, i)
