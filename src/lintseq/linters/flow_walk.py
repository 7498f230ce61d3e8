"""The definite-assignment walk of flow.py: a handler per statement and expression type.

`FlowWalk` follows a scope's statements in order and keeps, in `Ctx`, what is bound for
sure at each point (a branch binds a name only if every branch that falls through does; a
loop body is assumed to run; a `try` body is assumed to run when reading after it). What a
read or an annotation means, and nested scopes, are the checker's (flow.py): `_load`,
`_annotation`, `_static` and `_consume_nested`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TypeVar, cast

from lintseq.linters.memo import Memo
from lintseq.linters.nodes import FIELDS, FunctionNode, bound_names, child_fields, statements, walk
from lintseq.linters.scopes import Scope, Source, assigned, assigned_in, plain_assigns

_EXITS = frozenset({"exit", "quit"})
_EXIT_ATTRS = frozenset({("sys", "exit"), ("os", "_exit"), ("os", "abort")})


class Ctx:
    """Where the walk is: the executing scope, what is definitely bound, loop/function."""

    __slots__ = (
        "annotated",
        "bound",
        "carried",
        "comps",
        "consumed",
        "dry",
        "function",
        "guards",
        "ifs",
        "is_async",
        "loops",
        "scope",
    )

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


def _catches_name_error(handler: ast.ExceptHandler) -> bool:
    return handler.type is not None and any(type(n) is ast.Name and n.id == "NameError" for n in walk(handler.type))


def _breaks(node: ast.If) -> bool:
    return any(type(n) is ast.Break or type(n) is ast.Continue for n in statements(node))


def _is_exit_call(node: ast.expr) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    if isinstance(f, ast.Name):
        return f.id in _EXITS
    return isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and (f.value.id, f.attr) in _EXIT_ATTRS


class FlowWalk:
    """The walk over a scope's statements; flow.py's `FlowChecker` says what reads mean."""

    memo: Memo
    source: Source
    lines: set[int]
    _deferred: list[tuple[FunctionNode | ast.Lambda, Scope]]

    def _load(self, node: ast.Name, ctx: Ctx) -> None:
        raise NotImplementedError

    def _annotation(self, expr: ast.expr, ctx: Ctx) -> None:
        raise NotImplementedError

    def _static(self, expr: ast.expr, ctx: Ctx) -> None:
        raise NotImplementedError

    def _consume_nested(self, node: ast.AST, ctx: Ctx) -> None:
        raise NotImplementedError

    def _block(self, body: list[ast.stmt], ctx: Ctx) -> bool:
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

    def _stmt(self, node: ast.stmt, ctx: Ctx) -> bool:
        """The statement's handler; True if it always leaves the block."""
        handler = _STATEMENTS.get(type(node))
        return handler(self, node, ctx) if handler is not None else False  # pass and friends

    def _store(self, target: ast.AST, ctx: Ctx) -> None:
        if isinstance(target, ast.Name):
            ctx.bound.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._store(elt, ctx)
        elif isinstance(target, ast.Starred):
            self._store(target.value, ctx)
        else:  # attribute or subscript: reads its parts
            self._expr(target, ctx)

    def on_expr(self, node: ast.Expr, ctx: Ctx) -> bool:
        self._expr(node.value, ctx)
        return _is_exit_call(node.value)

    def on_assign(self, node: ast.Assign, ctx: Ctx) -> bool:
        self._expr(node.value, ctx)
        for target in node.targets:
            self._store(target, ctx)
        return False

    def on_aug_assign(self, node: ast.AugAssign, ctx: Ctx) -> bool:
        self._expr(node.value, ctx)
        if isinstance(node.target, ast.Name):
            self._load(ast.Name(node.target.id, ast.Load(), lineno=node.lineno), ctx)
            ctx.bound.add(node.target.id)
        else:
            self._expr(node.target, ctx)
        return False

    def on_ann_assign(self, node: ast.AnnAssign, ctx: Ctx) -> bool:
        self._annotation(node.annotation, ctx)
        if node.value is not None:
            self._expr(node.value, ctx)
            self._store(node.target, ctx)
        elif not isinstance(node.target, ast.Name):
            self._expr(node.target, ctx)
        else:
            ctx.annotated.add(node.target.id)
        return False

    def on_return(self, node: ast.Return, ctx: Ctx) -> bool:
        if not ctx.function:
            self.lines.add(node.lineno)
        if node.value is not None:
            self._expr(node.value, ctx)
        return True

    def on_raise(self, node: ast.Raise, ctx: Ctx) -> bool:
        if node.exc is not None:
            self._expr(node.exc, ctx)
        if node.cause is not None:
            self._expr(node.cause, ctx)
        return True

    def on_break(self, node: ast.Break | ast.Continue, ctx: Ctx) -> bool:
        if not ctx.loops:
            self.lines.add(node.lineno)
        return True

    def on_if(self, node: ast.If, ctx: Ctx) -> bool:
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

    def on_for(self, node: ast.For | ast.AsyncFor, ctx: Ctx) -> bool:
        if isinstance(node, ast.AsyncFor) and not ctx.is_async:
            self.lines.add(node.lineno)
        self._expr(node.iter, ctx)
        self._loop(node, ctx, node.target)
        return False

    def on_while(self, node: ast.While, ctx: Ctx) -> bool:
        self._expr(node.test, ctx)
        self._loop(node, ctx, None)
        return False

    def on_with(self, node: ast.With | ast.AsyncWith, ctx: Ctx) -> bool:
        if isinstance(node, ast.AsyncWith) and not ctx.is_async:
            self.lines.add(node.lineno)
        for item in node.items:
            self._expr(item.context_expr, ctx)
            if item.optional_vars is not None:
                self._store(item.optional_vars, ctx)
        return self._block(node.body, ctx)

    def on_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: Ctx) -> bool:
        self._signature(node, ctx)
        self._consume_nested(node, ctx)
        ctx.bound.add(node.name)
        if not ctx.dry:
            self._deferred.append((node, ctx.scope))
        return False

    def on_class(self, node: ast.ClassDef, ctx: Ctx) -> bool:
        for e in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self._expr(e, ctx)
        self._consume_nested(node, ctx)
        if not ctx.dry:  # the body binds nothing out here
            scope = Scope.of(node, "class", ctx.scope, self.memo, self.source)
            inner = Ctx(scope, set(), function=False, is_async=False)
            inner.comps = ctx.comps
            self._block(node.body, inner)
        ctx.bound.add(node.name)
        return False

    def on_import(self, node: ast.Import | ast.ImportFrom, ctx: Ctx) -> bool:
        if isinstance(node, ast.ImportFrom) and node.level:
            self.lines.add(node.lineno)  # relative import outside a package (E0402)
        ctx.bound.update(bound_names(node))
        return False

    def on_delete(self, node: ast.Delete, ctx: Ctx) -> bool:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._load(target, ctx)
                ctx.bound.discard(target.id)
            else:
                self._walk_expr(target, ctx)  # `del (a, b)` binds a and b, as a store would
        return False

    def on_nonlocal(self, node: ast.Nonlocal, ctx: Ctx) -> bool:
        if ctx.scope.kind == "module":
            self.lines.add(node.lineno)
        return False

    def on_assert(self, node: ast.Assert, ctx: Ctx) -> bool:
        self._expr(node.test, ctx)
        if node.msg is not None:
            self._expr(node.msg, ctx)
        return False

    def _signature(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: Ctx) -> None:
        """Decorators and defaults run where the function is defined; annotations may not."""
        for d in node.decorator_list:
            self._expr(d, ctx)
        args = node.args
        for d in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self._expr(d, ctx)
        if ctx.dry:
            return
        annotations = [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs]
        annotations += [
            args.vararg.annotation if args.vararg else None,
            args.kwarg.annotation if args.kwarg else None,
            node.returns,
        ]
        for ann in annotations:
            if ann is not None:
                self._static(ann, ctx)

    def _branches(self, ctx: Ctx, bodies: list[list[ast.stmt]], total: bool = True) -> bool:
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
    def _join(ctx: Ctx, start: set[str], ends: list[set[str]], total: bool) -> bool:
        """Names bound after alternative blocks: those every block that falls through binds
        (plus the path around them unless one always runs). True: no block falls through."""
        if not total:
            ends.append(start)
        if not ends:
            ctx.bound = start
            return True
        ctx.bound = set.intersection(*ends)
        return False

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While, ctx: Ctx, target: ast.AST | None) -> None:
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
            every, outside = assigned_in(node)
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

    def on_try(self, node: ast.Try | ast.TryStar, ctx: Ctx) -> bool:
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

    def on_match(self, node: ast.Match, ctx: Ctx) -> bool:
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

    def _pattern(self, pattern: ast.pattern, ctx: Ctx) -> None:
        for sub in ast.walk(pattern):  # breadth first: captures before the values beside them
            ctx.bound.update(bound_names(sub))
            if isinstance(sub, ast.MatchValue):
                self._expr(sub.value, ctx)
            elif isinstance(sub, ast.MatchClass):
                self._expr(sub.cls, ctx)

    # -- expressions --------------------------------------------------------------------
    def _expr(self, node: ast.AST, ctx: Ctx) -> None:
        if ctx.dry and not self.source.walrus:
            return  # a dry walk wants what expressions bind, and only `:=` does
        self._walk_expr(node, ctx)

    def _walk_expr(self, node: ast.AST, ctx: Ctx) -> None:
        stack: list = [node]
        pop, push, extend = stack.pop, stack.append, stack.extend
        fields = FIELDS
        while stack:
            n = pop()
            if n is None:  # `**d` in a dict display
                continue
            t = type(n)
            if t is ast.Name:
                if type(n.ctx) is ast.Load:
                    self._load(n, ctx)
                elif ctx.comps:
                    ctx.comps[-1].add(n.id)
                else:
                    ctx.bound.add(n.id)
                continue
            if t is ast.Constant:
                continue
            special = _EXPRESSIONS.get(t)
            if special is None or special(self, n, ctx, stack):
                for f in fields.get(t) or child_fields(t):  # children(n), in line: the hot loop
                    v = getattr(n, f)
                    if type(v) is list:
                        extend(v)
                    elif v is not None:
                        push(v)

    def on_lambda(self, node: ast.Lambda, ctx: Ctx, stack: list[ast.AST]) -> bool:
        stack.extend(node.args.defaults + [d for d in node.args.kw_defaults if d is not None])
        if not ctx.dry:
            parent = ctx.scope
            if ctx.comps:  # a lambda in a comprehension sees its variables
                parent = Scope.frame(set().union(*ctx.comps), parent)
            self._consume_nested(node, ctx)
            self._deferred.append((node, parent))
        return False

    def on_named_expr(self, node: ast.NamedExpr, ctx: Ctx, stack: list[ast.AST]) -> bool:
        self._walk_expr(node.value, ctx)
        ctx.bound.add(node.target.id)  # binds in the enclosing scope
        return False

    def on_yield(self, node: ast.Yield | ast.YieldFrom, ctx: Ctx, stack: list[ast.AST]) -> bool:
        if not ctx.function:
            self.lines.add(node.lineno)
        return True

    def on_await(self, node: ast.Await, ctx: Ctx, stack: list[ast.AST]) -> bool:
        if not ctx.is_async:
            self.lines.add(node.lineno)
        return True

    def on_comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, ctx: Ctx, stack: list[ast.AST]
    ) -> bool:
        gens = node.generators
        self._walk_expr(gens[0].iter, ctx)  # evaluated in the enclosing scope
        frame: set[str] = set()
        ctx.comps.append(frame)
        try:
            for i, gen in enumerate(gens):
                if gen.is_async and not ctx.is_async:
                    self.lines.add(node.lineno)
                if i:
                    self._walk_expr(gen.iter, ctx)
                frame.update(sub.id for sub in walk(gen.target) if type(sub) is ast.Name)
                for cond in gen.ifs:
                    self._walk_expr(cond, ctx)
            if isinstance(node, ast.DictComp):
                self._walk_expr(node.key, ctx)
                self._walk_expr(node.value, ctx)
            else:
                self._walk_expr(node.elt, ctx)
        finally:
            ctx.comps.pop()
        return False


