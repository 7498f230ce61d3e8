"""The default backend: in-process, no subprocess, no files, no import resolution.

Decides like pylint 3.2 with `--disable=C,R` (E and F messages plus W0231) would about an
intermediate LintSeq state, from one `ast.parse` and a pure-AST analysis: syntax and
indentation errors on the line that caused them, what the compiler rejects, names
(flow.py) and classes (members.py).

`error_units` is incremental: a state's tree is assembled from pieces of the program parsed
once (pieces.py), and the checks keep their results per unchanged node (memo.py), so one
step of the sampler costs what it changed plus a walk over chunks of statements, not a
parse and analysis of the whole program. Its verdicts are those of linting the state's text,
which `FastLinter(incremental=False)` still does (tests/test_large_programs.py compares).
"""

from __future__ import annotations

import ast

from lintseq.linters import Linter, register
from typing import TYPE_CHECKING, Sequence

from lintseq.linters.flow import FlowChecker
from lintseq.linters.scopes import Source, bound_builtins
from lintseq.linters.memo import NO_MEMO
from lintseq.linters.pieces import Chunk
from lintseq.linters.indent import bad_indentation
from lintseq.linters.members import MemberChecker, full_classes
from lintseq.linters.memo import Memo
from lintseq.linters.pieces import StateTrees
from lintseq.linters.syntax import parse

if TYPE_CHECKING:
    from lintseq.units import Program

# below this many units, linting each state's text is as fast (benchmarks/large_program.py)
INCREMENTAL_MIN_UNITS = 32


def tree_errors(tree: ast.Module, lines: "Sequence[str]", full: "_Full | None" = None,
                memo: "Memo | None" = None, source: Source = Source()) -> set[int]:
    """Lines with an error in a tree that parsed; `memo` keeps per-node results between
    calls on states of one program (their trees share unchanged nodes)."""
    chunks = getattr(tree, "chunks", None) or [Chunk(tree.body)]
    found = FlowChecker(full.shadowed if full else frozenset(), memo or NO_MEMO, source).check(chunks)
    found |= MemberChecker(full.classes if full else None, memo).check(tree)
    found |= bad_indentation(tree, lines, memo)
    return found


class _Full:
    """What a state's analysis needs to know about the full program it came from, and the
    caches that make a step cost what it changes (pieces.py, `Memo`)."""

    def __init__(self, program: "Program", incremental: bool | None = None) -> None:
        tree = parse(program.text(range(len(program.units))))
        parsed = not isinstance(tree, int)
        self.shadowed = bound_builtins(tree) if parsed else frozenset()
        self.source = Source.of("\n".join(program.lines))
        self.classes = full_classes(tree) if parsed else {}
        self.owner = owner = program.line_owner()
        self.trees: StateTrees | None = None
        self.memo: Memo | None = None
        if incremental is None:
            incremental = len(program.units) >= INCREMENTAL_MIN_UNITS
        if parsed and incremental:
            trees = StateTrees(program, tree, owner)  # type: ignore[arg-type]
            if trees.ok:
                # twice the live chunks: a trim comes every few hundred steps, not every step
                self.trees, self.memo = trees, Memo(cap=max(64, 2 * len(trees.chunk_ranges)))


class FastLinter(Linter):
    """`error_units` also knows the full program: a read of a name whose binding in the
    full program was deleted, and that now falls through to a builtin, is an error there
    (pylint then complains about `list` not being iterable and the like)."""

    name = "fast"

    def __init__(self, incremental: bool | None = None) -> None:
        """`incremental`: True or False forces the path; None takes it for programs of at
        least INCREMENTAL_MIN_UNITS units."""
        self._program: "Program | None" = None
        self._full: _Full | None = None
        self.incremental = incremental

    def _full_info(self, program: "Program") -> _Full:
        if self._program is not program or self._full is None:
            self._program, self._full = program, _Full(program, self.incremental)
        return self._full

    def error_units(self, program: "Program", keep: Sequence[int]) -> set[int]:
        if not keep:
            return set()
        full = self._full_info(program)
        if full.trees is not None:
            chunks = full.trees.chunks(keep)
            if isinstance(chunks, int):
                return {chunks}
            if chunks is not None:
                tree = ast.Module(body=[s for c in chunks for s in c.body], type_ignores=[])
                tree.chunks = chunks  # type: ignore[attr-defined]
                owner = full.owner
                bad = tree_errors(tree, program.lines, full, full.memo, full.source)
                full.memo.trim()  # type: ignore[union-attr]
                return {owner[line - 1] for line in bad}
        return self._error_units_text(program, keep, full)

    def _error_units_text(self, program: "Program", keep: Sequence[int], full: _Full) -> set[int]:
        owner = program.line_owner(keep)
        text = program.text(keep)
        tree = parse(text)
        bad = {tree} if isinstance(tree, int) else tree_errors(tree, text.split("\n"), full, source=Source.of(text))
        last = len(owner)
        return {owner[min(max(line, 1), last) - 1] for line in bad}

    def error_lines(self, source: str) -> set[int]:
        tree = parse(source)
        if isinstance(tree, int):
            return {tree}
        return tree_errors(tree, source.split("\n"), source=Source.of(source))


register("fast", FastLinter)
