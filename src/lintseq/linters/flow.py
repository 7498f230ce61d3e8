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
from typing import Callable, NamedTuple, Sequence

from lintseq.linters.memo import MISS, NO_MEMO, Memo, Table
from lintseq.linters.nodes import COMPS, FUNCS, arg_names, bound_names, children, statements, walk
from lintseq.linters.scopes import (
    BUILTINS, FREE_LOADS, Scope, Source, assigned, assigned_in, declared_global, free_loads, idents, names_in,
    plain_assigns, statement_bindings,
)

MODULE_NAMES = frozenset(
    "__name__ __doc__ __file__ __builtins__ __spec__ __loader__ __package__ __path__ "
    "__annotations__ __dict__ __cached__".split()
)
CLASS_NAMES = frozenset({"__module__", "__qualname__", "__doc__", "__dict__", "__annotations__"})
_EXITS = frozenset({"exit", "quit"})
_EXIT_ATTRS = frozenset({("sys", "exit"), ("os", "_exit"), ("os", "abort")})


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


class _Ctx:
    """Where the walk is: the executing scope, what is definitely bound, loop/function."""

    __slots__ = ("scope", "bound", "loops", "function", "is_async", "comps", "carried", "consumed", "ifs", "guards",
                 "annotated", "dry")

    def __init__(self, scope: Scope, bound: set[str], function: bool, is_async: bool) -> None:
        self.scope = scope
        self.bound = bound
        self.loops = 0
        self.function = function
        self.is_async = is_async
        self.comps: list[set[str]] = []
        self.carried: set[str] = set()
        # pylint checks only the first read of a function's local (it "consumes" the name)
        self.consumed: set[str] = set()
        # names plainly assigned in the body of each `if` around the walk (is_defined_before)
        self.ifs: list[frozenset[str]] = []
        # the closest try around the walk: does one of its handlers name NameError?
        self.guards: list[bool] = []
        # names given a bare annotation (`x: int`): pylint's is_defined_before does not help them
        self.annotated: set[str] = set()
        # a dry walk only follows what gets bound (the first pass over a loop body, whose
        # lines are thrown away): reads, nested bodies and annotations are skipped
        self.dry = False


def _first_read(name: str, ctx: _Ctx) -> bool:
    """pylint judges only a function's first read of a name: its consumer then holds it."""
    if name in ctx.consumed:
        return False
    ctx.consumed.add(name)
    return True


def _defined_before(name: str, ctx: _Ctx) -> bool:
    """Bound here for sure, bound by the `for` loop around, or plainly assigned in the body
    of an `if` around the read (pylint's is_defined_before; not for a bare annotation)."""
    return name in ctx.bound or name in ctx.carried or (
        name not in ctx.annotated and any(name in names for names in ctx.ifs))


def _catches_name_error(handler: ast.ExceptHandler) -> bool:
    return handler.type is not None and any(
        type(n) is ast.Name and n.id == "NameError" for n in walk(handler.type))  # type: ignore[attr-defined]


def _breaks(node: ast.If) -> bool:
    return any(type(n) is ast.Break or type(n) is ast.Continue for n in statements(node))


def _is_exit_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    if isinstance(f, ast.Name):
        return f.id in _EXITS
    return (
        isinstance(f, ast.Attribute)
        and isinstance(f.value, ast.Name)
        and (f.value.id, f.attr) in _EXIT_ATTRS
    )


def _top_level(scope: Scope) -> bool:
    while scope.kind == "class":
        scope = scope.parent  # type: ignore[assignment]
    return scope.kind == "module"


