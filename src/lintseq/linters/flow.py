"""Names and control flow: what pylint reports as E0601/E0602/E0606 and the compiler rejects.

One pass over the tree, modelled on pyflakes (a scope stack, bindings collected per scope)
plus a definite-assignment walk per scope, shaped after pylint 3.2's rules rather than
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
"""

from __future__ import annotations

import ast
import builtins
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lintseq.linters.memo import Memo

BUILTINS = frozenset(dir(builtins)) | {"__file__", "__builtins__", "__annotations__"}
MODULE_NAMES = frozenset(
    "__name__ __doc__ __file__ __builtins__ __spec__ __loader__ __package__ __path__ "
    "__annotations__ __dict__ __cached__".split()
)
CLASS_NAMES = frozenset({"__module__", "__qualname__", "__doc__", "__dict__", "__annotations__"})
_EXITS = frozenset({"exit", "quit"})
_EXIT_ATTRS = frozenset({("sys", "exit"), ("os", "_exit"), ("os", "abort")})

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)


class Scope:
    """Names a scope binds, wherever in it; `kind` is module, class, function or lambda."""

    __slots__ = ("node", "kind", "parent", "bound", "globals", "nonlocals", "star", "path")

    def __init__(self, node: ast.AST, kind: str, parent: "Scope | None") -> None:
        self.node = node
        self.kind = kind
        self.parent = parent
        self.path = "" if parent is None else f"{parent.path}.{getattr(node, 'name', '<lambda>')}"
        self.bound: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.star = False
        _Binder(self).scan(node)

    def module(self) -> "Scope":
        s = self
        while s.parent is not None:
            s = s.parent
        return s


