"""Reduce Markdown answers to their Python code blocks (docs/design.md §2.7).

Instruction datasets often store answers as prose with fenced code, and models answer the same
way. Only the fenced blocks are code; prose around them would be a syntax error, and a block in
another language is not Python. This is the one reader of code in Markdown: `generate` uses
`extract_code` on training answers, and `sample` and `evaluate` use `strip_fences` (the same
reading) on model output, so a sample cut off by the token limit (an opening fence that never
closes) keeps its code in all three. The one exception is `cut_at_fences`, the paper's own
cruder rule, which only the paper's resolution of edit sequences applies (`lintseq.diffs`).
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*$", re.MULTILINE)
PYTHON_TAGS = {"", "python", "py", "python3", "py3", "ipython", "pycon"}
_PYTHON_TAG = re.compile(r"(?:i?python|py)[\d.]*")  # python3.11, py311, ...


class NotPython(ValueError):
    """The answer's code blocks are in another language."""


def has_fences(text: str) -> bool:
    return _FENCE.search(text) is not None


def is_python_tag(tag: str) -> bool:
    tag = tag.lower()
    return tag in PYTHON_TAGS or _PYTHON_TAG.fullmatch(tag) is not None


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, body) of each fenced block in order. A block closes at a line of at least
    as many of the same fence characters; one that never closes runs to the end of the text."""
    blocks: list[tuple[str, str]] = []
    pos = 0
    while True:
        opening = _FENCE.search(text, pos)
        if opening is None:
            return blocks
        fence, tag = opening.group(1), opening.group(2).lower()
        body_start = opening.end() + 1
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = closing.search(text, body_start)
        blocks.append((tag, text[body_start : end.start() if end else len(text)]))
        if end is None:
            return blocks
        pos = end.end()


def extract_code(text: str, strict: bool = True) -> tuple[str, bool]:
    """(code, extracted): the Python blocks joined by a blank line, or `text` if unfenced.

    When every block is tagged with another language, `strict` raises `NotPython` (training
    data: not Python); otherwise those blocks are the code (a model's mislabelled answer).
    """
    blocks = code_blocks(text)
    if not blocks:
        return text, False
    python = [body for tag, body in blocks if is_python_tag(tag)]
    if not python:
        if strict:
            raise NotPython(f"only {', '.join(sorted({tag for tag, _ in blocks}))[:40]} code blocks")
        python = [body for _, body in blocks]
    return "\n".join(b if b.endswith("\n") else b + "\n" for b in python), True


def strip_fences(text: str) -> str:
    """The program in a model's answer: its code blocks, or the text itself if it has none."""
    return extract_code(text, strict=False)[0]


def cut_at_fences(text: str) -> str:
    """The authors' fence rule for resolved edit sequences (their HumanEval/MBPP evaluation):
    keep what follows the first ```` ```python ````, then what precedes the next ```` ``` ````.

    Cruder than `strip_fences`, and kept apart on purpose: it is part of the paper's
    resolution rule, and it keeps the code above a stray closing fence, which a model writing
    edits sometimes inserts as a line of its own."""
    opening = "```python"
    if opening in text:
        text = text[text.index(opening) + len(opening) :]
    if "```" in text:
        text = text[: text.index("```")]
    return text
