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
"""

from __future__ import annotations

import ast
import builtins
from typing import TYPE_CHECKING

from lintseq.linters.memo import Table

if TYPE_CHECKING:
    from lintseq.linters.memo import Memo

SELF_USE = Table("self reads, writes and __init__ calls of a method")
AUG = Table("attributes augmented-assigned under a class-body statement")
MEMBER_CHUNK = Table("summary of a chunk", volatile=True)
MEMBER = Table("summary of a top-level statement")
MEMBER_CLASS = Table("summary of a top-level class", volatile=True)
LOCAL_FUNCS = Table("local functions of a function")
REGION = Table("call sites and inner functions of a function")
REGION_STMT = Table("call sites and inner functions of a class-body statement")
LITERALS = Table("literal no-member lines of a function")
CLASSES = Table("classes under a class-body statement")

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SPECIAL = frozenset(
    "__repr__ __str__ __iter__ __len__ __bool__ __index__ __bytes__ __hash__ "
    "__length_hint__ __format__ __getnewargs__ __getnewargs_ex__".split()
)
_IMPLICIT_CLASSMETHODS = frozenset({"__new__", "__init_subclass__", "__class_getitem__"})
_LITERAL_TYPES: dict[type, type] = {
    ast.List: list, ast.ListComp: list, ast.Dict: dict, ast.DictComp: dict,
    ast.Set: set, ast.SetComp: set, ast.JoinedStr: str, ast.Tuple: tuple,
}
_OBJECT_ATTRS = frozenset(dir(object)) | {"__dict__", "__class__", "__module__", "__weakref__"}


def _builtin_type(name: str) -> type | None:
    obj = getattr(builtins, name, None)
    return obj if isinstance(obj, type) else None


def _decorator_names(func: ast.AST) -> set[str]:
    out = set()
    for d in func.decorator_list:  # type: ignore[attr-defined]
        d = d.func if isinstance(d, ast.Call) else d
        out.add(d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", "?"))
    return out


def _body_defs(body: list[ast.stmt]):
    """Statements of a class body, looking inside its if/try blocks."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.TryStar, ast.With)):
            for field in ("body", "orelse", "finalbody"):
                stack.extend(getattr(node, field, []))
            for h in getattr(node, "handlers", []):
                stack.extend(h.body)


def _walk_function(func: ast.AST):
    """Nodes of a function body, not entering nested classes."""
    stack = list(func.body)  # type: ignore[attr-defined]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.ClassDef):
                stack.append(child)


