"""Results kept per syntax-tree node between the states of one program.

The states' trees share every node that a step did not touch (pieces.py), so a result that
depends only on a node (and on a few names outside it, which go into the key) is computed
once per program instead of once per state. Entries hold their node, so an id is never
reused while its entry lives.
"""

from __future__ import annotations

from typing import Any, Callable


class Memo:
    """Tables of results by node. Tables named `*_chunk` or `*_class` hold results for
    nodes that most steps rebuild (a chunk, a class with a changed method); their
    entries are large and rarely needed again, so `trim` drops them now and then."""

    def __init__(self, cap: int = 512) -> None:
        self.cap = cap
        self._tables: dict[str, dict[int, tuple[Any, Any]]] = {}

    def table(self, name: str) -> dict[int, tuple[Any, Any]]:
        t = self._tables.get(name)
        if t is None:
            t = self._tables[name] = {}
        return t

    def get(self, name: str, node: Any, compute: Callable[[Any], Any]) -> Any:
        t = self._tables.get(name)
        if t is None:
            t = self._tables[name] = {}
        e = t.get(id(node))
        if e is not None and e[0] is node:
            return e[1]
        value = compute(node)
        t[id(node)] = (node, value)
        return value


    def trim(self) -> None:
        for name, t in self._tables.items():
            if len(t) > self.cap and name.endswith(("_chunk", "_class")):
                t.clear()
