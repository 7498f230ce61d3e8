"""Names and control flow: what pylint reports as E0601/E0602/E0606 and the compiler rejects.

Modelled on pyflakes' checker: a handler per statement type, a scope stack, bindings
collected per scope (scopes.py) and function bodies deferred until the scope around them is
known, plus a definite-assignment walk per scope shaped after pylint 3.2's rules rather than
textbook dataflow, so that it flags what pylint flags without flagging correct code:

- a name bound in a scope but not yet definitely assigned where it is read is an error
  (pylint: used-before-assignment, or possibly-used-before-assignment when an `if` branch
  binds it and another does not);
- loop bodies are assumed to run (pylint never flags a name bound in a loop and read after
  it); inside a function's `for` loop, a name the loop assigns anywhere (target, body, else)
  counts as bound throughout it, as pylint's `is_defined_before` has it, while in a `while`
  loop or a module-level `for` a name read before its assignment is an error;
- a `try` body is assumed to run when reading after the `try` statement, but not inside its
  handlers or its `finally`; names bound only in handlers are uncertain unless the `try`
  body or its `else` leaves the function;
- function bodies (and lambdas) run later: inside them, outer names count if bound anywhere.

It also reports what `compile()` would reject after a deletion (`return`/`yield`/`await`
outside a function, `break`/`continue` outside a loop, `nonlocal` without a binding) and
relative imports, which pylint flags (E0402) in a file outside any package.

The module is checked one top-level statement at a time. With a `Memo` (the incremental
path), a statement's lines and its effect on what is bound are kept under the statement and
how the names it mentions stand outside it (`Outside`); chunks of statements (pieces.py) are
kept the same way. At module level a block that always leaves restores nothing that matters
afterwards, so walking the statements one by one is the same walk as walking the body.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import NamedTuple

from lintseq.linters.flow_walk import Ctx, FlowWalk
from lintseq.linters.memo import MISS, NO_MEMO, Memo, Table
from lintseq.linters.nodes import FunctionNode, arg_names, walk
from lintseq.linters.scopes import (
    BUILTINS,
    FREE_LOADS,
    Scope,
    Source,
    declared_global,
    free_loads,
    idents,
    names_in,
    statement_bindings,
)

MODULE_NAMES = frozenset(
    [
        "__name__",
        "__doc__",
        "__file__",
        "__builtins__",
        "__spec__",
        "__loader__",
        "__package__",
        "__path__",
        "__annotations__",
        "__dict__",
        "__cached__",
    ]
)
CLASS_NAMES = frozenset({"__module__", "__qualname__", "__doc__", "__dict__", "__annotations__"})


class StmtBinds(NamedTuple):
    """What a top-level statement (or a chunk of them) binds in the module scope, and the
    names functions inside it declare `global`."""

    bound: frozenset[str]
    globals: frozenset[str]
    nonlocals: frozenset[str]
    star: bool
    declared: frozenset[str]


class Outside(NamedTuple):
    """How the names a statement mentions stand outside it: all its check depends on."""

    bound_before: frozenset[str]
    module_bound: frozenset[str]
    own: frozenset[str]
    star: bool
    globals: frozenset[str] | None
    nonlocals: frozenset[str] | None


class Walked(NamedTuple):
    """A top-level statement (or chunk) walked from `key`: its lines, what is bound after."""

    key: Outside
    lines: set[int]
    out: frozenset[str]


class Checked(NamedTuple):
    """A function at module level (or in classes there) checked from `key`."""

    key: tuple[frozenset[str], frozenset[str], bool]
    lines: set[int]


BINDS = Table("StmtBinds of a top-level statement")
BINDS_CHUNK = Table("StmtBinds of a chunk", volatile=True)
DECLARED = Table("names declared global under a class-body statement")
IDENTS = Table("idents of a statement")
IDENTS_CLASS = Table("idents of a top-level class", volatile=True)
IDENTS_CHUNK = Table("idents of a chunk", volatile=True)
FLOW = Table("Walked top-level statement")
FLOW_CLASS = Table("Walked top-level class", volatile=True)
FLOW_CHUNK = Table("Walked chunk", volatile=True)
FUNCTION = Table("Checked function at module level")
NAMES = Table("names_in of a function at module level")


def first_read(name: str, ctx: Ctx) -> bool:
    """pylint judges only a function's first read of a name: its consumer then holds it."""
    if name in ctx.consumed:
        return False
    ctx.consumed.add(name)
    return True