class FlowChecker:
    """Reports lines of name and compile-time errors in a module given as chunks of
    top-level statements (pieces.py; one chunk holding the whole body will do).

    `shadowed`: (scope path, name) of the names the full program binds in a scope; when a
    state reads one of them and it falls through to a builtin, the binding was deleted."""

    def __init__(self, shadowed: frozenset[tuple[str, str]] = frozenset(), memo: Memo = NO_MEMO,
                 source: Source = Source()) -> None:
        self.memo = memo
        self.source = source
        self.lines: set[int] = set()
        self._deferred: list[tuple[ast.AST, Scope]] = []
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
            module.bound |= b.bound  # type: ignore[operator]
            if b.globals:
                module.globals |= b.globals  # type: ignore[operator]
            if b.nonlocals:
                module.nonlocals |= b.nonlocals  # type: ignore[operator]
            module.star = module.star or b.star
            if b.declared:
                declared |= b.declared
        self._own = set(module.bound)
        module.bound |= declared  # type: ignore[operator]
        self._module = module
        if not memo.enabled:
            ctx = _Ctx(module, set(), function=False, is_async=False)
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
        return Outside(names & flow, names & m.bound, names & self._own, m.star,  # type: ignore[arg-type]
                       names & m.globals if m.globals else None,  # type: ignore[arg-type]
                       names & m.nonlocals if m.nonlocals else None)  # type: ignore[arg-type]

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
                ctx = _Ctx(self._module, set(key.bound_before), function=False, is_async=False)
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
        return StmtBinds(frozenset().union(*(p.bound for p in parts)), frozenset().union(*(p.globals for p in parts)),
                         frozenset().union(*(p.nonlocals for p in parts)), any(p.star for p in parts),
                         frozenset().union(*(p.declared for p in parts)))

    def _stmt_binds(self, stmt: ast.stmt) -> StmtBinds:
        b = statement_bindings(stmt, self.source)
        if isinstance(stmt, ast.ClassDef):  # only statements declare names global
            source = self.source
            declared = frozenset().union(*(self.memo.get(DECLARED, s, lambda n: declared_global(n, source))
                                           for s in stmt.body))
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
    def _function(self, node: ast.AST, parent: Scope) -> None:
        kind = "lambda" if isinstance(node, ast.Lambda) else "function"
        scope = Scope.of(node, kind, parent, self.memo, self.source)
        bound = set(arg_names(node.args))  # type: ignore[attr-defined]
        ctx = _Ctx(scope, bound, function=True, is_async=isinstance(node, ast.AsyncFunctionDef))
        for name in scope.nonlocals:
            s: Scope | None = parent
            while s is not None and not (s.kind in ("function", "lambda") and name in s.bound):
                s = s.parent
            if s is None:
                self._flag_nonlocal(node, name)
        if kind == "lambda":
            self._expr(node.body, ctx)  # type: ignore[attr-defined]
        else:
            self._block(node.body, ctx)  # type: ignore[attr-defined]

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

    def _load(self, node: ast.Name, ctx: _Ctx) -> None:
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
            if _first_read(name, ctx) and not _defined_before(name, ctx):
                self.lines.add(node.lineno)
            return
        if name in scope.nonlocals:
            return
        if name in scope.bound:
            if scope.kind == "function":
                if _first_read(name, ctx) and not _defined_before(name, ctx):
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

    def _annotation(self, expr: ast.expr, ctx: _Ctx) -> None:
        """A variable's annotation is never run, but pylint still flags undefined names in it."""
        if ctx.dry:
            return
        scope = ctx.scope
        for n in walk(expr):
            if type(n) is ast.Name and type(n.ctx) is ast.Load:  # type: ignore[attr-defined]
                name = n.id  # type: ignore[attr-defined]
                if name in scope.bound or name in scope.globals or name in scope.nonlocals or scope.star \
                        or any(name in frame for frame in ctx.comps) or self._resolves_outside(name, scope.parent):
                    continue
                if (scope.kind == "class" and name in CLASS_NAMES) or (ctx.guards and ctx.guards[-1]):
                    continue
                self.lines.add(n.lineno)  # type: ignore[attr-defined]

    def _consume_nested(self, node: ast.AST, ctx: _Ctx) -> None:
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

    # -- statements ---------------------------------------------------------------------
    def _block(self, body: list[ast.stmt], ctx: _Ctx) -> bool:
        """Walk statements in order; True if the block always leaves (return/raise/...)."""
        for i, stmt in enumerate(body):
            if self._stmt(stmt, ctx):
                # statements after a terminator are dead; still check them for errors
                rest = body[i + 1 :]
                if rest:
                    saved = set(ctx.bound)
                    self._block(rest, ctx)
                    ctx.bound.clear()
                    ctx.bound.update(saved)
                return True
        return False

    def _stmt(self, node: ast.stmt, ctx: _Ctx) -> bool:
        """The statement's handler; True if it always leaves the block."""
        handler = _STATEMENTS.get(type(node))
        return handler(self, node, ctx) if handler is not None else False  # pass and friends

    def _store(self, target: ast.AST, ctx: _Ctx) -> None:
        if isinstance(target, ast.Name):
            ctx.bound.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._store(elt, ctx)
        elif isinstance(target, ast.Starred):
            self._store(target.value, ctx)
        else:  # attribute or subscript: reads its parts
            self._expr(target, ctx)

    def on_expr(self, node: ast.Expr, ctx: _Ctx) -> bool:
        self._expr(node.value, ctx)
        return _is_exit_call(node.value)

    def on_assign(self, node: ast.Assign, ctx: _Ctx) -> bool:
        self._expr(node.value, ctx)
        for target in node.targets:
            self._store(target, ctx)
        return False

    def on_aug_assign(self, node: ast.AugAssign, ctx: _Ctx) -> bool:
        self._expr(node.value, ctx)
        if isinstance(node.target, ast.Name):
            self._load(ast.Name(node.target.id, ast.Load(), lineno=node.lineno), ctx)
            ctx.bound.add(node.target.id)
        else:
            self._expr(node.target, ctx)
        return False

    def on_ann_assign(self, node: ast.AnnAssign, ctx: _Ctx) -> bool:
        self._annotation(node.annotation, ctx)
        if node.value is not None:
            self._expr(node.value, ctx)
            self._store(node.target, ctx)
        elif not isinstance(node.target, ast.Name):
            self._expr(node.target, ctx)
        else:
            ctx.annotated.add(node.target.id)
        return False

    def on_return(self, node: ast.Return, ctx: _Ctx) -> bool:
        if not ctx.function:
            self.lines.add(node.lineno)
        if node.value is not None:
            self._expr(node.value, ctx)
        return True

    def on_raise(self, node: ast.Raise, ctx: _Ctx) -> bool:
        if node.exc is not None:
            self._expr(node.exc, ctx)
        if node.cause is not None:
            self._expr(node.cause, ctx)
        return True

    def on_break(self, node: ast.Break | ast.Continue, ctx: _Ctx) -> bool:
        if not ctx.loops:
            self.lines.add(node.lineno)
        return True

    def on_if(self, node: ast.If, ctx: _Ctx) -> bool:
        ctx.ifs.append(plain_assigns(node.body))
        self._expr(node.test, ctx)
        start = set(ctx.bound)
        leaves = self._branches(ctx, [node.body, node.orelse])
        ctx.ifs.pop()
        if ctx.loops and _breaks(node):
            # pylint is permissive about an `if` with a break or continue in it
            ctx.bound = start | assigned([node])
            return False
        return leaves

    def on_for(self, node: ast.For | ast.AsyncFor, ctx: _Ctx) -> bool:
        if isinstance(node, ast.AsyncFor) and not ctx.is_async:
            self.lines.add(node.lineno)
        self._expr(node.iter, ctx)
        self._loop(node, ctx, node.target)
        return False

    def on_while(self, node: ast.While, ctx: _Ctx) -> bool:
        self._expr(node.test, ctx)
        self._loop(node, ctx, None)
        return False

    def on_with(self, node: ast.With | ast.AsyncWith, ctx: _Ctx) -> bool:
        if isinstance(node, ast.AsyncWith) and not ctx.is_async:
            self.lines.add(node.lineno)
        for item in node.items:
            self._expr(item.context_expr, ctx)
            if item.optional_vars is not None:
                self._store(item.optional_vars, ctx)
        return self._block(node.body, ctx)

    def on_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: _Ctx) -> bool:
        self._signature(node, ctx)
        self._consume_nested(node, ctx)
        ctx.bound.add(node.name)
        if not ctx.dry:
            self._deferred.append((node, ctx.scope))
        return False

    def on_class(self, node: ast.ClassDef, ctx: _Ctx) -> bool:
        for e in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self._expr(e, ctx)
        self._consume_nested(node, ctx)
        if not ctx.dry:  # the body binds nothing out here
            scope = Scope.of(node, "class", ctx.scope, self.memo, self.source)
            inner = _Ctx(scope, set(), function=False, is_async=False)
            inner.comps = ctx.comps
            self._block(node.body, inner)
        ctx.bound.add(node.name)
        return False

    def on_import(self, node: ast.Import | ast.ImportFrom, ctx: _Ctx) -> bool:
        if isinstance(node, ast.ImportFrom) and node.level:
            self.lines.add(node.lineno)  # relative import outside a package (E0402)
        ctx.bound.update(bound_names(node))
        return False

    def on_delete(self, node: ast.Delete, ctx: _Ctx) -> bool:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._load(target, ctx)
                ctx.bound.discard(target.id)
            else:
                self._walk_expr(target, ctx)  # `del (a, b)` binds a and b, as a store would
        return False

    def on_nonlocal(self, node: ast.Nonlocal, ctx: _Ctx) -> bool:
        if ctx.scope.kind == "module":
            self.lines.add(node.lineno)
        return False

    def on_assert(self, node: ast.Assert, ctx: _Ctx) -> bool:
        self._expr(node.test, ctx)
        if node.msg is not None:
            self._expr(node.msg, ctx)
        return False

    def _signature(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: _Ctx) -> None:
        """Decorators and defaults run where the function is defined; annotations may not."""
        for d in node.decorator_list:
            self._expr(d, ctx)
        args = node.args
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self._expr(d, ctx)
        if ctx.dry:
            return
        annotations = [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs]
        annotations += [args.vararg.annotation if args.vararg else None,
                        args.kwarg.annotation if args.kwarg else None, node.returns]
        for ann in annotations:
            if ann is not None:
                self._static(ann, ctx)

    def _static(self, expr: ast.expr, ctx: _Ctx) -> None:
        """Annotations: only names bound nowhere are errors."""
        for sub in walk(expr):
            if type(sub) is ast.Name and type(sub.ctx) is ast.Load:  # type: ignore[attr-defined]
                name = sub.id  # type: ignore[attr-defined]
                if name in ctx.scope.bound or ctx.scope.star:
                    continue
                if not self._resolves_outside(name, ctx.scope.parent):
                    self.lines.add(sub.lineno)  # type: ignore[attr-defined]

    def _branches(self, ctx: _Ctx, bodies: list[list[ast.stmt]], total: bool = True) -> bool:
        """Alternative blocks; afterwards a name is bound if every block that falls through
        binds it. `total`: one of the blocks always runs (an `if` with its `else`)."""
        start = ctx.bound
        ends: list[set[str]] = []
        for body in bodies:
            ctx.bound = set(start)
            # pylint counts a branch with an `assert` in it like one that raises
            if not self._block(body, ctx) and not any(type(st) is ast.Assert for st in body):
                ends.append(ctx.bound)
        return self._join(ctx, start, ends, total)

    @staticmethod
    def _join(ctx: _Ctx, start: set[str], ends: list[set[str]], total: bool) -> bool:
        """Names bound after alternative blocks: those every block that falls through binds
        (plus the path around them unless one always runs). True: no block falls through."""
        if not total:
            ends.append(start)
        if not ends:
            ctx.bound = start
            return True
        ctx.bound = set.intersection(*ends)
        return False

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While, ctx: _Ctx, target: ast.AST | None) -> None:
        start = set(ctx.bound)
        carried_before = ctx.carried
        if target is not None and ctx.scope.kind == "function" and not ctx.dry:
            # pylint's is_defined_before: a name the loop assigns counts as bound throughout
            # it, once the assignments pylint deems uncertain (in one branch only) are set
            # aside; so: assigned outside branches, or bound for sure by an iteration (a dry
            # walk finds those: its lines are not wanted, and loops inside it need no such pass)
            lines_before = set(self.lines)
            ctx.loops += 1
            ctx.dry = True
            self._store(target, ctx)
            self._block(node.body, ctx)
            ctx.dry = False
            ctx.loops -= 1
            self.lines = lines_before
            every, outside = assigned_in(node)  # type: ignore[arg-type]
            ctx.carried = carried_before | ((ctx.bound - start) & every) | outside
            ctx.bound = set(start)
        ctx.loops += 1
        if target is not None:
            self._store(target, ctx)
        leaves = self._block(node.body, ctx)
        end = ctx.bound
        ctx.loops -= 1
        # pylint assumes the body ran: what it binds for sure is bound after the loop
        ctx.bound = set(start) if leaves else end
        if target is not None:
            self._store(target, ctx)
        self._block(node.orelse, ctx)
        ctx.carried = carried_before

    def on_try(self, node: ast.Try, ctx: _Ctx) -> bool:
        start = set(ctx.bound)
        guard = any(_catches_name_error(h) for h in node.handlers)
        ctx.guards.append(guard)
        body_leaves = self._block(node.body, ctx) or self._block(node.orelse, ctx)
        ctx.guards[-1] = False  # inside a handler, the handler is the closest wrapper
        after_body = ctx.bound
        handler_ends: list[set[str]] = []
        handlers_leave = True
        for h in node.handlers:
            ctx.bound = set(start)
            if h.type is not None:
                self._expr(h.type, ctx)
            if h.name:
                ctx.bound.add(h.name)
            if not self._block(h.body, ctx):
                handlers_leave = False
                handler_ends.append(ctx.bound)
        ctx.guards[-1] = guard
        if body_leaves:
            result = set.intersection(*handler_ends) if handler_ends else set(start)
        else:
            result = after_body
        leaves = body_leaves and handlers_leave and bool(node.handlers)
        if node.finalbody:
            ctx.bound = set(start)
            final_leaves = self._block(node.finalbody, ctx)
            result |= ctx.bound - start
            leaves = leaves or final_leaves
        ctx.guards.pop()
        ctx.bound = result
        return leaves

    def on_match(self, node: ast.Match, ctx: _Ctx) -> bool:
        self._expr(node.subject, ctx)
        start = ctx.bound
        ends: list[set[str]] = []
        total = False
        for case in node.cases:
            ctx.bound = set(start)
            self._pattern(case.pattern, ctx)
            if case.guard is not None:
                self._expr(case.guard, ctx)
            elif isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None:
                total = True
            if not self._block(case.body, ctx):
                ends.append(ctx.bound)
        return self._join(ctx, start, ends, total)

    def _pattern(self, pattern: ast.pattern, ctx: _Ctx) -> None:
        for sub in ast.walk(pattern):  # breadth first: captures before the values beside them
            if isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name:
                ctx.bound.add(sub.name)
            elif isinstance(sub, ast.MatchMapping) and sub.rest:
                ctx.bound.add(sub.rest)
            elif isinstance(sub, ast.MatchValue | ast.MatchClass):
                for part in ([sub.value] if isinstance(sub, ast.MatchValue) else [sub.cls]):
                    self._expr(part, ctx)

    # -- expressions --------------------------------------------------------------------
    def _expr(self, node: ast.AST, ctx: _Ctx) -> None:
        if ctx.dry and not self.source.walrus:
            return  # a dry walk wants what expressions bind, and only `:=` does
        self._walk_expr(node, ctx)

    def _walk_expr(self, node: ast.AST, ctx: _Ctx) -> None:
        stack = [node]
        pop, extend = stack.pop, stack.extend
        while stack:
            n = pop()
            t = type(n)
            if t is ast.Name:
                if type(n.ctx) is ast.Load:  # type: ignore[attr-defined]
                    self._load(n, ctx)  # type: ignore[arg-type]
                elif ctx.comps:
                    ctx.comps[-1].add(n.id)  # type: ignore[attr-defined]
                else:
                    ctx.bound.add(n.id)  # type: ignore[attr-defined]
                continue
            if t is ast.Constant:
                continue
            special = _EXPRESSIONS.get(t)
            if special is None or special(self, n, ctx, stack):
                extend(children(n))

    def on_lambda(self, node: ast.Lambda, ctx: _Ctx, stack: list[ast.AST]) -> bool:
        stack.extend(node.args.defaults + [d for d in node.args.kw_defaults if d is not None])
        if not ctx.dry:
            parent = ctx.scope
            if ctx.comps:  # a lambda in a comprehension sees its variables
                parent = Scope.frame(set().union(*ctx.comps), parent)
            self._consume_nested(node, ctx)
            self._deferred.append((node, parent))
        return False

    def on_named_expr(self, node: ast.NamedExpr, ctx: _Ctx, stack: list[ast.AST]) -> bool:
        self._walk_expr(node.value, ctx)
        ctx.bound.add(node.target.id)  # binds in the enclosing scope
        return False

    def on_yield(self, node: ast.Yield | ast.YieldFrom, ctx: _Ctx, stack: list[ast.AST]) -> bool:
        if not ctx.function:
            self.lines.add(node.lineno)
        return True

    def on_await(self, node: ast.Await, ctx: _Ctx, stack: list[ast.AST]) -> bool:
        if not ctx.is_async:
            self.lines.add(node.lineno)
        return True

    def on_comprehension(self, node: ast.AST, ctx: _Ctx, stack: list[ast.AST]) -> bool:
        gens = node.generators  # type: ignore[attr-defined]
        self._walk_expr(gens[0].iter, ctx)  # evaluated in the enclosing scope
        frame: set[str] = set()
        ctx.comps.append(frame)
        try:
            for i, gen in enumerate(gens):
                if gen.is_async and not ctx.is_async:
                    self.lines.add(node.lineno)  # type: ignore[attr-defined]
                if i:
                    self._walk_expr(gen.iter, ctx)
                frame.update(sub.id for sub in walk(gen.target) if type(sub) is ast.Name)
                for cond in gen.ifs:
                    self._walk_expr(cond, ctx)
            if isinstance(node, ast.DictComp):
                self._walk_expr(node.key, ctx)
                self._walk_expr(node.value, ctx)
            else:
                self._walk_expr(node.elt, ctx)  # type: ignore[attr-defined]
        finally:
            ctx.comps.pop()
        return False


