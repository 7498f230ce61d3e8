"""The default backend: in-process, no subprocess, no files, no import resolution.

Finds syntax and indentation errors (on the line that caused them), the compiler's own
errors (`return`/`yield` outside a function, `break` outside a loop, `nonlocal` without a
binding) and undefined names.
"""

from __future__ import annotations

import ast
import re
import warnings

from pyflakes import checker as _pyflakes
from pyflakes import messages as _msg

from lintseq.linters import Linter, register

_AFTER_LINE = re.compile(r"on line (\d+)")
_NAME_ERRORS = (_msg.UndefinedName, _msg.UndefinedLocal, _msg.UndefinedExport)


def syntax_error_line(exc: SyntaxError) -> int:
    """The line to blame: the header of an empty block, not the line after it."""
    msg = exc.msg or ""
    m = _AFTER_LINE.search(msg)
    if m and ("expected an indented block" in msg or "'" in msg):
        return int(m.group(1))
    return exc.lineno or 1


class FastLinter(Linter):
    name = "fast"

    def error_lines(self, source: str) -> set[int]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                tree = ast.parse(source)
                compile(tree, "<lintseq>", "exec", dont_inherit=True)
            except SyntaxError as exc:
                return {syntax_error_line(exc)}
            except (ValueError, MemoryError, RecursionError):
                return {1}
        found = _pyflakes.Checker(tree, filename="<lintseq>")
        return {m.lineno for m in found.messages if isinstance(m, _NAME_ERRORS)}


register("fast", FastLinter)
