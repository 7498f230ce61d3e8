"""A state's syntax tree cut out of the full program's tree, where that needs no parsing.

A state keeps some units of a program, and the sampler deletes a unit together with its
block, so most states are the full program less whole statements and whole clauses (an
`else:` with its block, one `except` of several, a decorator line). Such a state's tree is
the full program's tree with those left out: untouched statements are the very same nodes,
the statements around a deletion are shallow copies with shorter bodies, and line numbers
are the full program's. `Cutter.body` builds it in time proportional to the statements on
the way to what changed, where parsing the state's text costs time proportional to all of it.

A state whose first departure from that, in source order, is an emptied block is a syntax
error the parser blames on the block's opening line ("expected an indented block after
'if' statement on line N"): `body` answers that line's unit. It answers None, and the
caller parses the state's text, for anything else: a clause, a block or a decorator left
without the line that opened it (a dangling `else:`, an indented block after a deleted
header, which may also join the block before it), a `try` left without `except` or
`finally`. Those are syntax errors or other trees, and the parser has to say which.
"""

from __future__ import annotations

import ast
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, TypeVar, cast

from lintseq.linters.nodes import statements

if TYPE_CHECKING:
    from lintseq.engine.units import Program

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class _Emptied(Exception):
    """A kept block lost all its statements: a syntax error on its opening line."""

    def __init__(self, unit: int) -> None:
        self.unit = unit


def _copy(node: ast.AST, **fields: object) -> ast.AST:
    """A shallow copy of `node` with some fields replaced (faster than copy.copy)."""
    new = node.__class__.__new__(node.__class__)
    new.__dict__.update(node.__dict__)
    new.__dict__.update(fields)
    return new


