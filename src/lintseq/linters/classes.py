"""What a class and its methods tell about its attributes, as pylint infers them from one text.

`ClassInfo` collects a class's members (defs, assignments, `__slots__`, imports in its body),
its bases by name, and what its methods do through their first argument (`self.x` reads and
writes, an `__init__` call). members.py judges them against the class's ancestry; the full
program's classes (`full_classes`) tell what a state's class has lost.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from lintseq.linters.memo import NO_MEMO, Memo, Table
from lintseq.linters.nodes import FUNCS, FunctionNode, blocks, bound_names, children, walk

SELF_USE = Table("SelfUse of a method")
AUG = Table("attributes augmented-assigned under a class-body statement")

_BODY_BLOCKS = (ast.If, ast.Try, ast.TryStar, ast.With)


class SelfUse(NamedTuple):
    """Attributes a method reads and writes through its first argument, and whether it
    calls some `__init__`."""

    reads: list[tuple[str, ast.Attribute, FunctionNode]]  # (attribute, node, method)
    writes: list[tuple[str, tuple[FunctionNode, int]]]  # (attribute, (method, line))
    calls_init: bool


class FullClass(NamedTuple):
    """A class of the full program: its attributes, and whether its `__init__` called one."""

    attrs: frozenset[str]
    init_calls_init: bool


def decorator_names(func: FunctionNode) -> set[str]:
    out = set()
    for d in func.decorator_list:
        d = d.func if isinstance(d, ast.Call) else d
        out.add(d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", "?"))
    return out


def body_defs(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a class body, looking inside its if/try/with blocks."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _BODY_BLOCKS):
            for field in ("body", "orelse", "finalbody"):
                stack.extend(getattr(node, field, []))
            for h in getattr(node, "handlers", []):
                stack.extend(h.body)


def walk_function(func: FunctionNode) -> Iterator[ast.AST]:
    """Nodes of a function body, nested functions and lambdas included, nested classes not."""
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        yield node
        for child in children(node):
            if type(child) is not ast.ClassDef:
                stack.append(child)


def self_use(func: FunctionNode) -> SelfUse:
    me = (func.args.posonlyargs + func.args.args)[0].arg
    reads: list[tuple[str, ast.Attribute, FunctionNode]] = []
    writes: list[tuple[str, tuple[FunctionNode, int]]] = []
    calls_init = False
    for sub in walk_function(func):
        if type(sub) is ast.Attribute:
            value = sub.value
            if type(value) is ast.Name and value.id == me:
                if type(sub.ctx) is ast.Load:
                    reads.append((sub.attr, sub, func))
                else:
                    writes.append((sub.attr, (func, sub.lineno)))
        elif type(sub) is ast.Call and type(sub.func) is ast.Attribute and sub.func.attr == "__init__":
            calls_init = True
    return SelfUse(reads, writes, calls_init)


def aug_attrs(stmt: ast.AST) -> list[str]:
    """Attributes `x.a += ...` anywhere under a class-body statement (methods included)."""
    return [sub.target.attr for sub in walk(stmt) if type(sub) is ast.AugAssign and type(sub.target) is ast.Attribute]


class ClassInfo:
    """A class: its members, bases, methods and what the methods do through `self`."""

    __slots__ = (
        "bases",
        "getattr",
        "init_calls_init",
        "known",
        "members",
        "methods",
        "node",
        "path",
        "self_reads",
        "self_writes",
    )

    def __init__(self, node: ast.ClassDef, path: str, memo: Memo = NO_MEMO) -> None:
        self.node = node
        self.path = path
        self.members: set[str] = set()
        self.self_reads: list[tuple[str, ast.Attribute, FunctionNode]] = []
        self.self_writes: dict[str, list[tuple[FunctionNode, int]]] = {}
        self.methods: dict[str, FunctionNode] = {}
        self.bases: list[str | None] = []
        self.known = True  # every base is known (and no metaclass keyword)
        self.getattr = False
        self.init_calls_init = False
        self._scan(memo)

    def _scan(self, memo: Memo) -> None:
        node = self.node
        for b in node.bases:
            self.bases.append(b.id if isinstance(b, ast.Name) else None)
        if node.keywords:
            self.known = False
        for stmt in body_defs(node.body):
            t = type(stmt)
            if isinstance(stmt, (*FUNCS, ast.ClassDef)):
                self.members.add(stmt.name)
                if isinstance(stmt, FUNCS):
                    self.methods[stmt.name] = stmt
            elif t is ast.Assign or t is ast.AnnAssign or t is ast.AugAssign:
                targets = stmt.targets if t is ast.Assign else [stmt.target]  # type: ignore[attr-defined]
                for target in targets:
                    for n in walk(target):  # every name in a target, read or bound
                        if type(n) is ast.Name:
                            self.members.add(n.id)
                            if n.id == "__slots__":
                                self._slots(stmt.value)  # type: ignore[attr-defined]
            elif t is ast.Import or t is ast.ImportFrom:
                self.members.update(bound_names(stmt))
        self.getattr = bool({"__getattr__", "__getattribute__"} & self.members)
        for name, func in self.methods.items():
            decorators = decorator_names(func)
            if "staticmethod" in decorators or "classmethod" in decorators:
                continue
            if not (func.args.posonlyargs or func.args.args):
                continue
            use = memo.get(SELF_USE, func, self_use)
            self.self_reads.extend(use.reads)
            for attr, entry in use.writes:
                self.self_writes.setdefault(attr, []).append(entry)
            if name == "__init__" and use.calls_init:
                self.init_calls_init = True
        # `self.x += 1` reads before it writes; pylint counts it as a definition
        for stmt in node.body:
            for attr in memo.get(AUG, stmt, aug_attrs):
                self.self_writes.setdefault(attr, [])

    def _slots(self, value: ast.AST | None) -> None:
        if value is None:
            return
        for n in walk(value):
            if type(n) is ast.Constant and isinstance(n.value, str):
                self.members.add(n.value)

    def attrs(self) -> set[str]:
        return self.members | set(self.self_writes)


CLASSES = Table("ClassInfos under a class-body statement")


def classes_under(node: ast.AST, path: str, memo: Memo = NO_MEMO) -> list[ClassInfo]:
    """The classes in one statement whose parent's path is `path`, in source order, with a
    dotted path of the definitions around them."""
    if isinstance(node, ast.ClassDef):
        p = f"{path}.{node.name}"
        out = [ClassInfo(node, p, memo)]
        for child in node.body:
            out.extend(memo.get(CLASSES, child, lambda c: classes_under(c, p, memo)))
        return out
    if isinstance(node, FUNCS):
        path = f"{path}.{node.name}"
    out = []
    for sub in blocks(node):
        out.extend(classes_under(sub, path, memo))
    return out


def collect_classes(body: list[ast.stmt]) -> list[ClassInfo]:
    """Every class of a module body, with a dotted path of enclosing definitions (in the
    order of a walk that takes the last statement's subtree first)."""
    out: list[ClassInfo] = []
    stack: list[tuple[Sequence[ast.AST], str]] = [(body, "")]
    while stack:
        nodes, path = stack.pop()
        for child in nodes:
            if isinstance(child, (*FUNCS, ast.ClassDef)):
                p = f"{path}.{child.name}"
                if isinstance(child, ast.ClassDef):
                    out.append(ClassInfo(child, p))
                stack.append((blocks(child), p))
            else:
                stack.append((blocks(child), path))
    return out


def full_classes(tree: ast.Module) -> dict[str, FullClass]:
    """Per class path of the full program: its attributes and whether __init__ calls one."""
    return {c.path: FullClass(frozenset(c.attrs()), c.init_calls_init) for c in collect_classes(tree.body)}
