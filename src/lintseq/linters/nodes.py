"""What every check asks of a syntax-tree node: its children, and the names it binds.

The checks walk each state's tree, so the walk is much of their cost. `children` is
`ast.iter_child_nodes` without the `Load`/`Store`/`Del` context nodes (no check looks at
them), read from a table of the fields that can hold nodes, per node type, instead of
iterating `_fields` with `isinstance` tests: about a third of the cost, same order.

`bound_names` is the one answer to "which names does this node bind by itself" (a stored or
deleted name, a def or class, an import, `except ... as`, a match capture, a parameter);
the walkers that collect a scope's names differ only in which nodes they visit.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from typing import TypeVar, cast

FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef  # a node of a FUNCS type
COMPS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)

# fields that never hold a node: names, flags, constants, and the expression context
_NOT_NODES = frozenset(
    [
        "ctx",
        "id",
        "name",
        "attr",
        "arg",
        "module",
        "asname",
        "kind",
        "conversion",
        "level",
        "is_async",
        "type_comment",
        "simple",
        "tag",
        "kwd_attrs",
        "rest",
    ]
)
_SPECIAL: dict[type, tuple[str, ...]] = {
    ast.Constant: (),  # `value` is the constant itself
    ast.MatchSingleton: (),
    ast.Global: (),  # `names` are strings
    ast.Nonlocal: (),
    ast.TypeIgnore: (),
}


def _node_fields(cls: type) -> tuple[str, ...]:
    special = _SPECIAL.get(cls)
    if special is not None:
        return special
    return tuple(f for f in getattr(cls, "_fields", ()) if f not in _NOT_NODES)


FIELDS: dict[type, tuple[str, ...]] = {
    cls: _node_fields(cls) for cls in vars(ast).values() if isinstance(cls, type) and issubclass(cls, ast.AST)
}


def child_fields(cls: type) -> tuple[str, ...]:
    """`FIELDS[cls]`, learning a node type this table does not know (a newer Python)."""
    fields = FIELDS.get(cls)
    if fields is None:
        fields = FIELDS[cls] = _node_fields(cls)
    return fields


def children(node: ast.AST) -> list[ast.AST]:
    """The child nodes in `ast.iter_child_nodes` order, context nodes left out."""
    out: list[ast.AST] = []
    fields = FIELDS.get(type(node)) or child_fields(type(node))
    for f in fields:
        v = getattr(node, f, None)
        if v is None:
            continue
        if type(v) is list:
            for x in v:
                if x is not None:  # `**d` in a dict display, a missing kw default
                    out.append(x)
        else:
            out.append(v)
    return out


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """`node` and every node below it, depth first (`ast.walk`'s set of nodes, context nodes
    left out, in another order: use it where the order does not matter)."""
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        n = pop()
        yield n
        extend(children(n))


_BLOCK_NAMES = ("body", "orelse", "finalbody", "handlers", "cases")
BLOCKS: dict[type, tuple[str, ...]] = {
    cls: tuple(f for f in fields if f in _BLOCK_NAMES) for cls, fields in FIELDS.items()
}


def blocks(node: ast.AST) -> list[ast.AST]:
    """The statements (handlers, match cases) directly under `node`, in `children` order:
    all of its children that can hold a statement."""
    out: list[ast.AST] = []
    for f in BLOCKS.get(type(node), ()):
        out.extend(getattr(node, f))
    return out


def statements(node: ast.AST) -> Iterator[ast.AST]:
    """`node` and the statements (handlers, match cases) under it, nested blocks and nested
    functions included: the only places a `global`, `break`, `def` or assignment can be."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        for f in BLOCKS.get(type(n), ()):
            stack.extend(getattr(n, f))


def alias_name(alias: ast.alias) -> str:
    """The name an import binds: `import a.b` binds `a`, `import a.b as c` binds `c`."""
    return alias.asname or alias.name.split(".")[0]


def arg_names(args: ast.arguments) -> list[str]:
    """A function's or lambda's parameters."""
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    if args.vararg:
        names.append(args.vararg.arg)
    if args.kwarg:
        names.append(args.kwarg.arg)
    return names


def _imported(node: ast.Import | ast.ImportFrom) -> tuple[str, ...]:
    return tuple(alias_name(a) for a in node.names if a.name != "*")


def _own_name(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.ExceptHandler | ast.MatchAs | ast.MatchStar,
) -> tuple[str, ...]:
    name = node.name
    return (name,) if name else ()


_N = TypeVar("_N", bound=ast.AST)
_Binder = Callable[[ast.AST], tuple[str, ...]]


def _binds(t: type[_N], binder: Callable[[_N], tuple[str, ...]]) -> tuple[type[ast.AST], _Binder]:
    """A `_BINDERS` entry; the types check that `binder` takes a `t`, all the table gives it."""
    return t, cast(_Binder, binder)


_BINDERS: dict[type[ast.AST], _Binder] = dict(
    [
        _binds(ast.Name, lambda n: () if type(n.ctx) is ast.Load else (n.id,)),
        _binds(ast.FunctionDef, _own_name),
        _binds(ast.AsyncFunctionDef, _own_name),
        _binds(ast.ClassDef, _own_name),
        _binds(ast.Import, _imported),
        _binds(ast.ImportFrom, _imported),
        _binds(ast.ExceptHandler, _own_name),
        _binds(ast.MatchAs, _own_name),
        _binds(ast.MatchStar, _own_name),
        _binds(ast.MatchMapping, lambda n: (n.rest,) if n.rest else ()),
        _binds(ast.arg, lambda n: (n.arg,)),
    ]
)


def bound_names(node: ast.AST) -> tuple[str, ...]:
    """The names `node` itself binds where it runs (not those its children bind): a stored
    or deleted name, a def or class name, imported names (a star import binds none that
    can be listed), `except ... as` and match captures, a parameter."""
    binder = _BINDERS.get(type(node))
    return binder(node) if binder is not None else ()