def _returns_value(func: ast.AST) -> tuple[bool, bool]:
    """(has `return <value>`, is a generator), not counting nested functions."""
    value = gen = False
    stack = list(func.body)  # type: ignore[attr-defined]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                value = True
        elif isinstance(node, (ast.Yield, ast.YieldFrom)):
            gen = True
        if not isinstance(node, (*_FUNCS, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return value, gen


def _local_functions(func: ast.AST) -> tuple[dict[str, ast.AST], frozenset[str]]:
    """(names this function's scope binds only by one `def` -> that def, every name it binds):
    what a call inside it resolves to before looking further out."""
    a = func.args  # type: ignore[attr-defined]
    other = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
    other |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
    defs: dict[str, list[ast.AST]] = {}
    stack: list[ast.AST] = list(func.body)  # type: ignore[attr-defined]
    while stack:
        node = stack.pop()
        if isinstance(node, _FUNCS):
            defs.setdefault(node.name, []).append(node)
            continue
        if isinstance(node, ast.ClassDef):
            other.add(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            other.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            other.update(x.asname or x.name.split(".")[0] for x in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            other.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            other.update(node.names)
        stack.extend(ast.iter_child_nodes(node))
    single = {n: d[0] for n, d in defs.items() if len(d) == 1 and n not in other}
    return single, frozenset(defs) | frozenset(other)


def _returns_name(func: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Return) and isinstance(n.value, ast.Name) and n.value.id == name
               for n in _walk_function(func))


def _first_statement(func: ast.AST) -> ast.stmt | None:
    body = func.body  # type: ignore[attr-defined]
    i = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        i = 1
    return body[i] if i < len(body) else None


def _is_abstract(func: ast.AST, pass_is_abstract: bool, any_raise: bool) -> bool:
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


def _self_use(func: ast.AST):
    """(reads, writes, calls an `__init__`) of attributes through a method's first argument."""
    me = (func.args.posonlyargs + func.args.args)[0].arg  # type: ignore[attr-defined]
    reads: list[tuple[str, ast.Attribute, ast.AST]] = []
    writes: list[tuple[str, tuple[ast.AST, int]]] = []
    calls_init = False
    for sub in _walk_function(func):
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == me:
            if isinstance(sub.ctx, ast.Load):
                reads.append((sub.attr, sub, func))
            else:
                writes.append((sub.attr, (func, sub.lineno)))
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "__init__":
            calls_init = True
    return reads, writes, calls_init


def _aug_attrs(stmt: ast.AST) -> list[str]:
    return [sub.target.attr for sub in ast.walk(stmt)
            if isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Attribute)]


class ClassInfo:
    __slots__ = ("node", "path", "members", "self_reads", "self_writes", "bases", "known",
                 "getattr", "methods", "init_calls_init")

    def __init__(self, node: ast.ClassDef, path: str, memo: "Memo | None" = None) -> None:
        self.node = node
        self.path = path
        self.members: set[str] = set()
        self.self_reads: list[tuple[str, ast.Attribute, ast.AST]] = []
        self.self_writes: dict[str, list[tuple[ast.AST, int]]] = {}
        self.methods: dict[str, ast.AST] = {}
        self.bases: list[str | None] = []
        self.known = True
        self.getattr = False
        self.init_calls_init = False
        self._scan(memo)

    def _scan(self, memo: "Memo | None") -> None:
        node = self.node
        for b in node.bases:
            self.bases.append(b.id if isinstance(b, ast.Name) else None)
        if node.keywords:
            self.known = False
        for stmt in _body_defs(node.body):
            if isinstance(stmt, (*_FUNCS, ast.ClassDef)):
                self.members.add(stmt.name)
                if isinstance(stmt, _FUNCS):
                    self.methods[stmt.name] = stmt
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            self.members.add(n.id)
                            if n.id == "__slots__":
                                self._slots(stmt.value)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                self.members.update(a.asname or a.name.split(".")[0] for a in stmt.names)
        self.getattr = bool({"__getattr__", "__getattribute__"} & self.members)
        for name, func in self.methods.items():
            if "staticmethod" in _decorator_names(func) or "classmethod" in _decorator_names(func):
                continue
            args = func.args.posonlyargs + func.args.args
            if not args:
                continue
            if memo is None:
                reads, writes, calls_init = _self_use(func)
            else:
                reads, writes, calls_init = memo.get(SELF_USE, func, _self_use)
            self.self_reads.extend(reads)
            for attr, entry in writes:
                self.self_writes.setdefault(attr, []).append(entry)
            if name == "__init__" and calls_init:
                self.init_calls_init = True
        # `self.x += 1` reads before it writes; pylint counts it as a definition
        for stmt in node.body:
            for attr in (_aug_attrs(stmt) if memo is None else memo.get(AUG, stmt, _aug_attrs)):
                self.self_writes.setdefault(attr, [])

    def _slots(self, value: ast.AST | None) -> None:
        if value is None:
            return
        for n in ast.walk(value):
            if isinstance(n, ast.Constant) and isinstance(n.value, str):
                self.members.add(n.value)

    def attrs(self) -> set[str]:
        return self.members | set(self.self_writes)


class MemberChecker:
    """Lines with class and call errors; `full` maps class paths to the full program's
    attributes and whether its `__init__` called a base `__init__`."""

    def __init__(self, full: "dict[str, tuple[frozenset[str], bool]] | None" = None,
                 memo: "Memo | None" = None) -> None:
        self.memo = memo
        self.full = full or {}
        self.lines: set[int] = set()
        self._local: dict[int, tuple[ast.AST, tuple[dict[str, ast.AST], frozenset[str]]]] = {}

    def check(self, tree: ast.Module) -> set[int]:
        if self.memo is not None:
            return self._check_memo(tree, self.memo)
        classes = collect_classes(tree)
        top = {c.node.name: c for c in classes if c.path.count(".") == 1}
        functions = {n.name: n for n in tree.body if isinstance(n, _FUNCS)}
        for c in classes:
            self._class(c, top)
        self._calls(tree, functions, classes)
        self._literals(tree)
        return self.lines

    def _check_memo(self, tree: ast.Module, memo: "Memo") -> set[int]:
        """The same verdicts, with what depends on one function, statement or chunk of
        statements alone (its classes, self attributes, call sites, literal bindings)
        kept per node; what crosses them (bases, callees) is decided per call."""
        parts = [memo.get(MEMBER_CHUNK, c, lambda c: _chunk_summary(c, memo)) for c in tree.chunks]  # type: ignore[attr-defined]
        classes = [c for part in parts for c in part[0]]
        top = {c.node.name: c for c in classes if c.path.count(".") == 1}
        if len(top) != sum(c.path.count(".") == 1 for c in classes):
            classes = collect_classes(tree)  # a class name defined twice: keep the old order
            top = {c.node.name: c for c in classes if c.path.count(".") == 1}
        functions: dict[str, ast.AST] = {}
        for part in parts:
            if part[1]:
                functions.update(part[1])
        for c in classes:
            self._class(c, top)
        owner: dict[int, ClassInfo] = {}
        for c in classes:
            for func in c.methods.values():
                owner[id(func)] = c
        literal_reads = False
        for part in parts:
            for line, func, f, chain in part[2]:
                c = me = None
                if f is not None:
                    c = owner.get(id(f))
                    args = f.args.posonlyargs + f.args.args  # type: ignore[attr-defined]
                    me = args[0].arg if c is not None and args else None
                self._site(line, func, functions, c, me, chain)
            if part[3]:
                self.lines |= part[3]
            literal_reads = literal_reads or bool(part[4])
        if literal_reads:
            self.lines |= _module_literals([p[4] for p in parts], [k for p in parts for k in p[5]])
        return self.lines

    def _site(self, line: int, func: ast.expr, functions: dict[str, ast.AST], cls: "ClassInfo | None",
              me: str | None, chain: tuple) -> None:
        target = self._callee(func, functions, cls, me, chain)
        if target is not None and self._no_return(target):
            self.lines.add(line)

    def _ancestry(self, c: ClassInfo, top: dict[str, ClassInfo]) -> tuple[set[str], bool, bool, bool]:
        """(attributes, all bases known, some ancestor __getattr__, some base defines __init__)."""
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
        return attrs, known, dyn, base_init

    def _class(self, c: ClassInfo, top: dict[str, ClassInfo]) -> None:
        base_attrs, known, dyn, base_init = self._ancestry(c, top)
        own = c.attrs()
        full_attrs, full_init = self.full.get(c.path, (frozenset(), False))
        if not dyn:
            for attr, node, func in c.self_reads:
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
                defs = c.self_writes.get(attr)
                single = bool(defs) and all(f is defs[0][0] for f, _ in defs)  # type: ignore[index]
                only[attr] = (defs[0][0], min(l for _, l in defs)) if single else None  # type: ignore[index]
            first = only[attr]
            if first is not None and first[0] is func and node.lineno < first[1]:
                self.lines.add(node.lineno)
        init = c.methods.get("__init__")
        if init is not None and not c.init_calls_init:
            if (known and base_init) or full_init:
                self.lines.add(init.lineno)
        metaclass = "type" in c.bases
        for name, func in c.methods.items():
            decorators = _decorator_names(func)
            args = func.args.posonlyargs + func.args.args
            if not decorators and name not in _IMPLICIT_CLASSMETHODS and not metaclass:
                if (args and args[0].arg != "self") or (not args and not func.args.vararg):
                    self.lines.add(func.lineno)
            if name in _SPECIAL and not decorators:
                value, gen = _returns_value(func)
                if not value and not gen and not _is_abstract(func, True, True):
                    self.lines.add(func.lineno)
                elif name == "__iter__" and args and known and not gen \
                        and "__next__" not in c.members and "__next__" not in base_attrs \
                        and _returns_name(func, args[0].arg):
                    self.lines.add(func.lineno)  # E0301: `return self` without __next__
        # E0102: a second undecorated definition of a name (a deleted `@x.setter`)
        seen: set[str] = set()
        for stmt in c.node.body:
            if isinstance(stmt, _FUNCS):
                if stmt.name in seen and not stmt.decorator_list:
                    self.lines.add(stmt.lineno)
                seen.add(stmt.name)

    def _calls(self, tree: ast.Module, functions: dict[str, ast.AST], classes: list[ClassInfo]) -> None:
        """E1111: `x = f()` where f (a function or method here) never returns a value."""
        owner: dict[int, ClassInfo] = {}
        for c in classes:
            for func in c.methods.values():
                owner[id(func)] = c
        stack: list[tuple[ast.AST, ClassInfo | None, str | None, tuple]] = [(tree, None, None, ())]
        while stack:
            node, cls, me, chain = stack.pop()
            for child in ast.iter_child_nodes(node):
                c2, me2, chain2 = cls, me, chain
                if isinstance(child, _FUNCS):
                    c2 = owner.get(id(child))
                    args = child.args.posonlyargs + child.args.args
                    me2 = args[0].arg if c2 is not None and args else None
                    chain2 = (child, *chain)
                elif isinstance(child, ast.Assign) and isinstance(child.value, ast.Call):
                    target = self._callee(child.value.func, functions, cls, me, chain)
                    if target is not None and self._no_return(target):
                        self.lines.add(child.lineno)
                stack.append((child, c2, me2, chain2))

    def _callee(self, func: ast.expr, functions: dict[str, ast.AST], cls: ClassInfo | None, me: str | None,
                chain: tuple = ()):
        """The function a call site calls, when this program alone says which: a def in an
        enclosing function (innermost first, `chain`), at module level, or a method via self."""
        if isinstance(func, ast.Name):
            for f in chain:
                if self.memo is not None:
                    single, bound = self.memo.get(LOCAL_FUNCS, f, _local_functions)
                else:
                    cached = self._local.get(id(f))
                    if cached is None or cached[0] is not f:
                        cached = self._local[id(f)] = (f, _local_functions(f))
                    single, bound = cached[1]
                if func.id in bound:
                    return single.get(func.id)
            return functions.get(func.id)
        if cls is not None and me and isinstance(func, ast.Attribute) \
                and isinstance(func.value, ast.Name) and func.value.id == me and cls.known \
                and not cls.bases:
            return cls.methods.get(func.attr)
        return None

    @staticmethod
    def _no_return(func: ast.AST) -> bool:
        if isinstance(func, ast.AsyncFunctionDef) or func.decorator_list:  # type: ignore[attr-defined]
            return False
        value, gen = _returns_value(func)
        return not value and not gen and not _is_abstract(func, False, False) \
            and not any(isinstance(n, ast.Return) for n in _walk_function(func))

    def _literals(self, tree: ast.Module) -> None:
        """E1101 on `x.attr` where every binding of local `x` is a literal of one type."""
        scopes: list[ast.AST] = [tree] + [n for n in ast.walk(tree) if isinstance(n, _FUNCS)]
        for scope in scopes:
            self._literal_scope(scope)

    def _literal_scope(self, scope: ast.AST) -> None:
        kinds: dict[str, set[type | None]] = {}
        reads: list[ast.Attribute] = []
        params: set[str] = set()
        if isinstance(scope, _FUNCS):
            a = scope.args
            params = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
        _literal_kinds(list(_scope_nodes(scope)), kinds, reads)
        self.lines |= _literal_verdicts(kinds, reads, params)


def _chunk_summary(chunk, memo: "Memo"):
    """(classes, top-level functions, call sites with their function, literal verdicts
    inside functions, module-scope attribute reads, module-scope binding kinds)."""
    summaries = [memo.get(MEMBER_CLASS if type(stmt) is ast.ClassDef else MEMBER, stmt,
                          lambda n: _summary(n, memo)) for stmt in chunk.body]
    functions = {n.name: n for n in chunk.body if isinstance(n, _FUNCS)}
    sites: list[tuple[int, ast.expr, ast.AST | None, tuple]] = []
    literal: set[int] = set()
    queue: list[tuple[ast.AST, tuple]] = []  # a function and the functions around it
    for sm in summaries:
        sites.extend((line, func, None, ()) for line, func in sm[1][0])
        queue.extend((f, ()) for f in sm[1][1])
    while queue:
        f, outer = queue.pop()
        chain = (f, *outer)
        f_sites, inner = memo.get(REGION, f, _function_region)
        sites.extend((line, func, f, chain) for line, func in f_sites)
        queue.extend((g, chain) for g in inner)
        literal |= memo.get(LITERALS, f, _literal_lines)
    reads = [r for sm in summaries for r in sm[1][2]]
    return ([c for sm in summaries for c in sm[0]], functions, sites, frozenset(literal), reads,
            [sm[2] for sm in summaries])


def _literal_lines(scope: ast.AST) -> frozenset[int]:
    checker = MemberChecker()
    checker._literal_scope(scope)
    return frozenset(checker.lines)


def _region(nodes: list[ast.AST]) -> tuple[list[tuple[int, ast.expr]], list[ast.AST]]:
    """Assign-from-call sites among these nodes and below, and the functions just below
    them (not entering those functions)."""
    sites: list[tuple[int, ast.expr]] = []
    inner: list[ast.AST] = []
    stack = list(nodes)
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _FUNCS):
                inner.append(child)
                continue
            if isinstance(child, ast.Assign) and isinstance(child.value, ast.Call):
                sites.append((child.lineno, child.value.func))
            stack.append(child)
    return sites, inner


def _function_region(func: ast.AST):
    return _region([func])


def _summary(stmt: ast.stmt, memo: "Memo"):
    """What a top-level statement brings to the checks: its classes, its call sites and
    inner functions, and its module-scope literal bindings and reads."""
    classes = _classes_under(stmt, "", memo)
    if isinstance(stmt, _FUNCS):
        region = ([], [stmt])
    elif isinstance(stmt, ast.ClassDef):
        sites, inner = _region([ast.Module(body=[], type_ignores=[])])
        for child in ast.iter_child_nodes(stmt):
            if isinstance(child, ast.stmt):
                a, b = memo.get(REGION_STMT, child, lambda c: _region([_Holder(c)]))
            else:
                a, b = _region([_Holder(child)])
            sites.extend(a)
            inner.extend(b)
        region = (sites, inner)
    else:
        region = _region([_Holder(stmt)])
    kinds, reads = _module_scope_part(stmt)
    return classes, (region[0], region[1], reads), kinds


class _Holder(ast.AST):
    """A parent for one node, so that `_region` visits the node itself."""

    _fields = ("node",)

    def __init__(self, node: ast.AST) -> None:
        self.node = node


def _classes_under(node: ast.AST, path: str, memo: "Memo | None") -> list["ClassInfo"]:
    """`collect_classes` for one statement whose parent's path is `path`."""
    if isinstance(node, ast.ClassDef):
        p = f"{path}.{node.name}"
        out = [ClassInfo(node, p, memo)]
        for child in node.body:
            if memo is None:
                out.extend(_classes_under(child, p, None))
            else:
                out.extend(memo.get(CLASSES, child, lambda c: _classes_under(c, p, memo)))
        return out
    if isinstance(node, _FUNCS):
        path = f"{path}.{node.name}"
    elif not isinstance(node, (ast.stmt, ast.ExceptHandler, ast.match_case)):
        return []
    out = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (*_FUNCS, ast.ClassDef, ast.stmt, ast.ExceptHandler, ast.match_case)):
            out.extend(_classes_under(child, path, memo))
    return out


