"""Scopes and the names they bind: what flow.py needs to know before it walks a scope.

A scope's bindings are collected wherever in it they occur (a name bound anywhere in a
function is that function's local), as pyflakes and the compiler see it, plus the facts the
flow walk asks about a node it meets: the names a nested function reads from outside
(`free_loads`), the names a `for` statement assigns (`assigned_in`), the names a statement
mentions (`idents`, the key of its memoised result). Each depends only on its node, so the
incremental path keeps them per node (memo.py).

`Source` says what a state's text cannot contain: without `:=` no expression binds a name,
without `global` no statement declares one, so those walks are skipped.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from typing import NamedTuple

from lintseq.linters.memo import Memo, Table
from lintseq.linters.nodes import (
    BLOCKS,
    COMPS,
    FUNCS,
    FunctionNode,
    arg_names,
    bound_names,
    children,
    statements,
    walk,
)

BUILTINS = frozenset(dir(builtins)) | {"__file__", "__builtins__", "__annotations__"}

_NESTED = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, *COMPS})
_DEFS = (*FUNCS, ast.ClassDef)
_STORES = (ast.Store, ast.Del)
_EXPRESSIONS = frozenset(cls for cls in vars(ast).values() if isinstance(cls, type) and issubclass(cls, ast.expr))


class Source(NamedTuple):
    """What a state's text may hold (from the text, or the full program's text)."""

    walrus: bool = True  # `:=`: some expression may bind a name
    globals: bool = True  # `global`: some statement may declare a module name

    @classmethod
    def of(cls, text: str) -> Source:
        return cls(walrus=":=" in text, globals="global" in text)


class Bindings(NamedTuple):
    """Names a scope binds anywhere in it (not in nested scopes), the names it declares
    `global`/`nonlocal`, and whether it star-imports."""

    bound: frozenset[str]
    globals: frozenset[str]
    nonlocals: frozenset[str]
    star: bool


BINDINGS = Table("Bindings of a scope node")
FREE_LOADS = Table("names a nested scope reads from around it")


class Scope:
    """A scope in the walk: its bindings, where it sits, and `path` (dotted names of the
    defs around it) under which the full program's bindings are looked up."""

    __slots__ = ("bound", "globals", "kind", "node", "nonlocals", "parent", "path", "star")

    def __init__(
        self,
        node: ast.AST | None,
        kind: str,
        parent: Scope | None,
        bound: set[str] | frozenset[str],
        globals: set[str] | frozenset[str] = frozenset(),
        nonlocals: set[str] | frozenset[str] = frozenset(),
        star: bool = False,
        path: str | None = None,
    ) -> None:
        self.node = node
        self.kind = kind  # module, class, function or lambda
        self.parent = parent
        self.bound = bound
        self.globals = globals
        self.nonlocals = nonlocals
        self.star = star
        if path is None:
            path = "" if parent is None else f"{parent.path}.{getattr(node, 'name', '<lambda>')}"
        self.path: str = path

    @classmethod
    def of(cls, node: ast.AST, kind: str, parent: Scope | None, memo: Memo, source: Source) -> Scope:
        b = memo.get(BINDINGS, node, lambda n: bindings(n, source))
        return cls(node, kind, parent, b.bound, b.globals, b.nonlocals, b.star)

    @classmethod
    def frame(cls, names: set[str], parent: Scope) -> Scope:
        """Comprehension variables, as a lambda inside the comprehension sees them."""
        return cls(None, "function", parent, names, path=parent.path)

    def module(self) -> Scope:
        s = self
        while s.parent is not None:
            s = s.parent
        return s


