"""How different the samples for one problem are: the share of distinct programs after
normalising away whitespace, comments and formatting."""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable, Sequence

_SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}


def normalize_program(source: str) -> str:
    """Canonical text: `ast.unparse` when the program parses (drops comments, formatting and
    docstring layout), else its tokens without comments or blank lines, one space apart."""
    try:
        return ast.unparse(ast.parse(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in _SKIP:
                continue
            out.append("\n" if tok.type == tokenize.NEWLINE else tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return " ".join(source.split())
    return " ".join(out)


def distinct_share(programs: Sequence[str]) -> float:
    """Distinct normalised programs / samples (1.0 = all different; 1/n = all the same)."""
    if not programs:
        return 0.0
    return len({normalize_program(p) for p in programs}) / len(programs)


def mean_distinct_share(groups: Iterable[Sequence[str]]) -> float:
    shares = [distinct_share(g) for g in groups if g]
    return sum(shares) / len(shares) if shares else 0.0