def _module_scope_part(stmt: ast.stmt):
    """A top-level statement's share of the module scope for `_literals`: binding kinds
    per name and attribute reads through a name."""
    kinds: dict[str, set[type | None]] = {}
    reads: list[ast.Attribute] = []
    nodes = list(_scope_nodes(ast.Module(body=[stmt], type_ignores=[])))
    _literal_kinds(nodes, kinds, reads)
    return kinds, reads


def _literal_kinds(nodes: list[ast.AST], kinds: dict[str, set[type | None]], reads: list[ast.Attribute]) -> None:
    direct = {id(t) for n in nodes if isinstance(n, ast.Assign) for t in n.targets}
    for node in nodes:
        if isinstance(node, ast.Assign):
            t = _LITERAL_TYPES.get(type(node.value))
            if t is None and isinstance(node.value, ast.Constant):
                t = type(node.value.value) if node.value.value is not None else None
            for target in node.targets:
                if isinstance(target, ast.Name):
                    kinds.setdefault(target.id, set()).add(t)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            if id(node) not in direct:
                kinds.setdefault(node.id, set()).add(None)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for n in node.names:
                kinds.setdefault(n, set()).add(None)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) \
                and isinstance(node.value, ast.Name):
            reads.append(node)


def _literal_verdicts(kinds: dict[str, set[type | None]], reads: list[ast.Attribute], params: set[str]) -> set[int]:
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


