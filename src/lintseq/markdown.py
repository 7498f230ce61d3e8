"""Reduce Markdown answers to their Python code blocks (SPEC section 6).

Instruction datasets often store answers as prose with fenced code. Only the fenced blocks are
code; prose around them would be a syntax error, and a block in another language is not Python.
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*$", re.MULTILINE)
PYTHON_TAGS = {"", "python", "py", "python3", "py3", "ipython", "pycon"}


class NotPython(ValueError):
    """The answer's code blocks are in another language."""


def has_fences(text: str) -> bool:
    return _FENCE.search(text) is not None


def extract_code(text: str) -> tuple[str, bool]:
    """(code, extracted): the Python blocks joined by a blank line, or `text` if unfenced.

    Raises `NotPython` when every block is tagged with another language.
    """
    blocks: list[str] = []
    other: list[str] = []
    pos = 0
    while True:
        opening = _FENCE.search(text, pos)
        if opening is None:
            break
        fence, tag = opening.group(1), opening.group(2).lower()
        body_start = opening.end() + 1
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = closing.search(text, body_start)
        body = text[body_start : end.start() if end else len(text)]
        if tag in PYTHON_TAGS:
            blocks.append(body)
        else:
            other.append(tag)
        if end is None:
            break
        pos = end.end()
    if not blocks and not other:
        return text, False
    if not blocks:
        raise NotPython(f"only {', '.join(sorted(set(other)))[:40]} code blocks")
    code = "\n".join(b if b.endswith("\n") else b + "\n" for b in blocks)
    return code, True
