"""Classes and calls: what pylint infers about `self.x`, `__init__`, special methods and
functions that return nothing, restricted to what one program text decides on its own.

- E1101 no-member through `self`: the class and every base are known (defined in the
  program, `object` or a builtin type), none defines `__getattr__`/`__getattribute__`,
  and no method, class-body statement or base binds the attribute. With `full`
  (attributes the full program's class bound), a class with unknown bases is also judged
  for attributes the full program bound and the state no longer does.
- E0203 access-member-before-definition: read in the only method that binds it, above it.
- W0231 super-init-not-called: an `__init__` that calls no `__init__` while a known base
  defines one (or, with `full`, while the full program's `__init__` did call one).
- E0213/E0211 first argument of an undecorated method; E0301/E0303-E0313 special methods
  that fall off their end (pylint infers `None`); E1111 assigning the result of a function
  (module-level, or defined in an enclosing function) or method of this program that has no
  `return <value>`.
- E1101 on a local whose every binding is a literal of one builtin type (`x = []`,
  then `x.split()`).

What depends on one statement, function or chunk of statements alone (its classes, call
sites, literal bindings) is summarised per node (`StmtFacts`, `ChunkFacts`) and kept by the
memo on the incremental path; what crosses them (bases, callees) is decided per call.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Sequence
from typing import NamedTuple

from lintseq.linters.classes import (
    ClassInfo,
    FullClass,
    classes_under,
    collect_classes,
    decorator_names,
    walk_function,
)
from lintseq.linters.memo import NO_MEMO, Memo, Table
from lintseq.linters.nodes import (
    COMPS,
    FIELDS,
    FUNCS,
    FunctionNode,
    arg_names,
    blocks,
    bound_names,
    child_fields,
    children,
)

_SPECIAL = frozenset(
    [
        "__repr__",
        "__str__",
        "__iter__",
        "__len__",
        "__bool__",
        "__index__",
        "__bytes__",
        "__hash__",
        "__length_hint__",
        "__format__",
        "__getnewargs__",
        "__getnewargs_ex__",
    ]
)
_IMPLICIT_CLASSMETHODS = frozenset({"__new__", "__init_subclass__", "__class_getitem__"})
_LITERAL_TYPES: dict[type, type] = {
    ast.List: list,
    ast.ListComp: list,
    ast.Dict: dict,
    ast.DictComp: dict,
    ast.Set: set,
    ast.SetComp: set,
    ast.JoinedStr: str,
    ast.Tuple: tuple,
}
_OBJECT_ATTRS = frozenset(dir(object)) | {"__dict__", "__class__", "__module__", "__weakref__"}
_SCOPES = (*FUNCS, ast.Lambda, ast.ClassDef)
_SCOPE_TYPES = frozenset(_SCOPES)


class Site(NamedTuple):
    """`x = f(...)` at `line`; `func` is `f`, `scope` the innermost function around it (or
    None) and `chain` the functions around it, innermost first."""

    line: int
    func: ast.expr
    scope: FunctionNode | None
    chain: tuple[FunctionNode, ...]


class Region(NamedTuple):
    """Assign-from-call sites (line, callee expression) in some statements, and the
    functions just below them (not entered)."""

    sites: list[tuple[int, ast.expr]]
    inner: list[FunctionNode]


class Literals(NamedTuple):
    """In one scope's nodes: how each name is bound (a literal's type, or None for anything
    else) and the attribute reads through a name."""

    kinds: dict[str, set[type | None]]
    reads: list[ast.Attribute]


class StmtFacts(NamedTuple):
    """What a top-level statement brings to the checks."""

    classes: list[ClassInfo]
    region: Region
    literal_assigns: bool  # its share of the module scope binds a name to a literal


class ChunkFacts(NamedTuple):
    classes: list[ClassInfo]
    functions: dict[str, FunctionNode]  # top-level functions by name
    sites: list[Site]
    literal_lines: frozenset[int]  # literal no-member lines inside functions
    literal_assigns: bool
    defined: frozenset[str]  # names of every def in it, at any depth


class LocalFunctions(NamedTuple):
    """Names a function's scope binds only by one `def` (-> that def), and every name it
    binds: what a call inside it resolves to before looking further out."""

    single: dict[str, FunctionNode]
    bound: frozenset[str]


class Ancestry(NamedTuple):
    attrs: set[str]
    known: bool  # every base known
    dynamic: bool  # some ancestor defines __getattr__ (or is `type`)
    base_init: bool  # some known base defines __init__


MEMBER = Table("StmtFacts of a top-level statement")
MEMBER_CLASS = Table("StmtFacts of a top-level class", volatile=True)
MEMBER_CHUNK = Table("ChunkFacts of a chunk", volatile=True)
REGION = Table("Region of a function body")
REGION_STMT = Table("Region of a class-body statement")
LITERALS = Table("literal no-member lines of a function")
BODY_LITERALS = Table("Literals of a function body")
MODULE_LITERALS = Table("Literals of a top-level statement's share of the module scope")
LOCAL_FUNCS = Table("LocalFunctions of a function")
NO_RETURN = Table("whether a function returns nothing")


class MemberChecker:
    """Lines with class and call errors in a module given as chunks of top-level statements;
    `full` maps class paths to the full program's classes."""

    def __init__(self, full: dict[str, FullClass] | None = None, memo: Memo = NO_MEMO) -> None:
        # without a program-wide memo, one for this check: callees are asked about per call site
        self.memo = memo if memo.enabled else Memo()
        self.full = full or {}
        self.lines: set[int] = set()

    def check(self, chunks: Sequence) -> set[int]:
        memo = self.memo
        parts: list[ChunkFacts] = [memo.get(MEMBER_CHUNK, c, self._chunk_facts) for c in chunks]
        classes = [c for part in parts for c in part.classes]
        top = {c.node.name: c for c in classes if c.path.count(".") == 1}
        if len(top) != sum(c.path.count(".") == 1 for c in classes):
            # a class name defined twice: the first one found by collect_classes wins
            classes = collect_classes([s for c in chunks for s in c.body])
            top = {c.node.name: c for c in classes if c.path.count(".") == 1}
        functions: dict[str, FunctionNode] = {}
        for part in parts:
            if part.functions:
                functions.update(part.functions)
        for info in classes:
            self._class(info, top)
        owner: dict[int, ClassInfo] = {}
        for info in classes:
            for func in info.methods.values():
                owner[id(func)] = info
        defined = frozenset().union(*(part.defined for part in parts))
        for part in parts:
            for site in part.sites:
                if type(site.func) is ast.Name and site.func.id not in defined:
                    continue  # no def of that name anywhere: nothing here can be its callee
                c = me = None
                if site.scope is not None:
                    c = owner.get(id(site.scope))
                    args = site.scope.args.posonlyargs + site.scope.args.args
                    me = args[0].arg if c is not None and args else None
                target = self._callee(site.func, functions, c, me, site.chain)
                if target is not None and memo.get(NO_RETURN, target, _no_return):
                    self.lines.add(site.line)
            if part.literal_lines:
                self.lines |= part.literal_lines
        if any(part.literal_assigns for part in parts):
            shares = [memo.get(MODULE_LITERALS, s, self._module_share) for c in chunks for s in c.body]
            self.lines |= _literal_verdicts([p for share in shares for p in share], set())
        return self.lines

    # -- facts per chunk and statement -----------------------------------------------------
    def _chunk_facts(self, chunk) -> ChunkFacts:
        memo = self.memo
        facts = [memo.get(MEMBER_CLASS if type(s) is ast.ClassDef else MEMBER, s, self._stmt_facts) for s in chunk.body]
        functions = {s.name: s for s in chunk.body if isinstance(s, FUNCS)}
        sites = [Site(line, func, None, ()) for f in facts for line, func in f.region.sites]
        literal: set[int] = set()
        queue: list[tuple[FunctionNode, tuple[FunctionNode, ...]]] = [(g, ()) for f in facts for g in f.region.inner]
        defined: set[str] = set()
        while queue:  # a function and the functions around it
            g, outer = queue.pop()
            defined.add(g.name)
            chain = (g, *outer)
            region = memo.get(REGION, g, lambda n: _region(n.body))
            sites.extend(Site(line, func, g, chain) for line, func in region.sites)
            queue.extend((h, chain) for h in region.inner)
            literal |= memo.get(LITERALS, g, self._literal_lines)
        return ChunkFacts(
            [c for f in facts for c in f.classes],
            functions,
            sites,
            frozenset(literal),
            any(f.literal_assigns for f in facts),
            frozenset(defined),
        )

    def _stmt_facts(self, stmt: ast.stmt) -> StmtFacts:
        memo = self.memo
        if isinstance(stmt, FUNCS):
            region = Region([], [stmt])
        elif isinstance(stmt, ast.ClassDef):
            region = Region([], [])
            for child in stmt.body:
                r = memo.get(REGION_STMT, child, lambda c: _region([c]))
                region.sites.extend(r.sites)
                region.inner.extend(r.inner)
        else:
            region = _region([stmt])
        return StmtFacts(classes_under(stmt, "", memo), region, _literal_assigns([stmt]))

    # -- classes ---------------------------------------------------------------------------
    def _ancestry(self, c: ClassInfo, top: dict[str, ClassInfo]) -> Ancestry:
        attrs: set[str] = set()
        known, dyn, base_init = c.known, c.getattr, False
        seen = {id(c)}
        stack = list(c.bases)
        while stack:
            b = stack.pop()
            if b is None:
                known = False
                continue
            if b in top and id(top[b]) not in seen:
                info = top[b]
                seen.add(id(info))
                attrs |= info.attrs()
                dyn = dyn or info.getattr
                known = known and info.known
                base_init = base_init or "__init__" in info.methods
                stack.extend(info.bases)
                continue
            t = _builtin_type(b)
            if t is None or b in top:
                known = False
                continue
            attrs |= set(dir(t))
            if b == "type":
                dyn = True
        return Ancestry(attrs, known, dyn, base_init)

    def _class(self, c: ClassInfo, top: dict[str, ClassInfo]) -> None:
        base_attrs, known, dyn, base_init = self._ancestry(c, top)
        own = c.attrs()
        full_attrs, full_init = self.full.get(c.path, (frozenset(), False))
        if not dyn:
            for attr, node, _func in c.self_reads:
                if attr in own or attr in base_attrs or attr in _OBJECT_ATTRS:
                    continue
                if known or attr in full_attrs:
                    self.lines.add(node.lineno)
        # access-member-before-definition: read in the only method that binds it, above it
        only: dict[str, tuple[ast.AST, int] | None] = {}  # attr -> (that method, first line)
        for attr, node, func in c.self_reads:
            if attr in c.members or attr in base_attrs:
                continue
            if attr not in only:
                defs = c.self_writes.get(attr, [])
                single = bool(defs) and all(f is defs[0][0] for f, _ in defs)
                only[attr] = (defs[0][0], min(line for _, line in defs)) if single else None
            first = only[attr]
            if first is not None and first[0] is func and node.lineno < first[1]:
                self.lines.add(node.lineno)
        init = c.methods.get("__init__")
        if init is not None and not c.init_calls_init and ((known and base_init) or full_init):
            self.lines.add(init.lineno)
        metaclass = "type" in c.bases
        for name, func in c.methods.items():
            decorators = decorator_names(func)
            args = func.args.posonlyargs + func.args.args
            if (
                not decorators
                and name not in _IMPLICIT_CLASSMETHODS
                and not metaclass
                and ((args and args[0].arg != "self") or (not args and not func.args.vararg))
            ):
                self.lines.add(func.lineno)
            if name in _SPECIAL and not decorators:
                value, gen = _returns_value(func)
                if not value and not gen and not _is_abstract(func, True, True):
                    self.lines.add(func.lineno)
                elif (
                    name == "__iter__"
                    and args
                    and known
                    and not gen
                    and "__next__" not in c.members
                    and "__next__" not in base_attrs
                    and _returns_name(func, args[0].arg)
                ):
                    self.lines.add(func.lineno)  # E0301: `return self` without __next__
        # E0102: a second undecorated definition of a name (a deleted `@x.setter`)
        seen: set[str] = set()
        for stmt in c.node.body:
            if isinstance(stmt, FUNCS):
                if stmt.name in seen and not stmt.decorator_list:
                    self.lines.add(stmt.lineno)
                seen.add(stmt.name)

    # -- calls -----------------------------------------------------------------------------
    def _callee(
        self,
        func: ast.expr,
        functions: dict[str, FunctionNode],
        cls: ClassInfo | None,
        me: str | None,
        chain: tuple[FunctionNode, ...] = (),
    ) -> FunctionNode | None:
        """The function a call site calls, when this program alone says which: a def in an
        enclosing function (innermost first, `chain`), at module level, or a method via self."""
        if isinstance(func, ast.Name):
            for f in chain:
                local = self.memo.get(LOCAL_FUNCS, f, _local_functions)
                if func.id in local.bound:
                    return local.single.get(func.id)
            return functions.get(func.id)
        if (
            cls is not None
            and me
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == me
            and cls.known
            and not cls.bases
        ):
            return cls.methods.get(func.attr)
        return None

    # -- literals --------------------------------------------------------------------------
    def _literal_lines(self, func: FunctionNode) -> frozenset[int]:
        """E1101 in a function on `x.attr` where every binding of local `x` is a literal of
        one type."""
        if not _literal_assigns(func.body):
            return frozenset()
        body = func.body
        # the function's scope as pylint's walk here has it: defs directly in its body are
        # walked into (unlike defs further down), so it is the body share plus those
        parts = [
            self.memo.get(BODY_LITERALS, func, _body_literals),
            _literals([s for s in body if isinstance(s, _SCOPES)]),
        ]
        a = func.args
        params = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
        return frozenset(_literal_verdicts(parts, params))

    def _module_share(self, stmt: ast.stmt) -> list[Literals]:
        """A top-level statement's share of the module scope: a top-level def's body is in it
        (nested defs, lambdas and classes are left out), and so is its header."""
        if not isinstance(stmt, FUNCS):
            return [_literals([stmt])]
        header = [c for c in children(stmt) if not isinstance(c, (ast.stmt, *_SCOPES))]
        return [_literals(header), self.memo.get(BODY_LITERALS, stmt, _body_literals)]


