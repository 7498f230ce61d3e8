"""Results kept per syntax-tree node between the states of one program.

The states' trees share every node that a step did not touch (pieces.py), so a result that
depends only on a node (and on a few names outside it, which go into the key) is computed
once per program instead of once per state. Entries hold their node, so an id is never
reused while its entry lives.

Each table is declared once, next to the code that fills it, as a `Table`; `volatile`
tables hold results for nodes that most steps rebuild (a chunk of statements, a class with
a changed method): their entries are large and rarely needed again, so `trim` empties them
when they outgrow the cap. A state linted from its text has no nodes in common with any
other, so it gets `NO_MEMO`, which keeps nothing: the analysis is the same code either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MISS = object()


@dataclass(frozen=True, eq=False)
class Table:
    """One memo table: what its entries are (for readers) and whether `trim` may empty it."""

    what: str
    volatile: bool = False


class Memo:
    """Tables of results by node, for the states of one program."""

    enabled = True

    def __init__(self, cap: int = 512) -> None:
        self.cap = cap
        self._tables: dict[Table, dict[int, tuple[Any, Any]]] = {}

    def get(self, table: Table, node: Any, compute: Callable[[Any], Any]) -> Any:
        """The result for `node`, computed by `compute(node)` the first time."""
        t = self._tables.get(table)
        if t is None:
            t = self._tables[table] = {}
        e = t.get(id(node))
        if e is not None and e[0] is node:
            return e[1]
        value = compute(node)
        t[id(node)] = (node, value)
        return value

    def find(self, table: Table, node: Any) -> Any:
        """The stored result for `node`, or MISS."""
        t = self._tables.get(table)
        e = t.get(id(node)) if t is not None else None
        return e[1] if e is not None and e[0] is node else MISS

    def store(self, table: Table, node: Any, value: Any) -> None:
        t = self._tables.get(table)
        if t is None:
            t = self._tables[table] = {}
        t[id(node)] = (node, value)

    def trim(self) -> None:
        for table, t in self._tables.items():
            if table.volatile and len(t) > self.cap:
                t.clear()


class _NoMemo(Memo):
    """Keeps nothing: every `get` computes."""

    enabled = False

    def get(self, table: Table, node: Any, compute: Callable[[Any], Any]) -> Any:
        return compute(node)

    def find(self, table: Table, node: Any) -> Any:
        return MISS

    def store(self, table: Table, node: Any, value: Any) -> None:
        pass


NO_MEMO: Memo = _NoMemo()
