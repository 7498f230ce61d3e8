"""Results kept per syntax-tree node between the states of one program.

The states' trees share every node that a step did not touch (pieces.py), so a result that
depends only on a node (and on a few names outside it, which go into the key) is computed
once per program instead of once per state. Entries hold their node, so an id is never
reused while its entry lives.
"""

from __future__ import annotations

import ast
from typing import Any, Callable


class Memo:
    def __init__(self) -> None:
        self._tables: dict[str, dict[int, tuple[ast.AST, Any]]] = {}

    def table(self, name: str) -> dict[int, tuple[ast.AST, Any]]:
        t = self._tables.get(name)
        if t is None:
            t = self._tables[name] = {}
        return t

    def get(self, name: str, node: ast.AST, compute: Callable[[ast.AST], Any]) -> Any:
        t = self.table(name)
        e = t.get(id(node))
        if e is not None and e[0] is node:
            return e[1]
        value = compute(node)
        t[id(node)] = (node, value)
        return value


def names_in(node: ast.AST) -> frozenset[str]:
    """Every `Name` id under `node`: what a check of it can ask about outside names."""
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
