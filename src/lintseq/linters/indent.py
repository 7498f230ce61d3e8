"""Bad indentation (pylint W0311), judged against the program's own indentation unit.

pylint expects four spaces per level; SPEC section 7 handles 2-space and tab-indented code
like 4-space code, so the unit here is the width of the program's first indented statement.
A statement that starts its line at another width than depth x unit is flagged, which is
what pylint reports for code that mixes widths (HumanEval has a few such solutions).
"""

from __future__ import annotations

import ast

_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def bad_indentation(tree: ast.Module, lines: list[str]) -> set[int]:
    bad: set[int] = set()
    unit = 0
    stack: list[tuple[list[ast.AST], int]] = [(tree.body, 0)]
    while stack:
        body, depth = stack.pop()
        for node in body:
            if isinstance(node, (ast.stmt, ast.ExceptHandler, ast.match_case)):
                if isinstance(node, ast.stmt) and depth:
                    col = node.col_offset
                    text = lines[node.lineno - 1]
                    if not text[:col].strip():  # starts its line
                        if not unit:
                            unit = col // depth if col % depth == 0 else col
                        if col != depth * unit:
                            bad.add(node.lineno)
                for field in _BODIES:
                    sub = getattr(node, field, None)
                    if sub:  # handlers sit at the depth of their `try`
                        stack.append((sub, depth if field == "handlers" else depth + 1))
    return bad