def _module_literals(reads_parts: list[list[ast.Attribute]], kinds_parts: list[dict[str, set[type | None]]]) -> set[int]:
    reads = [r for part in reads_parts for r in part]  # kinds of all statements, reads of some
    wanted = {r.value.id for r in reads}  # type: ignore[attr-defined]
    kinds: dict[str, set[type | None]] = {}
    for part in kinds_parts:
        for name in wanted & part.keys():
            kinds.setdefault(name, set()).update(part[name])
    return _literal_verdicts(kinds, reads, set())


def _scope_nodes(scope: ast.AST):
    """Nodes of one scope, not entering nested functions, classes or lambdas."""
    stack = list(scope.body)  # type: ignore[attr-defined]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (*_FUNCS, ast.Lambda, ast.ClassDef)):
                stack.append(child)


def collect_classes(tree: ast.Module) -> list[ClassInfo]:
    """Every class of the program, with a dotted path of enclosing definitions."""
    out: list[ClassInfo] = []
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, path = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (*_FUNCS, ast.ClassDef)):
                p = f"{path}.{child.name}"
                if isinstance(child, ast.ClassDef):
                    out.append(ClassInfo(child, p))
                stack.append((child, p))
            elif isinstance(child, (ast.stmt, ast.ExceptHandler, ast.match_case)):
                stack.append((child, path))
    return out


def full_classes(tree: ast.Module) -> dict[str, tuple[frozenset[str], bool]]:
    """Per class path of the full program: its attributes and whether __init__ calls one."""
    return {c.path: (frozenset(c.attrs()), c.init_calls_init) for c in collect_classes(tree)}
