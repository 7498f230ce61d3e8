"""Split a program into LintSeq units (docs/design.md §2.1).

A unit is one logical line as Python's tokenizer sees it (a simple statement with its
continuation lines, or a compound-statement header), plus the blank and comment-only lines
("trivia") that precede it. Working on logical lines means a deletion can never cut a
docstring or a bracketed call in half, and carrying trivia along means every state is a
subset of source lines in source order, so the round trip is exact.
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass


class SourceError(ValueError):
    """The program cannot be split into units (it does not tokenize or parse)."""


def normalize(code: str) -> str:
    """The canonical text a round trip reproduces: `\\n` line endings, final newline."""
    code = code.replace("\r\n", "\n").replace("\r", "\n")
    if code and not code.endswith("\n"):
        code += "\n"
    return code


def split_lines(code: str) -> list[str]:
    """Physical lines of normalised code, without terminators (only `\\n` splits)."""
    text = normalize(code)
    if not text:
        return []
    return text[:-1].split("\n")


@dataclass(frozen=True)
class Unit:
    """One deletable piece: physical lines `start..end` (0-based, inclusive) of the source.

    `code_start` is the first line of the logical line itself; lines before it are trivia.
    `depth` is the block nesting depth; `block_end` is the index (exclusive) of the last
    unit nested under this one, so `block = range(index + 1, block_end)`.
    """

    index: int
    start: int
    code_start: int
    end: int
    depth: int
    block_end: int

    @property
    def lines(self) -> range:
        return range(self.start, self.end + 1)


@dataclass(frozen=True)
class Program:
    """A source program and its units."""

    lines: tuple[str, ...]
    units: tuple[Unit, ...]

    def text(self, keep: Sequence[int]) -> str:
        """Program made of the units in `keep` (ascending unit indices)."""
        return "".join(line + "\n" for line in self.state_lines(keep))

    def state_lines(self, keep: Sequence[int]) -> list[str]:
        out: list[str] = []
        for i in keep:
            u = self.units[i]
            out.extend(self.lines[u.start : u.end + 1])
        return out

    def line_owner(self, keep: Sequence[int] | None = None) -> list[int]:
        """The unit each line of the state `keep` comes from (default: the whole program):
        entry k belongs to line k + 1 of `text(keep)`."""
        units = self.units if keep is None else [self.units[i] for i in keep]
        owner: list[int] = []
        for u in units:
            owner.extend([u.index] * (u.end - u.start + 1))
        return owner

    def block(self, i: int) -> range:
        return range(i + 1, self.units[i].block_end)


def _logical_lines(text: str) -> list[tuple[int, int, int]]:
    """(first line, last line, depth) of every logical line, 0-based."""
    result: list[tuple[int, int, int]] = []
    depth = 0
    start: int | None = None
    start_depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            kind = tok.type
            if kind == tokenize.INDENT:
                depth += 1
            elif kind == tokenize.DEDENT:
                depth -= 1
            elif kind in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER):
                continue
            elif kind == tokenize.NEWLINE:
                if start is not None:
                    result.append((start, tok.end[0] - 1, start_depth))
                    start = None
            elif start is None:
                start = tok.start[0] - 1
                start_depth = depth
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise SourceError(f"does not tokenize: {exc}") from exc
    if start is not None:  # last logical line without NEWLINE token
        result.append((start, text.count("\n") - 1, start_depth))
    return result


def split_units(code: str) -> Program:
    """Split `code` into units. Raises `SourceError` if it does not tokenize."""
    text = normalize(code)
    lines = tuple(text[:-1].split("\n")) if text else ()
    spans: list[list[int]] = []  # [start, code_start, end, depth]
    prev_end = -1
    for first, last, depth in _logical_lines(text):
        spans.append([prev_end + 1, first, last, depth])
        prev_end = last
    if spans and prev_end < len(lines) - 1:  # trailing trivia joins the last unit
        spans[-1][2] = len(lines) - 1
    # A unit's block: the following units nested deeper than it.
    block_end = [len(spans)] * len(spans)
    stack: list[int] = []
    for i, span in enumerate(spans):
        while stack and spans[stack[-1]][3] >= span[3]:
            block_end[stack.pop()] = i
        stack.append(i)
    units = [Unit(i, start, code, end, depth, block_end[i]) for i, (start, code, end, depth) in enumerate(spans)]
    return Program(lines, tuple(units))