class _Binder:
    """Collects the names a scope binds, without entering nested scopes."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def scan(self, node: ast.AST) -> None:
        if isinstance(node, ast.Lambda):
            self._args(node.args)
            self._expr(node.body)
            return
        if isinstance(node, _FUNCS):
            self._args(node.args)
        for stmt in node.body:  # type: ignore[attr-defined]
            self._stmt(stmt)

    def _args(self, args: ast.arguments) -> None:
        b = self.scope.bound
        for a in args.posonlyargs + args.args + args.kwonlyargs:
            b.add(a.arg)
        if args.vararg:
            b.add(args.vararg.arg)
        if args.kwarg:
            b.add(args.kwarg.arg)

    def _stmt(self, node: ast.AST) -> None:
        s = self.scope
        if isinstance(node, (*_FUNCS, ast.ClassDef)):
            s.bound.add(node.name)
            for d in node.decorator_list:
                self._expr(d)
            return
        if isinstance(node, ast.Global):
            s.globals.update(node.names)
            return
        if isinstance(node, ast.Nonlocal):
            s.nonlocals.update(node.names)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    s.star = True
                else:
                    s.bound.add(alias.asname or alias.name.split(".")[0])
            return
        if isinstance(node, ast.ExceptHandler) and node.name:
            s.bound.add(node.name)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            s.bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            s.bound.add(node.rest)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            s.bound.add(node.id)
            return
        elif isinstance(node, (ast.Tuple, ast.List, ast.Starred)) and not isinstance(node.ctx, ast.Load):
            pass  # an unpacking target (`a, b = ...`, `for i, x in ...`): bind its names below
        elif isinstance(node, ast.expr):
            self._expr(node)
            return
        for child in ast.iter_child_nodes(node):
            self._stmt(child)

    def _expr(self, node: ast.AST) -> None:
        """Expressions bind only through walrus (also from inside comprehensions)."""
        for sub in ast.walk(node):
            if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                self.scope.bound.add(sub.target.id)


class _Frame(Scope):
    """Comprehension variables seen by a lambda inside the comprehension."""

    def __init__(self, names: set[str], parent: Scope) -> None:  # noqa: super not needed
        self.node = None
        self.kind = "function"
        self.parent = parent
        self.path = parent.path
        self.bound = names
        self.globals = set()
        self.nonlocals = set()
        self.star = False


def _assigned(nodes: list[ast.stmt]) -> set[str]:
    """Names stored anywhere in these statements (not in nested scopes)."""
    out: set[str] = set()
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                out.add(node.id)
            continue
        if isinstance(node, (*_FUNCS, ast.ClassDef)):
            out.add(node.name)
            continue
        if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update(a.asname or a.name.split(".")[0] for a in node.names if a.name != "*")
            continue
        if isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            out.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            out.add(node.rest)
        stack.extend(ast.iter_child_nodes(node))
    return out


def _plain_assigns(body: list[ast.stmt]) -> frozenset[str]:
    """Names a block assigns by a plain `name = ...` among its own statements."""
    return frozenset(t.id for stmt in body if isinstance(stmt, ast.Assign)
                     for t in stmt.targets if isinstance(t, ast.Name))


def _free_loads(node: ast.AST) -> set[str]:
    """Names a nested function's, lambda's, class's or comprehension's body reads from the
    scopes around it (the names that scope and the scopes inside it bind left out)."""
    own: set[str] = set()
    if isinstance(node, _COMPS):
        parts: list[ast.AST] = [node]
        for g in node.generators:  # type: ignore[attr-defined]
            own.update(n.id for n in ast.walk(g.target) if isinstance(n, ast.Name))
    else:
        if not isinstance(node, ast.ClassDef):
            a = node.args  # type: ignore[attr-defined]
            own.update(x.arg for x in a.posonlyargs + a.args + a.kwonlyargs)
            own.update(x.arg for x in (a.vararg, a.kwarg) if x is not None)
        parts = [node.body] if isinstance(node, ast.Lambda) else list(node.body)  # type: ignore[attr-defined]
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
            inner |= _free_loads(n)
            if t is not ast.ClassDef and t not in _COMPS:  # defaults and decorators run out here
                stack.extend(n.args.defaults + [d for d in n.args.kw_defaults if d is not None])  # type: ignore[attr-defined]
            if t is not ast.Lambda and t not in _COMPS:
                own.add(n.name)  # type: ignore[attr-defined]
                stack.extend(n.decorator_list)  # type: ignore[attr-defined]
            if t is ast.ClassDef:
                stack.extend(n.bases + [k.value for k in n.keywords])  # type: ignore[attr-defined]
            continue
        if t is ast.Import or t is ast.ImportFrom:
            own.update(x.asname or x.name.split(".")[0] for x in n.names)  # type: ignore[attr-defined]
        elif t is ast.ExceptHandler and n.name:  # type: ignore[attr-defined]
            own.add(n.name)  # type: ignore[attr-defined]
        stack.extend(ast.iter_child_nodes(n))
    if isinstance(node, ast.ClassDef):  # what a class binds is not visible in its methods
        return (loads - own) | inner
    return (loads | inner) - own


_NESTED = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, *_COMPS})


def _catches_name_error(handler: ast.ExceptHandler) -> bool:
    return handler.type is not None and any(
        isinstance(n, ast.Name) and n.id == "NameError" for n in ast.walk(handler.type))


def _breaks(node: ast.If) -> bool:
    return any(isinstance(n, (ast.Break, ast.Continue)) for n in ast.walk(node))


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


_BRANCHES = (ast.If, ast.Try, ast.Match) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())


def _assigned_in(loop: ast.For | ast.AsyncFor) -> tuple[set[str], set[str]]:
    """Names a `for` statement assigns (astroid AssignName nodes: targets, `with ... as`,
    walrus, comprehension variables; not def, class or import), nested scopes aside: all of
    them, and those outside if/try/match branches."""
    every: set[str] = set()
    outside: set[str] = set()
    todo: list[tuple[ast.AST, bool]] = [(loop, False)]
    while todo:
        node, branched = todo.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (*_FUNCS, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                every.add(child.id)
                if not branched:
                    outside.add(child.id)
            todo.append((child, branched or isinstance(child, _BRANCHES)))
    return every, outside


class _Ctx:
    """Where the walk is: the executing scope, what is definitely bound, loop/function."""

    __slots__ = ("scope", "bound", "loops", "function", "is_async", "comps", "carried", "consumed", "ifs", "guards",
                 "annotated")

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


class FlowChecker:
    """Reports lines of name and compile-time errors in a parsed module."""

    def __init__(self, shadowed: frozenset[tuple[str, str]] = frozenset(), memo: "Memo | None" = None) -> None:
        self.memo = memo
        self.lines: set[int] = set()
        self._deferred: list[tuple[ast.AST, Scope]] = []
        # (scope path, name): names the full program binds in a scope; when a state reads
        # one of them and it falls through to a builtin, the binding was deleted
        self._shadowed = shadowed

    def check(self, tree: ast.Module) -> set[int]:
        if self.memo is not None:
            return self._check_memo(tree, self.memo)
        module = Scope(tree, "module", None)
        self._own = set(module.bound)
        # names bound in functions through `global` count as module names
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                module.bound.update(node.names)
        self._module = module
        ctx = _Ctx(module, set(), function=False, is_async=False)
        self._block(tree.body, ctx)
        while self._deferred:
            node, parent = self._deferred.pop()
            self._function(node, parent)
        return self.lines

    def _check_memo(self, tree: ast.Module, memo: "Memo") -> set[int]:
        """The same verdicts, one top-level statement at a time: a statement's lines and
        its effect on what is bound depend on the statement and on how the names it
        mentions stand outside it (bound before it, bound in the module, ...), which is
        its key. At module level a block that always leaves restores nothing that
        matters afterwards, so walking the statements one by one is the same walk.
        Chunks of statements (pieces.py) are keyed the same way, on all their names."""
        chunks = tree.chunks  # type: ignore[attr-defined]
        module = Scope.__new__(Scope)
        module.node, module.kind, module.parent, module.path = tree, "module", None, ""
        module.bound, module.globals, module.nonlocals, module.star = set(), set(), set(), False
        declared: set[str] = set()
        for chunk in chunks:
            bound, globs, nonlocals, star, glob_names = memo.get("bind_chunk", chunk, lambda c: _chunk_binds(c, memo))
            module.bound |= bound
            if globs:
                module.globals |= globs
            if nonlocals:
                module.nonlocals |= nonlocals
            module.star = module.star or star
            if glob_names:
                declared |= glob_names
        self._own = own = set(module.bound)
        module.bound |= declared
        self._module = module
        flow: set[str] = set()
        found: set[int] = set()
        table = memo.table("flow_chunk")
        star = module.star
        mglobals, mnonlocals = module.globals, module.nonlocals
        mbound = module.bound
        for chunk in chunks:
            names = memo.get("idents_chunk", chunk, lambda c: _chunk_idents(c, memo))
            key = (names & flow, names & mbound, names & own, star,
                   names & mglobals if mglobals else None, names & mnonlocals if mnonlocals else None)
            e = table.get(id(chunk))
            if e is not None and e[0] is chunk and e[1][0] == key:
                lines, out = e[1][1], e[1][2]
            else:
                local = set(key[0])
                lines = self._walk_statements(chunk.body, local, memo)
                out = frozenset(local)
                table[id(chunk)] = (chunk, (key, lines, out))
            if lines:
                found |= lines
            flow -= names
            flow |= out
        self.lines = found
        return found

    def _walk_statements(self, body: list[ast.stmt], flow: set[str], memo: "Memo") -> set[int]:
        """Module-level statements in order from what `flow` has bound (updated in place)."""
        module, own = self._module, self._own
        star = module.star
        mglobals, mnonlocals = module.globals, module.nonlocals
        mbound = module.bound
        plain, classes = memo.table("flow"), memo.table("flow_class")
        found: set[int] = set()
        for stmt in body:
            names = _stmt_idents(stmt, memo)
            table = classes if type(stmt) is ast.ClassDef else plain
            key = (names & flow, names & mbound, names & own, star,
                   names & mglobals if mglobals else None, names & mnonlocals if mnonlocals else None)
            e = table.get(id(stmt))
            if e is not None and e[0] is stmt and e[1][0] == key:
                lines, out = e[1][1], e[1][2]
            else:
                self.lines = set()
                ctx = _Ctx(module, set(key[0]), function=False, is_async=False)
                self._stmt(stmt, ctx)
                self._drain()
                lines, out = self.lines, frozenset(ctx.bound)
                table[id(stmt)] = (stmt, (key, lines, out))
            if lines:
                found |= lines
            flow -= names
            flow |= out
        return found

    def _drain(self) -> None:
        """Check deferred functions; a function whose enclosing scopes are classes up to
        the module is memoised on its node and the module names it mentions."""
        memo = self.memo
        while self._deferred:
            node, parent = self._deferred.pop()
            if memo is None or isinstance(node, ast.Lambda) or not _top_level(parent):
                self._function(node, parent)
                continue
            names = memo.get("names", node, names_in)
            key = (names & self._module.bound, names & self._own, self._module.star)
            table = memo.table("function")
            e = table.get(id(node))
            if e is not None and e[0] is node and e[1][0] == key:
                self.lines |= e[1][1]
                continue
            saved, saved_deferred = self.lines, self._deferred
            self.lines, self._deferred = set(), []
            self._function(node, parent)
            self._drain()
            lines = self.lines
            self.lines, self._deferred = saved | lines, saved_deferred
            table[id(node)] = (node, (key, lines))

    # -- scopes -------------------------------------------------------------------------
    def _function(self, node: ast.AST, parent: Scope) -> None:
        kind = "lambda" if isinstance(node, ast.Lambda) else "function"
        scope = Scope(node, kind, parent)
        args = node.args  # type: ignore[attr-defined]
        bound = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        if args.vararg:
            bound.add(args.vararg.arg)
        if args.kwarg:
            bound.add(args.kwarg.arg)
        ctx = _Ctx(scope, bound, function=True, is_async=isinstance(node, ast.AsyncFunctionDef))
        for name in scope.nonlocals:
            s = parent
            while s is not None and not (s.kind in ("function", "lambda") and name in s.bound):
                s = s.parent
            if s is None:
                self._flag_nonlocal(node, name)
        if kind == "lambda":
            self._expr(node.body, ctx)  # type: ignore[attr-defined]
        else:
            self._block(node.body, ctx)  # type: ignore[attr-defined]

    def _flag_nonlocal(self, func: ast.AST, name: str) -> None:
        for sub in ast.walk(func):
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
        scope = ctx.scope
        for n in ast.walk(expr):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                name = n.id
                if name in scope.bound or name in scope.globals or name in scope.nonlocals or scope.star \
                        or any(name in frame for frame in ctx.comps) or self._resolves_outside(name, scope.parent):
                    continue
                if (scope.kind == "class" and name in CLASS_NAMES) or (ctx.guards and ctx.guards[-1]):
                    continue
                self.lines.add(n.lineno)

    @staticmethod
    def _consume_nested(node: ast.AST, ctx: _Ctx) -> None:
        """pylint visits a nested function, lambda or class body where it stands: its reads of
        this function's locals consume them here (the walk checks such bodies later)."""
        if ctx.scope.kind == "function" and not ctx.scope.bound <= ctx.consumed:
            ctx.consumed |= _free_loads(node) & ctx.scope.bound

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

    def _stmt(self, node: ast.stmt, ctx: _Ctx) -> bool:
        t = type(node)
        if t is ast.Expr:
            self._expr(node.value, ctx)
            return _is_exit_call(node.value)
        if t is ast.Assign:
            self._expr(node.value, ctx)
            for target in node.targets:
                self._store(target, ctx)
            return False
        if t is ast.AugAssign:
            if isinstance(node.target, ast.Name):
                self._expr(node.value, ctx)
                self._expr(ast.Name(node.target.id, ast.Load(), lineno=node.lineno), ctx)
                ctx.bound.add(node.target.id)
            else:
                self._expr(node.value, ctx)
                self._expr(node.target, ctx)
            return False
        if t is ast.AnnAssign:
            self._annotation(node.annotation, ctx)
            if node.value is not None:
                self._expr(node.value, ctx)
                self._store(node.target, ctx)
            elif not isinstance(node.target, ast.Name):
                self._expr(node.target, ctx)
            else:
                ctx.annotated.add(node.target.id)
            return False
        if t is ast.Return:
            if not ctx.function:
                self.lines.add(node.lineno)
            if node.value is not None:
                self._expr(node.value, ctx)
            return True
        if t is ast.Raise:
            if node.exc is not None:
                self._expr(node.exc, ctx)
            if node.cause is not None:
                self._expr(node.cause, ctx)
            return True
        if t is ast.Break or t is ast.Continue:
            if not ctx.loops:
                self.lines.add(node.lineno)
            return True
        if t is ast.If:
            ctx.ifs.append(_plain_assigns(node.body))
            self._expr(node.test, ctx)
            start = set(ctx.bound)
            leaves = self._branches(ctx, [node.body, node.orelse])
            ctx.ifs.pop()
            if ctx.loops and _breaks(node):
                # pylint is permissive about an `if` with a break or continue in it
                ctx.bound = start | _assigned([node])
                return False
            return leaves
        if t is ast.For or t is ast.AsyncFor:
            if t is ast.AsyncFor and not ctx.is_async:
                self.lines.add(node.lineno)
            self._expr(node.iter, ctx)
            self._loop(node, ctx, node.target)
            return False
        if t is ast.While:
            self._expr(node.test, ctx)
            self._loop(node, ctx, None)
            return False
        if t in (ast.With, ast.AsyncWith):
            if t is ast.AsyncWith and not ctx.is_async:
                self.lines.add(node.lineno)
            for item in node.items:
                self._expr(item.context_expr, ctx)
                if item.optional_vars is not None:
                    self._store(item.optional_vars, ctx)
            return self._block(node.body, ctx)
        if t is ast.Try or t is ast.TryStar:
            return self._try(node, ctx)
        if t is ast.FunctionDef or t is ast.AsyncFunctionDef:
            self._signature(node, ctx)
            self._consume_nested(node, ctx)
            ctx.bound.add(node.name)
            self._deferred.append((node, ctx.scope))
            return False
        if t is ast.ClassDef:
            for e in node.decorator_list + node.bases + [k.value for k in node.keywords]:
                self._expr(e, ctx)
            self._consume_nested(node, ctx)
            scope = Scope(node, "class", ctx.scope)
            inner = _Ctx(scope, set(), function=False, is_async=False)
            inner.comps = ctx.comps
            self._block(node.body, inner)
            ctx.bound.add(node.name)
            return False
        if t is ast.Import or t is ast.ImportFrom:
            if t is ast.ImportFrom and node.level:
                self.lines.add(node.lineno)  # relative import outside a package (E0402)
            for alias in node.names:
                if alias.name != "*":
                    ctx.bound.add(alias.asname or alias.name.split(".")[0])
            return False
        if t is ast.Delete:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self._load(target, ctx)
                    ctx.bound.discard(target.id)
                else:
                    self._expr(target, ctx)
            return False
        if t is ast.Global:
            return False
        if t is ast.Nonlocal:
            if ctx.scope.kind == "module":
                self.lines.add(node.lineno)
            return False
        if t is ast.Assert:
            self._expr(node.test, ctx)
            if node.msg is not None:
                self._expr(node.msg, ctx)
            return False
        if t is ast.Match:
            return self._match(node, ctx)
        return False  # pass and friends

    def _signature(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: _Ctx) -> None:
        """Decorators and defaults run where the function is defined; annotations may not."""
        for d in node.decorator_list:
            self._expr(d, ctx)
        args = node.args
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self._expr(d, ctx)
        annotations = [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs]
        annotations += [args.vararg.annotation if args.vararg else None,
                        args.kwarg.annotation if args.kwarg else None, node.returns]
        for ann in annotations:
            if ann is not None:
                self._static(ann, ctx)

    def _static(self, expr: ast.expr, ctx: _Ctx) -> None:
        """Annotations: only names bound nowhere are errors."""
        for sub in ast.walk(expr):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                name = sub.id
                if name in ctx.scope.bound or ctx.scope.star:
                    continue
                if not self._resolves_outside(name, ctx.scope.parent):
                    self.lines.add(sub.lineno)

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
        if target is not None and ctx.scope.kind == "function":
            # pylint's is_defined_before: a name the loop assigns counts as bound throughout
            # it, once the assignments pylint deems uncertain (in one branch only) are set
            # aside; so: assigned outside branches, or bound for sure by an iteration
            lines_before, consumed_before = set(self.lines), set(ctx.consumed)
            ctx.loops += 1
            self._store(target, ctx)
            self._block(node.body, ctx)
            ctx.loops -= 1
            self.lines, ctx.consumed = lines_before, consumed_before
            every, outside = _assigned_in(node)
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

    def _try(self, node: ast.Try, ctx: _Ctx) -> bool:
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

    def _match(self, node: ast.Match, ctx: _Ctx) -> bool:
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
        for sub in ast.walk(pattern):
            if isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name:
                ctx.bound.add(sub.name)
            elif isinstance(sub, ast.MatchMapping) and sub.rest:
                ctx.bound.add(sub.rest)
            elif isinstance(sub, ast.MatchValue | ast.MatchClass):
                for part in ([sub.value] if isinstance(sub, ast.MatchValue) else [sub.cls]):
                    self._expr(part, ctx)

    # -- expressions --------------------------------------------------------------------
    def _expr(self, node: ast.AST, ctx: _Ctx) -> None:
        stack = [node]
        while stack:
            n = stack.pop()
            t = type(n)
            if t is ast.Name:
                if isinstance(n.ctx, ast.Load):
                    self._load(n, ctx)
                elif ctx.comps:
                    ctx.comps[-1].add(n.id)
                else:
                    ctx.bound.add(n.id)
                continue
            if t is ast.Constant:
                continue
            if t is ast.Lambda:
                for d in n.args.defaults + [d for d in n.args.kw_defaults if d is not None]:
                    stack.append(d)
                parent = ctx.scope
                if ctx.comps:  # a lambda in a comprehension sees its variables
                    parent = _Frame(set().union(*ctx.comps), parent)
                self._consume_nested(n, ctx)
                self._deferred.append((n, parent))
                continue
            if t in _COMPS:
                self._comprehension(n, ctx)
                continue
            if t is ast.NamedExpr:
                self._expr(n.value, ctx)
                ctx.bound.add(n.target.id)  # binds in the enclosing scope
                continue
            if t is ast.Yield or t is ast.YieldFrom:
                if not ctx.function:
                    self.lines.add(n.lineno)
            elif t is ast.Await:
                if not ctx.is_async:
                    self.lines.add(n.lineno)
            stack.extend(ast.iter_child_nodes(n))

    def _comprehension(self, node: ast.AST, ctx: _Ctx) -> None:
        gens = node.generators  # type: ignore[attr-defined]
        self._expr(gens[0].iter, ctx)  # evaluated in the enclosing scope
        frame: set[str] = set()
        ctx.comps.append(frame)
        try:
            for i, gen in enumerate(gens):
                if gen.is_async and not ctx.is_async:
                    self.lines.add(node.lineno)  # type: ignore[attr-defined]
                if i:
                    self._expr(gen.iter, ctx)
                for sub in ast.walk(gen.target):
                    if isinstance(sub, ast.Name):
                        frame.add(sub.id)
                for cond in gen.ifs:
                    self._expr(cond, ctx)
            if isinstance(node, ast.DictComp):
                self._expr(node.key, ctx)
                self._expr(node.value, ctx)
            else:
                self._expr(node.elt, ctx)  # type: ignore[attr-defined]
        finally:
            ctx.comps.pop()


