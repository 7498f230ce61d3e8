"""A state's syntax tree assembled from cached pieces, so a step re-parses only what changed.

The full program's top-level statements cut its units into pieces (a multi-line class is
cut once more, into its body statements). A state keeps some units of each piece; a piece
is parsed on its own, in the full program's line numbers (deleted lines become blank lines,
which the tokenizer skips), and cached under the tuple of units it keeps. Unchanged pieces
keep their nodes, so analyses can memoise on node identity, and line numbers never shift.

A piece that does not parse on its own (a dangling `else:`, a decorator whose `def` was
deleted, an emptied block) is judged together with its neighbours; if that does not settle
it, the caller lints the state text as before.
"""

from __future__ import annotations

import ast
import copy
from bisect import bisect_left
from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Literal, NamedTuple, overload

from lintseq.linters.syntax import syntax_error_line, try_parse

if TYPE_CHECKING:
    from lintseq.engine.units import Program

_FAIL = object()
_LEFT, _RIGHT = object(), object()  # a chunk needs the piece before / after it


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None) or []
    return min([stmt.lineno] + [d.lineno for d in decorators])


def _groups(stmts: list[ast.stmt], owner: list[int]) -> list[tuple[int, int, list[ast.stmt]]]:
    """Unit ranges [lo, hi) of statements; statements sharing a unit share a range."""
    out: list[tuple[int, int, list[ast.stmt]]] = []
    for s in stmts:
        lo, hi = owner[_first_line(s) - 1], owner[s.end_lineno - 1] + 1  # type: ignore[operator]
        if out and lo < out[-1][1]:
            out[-1] = (out[-1][0], max(hi, out[-1][1]), out[-1][2] + [s])
        else:
            out.append((lo, hi, [s]))
    return out


def _ranges(stmts: list[ast.stmt], owner: list[int]) -> list[tuple[int, int]]:
    return [(lo, hi) for lo, hi, _ in _groups(stmts, owner)]


def _contiguous(ranges: list[tuple[int, int]], lo: int, hi: int) -> bool:
    if not ranges or ranges[0][0] != lo or ranges[-1][1] != hi:
        return False
    return all(a[1] == b[0] for a, b in pairwise(ranges))


class _Piece:
    __slots__ = ("head", "hi", "lo", "sub_starts", "subs")

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        self.head = 0  # a class piece: header units are [lo, head), its body the subs
        self.subs: list[tuple[int, int]] = []
        self.sub_starts: list[int] = []


CHUNK = 16  # pieces per chunk


class ChunkRange(NamedTuple):
    """Units [lo, hi) of the program, the pieces [first, end) of one chunk."""

    lo: int
    hi: int
    first: int
    end: int


class Span(NamedTuple):
    """A state's share of chunks: its kept units keep[j:k], in chunk `chunk` (or from it on,
    when joined with the next), made of pieces [first, end)."""

    chunk: int
    j: int
    k: int
    first: int
    end: int


class Chunk:
    """Consecutive top-level statements of a state. Cached under the units it keeps, so
    an unchanged run of pieces is the same object from call to call and the checks can
    keep their results per chunk (memo.py): a step then costs a walk over the chunks,
    not over every statement."""

    __slots__ = ("body",)

    def __init__(self, body: list[ast.stmt]) -> None:
        self.body = body