def _builtin_type(name: str) -> type | None:
    obj = getattr(builtins, name, None)
    return obj if isinstance(obj, type) else None


def _returns_value(func: FunctionNode) -> tuple[bool, bool]:
    """(has `return <value>`, is a generator), not counting nested functions."""
    value = gen = False
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        t = type(node)
        if isinstance(node, ast.Return) and node.value is not None:
            if not (type(node.value) is ast.Constant and node.value.value is None):
                value = True
        elif t is ast.Yield or t is ast.YieldFrom:
            gen = True
        if t not in _SCOPES:
            stack.extend(children(node))
    return value, gen


def _returns_name(func: FunctionNode, name: str) -> bool:
    return any(
        isinstance(n, ast.Return) and isinstance(n.value, ast.Name) and n.value.id == name for n in walk_function(func)
    )


def _first_statement(func: FunctionNode) -> ast.stmt | None:
    body = func.body
    i = 0
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        i = 1
    return body[i] if i < len(body) else None


def _is_abstract(func: FunctionNode, pass_is_abstract: bool, any_raise: bool) -> bool:
    """astroid's FunctionDef.is_abstract: decided by the first statement."""
    first = _first_statement(func)
    if first is None:
        return False
    if isinstance(first, ast.Raise):
        if any_raise:
            return True
        exc = first.exc.func if isinstance(first.exc, ast.Call) else first.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return pass_is_abstract and isinstance(first, ast.Pass)