class Cutter:
    """Cuts states' trees out of one program's tree (in the program's line numbers)."""

    def __init__(self, program: Program, tree: ast.Module, owner: list[int]) -> None:
        self.tree = tree
        self.owner = owner
        self.units = program.units
        # units [first, last] of every statement, handler and match case
        self._span: dict[int, tuple[int, int]] = {}
        for node in statements(tree):
            if node is not tree:
                self._span[id(node)] = self._units_of(node)
        # the unit whose block each unit is in (-1: top level)
        self._parent: list[int] = []
        stack: list[int] = []
        for u in program.units:
            while stack and self.units[stack[-1]].depth >= u.depth:
                stack.pop()
            self._parent.append(stack[-1] if stack else -1)
            stack.append(u.index)
        self._kept: list[int] = []  # prefix sums of the state's kept units
        self._keep: Sequence[int] = ()

    def _units_of(self, node: ast.AST) -> tuple[int, int]:
        owner = self.owner
        if isinstance(node, ast.match_case):
            return owner[node.pattern.lineno - 1], owner[node.body[-1].end_lineno - 1]  # type: ignore[operator]
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])  # type: ignore[attr-defined]
        return owner[first - 1], owner[node.end_lineno - 1]  # type: ignore[attr-defined]

    def body(self, keep: Sequence[int]) -> list[ast.stmt] | int | None:
        """The state's module body; or the unit of its syntax error; or None: parse its text."""
        kept = bytearray(len(self.units))
        for i in keep:
            kept[i] = 1
        self._kept = list(accumulate(kept, initial=0))
        self._keep = keep
        try:
            return self._statements(self.tree.body)
        except _Emptied as exc:
            return exc.unit

    # -- what is kept ------------------------------------------------------------------------
    def _count(self, first: int, last: int) -> int:
        return self._kept[last + 1] - self._kept[first]

    def _has(self, unit: int) -> bool:
        return self._kept[unit + 1] != self._kept[unit]

    def _header(self, node: ast.stmt | ast.excepthandler) -> int:
        return self.owner[node.lineno - 1]

    def _clause_unit(self, header: int, body: list[ast.stmt]) -> int:
        """The unit of an `else:` or `finally:` line, from the block it opens: the unit before
        the block's first statement, or that statement's own unit when it sits on the line."""
        first = self._span[id(body[0])][0]
        return first - 1 if self.units[first].depth > self.units[header].depth else first

    # -- cutting -----------------------------------------------------------------------------
    def _statements(self, body: list) -> list | None:
        """The kept statements of a block, each cut; None: not a cut of the full tree."""
        out = []
        span, kept = self._span, self._kept
        for s in body:
            first, last = span[id(s)]
            count = kept[last + 1] - kept[first]
            if count == last - first + 1:
                out.append(s)
            elif count:
                cut = self._cut(s)
                if cut is None:
                    return None
                out.append(cut)
        return out

    def _block(self, body: list, header: int) -> list | None:
        """A block that stays, opened by unit `header`: its kept statements (at least one)."""
        out = self._statements(body)
        if out is not None and not out:
            if self._ends_block(header):
                raise _Emptied(header)
            return None
        return out

    def _ends_block(self, header: int) -> bool:
        """Does the state's next line after an emptied block's header close that block, so
        that the parser finds no indented block there? It does if it is in the block of a
        kept statement around the header (all of which are kept by now), at the top level,
        or if there is none; a line from a deleted header's block would be read as the body."""
        i = bisect_right(self._keep, header)
        if i == len(self._keep):
            return True
        nxt = self._keep[i]
        parent = self._parent[nxt]
        return self.units[nxt].depth <= self.units[header].depth and (parent < 0 or self._has(parent))

    def _cut(self, node: ast.stmt | ast.excepthandler | ast.match_case) -> ast.AST | None:
        """A partly kept statement (handler, case) with its deleted parts left out."""
        if not self._has(self._header(node) if not isinstance(node, ast.match_case) else self._span[id(node)][0]):
            return None  # its opening line is gone but not all of it
        cut = _CUTS.get(type(node))
        return cut(self, node) if cut is not None else None

    def _def(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> ast.AST | None:
        body = self._block(node.body, self._header(node))
        if body is None:
            return None
        decorators = [d for d in node.decorator_list if self._has(self.owner[d.lineno - 1])]
        return _copy(node, body=body, decorator_list=decorators)

    def _single(self, node: ast.With | ast.AsyncWith | ast.ExceptHandler | ast.match_case) -> ast.AST | None:
        """A statement with one block (`with`, a handler, a match case)."""
        body = self._block(
            node.body,
            self._span[id(node)][0] if isinstance(node, ast.match_case) else self._header(node),
        )
        return None if body is None else _copy(node, body=body)

    def _else(self, node: ast.stmt, orelse: list[ast.stmt], end: int) -> list | None:
        """The kept `else:` (or `finally:`) block of `node` ending at unit `end`, [] if it is
        deleted whole; None otherwise."""
        if not orelse:
            return []
        unit = self._clause_unit(self._header(node), orelse)
        if self._has(unit):
            return self._block(orelse, unit)
        return [] if self._count(unit, end) == 0 else None

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While) -> ast.AST | None:
        body = self._block(node.body, self._header(node))
        if body is None:
            return None
        orelse = self._else(node, node.orelse, self._span[id(node)][1])
        return None if orelse is None else _copy(node, body=body, orelse=orelse)

    def _chain(self, node: ast.If) -> tuple[list[tuple[ast.If, int]], list[ast.stmt], int]:
        """An if statement's if/elif clauses (node, header unit), its else block and the unit
        of its `else:` line (or the statement's last unit + 1 when it has none)."""
        header, end = self._header(node), self._span[id(node)][1]
        depth = self.units[header].depth
        clauses = [(node, header)]
        cur = node
        while (
            len(cur.orelse) == 1
            and type(cur.orelse[0]) is ast.If
            and self.units[self._header(cur.orelse[0])].depth == depth
        ):  # an elif, not an if in an else
            cur = cur.orelse[0]
            clauses.append((cur, self._header(cur)))
        orelse = cur.orelse
        return clauses, orelse, self._clause_unit(header, orelse) if orelse else end + 1

    def _if(self, node: ast.If) -> ast.AST | None:
        """An if/elif/else chain: an elif or the else may go with its block; the chain then
        links over it."""
        end = self._span[id(node)][1]
        clauses, else_block, else_unit = self._chain(node)
        kept: list[tuple[ast.If, list]] = []
        for i, (clause, header) in enumerate(clauses):
            last = clauses[i + 1][1] - 1 if i + 1 < len(clauses) else else_unit - 1
            if self._has(header):
                body = self._block(clause.body, header)
                if body is None:
                    return None
                kept.append((clause, body))
            elif self._count(header, last):
                return None
        orelse = self._else(node, else_block, end) if else_block else []
        if orelse is None:
            return None
        for clause, body in reversed(kept):
            orelse = [_copy(clause, body=body, orelse=orelse)]
        return orelse[0]

    def _try(self, node: ast.Try | ast.TryStar) -> ast.AST | None:
        header, end = self._header(node), self._span[id(node)][1]
        body = self._block(node.body, header)
        if body is None:
            return None
        handlers = self._statements(node.handlers)
        if handlers is None:
            return None
        orelse, finalbody = node.orelse, node.finalbody
        if not handlers and (
            not finalbody
            or (orelse and self._has(self._clause_unit(header, orelse)))
            or not self._has(self._clause_unit(header, finalbody))
        ):
            return None  # `try` needs an `except` or a `finally`, and `else` an `except`
        orelse_end = self._clause_unit(header, finalbody) - 1 if finalbody else end
        kept_else = self._else(node, orelse, orelse_end)
        if kept_else is None:
            return None
        kept_finally = self._else(node, finalbody, end)
        if kept_finally is None:
            return None
        return _copy(node, body=body, handlers=handlers, orelse=kept_else, finalbody=kept_finally)

    def _match(self, node: ast.Match) -> ast.AST | None:
        cases = self._block(node.cases, self._header(node))
        return None if cases is None else _copy(node, cases=cases)


_N = TypeVar("_N", bound=ast.AST)
_Cut = Callable[[Cutter, ast.AST], ast.AST | None]


def _cuts(t: type[_N], cut: Callable[[Cutter, _N], ast.AST | None]) -> tuple[type[ast.AST], _Cut]:
    """A `_CUTS` entry; the types check that `cut` takes a `t`, all the table gives it."""
    return t, cast(_Cut, cut)


_CUTS: dict[type[ast.AST], _Cut] = dict(
    [
        _cuts(ast.FunctionDef, Cutter._def),
        _cuts(ast.AsyncFunctionDef, Cutter._def),
        _cuts(ast.ClassDef, Cutter._def),
        _cuts(ast.With, Cutter._single),
        _cuts(ast.AsyncWith, Cutter._single),
        _cuts(ast.ExceptHandler, Cutter._single),
        _cuts(ast.match_case, Cutter._single),
        _cuts(ast.For, Cutter._loop),
        _cuts(ast.AsyncFor, Cutter._loop),
        _cuts(ast.While, Cutter._loop),
        _cuts(ast.If, Cutter._if),
        _cuts(ast.Try, Cutter._try),
        _cuts(ast.TryStar, Cutter._try),
        _cuts(ast.Match, Cutter._match),
    ]
)
