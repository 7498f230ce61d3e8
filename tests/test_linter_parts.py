"""The fast backend's building blocks: the node walk, `bound_names`, the memo tables, and
`Program.line_owner`."""

from __future__ import annotations

import ast
import json
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lintseq.engine.units import split_units
from lintseq.linters.memo import MISS, NO_MEMO, Memo, Table
from lintseq.linters.nodes import alias_name, blocks, bound_names, children, statements, walk
from lintseq.linters.syntax import parse


def _sample_codes() -> list[str]:
    text = resources.files("lintseq").joinpath("data/sample.jsonl").read_text()
    return [json.loads(line)["response"] for line in text.splitlines() if line.strip()]


EVERY_SYNTAX = """
import a.b, c as d
from e import f as g, h
from i import *
@dec(k := 1)
class C(B, metaclass=M):
    x: int = 1
    def m(self, p, /, q=2, *r, s, t=3, **u) -> "C":
        global G
        del self.x, (v, w)
        for (y, *z) in enumerate(p):
            with open(q) as fh, ctx() as (aa, bb):
                pass
        else:
            async def inner():
                async for cc in dd:
                    await cc
                async with ee as ff:
                    return [gg async for gg in ff]
        try:
            raise ValueError from None
        except (KeyError, ValueError) as exc:
            yield exc
        else:
            hh = lambda ii, *jj, kk=4, **ll: {mm: nn for mm, nn in ll.items() if mm} | {**ll}
        finally:
            assert self, f"{q!r:>{s}}"
        match p:
            case [1, *rest] if rest:
                pass
            case {"k": v2, **others}:
                pass
            case Point(x=0, y=yy) | Other(zz):
                pass
            case str() as text:
                pass
            case None:
                pass
        while q:
            q -= 1
            continue
        try:
            pass
        except* OSError:
            pass
        nonlocal_free = (oo for oo in p)
        return p[1:2, ::3], not q, q if p else -q, {1, 2}, (yield)
"""


def test_children_are_iter_child_nodes_without_contexts() -> None:
    """Same nodes in the same order, over every node type the parser produces here."""
    trees = [ast.parse(EVERY_SYNTAX)] + [parse(code) for code in _sample_codes()]
    seen: set[type] = set()
    for tree in trees:
        for node in ast.walk(tree):
            seen.add(type(node))
            want = [c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.expr_context)]
            assert children(node) == want, type(node).__name__
    assert len(seen) > 80  # the fixture covers most of the grammar


def test_walk_and_statements() -> None:
    tree = ast.parse(EVERY_SYNTAX)
    want = {id(n) for n in ast.walk(tree) if not isinstance(n, ast.expr_context)}
    assert {id(n) for n in walk(tree)} == want
    stmts = {id(n) for n in statements(tree)} - {id(tree)}
    assert stmts == {id(n) for n in ast.walk(tree) if isinstance(n, (ast.stmt, ast.ExceptHandler, ast.match_case))}
    try_node = next(n for n in ast.walk(tree) if isinstance(n, ast.Try))
    assert blocks(try_node) == [
        c for c in ast.iter_child_nodes(try_node) if isinstance(c, (ast.stmt, ast.ExceptHandler))
    ]


@pytest.mark.parametrize(
    "source,names",
    [
        ("x = 1", {"x"}),
        ("del x", {"x"}),
        ("a.b = 1", set()),
        ("import a.b.c", {"a"}),
        ("import a.b as c", {"c"}),
        ("from a import b as c, d", {"c", "d"}),
        ("from a import *", set()),
        ("def f(x): pass", {"f", "x"}),
        ("class C: pass", {"C"}),
        ("try:\n    pass\nexcept E as e:\n    pass", {"e"}),
        ("match v:\n    case [a, *b] | {'k': a, **b}:\n        pass", {"a", "b"}),
        ("match v:\n    case C() as c:\n        pass", {"c"}),
        ("lambda p, *q, r=1, **s: p", {"p", "q", "r", "s"}),
        ("print(x)", set()),
    ],
)
def test_bound_names(source: str, names: set[str]) -> None:
    """Collected over every node, `bound_names` gives what the statement binds."""
    tree = ast.parse(source)
    got = {name for node in ast.walk(tree) for name in bound_names(node)}
    assert got == names


def test_alias_name() -> None:
    alias = ast.parse("import a.b").body[0].names[0]  # type: ignore[attr-defined]
    assert alias_name(alias) == "a"


def test_memo_keeps_results_per_node_and_trims_volatile_tables() -> None:
    kept, volatile = Table("kept"), Table("volatile", volatile=True)
    memo = Memo(cap=2)
    calls: list[ast.AST] = []

    def compute(node: ast.AST) -> int:
        calls.append(node)
        return len(calls)

    nodes = [ast.Pass() for _ in range(3)]
    assert [memo.get(kept, n, compute) for n in nodes] == [1, 2, 3]
    assert [memo.get(kept, n, compute) for n in nodes] == [1, 2, 3] and len(calls) == 3
    for n in nodes:
        memo.get(volatile, n, compute)
    assert memo.find(volatile, nodes[0]) == 4
    memo.trim()  # over the cap: the volatile table is emptied, the other kept
    assert memo.find(volatile, nodes[0]) is MISS and memo.find(kept, nodes[0]) == 1
    memo.store(kept, nodes[0], "x")
    assert memo.get(kept, nodes[0], compute) == "x"
    assert memo.find(kept, ast.Pass()) is MISS  # another node, never an id's old entry


def test_no_memo_keeps_nothing() -> None:
    table, node = Table("t"), ast.Pass()
    assert NO_MEMO.get(table, node, lambda n: 1) == 1
    NO_MEMO.store(table, node, 2)
    assert NO_MEMO.find(table, node) is MISS and NO_MEMO.get(table, node, lambda n: 3) == 3


@settings(max_examples=50, deadline=None)
@given(code=st.sampled_from(_sample_codes()), data=st.data())
def test_line_owner_matches_state_text(code: str, data: st.DataObject) -> None:
    """Entry k of `line_owner(keep)` is the unit line k + 1 of `text(keep)` comes from."""
    program = split_units(code)
    keep = sorted(data.draw(st.sets(st.sampled_from(range(len(program.units))))))
    owner = program.line_owner(keep)
    lines = program.text(keep).split("\n")[:-1]
    assert len(owner) == len(lines)
    for line, unit in zip(lines, owner):
        u = program.units[unit]
        assert unit in keep and line in program.lines[u.start : u.end + 1]
    assert program.line_owner() == program.line_owner(range(len(program.units)))
