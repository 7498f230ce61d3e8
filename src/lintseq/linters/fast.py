"""The default backend: in-process, no subprocess, no files, no import resolution.

Decides like pylint 3.2 with `--disable=C,R` (E and F messages plus W0231) would about an
intermediate LintSeq state, from one syntax tree and a pure-AST analysis: syntax and
indentation errors on the line that caused them, what the compiler rejects, names
(flow.py) and classes (members.py, classes.py).

The analysis takes a module as chunks of top-level statements and a `Memo`. `error_units`
gets a state's tree without parsing its text where it can, in the full program's line
numbers: a program of many top-level pieces is assembled from pieces parsed once
(pieces.py), so unchanged statements are the same nodes from state to state and the memo
keeps the checks' results per node; any other program has each state's tree cut out of
the full program's tree (cut.py) and analysed afresh (`NO_MEMO`). A state neither can
build is linted from its text. All paths decide alike (tests/test_large_programs.py and
tests/test_cut.py compare them with `FastLinter(incremental=False)`, which always lints
the text).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lintseq.linters import Linter, register
from lintseq.linters.classes import full_classes
from lintseq.linters.cut import Cutter
from lintseq.linters.flow import FlowChecker
from lintseq.linters.indent import bad_indentation
from lintseq.linters.members import MemberChecker
from lintseq.linters.memo import NO_MEMO, Memo
from lintseq.linters.pieces import Chunk, StateTrees
from lintseq.linters.scopes import Source, bound_builtins
from lintseq.linters.syntax import parse

if TYPE_CHECKING:
    from lintseq.engine.units import Program

# below this many units, linting each state's text is as fast (benchmarks/large_program.py)
INCREMENTAL_MIN_UNITS = 32


def chunk_errors(
    chunks: Sequence[Chunk],
    lines: Sequence[str],
    full: _Full | None = None,
    memo: Memo = NO_MEMO,
    source: Source = Source(),
) -> set[int]:
    """Lines with an error in a module that parsed, given as chunks of its statements."""
    found = FlowChecker(full.shadowed if full else frozenset(), memo, source).check(chunks)
    found |= MemberChecker(full.classes if full else None, memo).check(chunks)
    found |= bad_indentation(chunks, lines, memo)
    return found


def text_errors(text: str, full: _Full | None = None) -> set[int]:
    """Lines with an error in a program text (the line of its syntax error, if any)."""
    tree = parse(text)
    if isinstance(tree, int):
        return {tree}
    return chunk_errors([Chunk(tree.body)], text.split("\n"), full, NO_MEMO, Source.of(text))


class _Full:
    """What a state's analysis needs to know about the full program it came from, and what
    builds a state's tree without parsing it (pieces.py and its `Memo`, or cut.py)."""

    def __init__(self, program: Program, incremental: bool | None = None) -> None:
        parsed = parse(program.text(range(len(program.units))))
        tree = None if isinstance(parsed, int) else parsed  # an int: the line of its syntax error
        self.source = Source.of("\n".join(program.lines))
        self.shadowed = bound_builtins(tree, self.source) if tree is not None else frozenset()
        self.classes = full_classes(tree) if tree is not None else {}
        self.owner = program.line_owner()
        self.trees: StateTrees | None = None
        self.cutter: Cutter | None = None
        self.memo: Memo = NO_MEMO
        n = len(program.units)
        if tree is not None and (incremental or (incremental is None and n >= INCREMENTAL_MIN_UNITS)):
            trees = StateTrees(program, tree, self.owner)
            # a program that is mostly one piece (a long function) would have it parsed again
            # at almost every step: cutting its states is quicker than the bookkeeping
            if trees.ok and (incremental or 2 * trees.largest_part() < n):
                # twice the live chunks: a trim comes every few hundred steps, not every step
                self.trees, self.memo = trees, Memo(cap=max(64, 2 * len(trees.chunk_ranges)))
        if tree is not None and self.trees is None and incremental is not False:
            self.cutter = Cutter(program, tree, self.owner)


class FastLinter(Linter):
    """`error_units` also knows the full program: a read of a name whose binding in the
    full program was deleted, and that now falls through to a builtin, is an error there
    (pylint then complains about `list` not being iterable and the like)."""

    name = "fast"

    def __init__(self, incremental: bool | None = None) -> None:
        """`incremental`: True forces pieces (pieces.py), False the state's text; None takes
        pieces for programs of at least INCREMENTAL_MIN_UNITS units whose largest piece holds
        less than half of them, and cuts (cut.py) for the others."""
        self._program: Program | None = None
        self._full: _Full | None = None
        self.incremental = incremental

    def _full_info(self, program: Program) -> _Full:
        if self._program is not program or self._full is None:
            self._program, self._full = program, _Full(program, self.incremental)
        return self._full

    def error_units(self, program: Program, keep: Sequence[int]) -> set[int]:
        if not keep:
            return set()
        full = self._full_info(program)
        if full.trees is not None:
            chunks = full.trees.chunks(keep)
            if isinstance(chunks, int):
                return {chunks}
            if chunks is not None:
                bad = chunk_errors(chunks, program.lines, full, full.memo, full.source)
                full.memo.trim()
                return {full.owner[line - 1] for line in bad}
        if full.cutter is not None:
            body = full.cutter.body(keep)
            if isinstance(body, int):
                return {body}
            if body is not None:
                bad = chunk_errors([Chunk(body)], program.lines, full, NO_MEMO, full.source)
                return {full.owner[line - 1] for line in bad}
        owner = program.line_owner(keep)
        bad = text_errors(program.text(keep), full)
        last = len(owner)
        return {owner[min(max(line, 1), last) - 1] for line in bad}

    def error_lines(self, source: str) -> set[int]:
        return text_errors(source)


register("fast", FastLinter)