def _top_level(scope: Scope) -> bool:
    while scope.kind == "class":
        scope = scope.parent  # type: ignore[assignment]
    return scope.kind == "module"


class _Sink:
    __slots__ = ("bound", "globals", "nonlocals", "star")

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.star = False


def _bind_summary(stmt: ast.stmt, memo: "Memo"):
    """What a module-level statement binds in the module scope (as `Scope` collects it),
    and the names functions inside it declare `global`."""
    sink = _Sink()
    _Binder(sink)._stmt(stmt)  # type: ignore[arg-type]
    if isinstance(stmt, ast.ClassDef):  # only statements declare names global
        declared = frozenset().union(*(memo.get("declared", s, _declared_global) for s in stmt.body))
    else:
        declared = _declared_global(stmt)
    return (frozenset(sink.bound), frozenset(sink.globals), frozenset(sink.nonlocals), sink.star, declared)


def _chunk_binds(chunk, memo: "Memo"):
    parts = [memo.get("bind", s, lambda n: _bind_summary(n, memo)) for s in chunk.body]
    return (frozenset().union(*(p[0] for p in parts)), frozenset().union(*(p[1] for p in parts)),
            frozenset().union(*(p[2] for p in parts)), any(p[3] for p in parts),
            frozenset().union(*(p[4] for p in parts)))