class _Collect:
    """Accumulates `Bindings` (mutable while one scope is scanned)."""

    __slots__ = ("bound", "globals", "nonlocals", "star", "walrus")

    def __init__(self, walrus: bool) -> None:
        self.bound: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.star = False
        self.walrus = walrus

    def done(self) -> Bindings:
        return Bindings(frozenset(self.bound), frozenset(self.globals), frozenset(self.nonlocals), self.star)

    def statement(self, node: ast.AST) -> None:
        """What a statement (or a part of one that is no expression) binds in its scope."""
        t = type(node)
        if t in _DEFS:
            self.bound.add(node.name)  # type: ignore[attr-defined]
            for d in node.decorator_list:  # type: ignore[attr-defined]
                self.expression(d)
            return
        if t is ast.Global:
            self.globals.update(node.names)  # type: ignore[attr-defined]
            return
        if t is ast.Nonlocal:
            self.nonlocals.update(node.names)  # type: ignore[attr-defined]
            return
        if t is ast.Import or t is ast.ImportFrom:
            self.bound.update(bound_names(node))
            if any(a.name == "*" for a in node.names):  # type: ignore[attr-defined]
                self.star = True
            return
        if isinstance(node, ast.expr):  # an expression is a statement's part only as a target
            self.target(node) if type(getattr(node, "ctx", None)) in _STORES else self.expression(node)
            return
        self.bound.update(bound_names(node))  # `except ... as`, match captures
        for child in children(node):
            if type(child) in _EXPRESSIONS:
                if type(getattr(child, "ctx", None)) in _STORES:
                    self.target(child)
                elif self.walrus:
                    self.expression(child)
            else:
                self.statement(child)

    def target(self, node: ast.AST) -> None:
        """An expression bound to (or deleted): a name, the names an unpacking target holds;
        an attribute or subscript binds nothing (but may hold a `:=`)."""
        t = type(node)
        if t is ast.Name:
            self.bound.add(node.id)  # type: ignore[attr-defined]
        elif t is ast.Tuple or t is ast.List or t is ast.Starred:
            for child in children(node):
                if type(getattr(child, "ctx", None)) in _STORES:
                    self.target(child)
                else:
                    self.expression(child)
        else:
            self.expression(node)

    def expression(self, node: ast.AST) -> None:
        """Expressions bind only through `:=` (also from inside comprehensions and lambdas)."""
        if self.walrus:
            for sub in walk(node):
                if type(sub) is ast.NamedExpr and type(sub.target) is ast.Name:
                    self.bound.add(sub.target.id)


def bindings(node: ast.Module | FunctionNode | ast.ClassDef | ast.Lambda, source: Source = Source()) -> Bindings:
    """What the scope of `node` (module, class, function or lambda) binds."""
    c = _Collect(source.walrus)
    if isinstance(node, ast.Lambda):
        c.bound.update(arg_names(node.args))
        c.expression(node.body)
        return c.done()
    if isinstance(node, FUNCS):
        c.bound.update(arg_names(node.args))
    for stmt in node.body:
        c.statement(stmt)
    return c.done()


def statement_bindings(stmt: ast.stmt, source: Source = Source()) -> Bindings:
    """What one statement binds in the scope it runs in."""
    c = _Collect(source.walrus)
    c.statement(stmt)
    return c.done()


def declared_global(node: ast.AST, source: Source = Source()) -> frozenset[str]:
    """Names declared `global` anywhere under `node`."""
    if not source.globals:
        return frozenset()
    return frozenset(name for n in statements(node) if type(n) is ast.Global for name in n.names)


def assigned(nodes: list[ast.stmt]) -> set[str]:
    """Names bound anywhere in these statements, nested scopes (and what a lambda or
    comprehension binds) aside."""
    out: set[str] = set()
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        t = type(node)
        out.update(bound_names(node))
        if t is ast.Name or t in _DEFS or t is ast.Lambda or t in COMPS or t is ast.Import or t is ast.ImportFrom:
            continue
        stack.extend(children(node))
    return out


_BRANCHES = (ast.If, ast.Try, ast.TryStar, ast.Match)


def assigned_in(loop: ast.For | ast.AsyncFor | ast.While) -> tuple[set[str], set[str]]:
    """Names a loop assigns (astroid AssignName nodes: targets, `with ... as`,
    walrus, comprehension variables; not def, class or import), nested scopes aside: all of
    them, and those outside if/try/match branches."""
    every: set[str] = set()
    outside: set[str] = set()
    todo: list[tuple[ast.AST, bool]] = [(loop, False)]
    while todo:
        node, branched = todo.pop()
        for child in children(node):
            t = type(child)
            if t in _DEFS or t is ast.Lambda:
                continue
            if t is ast.Name:
                if type(child.ctx) is ast.Store:  # type: ignore[attr-defined]
                    every.add(child.id)  # type: ignore[attr-defined]
                    if not branched:
                        outside.add(child.id)  # type: ignore[attr-defined]
                continue
            todo.append((child, branched or isinstance(child, _BRANCHES)))
    return every, outside