def _no_return(func: FunctionNode) -> bool:
    """A plain function that never returns a value: assigning its result is E1111."""
    if isinstance(func, ast.AsyncFunctionDef) or func.decorator_list:
        return False
    value, gen = _returns_value(func)
    return (
        not value
        and not gen
        and not _is_abstract(func, False, False)
        and not any(isinstance(n, ast.Return) for n in walk_function(func))
    )


def _local_functions(func: FunctionNode) -> LocalFunctions:
    other = set(arg_names(func.args))
    defs: dict[str, list[FunctionNode]] = {}
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, FUNCS):
            defs.setdefault(node.name, []).append(node)
            continue
        t = type(node)
        if t is ast.Global or t is ast.Nonlocal:
            other.update(node.names)  # type: ignore[attr-defined]
            continue
        if not isinstance(node, ast.pattern):  # match captures have never counted here
            other.update(bound_names(node))
        if t is ast.ClassDef or t is ast.Lambda or t in COMPS or t is ast.Name:
            continue
        stack.extend(children(node))
    single = {n: d[0] for n, d in defs.items() if len(d) == 1 and n not in other}
    return LocalFunctions(single, frozenset(defs) | frozenset(other))


def _region(stmts: list[ast.AST]) -> Region:
    """Assign-from-call sites among these statements and below, and the functions just below
    them (not entering those functions); only statements can hold either."""
    sites: list[tuple[int, ast.expr]] = []
    inner: list[FunctionNode] = []
    stack = list(stmts)
    while stack:
        node = stack.pop()
        if isinstance(node, FUNCS):
            inner.append(node)
            continue
        if type(node) is ast.Assign and type(node.value) is ast.Call:
            sites.append((node.lineno, node.value.func))
        stack.extend(blocks(node))
    return Region(sites, inner)


