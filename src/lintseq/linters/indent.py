"""Bad indentation (pylint W0311), judged against the program's own indentation unit.

pylint expects four spaces per level; lintseq (docs/design.md §2.8) handles 2-space and tab-indented code
like 4-space code, so the unit here is the width of the program's first indented statement.
A statement that starts its line at another width than depth x unit is flagged, which is
what pylint reports for code that mixes widths (HumanEval has a few such solutions).

The unit comes from the first indented statement of pylint's walk, which visits top-level
statements' subtrees last to first; the rest is per statement, so a statement's `Profile`
is kept by the memo on the incremental path.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import NamedTuple

from lintseq.linters.memo import NO_MEMO, Memo, Table

_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")

INDENT = Table("(unit candidate, parts) of a top-level statement")
INDENT_CLASS = Table("(unit candidate, parts) of a top-level class", volatile=True)
INDENT_CHUNK = Table("(unit candidate, parts) of a chunk", volatile=True)
INDENT_PART = Table("_Part of a class-body statement")


class Profile(NamedTuple):
    """The indentation unit a statement (or chunk) would set, if the walk met it first
    (0: it has no indented statement), and its indented statements."""

    unit: int
    parts: list[_Part] | _Parts


def bad_indentation(chunks: Sequence, lines: Sequence[str], memo: Memo = NO_MEMO) -> set[int]:
    """Lines of statements indented at another width than depth x the program's unit."""
    profiles = [memo.get(INDENT_CHUNK, c, lambda c: _chunk_profile(c, lines, memo)) for c in chunks]
    unit = 0
    for cand, _ in reversed(profiles):
        if cand:
            unit = cand
            break
    bad: set[int] = set()
    if unit:
        for _, part in profiles:
            found = part.lines(unit)
            if found:
                bad |= found
    return bad


def _profile(stack: list[tuple[list[ast.AST], int]], lines: Sequence[str]) -> tuple[int, list[tuple[int, int, int]]]:
    """The indentation unit the first statement met sets (0: none), and (line, column,
    depth) of every indented statement that starts its line, in pylint's walk order."""
    unit = 0
    entries: list[tuple[int, int, int]] = []
    while stack:
        body, depth = stack.pop()
        for node in body:
            if isinstance(node, (ast.stmt, ast.ExceptHandler, ast.match_case)):
                if isinstance(node, ast.stmt) and depth:
                    col = node.col_offset
                    text = lines[node.lineno - 1]
                    if not text[:col].strip():  # starts its line
                        if not unit:
                            unit = col // depth if col % depth == 0 else col
                        entries.append((node.lineno, col, depth))
                for field in _BODIES:
                    sub = getattr(node, field, None)
                    if sub:  # handlers sit at the depth of their `try`, an `elif` at its `if`'s
                        same = field == "handlers" or (field == "orelse" and _is_elif(node, sub, lines))
                        stack.append((sub, depth if same else depth + 1))
    return unit, entries


def _is_elif(node: ast.AST, orelse: list[ast.AST], lines: Sequence[str]) -> bool:
    """`elif` is an `if` alone in its parent's `else`, written at the parent's column."""
    if not (isinstance(node, ast.If) and len(orelse) == 1 and isinstance(orelse[0], ast.If)):
        return False
    sub = orelse[0]
    return lines[sub.lineno - 1][sub.col_offset : sub.col_offset + 4] == "elif"


class _Part:
    """Indented statements of one node, and their bad lines per indentation unit."""

    __slots__ = ("bad", "entries")

    def __init__(self, entries: list[tuple[int, int, int]]) -> None:
        self.entries = entries
        self.bad: dict[int, frozenset[int]] = {}

    def lines(self, unit: int) -> frozenset[int]:
        out = self.bad.get(unit)
        if out is None:
            out = self.bad[unit] = frozenset(line for line, c, d in self.entries if c != d * unit)
        return out


class _Parts:
    """Bad lines per unit of several parts."""

    __slots__ = ("bad", "parts")

    def __init__(self, parts: list[_Part]) -> None:
        self.parts = parts
        self.bad: dict[int, frozenset[int]] = {}

    def lines(self, unit: int) -> frozenset[int]:
        out = self.bad.get(unit)
        if out is None:
            out = self.bad[unit] = frozenset().union(*(p.lines(unit) for p in self.parts))
        return out


def _chunk_profile(chunk, lines: Sequence[str], memo: Memo) -> Profile:
    profiles = [
        memo.get(INDENT_CLASS if type(stmt) is ast.ClassDef else INDENT, stmt, lambda s: _top_profile(s, lines, memo))
        for stmt in chunk.body
    ]
    cand = next((c for c, _ in reversed(profiles) if c), 0)
    return Profile(cand, _Parts([p for _, parts in profiles for p in parts]))


def _top_profile(stmt: ast.stmt, lines: Sequence[str], memo: Memo) -> Profile:
    if not isinstance(stmt, ast.ClassDef):
        unit, entries = _profile([([stmt], 0)], lines)
        return Profile(unit, [_Part(entries)])
    # a class's body is walked in order before anything below it
    parts = [memo.get(INDENT_PART, s, lambda n: _Part(_profile([([n], 1)], lines)[1])) for s in stmt.body]
    for s in stmt.body:
        if not lines[s.lineno - 1][: s.col_offset].strip():
            return Profile(s.col_offset, parts)
    return Profile(_profile([([stmt], 0)], lines)[0], parts)
