"""Parsing a state, and the line a syntax error is blamed on (shared by fast.py and pieces.py)."""

from __future__ import annotations

import ast
import re
import warnings

_AFTER_LINE = re.compile(r"on line (\d+)")


def syntax_error_line(exc: SyntaxError) -> int:
    """The line to blame: the header of an empty block, not the line after it."""
    msg = exc.msg or ""
    m = _AFTER_LINE.search(msg)
    if m and ("expected an indented block" in msg or "'" in msg):
        return int(m.group(1))
    return exc.lineno or 1


def try_parse(source: str) -> ast.Module | SyntaxError:
    """The tree, or the syntax error (warnings about the source, such as invalid escapes,
    are not the linter's to print)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source)
        except SyntaxError as exc:
            return exc


def parse(source: str) -> ast.Module | int:
    """The tree, or the line of the syntax error."""
    try:
        tree = try_parse(source)
    except (ValueError, MemoryError, RecursionError):
        return 1
    return syntax_error_line(tree) if isinstance(tree, SyntaxError) else tree