def plain_assigns(body: list[ast.stmt]) -> frozenset[str]:
    """Names a block assigns by a plain `name = ...` among its own statements."""
    return frozenset(t.id for stmt in body if type(stmt) is ast.Assign for t in stmt.targets if type(t) is ast.Name)


def free_loads(node: ast.AST, memo: Memo) -> frozenset[str]:
    """Names a nested function's, lambda's, class's or comprehension's body reads from the
    scopes around it (the names that scope and the scopes inside it bind left out)."""
    own: set[str] = set()
    t = type(node)
    if t in COMPS:
        parts: list[ast.AST] = [node]
        for g in node.generators:  # type: ignore[attr-defined]
            own.update(n.id for n in walk(g.target) if type(n) is ast.Name)
    else:
        if t is not ast.ClassDef:
            own.update(arg_names(node.args))  # type: ignore[attr-defined]
        parts = [node.body] if t is ast.Lambda else list(node.body)  # type: ignore[attr-defined]
    loads: set[str] = set()
    inner: set[str] = set()
    stack = parts
    while stack:
        n = stack.pop()
        t = type(n)
        if t is ast.Name:
            (loads if type(n.ctx) is ast.Load else own).add(n.id)  # type: ignore[attr-defined]
            continue
        if n is not node and t in _NESTED:
            inner |= memo.get(FREE_LOADS, n, lambda m: free_loads(m, memo))
            if t is not ast.ClassDef and t not in COMPS:  # defaults and decorators run out here
                a = n.args  # type: ignore[attr-defined]
                stack.extend(a.defaults + [d for d in a.kw_defaults if d is not None])
            if t is not ast.Lambda and t not in COMPS:
                own.add(n.name)  # type: ignore[attr-defined]
                stack.extend(n.decorator_list)  # type: ignore[attr-defined]
            if t is ast.ClassDef:
                stack.extend(n.bases + [k.value for k in n.keywords])  # type: ignore[attr-defined]
            continue
        if t is ast.Import or t is ast.ImportFrom or t is ast.ExceptHandler:
            own.update(bound_names(n))
        stack.extend(children(n))
    if isinstance(node, ast.ClassDef):  # what a class binds is not visible in its methods
        return frozenset((loads - own) | inner)
    return frozenset((loads | inner) - own)


def names_in(node: ast.AST) -> frozenset[str]:
    """Every `Name` id under `node`: all a function's check asks about outside it."""
    return frozenset(n.id for n in walk(node) if type(n) is ast.Name)


def idents(node: ast.AST) -> frozenset[str]:
    """Every name a statement reads, binds or declares."""
    out: set[str] = set()
    for n in walk(node):
        t = type(n)
        if t is ast.Name:
            out.add(n.id)  # type: ignore[attr-defined]
        elif t is ast.Global or t is ast.Nonlocal:
            out.update(n.names)  # type: ignore[attr-defined]
        else:
            out.update(bound_names(n))
    return frozenset(out)


def bound_builtins(tree: ast.Module, source: Source = Source()) -> frozenset[tuple[str, str]]:
    """(scope path, name) for every builtin name a scope of this program binds."""
    out: set[tuple[str, str]] = set()
    stack: list[tuple[ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, str]] = [(tree, "")]
    while stack:
        node, path = stack.pop()
        out.update((path, n) for n in bindings(node, source).bound & BUILTINS)
        body = node.body if not isinstance(node, ast.Lambda) else []
        stack.extend((sub, f"{path}.{sub.name}") for sub in nested_scopes(body))
    return frozenset(out)


def nested_scopes(body: list[ast.stmt]) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """Function and class definitions directly in this scope (inside its blocks too)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, _DEFS):
            yield node
        else:
            for f in BLOCKS.get(type(node), ()):
                stack.extend(getattr(node, f))