_STATEMENTS: dict[type, Callable[[FlowChecker, ast.stmt, _Ctx], bool]] = {  # type: ignore[dict-item]
    ast.Expr: FlowChecker.on_expr,
    ast.Assign: FlowChecker.on_assign,
    ast.AugAssign: FlowChecker.on_aug_assign,
    ast.AnnAssign: FlowChecker.on_ann_assign,
    ast.Return: FlowChecker.on_return,
    ast.Raise: FlowChecker.on_raise,
    ast.Break: FlowChecker.on_break,
    ast.Continue: FlowChecker.on_break,
    ast.If: FlowChecker.on_if,
    ast.For: FlowChecker.on_for,
    ast.AsyncFor: FlowChecker.on_for,
    ast.While: FlowChecker.on_while,
    ast.With: FlowChecker.on_with,
    ast.AsyncWith: FlowChecker.on_with,
    ast.Try: FlowChecker.on_try,
    ast.FunctionDef: FlowChecker.on_function,
    ast.AsyncFunctionDef: FlowChecker.on_function,
    ast.ClassDef: FlowChecker.on_class,
    ast.Import: FlowChecker.on_import,
    ast.ImportFrom: FlowChecker.on_import,
    ast.Delete: FlowChecker.on_delete,
    ast.Nonlocal: FlowChecker.on_nonlocal,
    ast.Assert: FlowChecker.on_assert,
    ast.Match: FlowChecker.on_match,
}
if hasattr(ast, "TryStar"):
    _STATEMENTS[ast.TryStar] = FlowChecker.on_try  # type: ignore[assignment]

# expression handlers; True: walk the node's children as usual
_EXPRESSIONS: dict[type, Callable[[FlowChecker, ast.AST, _Ctx, list[ast.AST]], bool]] = {  # type: ignore[dict-item]
    ast.Lambda: FlowChecker.on_lambda,
    ast.NamedExpr: FlowChecker.on_named_expr,
    ast.Yield: FlowChecker.on_yield,
    ast.YieldFrom: FlowChecker.on_yield,
    ast.Await: FlowChecker.on_await,
    **{t: FlowChecker.on_comprehension for t in COMPS},
}