def defined_before(name: str, ctx: Ctx) -> bool:
    """Bound here for sure, bound by the `for` loop around, or plainly assigned in the body
    of an `if` around the read (pylint's is_defined_before; not for a bare annotation)."""
    return (
        name in ctx.bound
        or name in ctx.carried
        or (name not in ctx.annotated and any(name in names for names in ctx.ifs))
    )


def _top_level(scope: Scope) -> bool:
    s: Scope | None = scope
    while s is not None and s.kind == "class":  # a class scope always has a parent
        s = s.parent
    return s is not None and s.kind == "module"


class FlowChecker(FlowWalk):
    """Reports lines of name and compile-time errors in a module given as chunks of
    top-level statements (pieces.py; one chunk holding the whole body will do).

    `shadowed`: (scope path, name) of the names the full program binds in a scope; when a
    state reads one of them and it falls through to a builtin, the binding was deleted."""

    def __init__(
        self, shadowed: frozenset[tuple[str, str]] = frozenset(), memo: Memo = NO_MEMO, source: Source = Source()
    ) -> None:
        self.memo = memo
        self.source = source
        self.lines: set[int] = set()
        self._deferred: list[tuple[FunctionNode | ast.Lambda, Scope]] = []
        self._shadowed = shadowed
        self._module: Scope
        self._own: set[str]

    # -- the module ---------------------------------------------------------------------
    def check(self, chunks: Sequence) -> set[int]:
        memo = self.memo
        module = Scope(None, "module", None, set(), set(), set(), False)
        declared: set[str] = set()
        for chunk in chunks:
            b = memo.get(BINDS_CHUNK, chunk, self._chunk_binds)
            module.bound |= b.bound
            if b.globals:
                module.globals |= b.globals
            if b.nonlocals:
                module.nonlocals |= b.nonlocals
            module.star = module.star or b.star
            if b.declared:
                declared |= b.declared
        self._own = set(module.bound)
        module.bound |= declared
        self._module = module
        if not memo.enabled:
            ctx = Ctx(module, set(), function=False, is_async=False)
            for chunk in chunks:
                for stmt in chunk.body:
                    self._stmt(stmt, ctx)
            self._drain()
            return self.lines
        flow: set[str] = set()
        found: set[int] = set()
        for chunk in chunks:
            names = memo.get(IDENTS_CHUNK, chunk, self._chunk_idents)
            key = self._outside(names, flow)
            e = memo.find(FLOW_CHUNK, chunk)
            if e is not MISS and e.key == key:
                lines, out = e.lines, e.out
            else:
                local = set(key.bound_before)
                lines = self._walk_statements(chunk.body, local)
                out = frozenset(local)
                memo.store(FLOW_CHUNK, chunk, Walked(key, lines, out))
            if lines:
                found |= lines
            flow -= names
            flow |= out
        self.lines = found
        return found

    def _outside(self, names: frozenset[str], flow: set[str]) -> Outside:
        m = self._module
        return Outside(
            names & flow,
            names & m.bound,
            names & self._own,
            m.star,
            names & m.globals if m.globals else None,
            names & m.nonlocals if m.nonlocals else None,
        )

    def _walk_statements(self, body: list[ast.stmt], flow: set[str]) -> set[int]:
        """Module-level statements in order from what `flow` has bound (updated in place)."""
        memo = self.memo
        found: set[int] = set()
        for stmt in body:
            names = self._stmt_idents(stmt)
            table = FLOW_CLASS if type(stmt) is ast.ClassDef else FLOW
            key = self._outside(names, flow)
            e = memo.find(table, stmt)
            if e is not MISS and e.key == key:
                lines, out = e.lines, e.out
            else:
                self.lines = set()
                ctx = Ctx(self._module, set(key.bound_before), function=False, is_async=False)
                self._stmt(stmt, ctx)
                self._drain()
                lines, out = self.lines, frozenset(ctx.bound)
                memo.store(table, stmt, Walked(key, lines, out))
            if lines:
                found |= lines
            flow -= names
            flow |= out
        return found

    def _drain(self) -> None:
        """Check deferred functions; with a memo, a function whose enclosing scopes are
        classes up to the module is kept under its node and the module names it mentions."""
        memo = self.memo
        while self._deferred:
            node, parent = self._deferred.pop()
            if not memo.enabled or isinstance(node, ast.Lambda) or not _top_level(parent):
                self._function(node, parent)
                continue
            names = memo.get(NAMES, node, names_in)
            key = (names & self._module.bound, names & self._own, self._module.star)
            e = memo.find(FUNCTION, node)
            if e is not MISS and e.key == key:
                self.lines |= e.lines
                continue
            saved, saved_deferred = self.lines, self._deferred
            self.lines, self._deferred = set(), []
            self._function(node, parent)
            self._drain()
            lines = self.lines
            self.lines, self._deferred = saved | lines, saved_deferred
            memo.store(FUNCTION, node, Checked(key, lines))

    def _chunk_binds(self, chunk) -> StmtBinds:
        parts = [self.memo.get(BINDS, s, self._stmt_binds) for s in chunk.body]
        return StmtBinds(
            frozenset().union(*(p.bound for p in parts)),
            frozenset().union(*(p.globals for p in parts)),
            frozenset().union(*(p.nonlocals for p in parts)),
            any(p.star for p in parts),
            frozenset().union(*(p.declared for p in parts)),
        )

    def _stmt_binds(self, stmt: ast.stmt) -> StmtBinds:
        b = statement_bindings(stmt, self.source)
        if isinstance(stmt, ast.ClassDef):  # only statements declare names global
            source = self.source
            declared = frozenset().union(
                *(self.memo.get(DECLARED, s, lambda n: declared_global(n, source)) for s in stmt.body)
            )
        else:
            declared = declared_global(stmt, self.source)
        return StmtBinds(b.bound, b.globals, b.nonlocals, b.star, declared)

    def _chunk_idents(self, chunk) -> frozenset[str]:
        return frozenset().union(*(self._stmt_idents(s) for s in chunk.body))

    def _stmt_idents(self, stmt: ast.stmt) -> frozenset[str]:
        """`idents` of a top-level statement; a class (rebuilt whenever one of its methods
        changes) from its parts."""
        memo = self.memo
        if not isinstance(stmt, ast.ClassDef):
            return memo.get(IDENTS, stmt, idents)
        found = memo.find(IDENTS_CLASS, stmt)
        if found is not MISS:
            return found
        out = {stmt.name}
        for part in stmt.decorator_list + stmt.bases + stmt.keywords:
            out |= idents(part)
        for s in stmt.body:
            out |= memo.get(IDENTS, s, idents)
        value = frozenset(out)
        memo.store(IDENTS_CLASS, stmt, value)
        return value

    # -- scopes -------------------------------------------------------------------------
    def _function(self, node: FunctionNode | ast.Lambda, parent: Scope) -> None:
        kind = "lambda" if isinstance(node, ast.Lambda) else "function"
        scope = Scope.of(node, kind, parent, self.memo, self.source)
        bound = set(arg_names(node.args))
        ctx = Ctx(scope, bound, function=True, is_async=isinstance(node, ast.AsyncFunctionDef))
        for name in scope.nonlocals:
            s: Scope | None = parent
            while s is not None and not (s.kind in ("function", "lambda") and name in s.bound):
                s = s.parent
            if s is None:
                self._flag_nonlocal(node, name)
        if isinstance(node, ast.Lambda):
            self._expr(node.body, ctx)
        else:
            self._block(node.body, ctx)

    def _flag_nonlocal(self, func: ast.AST, name: str) -> None:
        for sub in ast.walk(func):  # breadth first: the first such statement
            if isinstance(sub, ast.Nonlocal) and name in sub.names:
                self.lines.add(sub.lineno)
                return

    def _resolves_outside(self, name: str, scope: Scope | None) -> bool:
        while scope is not None:
            if scope.kind != "class" and (name in scope.bound or scope.star):
                return True
            scope = scope.parent
        return name in BUILTINS or name in MODULE_NAMES

    def _load(self, node: ast.Name, ctx: Ctx) -> None:
        if ctx.dry:
            return
        name = node.id
        for frame in ctx.comps:
            if name in frame:
                return
        scope = ctx.scope
        if name in scope.globals:
            # pylint: a global the module never binds itself is a local of the function
            if name in self._own or self._module.star:
                return
            if first_read(name, ctx) and not defined_before(name, ctx):
                self.lines.add(node.lineno)
            return
        if name in scope.nonlocals:
            return
        if name in scope.bound:
            if scope.kind == "function":
                if first_read(name, ctx) and not defined_before(name, ctx):
                    self.lines.add(node.lineno)
                return
            if name in ctx.bound or name in ctx.carried:
                return
            if scope.kind == "class" and self._resolves_outside(name, scope.parent):
                return
            self.lines.add(node.lineno)
            return
        if scope.kind == "class" and name in CLASS_NAMES:
            return
        if name == "__class__" and scope.kind == "function":
            return
        if scope.star or self._resolves_outside(name, scope.parent):
            if self._shadowed and name in BUILTINS and self._shadows(name, scope):
                self.lines.add(node.lineno)
            return
        if ctx.guards and ctx.guards[-1]:
            return  # pylint: undefined names are fine where the closest try catches NameError
        self.lines.add(node.lineno)

    def _annotation(self, expr: ast.expr, ctx: Ctx) -> None:
        """A variable's annotation is never run, but pylint still flags undefined names in it."""
        if ctx.dry:
            return
        scope = ctx.scope
        for n in walk(expr):
            if type(n) is ast.Name and type(n.ctx) is ast.Load:
                name = n.id
                if (
                    name in scope.bound
                    or name in scope.globals
                    or name in scope.nonlocals
                    or scope.star
                    or any(name in frame for frame in ctx.comps)
                    or self._resolves_outside(name, scope.parent)
                ):
                    continue
                if (scope.kind == "class" and name in CLASS_NAMES) or (ctx.guards and ctx.guards[-1]):
                    continue
                self.lines.add(n.lineno)

    def _consume_nested(self, node: ast.AST, ctx: Ctx) -> None:
        """pylint visits a nested function, lambda or class body where it stands: its reads of
        this function's locals consume them here (the walk checks such bodies later)."""
        if ctx.scope.kind == "function" and not ctx.dry and not ctx.scope.bound <= ctx.consumed:
            memo = self.memo
            ctx.consumed |= memo.get(FREE_LOADS, node, lambda n: free_loads(n, memo)) & ctx.scope.bound

    def _shadows(self, name: str, scope: Scope | None) -> bool:
        """Did the full program bind `name` in this scope or one it can see?"""
        while scope is not None:
            if (scope.path, name) in self._shadowed:
                return True
            if scope.kind != "class" and name in scope.bound:
                return False
            scope = scope.parent
        return False

    def _static(self, expr: ast.expr, ctx: Ctx) -> None:
        """Annotations: only names bound nowhere are errors."""
        for sub in walk(expr):
            if type(sub) is ast.Name and type(sub.ctx) is ast.Load:
                name = sub.id
                if name in ctx.scope.bound or ctx.scope.star:
                    continue
                if not self._resolves_outside(name, ctx.scope.parent):
                    self.lines.add(sub.lineno)