_S = TypeVar("_S", bound=ast.stmt)
_E = TypeVar("_E", bound=ast.expr)
_StatementHandler = Callable[[FlowWalk, ast.stmt, Ctx], bool]
_ExpressionHandler = Callable[[FlowWalk, ast.expr, Ctx, list[ast.AST]], bool]


def _statement(t: type[_S], handler: Callable[[FlowWalk, _S, Ctx], bool]) -> tuple[type[ast.stmt], _StatementHandler]:
    """A `_STATEMENTS` entry; the types check that `handler` takes a `t`, all the table gives it."""
    return t, cast(_StatementHandler, handler)


def _expression(
    t: type[_E], handler: Callable[[FlowWalk, _E, Ctx, list[ast.AST]], bool]
) -> tuple[type[ast.expr], _ExpressionHandler]:
    """An `_EXPRESSIONS` entry; the types check that `handler` takes a `t`, all the table gives it."""
    return t, cast(_ExpressionHandler, handler)


_STATEMENTS: dict[type[ast.stmt], _StatementHandler] = dict(
    [
        _statement(ast.Expr, FlowWalk.on_expr),
        _statement(ast.Assign, FlowWalk.on_assign),
        _statement(ast.AugAssign, FlowWalk.on_aug_assign),
        _statement(ast.AnnAssign, FlowWalk.on_ann_assign),
        _statement(ast.Return, FlowWalk.on_return),
        _statement(ast.Raise, FlowWalk.on_raise),
        _statement(ast.Break, FlowWalk.on_break),
        _statement(ast.Continue, FlowWalk.on_break),
        _statement(ast.If, FlowWalk.on_if),
        _statement(ast.For, FlowWalk.on_for),
        _statement(ast.AsyncFor, FlowWalk.on_for),
        _statement(ast.While, FlowWalk.on_while),
        _statement(ast.With, FlowWalk.on_with),
        _statement(ast.AsyncWith, FlowWalk.on_with),
        _statement(ast.Try, FlowWalk.on_try),
        _statement(ast.TryStar, FlowWalk.on_try),
        _statement(ast.FunctionDef, FlowWalk.on_function),
        _statement(ast.AsyncFunctionDef, FlowWalk.on_function),
        _statement(ast.ClassDef, FlowWalk.on_class),
        _statement(ast.Import, FlowWalk.on_import),
        _statement(ast.ImportFrom, FlowWalk.on_import),
        _statement(ast.Delete, FlowWalk.on_delete),
        _statement(ast.Nonlocal, FlowWalk.on_nonlocal),
        _statement(ast.Assert, FlowWalk.on_assert),
        _statement(ast.Match, FlowWalk.on_match),
    ]
)

# expression handlers; True: walk the node's children as usual
_EXPRESSIONS: dict[type[ast.expr], _ExpressionHandler] = dict(
    [
        _expression(ast.Lambda, FlowWalk.on_lambda),
        _expression(ast.NamedExpr, FlowWalk.on_named_expr),
        _expression(ast.Yield, FlowWalk.on_yield),
        _expression(ast.YieldFrom, FlowWalk.on_yield),
        _expression(ast.Await, FlowWalk.on_await),
        _expression(ast.ListComp, FlowWalk.on_comprehension),  # nodes.COMPS
        _expression(ast.SetComp, FlowWalk.on_comprehension),
        _expression(ast.GeneratorExp, FlowWalk.on_comprehension),
        _expression(ast.DictComp, FlowWalk.on_comprehension),
    ]
)
