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


def parse(source: str) -> ast.Module | int:
    """The tree, or the line of the syntax error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source)
        except SyntaxError as exc:
            return syntax_error_line(exc)
        except (ValueError, MemoryError, RecursionError):
            return 1