def _literal_type(value: ast.expr | None) -> type | None:
    t = _LITERAL_TYPES.get(type(value))
    if t is None and type(value) is ast.Constant:
        t = type(value.value) if value.value is not None else None
    return t


def _literal_assigns(stmts: Sequence[ast.AST]) -> bool:
    """Does a `name = <literal>` sit among these statements (not in nested defs or
    classes)? Without one, no literal verdict can come out of their scope."""
    stack = list(stmts)
    while stack:
        node = stack.pop()
        if (
            type(node) is ast.Assign
            and _literal_type(node.value) is not None
            and any(type(t) is ast.Name for t in node.targets)
        ):
            return True
        stack.extend(s for s in blocks(node) if not isinstance(s, _SCOPES))
    return False


def _literals(nodes: list[ast.AST]) -> Literals:
    """`Literals` of these nodes and everything below them but nested defs, lambdas, classes."""
    kinds: dict[str, set[type | None]] = {}
    reads: list[ast.Attribute] = []
    direct: set[int] = set()  # assignment targets: their kind comes from the assigned value
    stack: list = list(nodes)
    pop, push = stack.pop, stack.append
    fields = FIELDS
    while stack:
        node = pop()
        t = type(node)
        if t is ast.Name:
            if type(node.ctx) is not ast.Load and id(node) not in direct:
                kinds.setdefault(node.id, set()).add(None)
            continue
        if t is ast.Assign:
            kind = _literal_type(node.value)
            for target in node.targets:
                direct.add(id(target))
                if type(target) is ast.Name:
                    kinds.setdefault(target.id, set()).add(kind)
        elif t is ast.Global or t is ast.Nonlocal:
            for n in node.names:
                kinds.setdefault(n, set()).add(None)
        elif t is ast.Attribute and type(node.ctx) is ast.Load and type(node.value) is ast.Name:
            reads.append(node)
        for f in fields.get(t) or child_fields(t):  # children(node), in line: the hot loop
            v = getattr(node, f)
            if type(v) is list:
                for c in v:
                    if c is not None and type(c) not in _SCOPE_TYPES:
                        push(c)
            elif v is not None and type(v) not in _SCOPE_TYPES:
                push(v)
    return Literals(kinds, reads)


def _body_literals(func: FunctionNode) -> Literals:
    """`Literals` of a function body's statements that are no defs or classes."""
    return _literals([s for s in func.body if not isinstance(s, _SCOPES)])


def _literal_verdicts(parts: list[Literals], params: set[str]) -> set[int]:
    """Lines of reads `x.attr` where every binding of `x` (in any part) is a literal of one
    type that has no such attribute; parameters are never judged."""
    reads = [r for p in parts for r in p.reads]
    wanted = {r.value.id for r in reads}  # type: ignore[attr-defined]
    kinds: dict[str, set[type | None]] = {}
    for p in parts:
        for name in wanted & p.kinds.keys():
            kinds.setdefault(name, set()).update(p.kinds[name])
    out: set[int] = set()
    for node in reads:
        name = node.value.id  # type: ignore[attr-defined]
        ts = kinds.get(name)
        if not ts or name in params or None in ts or len(ts) != 1:
            continue
        t = next(iter(ts))
        if t is not None and not hasattr(t, node.attr):
            out.add(node.lineno)
    return out