class StateTrees:
    """Builds the module body of a state from cached pieces of one program."""

    def __init__(self, program: Program, tree: ast.Module, owner: list[int]) -> None:
        self.program = program
        self.owner = owner
        units = program.units
        self.unit_text = ["".join(line + "\n" for line in program.lines[u.start : u.end + 1]) for u in units]
        groups = _groups(tree.body, owner)
        self.ok = _contiguous([(lo, hi) for lo, hi, _ in groups], 0, len(units))
        self.pieces: list[_Piece] = []
        if not self.ok:
            return
        for lo, hi, stmts in groups:
            p = _Piece(lo, hi)
            self.pieces.append(p)
            if len(stmts) == 1 and isinstance(stmts[0], ast.ClassDef):
                c = stmts[0]
                head = owner[c.lineno - 1] + 1
                subs = _ranges(c.body, owner)
                if (
                    head < hi
                    and _contiguous(subs, head, hi)
                    and units[head - 1].end < c.body[0].lineno - 1
                    and all(units[i].depth == 0 for i in range(lo, head))
                ):
                    p.head, p.subs = head, subs
                    p.sub_starts = [a for a, _ in subs]
        self.chunk_ranges = [
            ChunkRange(
                self.pieces[i].lo,
                self.pieces[min(i + CHUNK, len(self.pieces)) - 1].hi,
                i,
                min(i + CHUNK, len(self.pieces)),
            )
            for i in range(0, len(self.pieces), CHUNK)
        ]
        self._chunks: list[dict[tuple, Chunk]] = [{} for _ in self.chunk_ranges]
        self._plain: dict[tuple[int, ...], object] = {}
        self._sub: dict[tuple[int, ...], object] = {}
        self._head: dict[tuple[int, ...], object] = {}
        self._classes: dict[tuple[int, ...], ast.ClassDef] = {}
        self._merged: dict[tuple[int, ...], object] = {}
        self._merged_sub: dict[tuple[int, ...], object] = {}

    def largest_part(self) -> int:
        """Units of the largest part a step may have to parse again: a piece, or a class
        piece's header with its largest body statement."""
        return max(((p.head - p.lo) + max(b - a for a, b in p.subs)) if p.subs else p.hi - p.lo for p in self.pieces)

    # -- text and parsing ------------------------------------------------------------------
    def _text(self, keep: Sequence[int], wrap: bool = False) -> str:
        """Kept units at their full-program lines; `wrap` puts `if 1:` on the line before."""
        units = self.program.units
        first = units[keep[0]].start
        if wrap:
            out = ["\n" * (first - 1), "if 1:\n"]
        else:
            out = ["\n" * first]
        cur = first
        chunks = self.unit_text
        for i in keep:
            u = units[i]
            if u.start > cur:
                out.append("\n" * (u.start - cur))
            out.append(chunks[i])
            cur = u.end + 1
        return "".join(out)

    def _plain_body(self, key: tuple[int, ...]):
        body = self._plain.get(key)
        if body is None:
            tree = try_parse(self._text(key))
            body = _FAIL if isinstance(tree, SyntaxError) else tree.body
            self._plain[key] = body
        return body

    def _sub_body(self, key: tuple[int, ...]):
        body = self._sub.get(key)
        if body is None:
            tree = try_parse(self._text(key, wrap=True))
            body = _FAIL if isinstance(tree, SyntaxError) else tree.body[0].body  # type: ignore[attr-defined]
            self._sub[key] = body
        return body

    def _class(self, p: _Piece, key: tuple[int, ...]):
        node = self._classes.get(key)
        if node is not None:
            return [node]
        split = bisect_left(key, p.head)
        head, body_units = key[:split], key[split:]
        if not body_units or head[-1] != p.head - 1:
            return self._plain_body(key)
        header = self._head.get(head)
        if header is None:
            text = self._text(head)
            tree = try_parse(text + " pass\n")
            header = _FAIL if isinstance(tree, SyntaxError) or len(tree.body) != 1 else tree.body[0]
            self._head[head] = header
        if not isinstance(header, ast.ClassDef):  # _FAIL: the header does not parse
            return _FAIL
        keys: list[tuple[int, ...]] = []
        parts: list[object] = []
        starts, subs = p.sub_starts, p.subs
        j = 0
        n = len(body_units)
        while j < n:
            s = bisect_left(starts, body_units[j] + 1) - 1
            k = bisect_left(body_units, subs[s][1], j)
            keys.append(body_units[j:k])
            parts.append(self._sub_body(keys[-1]))
            j = k
        if _FAIL in parts:
            merged = self._merge(keys, parts, wrap=True)
            if not isinstance(merged, list):
                return merged  # the unit of a syntax error in the body, None, or _FAIL
            body = merged
        else:
            body = [s for part in parts for s in part]  # type: ignore[attr-defined]
        node = copy.copy(header)
        node.body = body
        self._classes[key] = node
        return [node]

    # -- states ----------------------------------------------------------------------------
    def chunks(self, keep: Sequence[int]) -> list[Chunk] | int | None:
        """The state's module body in chunks; or the unit of its syntax error; or None:
        lint the text. A chunk whose first piece needs the one before it (a dangling
        `else:`), or whose last needs the one after it, is joined with its neighbour."""
        spans: list[Span] = []
        j, n = 0, len(keep)
        for ci, r in enumerate(self.chunk_ranges):
            if j >= n:
                break
            if keep[j] >= r.hi:
                continue
            k = bisect_left(keep, r.hi, j)
            spans.append(Span(ci, j, k, r.first, r.end))
            j = k
        out: list[tuple[Span, Chunk]] = []
        i = 0
        cur: Span | None = None
        while cur is not None or i < len(spans):
            if cur is None:
                cur = spans[i]
                i += 1
            got = self._chunk(keep, cur)
            if got is _LEFT:  # join with the chunk before
                before = out.pop()[0]
                cur = Span(before.chunk, before.j, cur.k, before.first, cur.end)
            elif got is _RIGHT:  # join with the chunk after
                after = spans[i]
                i += 1
                cur = Span(cur.chunk, cur.j, after.k, cur.first, after.end)
            elif isinstance(got, Chunk):
                out.append((cur, got))
                cur = None
            else:
                return got  # type: ignore[return-value]
        return [c for _, c in out]

    def _chunk(self, keep: Sequence[int], span: Span) -> object:
        key = tuple(keep[span.j : span.k])
        cache = self._chunks[span.chunk]
        left, right = span.j > 0, span.k < len(keep)
        chunk = cache.get(key) or cache.get((left, right, key))
        if chunk is not None:
            return chunk
        keys, bodies = self._pieces(key, self.pieces[span.first : span.end])
        if all(isinstance(b, list) for b in bodies):
            chunk = cache[key] = Chunk([s for b in bodies for s in b])  # type: ignore[attr-defined]
            return chunk
        body = self._merge(keys, bodies, left=left, right=right)
        if not isinstance(body, list):
            return body
        chunk = cache[(left, right, key)] = Chunk(body)
        return chunk

    def _pieces(self, keep: Sequence[int], pieces: list[_Piece]) -> tuple[list[tuple[int, ...]], list[object]]:
        """Kept units and statements of each of these pieces parsed alone."""
        keys: list[tuple[int, ...]] = []
        bodies: list[object] = []
        j, n = 0, len(keep)
        for p in pieces:
            if j >= n:
                break
            if keep[j] >= p.hi:
                continue
            k = bisect_left(keep, p.hi, j)
            key = tuple(keep[j:k])
            j = k
            keys.append(key)
            bodies.append(self._class(p, key) if p.subs else self._plain_body(key))
        return keys, bodies

    def body(self, keep: Sequence[int]) -> list[ast.stmt] | int | None:
        """The state's module body; or the unit of its syntax error; or None: lint the text."""
        keys, bodies = self._pieces(keep, self.pieces)
        for b in bodies:
            if b is _FAIL:
                return self._merge(keys, bodies)
            if not isinstance(b, list):
                return b  # type: ignore[return-value]  # a class body's syntax error, or None
        return [s for b in bodies for s in b]  # type: ignore[attr-defined]

    @overload
    def _merge(
        self,
        keys: list[tuple[int, ...]],
        bodies: list[object],
        wrap: Literal[False] = False,
        left: Literal[False] = False,
        right: Literal[False] = False,
    ) -> list[ast.stmt] | int | None: ...

    @overload
    def _merge(
        self,
        keys: list[tuple[int, ...]],
        bodies: list[object],
        wrap: bool = False,
        left: bool = False,
        right: bool = False,
    ) -> object: ...

    def _merge(
        self,
        keys: list[tuple[int, ...]],
        bodies: list[object],
        wrap: bool = False,
        left: bool = False,
        right: bool = False,
    ) -> object:
        """A piece that fails alone is parsed with its neighbours (a dangling `else:` may
        belong to the loop before it, a decorator to the `def` after it). Pieces before it
        parse, so the state's first syntax error, if any, is where this parse finds it.
        `left`, `right`: there are pieces before, after these that this cannot see; when
        it would need them, the answer is _LEFT or _RIGHT."""
        out_keys: list[tuple[int, ...]] = []
        out: list[object] = []
        t, m = 0, len(keys)
        while t < m:
            if bodies[t] is not _FAIL:
                if not isinstance(bodies[t], list):
                    return bodies[t]  # a class body's error, or None
                out_keys.append(keys[t])
                out.append(bodies[t])
                t += 1
                continue
            if left and not out_keys:
                return _LEFT
            prev = out_keys.pop() if out_keys else ()
            if out:
                out.pop()
            nxt = keys[t + 1] if t + 1 < m else ()
            region = prev + keys[t] + nxt
            cache = self._merged_sub if wrap else self._merged
            body = cache.get(region)
            if body is None:
                tree = try_parse(self._text(region, wrap))
                if isinstance(tree, SyntaxError):
                    body = tree
                else:
                    body = tree.body[0].body if wrap else tree.body  # type: ignore[attr-defined]
                cache[region] = body
            if isinstance(body, SyntaxError):
                if right and not nxt:
                    return _RIGHT
                if wrap and not nxt:
                    return _FAIL  # the next token is outside the class: judge it there
                return self._error_unit(body, region, keys[t], nxt)
            out_keys.append(region)
            out.append(body)
            t += 2
        return [s for b in out for s in b]  # type: ignore[attr-defined]

    def _error_unit(
        self, exc: SyntaxError, region: tuple[int, ...], failed: tuple[int, ...], nxt: tuple[int, ...]
    ) -> int | None:
        """The unit the state's text would be blamed on: a line up to the end of the failed
        piece, or the first line of code after it (where a parser that wants more of the
        failed statement stops); else None."""
        line = syntax_error_line(exc)
        units = self.program.units
        inside = units[region[0]].start < line <= units[failed[-1]].end + 1
        if not inside and not (nxt and line == units[nxt[0]].code_start + 1):
            return None
        unit = self.owner[line - 1]
        return unit if unit in region else None