def _chunk_idents(chunk, memo: "Memo") -> frozenset[str]:
    return frozenset().union(*(_stmt_idents(s, memo) for s in chunk.body))


def _stmt_idents(stmt: ast.stmt, memo: "Memo") -> frozenset[str]:
    """`idents` of a top-level statement; a class (rebuilt whenever one of its methods
    changes) from its parts."""
    if not isinstance(stmt, ast.ClassDef):
        return memo.get("idents", stmt, idents)
    e = memo.table("idents_class").get(id(stmt))
    if e is not None and e[0] is stmt:
        return e[1]
    out = {stmt.name}
    for part in stmt.decorator_list + stmt.bases + stmt.keywords:
        out |= idents(part)
    for s in stmt.body:
        out |= memo.get("idents", s, idents)
    value = frozenset(out)
    memo.table("idents_class")[id(stmt)] = (stmt, value)
    return value


def _declared_global(stmt: ast.stmt) -> frozenset[str]:
    out: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Global):
            out.update(node.names)
    return frozenset(out)


def names_in(node: ast.AST) -> frozenset[str]:
    """Every `Name` id under `node`: all a function's check asks about outside it."""
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


def idents(node: ast.AST) -> frozenset[str]:
    """Every name a statement reads, binds or declares."""
    out: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, (*_FUNCS, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            out.update(a.asname or a.name.split(".")[0] for a in n.names)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            out.update(n.names)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and n.name:
            out.add(n.name)
        elif isinstance(n, ast.MatchMapping) and n.rest:
            out.add(n.rest)
    return frozenset(out)


def bound_builtins(tree: ast.Module) -> frozenset[tuple[str, str]]:
    """(scope path, name) for every builtin name a scope of this program binds."""
    out: set[tuple[str, str]] = set()
    stack = [Scope(tree, "module", None)]
    while stack:
        scope = stack.pop()
        out.update((scope.path, n) for n in scope.bound & BUILTINS)
        body = scope.node.body if not isinstance(scope.node, ast.Lambda) else []
        for node in _nested_scopes(body):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            stack.append(Scope(node, kind, scope))
    return frozenset(out)


def _nested_scopes(body: list[ast.stmt]):
    """Function and class definitions directly in this scope (inside its blocks too)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (*_FUNCS, ast.ClassDef)):
            yield node
        elif isinstance(node, ast.stmt) or isinstance(node, (ast.ExceptHandler, ast.match_case)):
            stack.extend(c for c in ast.iter_child_nodes(node) if isinstance(c, (ast.stmt, ast.ExceptHandler, ast.match_case)))
