"""Functions with docstrings -> (instruction, response) pairs, keeping the author's formatting.

The response is the function's own source lines with the docstring lines cut out (comments and
layout survive, unlike `ast.unparse`), dedented, with the module-level imports it uses in front.
The instruction is HumanEvalPack's wording, as `lintseq.evaluation.problems` writes it for
HumanEval, so mined rows look like the benchmark prompts a model is later asked.

Methods become standalone functions only when they do not need their class: a `@staticmethod`,
or a plain method / `@classmethod` whose body never mentions its first parameter (`self`/`cls`)
or `super`/`__class__`; the first parameter is then dropped from the signature. Dunder methods,
properties, overloads, abstract methods and methods with any other decorator stay out, and so do
functions nested in functions (closures need their enclosing scope).
"""

from __future__ import annotations

import ast
import copy
import tokenize
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lintseq.evaluation.problems import _signature

FuncDef = ast.FunctionDef | ast.AsyncFunctionDef
CLASS_DECORATORS = {"staticmethod", "classmethod"}
SKIP_DECORATORS = {"overload", "abstractmethod", "property", "cached_property"}


@dataclass(frozen=True)
class Function:
    """One mined function; `lines` counts its non-blank lines (imports not counted)."""

    qualname: str
    lineno: int
    instruction: str
    response: str
    docstring: str
    lines: int


def read_source(path: Path) -> str:
    """The file's text in its declared encoding (PEP 263), as the interpreter would read it."""
    with tokenize.open(path) as fh:
        return fh.read()


def parse(source: str) -> ast.Module:
    """ast.parse without the SyntaxWarnings old code triggers; all failures are SyntaxError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source)
        except (ValueError, MemoryError, RecursionError) as exc:  # null bytes, deep nesting
            raise SyntaxError(str(exc)) from exc


def instruction_for(fn: FuncDef, docstring: str) -> str:
    return f"Write a Python function `{_signature(fn)}` to solve the following problem:\n{docstring}"


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _module_imports(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, ast.alias, str]]:
    """(statement, alias, bound name) for imports at module level, also inside top-level if/try."""
    found = []
    todo = list(tree.body)
    while todo:
        stmt = todo.pop(0)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name == "*":
                    continue
                bound = alias.asname or alias.name.split(".")[0]
                found.append((stmt, alias, bound))
        elif isinstance(stmt, (ast.If, ast.Try, ast.TryStar)):
            inner = list(stmt.body) + list(stmt.orelse)
            if isinstance(stmt, (ast.Try, ast.TryStar)):
                inner += [s for h in stmt.handlers for s in h.body] + list(stmt.finalbody)
            todo[:0] = inner
    found.sort(key=lambda t: (t[0].lineno, t[0].col_offset))
    return found


def imports_used(fn: FuncDef, imports: list, future: list[str]) -> list[str]:
    """The module's import lines the function needs, each reduced to the names it uses."""
    used = _names(fn)
    chosen: dict[int, list[ast.alias]] = {}
    stmts: dict[int, ast.Import | ast.ImportFrom] = {}
    bound: set[str] = set()
    for stmt, alias, name in imports:
        if name in used and name not in bound:  # first binding wins (try: fast; except: fallback)
            bound.add(name)
            chosen.setdefault(id(stmt), []).append(alias)
            stmts[id(stmt)] = stmt
    lines: list[str] = []
    annotated = fn.returns is not None or any(
        a.annotation is not None for a in ast.walk(fn.args) if isinstance(a, ast.arg)
    )
    if annotated:
        lines += future
    for key, aliases in chosen.items():
        stmt = stmts[key]
        if isinstance(stmt, ast.Import):
            node: ast.stmt = ast.Import(names=aliases)
        else:
            node = ast.ImportFrom(module=stmt.module, names=aliases, level=stmt.level)
        line = ast.unparse(node)
        if line not in lines:
            lines.append(line)
    return lines


def _standalone(fn: FuncDef, in_class: bool) -> tuple[bool, str]:
    """(drop first parameter?, reason to skip or "")."""
    decorators = {_decorator_name(d) for d in fn.decorator_list}
    if decorators & SKIP_DECORATORS or any(d.endswith("setter") or d.endswith("deleter") for d in decorators):
        return False, "overload, property or abstract method"
    if not in_class:
        return False, ""
    if fn.name.startswith("__") and fn.name.endswith("__"):
        return False, "method needs its class"
    if decorators - CLASS_DECORATORS:
        return False, "method needs its class"
    body_names = set().union(*(_names(s) for s in fn.body))
    if body_names & {"super", "__class__"}:
        return False, "method needs its class"
    if "staticmethod" in decorators:
        return False, ""
    positional = fn.args.posonlyargs + fn.args.args
    if not positional or positional[0].arg in body_names:
        return False, "method needs its class"
    return True, ""


def _byte_slice(line: str, start: int, end: int | None = None) -> str:
    return line.encode("utf-8")[start:end].decode("utf-8", errors="replace")


def _function_source(fn: FuncDef, lines: list[str], drop_first: bool, in_class: bool) -> str | None:
    """The function's lines without its docstring, dedented; None if the docstring shares a line."""
    doc = fn.body[0]
    first, last = lines[doc.lineno - 1], lines[doc.end_lineno - 1]
    before = _byte_slice(first, 0, doc.col_offset)
    after = _byte_slice(last, doc.end_col_offset).strip()
    if before.strip() or (after and not after.startswith("#")):
        return None
    indent = " " * fn.col_offset
    start = fn.lineno - 1 if in_class else min([fn.lineno, *(d.lineno for d in fn.decorator_list)]) - 1
    header = lines[start : doc.lineno - 1]
    if drop_first:
        args = copy.deepcopy(fn.args)
        if args.posonlyargs:
            args.posonlyargs.pop(0)
        else:
            args.args.pop(0)
            if len(args.defaults) > len(args.args):
                args.defaults.pop(0)
        returns = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
        prefix = "async " if isinstance(fn, ast.AsyncFunctionDef) else ""
        header = [f"{indent}{prefix}def {fn.name}({ast.unparse(args)}){returns}:\n"]
    # 0-based indices of lines that continue a multi-line string: their text is data, not indent
    inside = {
        i
        for node in ast.walk(fn)
        if isinstance(node, (ast.Constant, ast.JoinedStr)) and node is not doc.value and node.end_lineno
        for i in range(node.lineno, node.end_lineno)
    }
    numbered = [(-1, line) for line in header] if drop_first else list(enumerate(header, start))
    if len(fn.body) == 1:
        numbered.append((-1, indent + "    pass\n"))
    numbered += list(enumerate(lines[doc.end_lineno : fn.end_lineno], doc.end_lineno))
    out = []
    for index, line in numbered:
        if index in inside:
            out.append(line)
        elif not line.strip():
            out.append("\n")
        elif line[: fn.col_offset].strip() == "":
            out.append(line[fn.col_offset :])
        else:  # cannot happen outside strings in code that parses; keep the line as it is
            out.append(line)
    code = "".join(out)
    return code if code.endswith("\n") else code + "\n"


def _walk_defs(tree: ast.Module):
    """(function, qualname, in_class) for module-level functions and class methods; nested ones
    come back with qualname None so they are counted but not mined."""
    todo: list[tuple[ast.AST, str, str]] = [(tree, "", "module")]
    while todo:
        node, prefix, kind = todo.pop(0)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                yield child, (name if kind != "function" else None), kind == "class"
                todo.append((child, f"{name}.<locals>.", "function"))
            elif isinstance(child, ast.ClassDef):
                todo.append((child, f"{prefix}{child.name}.", kind if kind == "function" else "class"))
            elif not isinstance(child, (ast.expr,)):
                todo.append((child, prefix, kind))


def extract(source: str, tree: ast.Module | None = None) -> tuple[list[Function], Counter]:
    """Every standalone-able function with a docstring, in source order, and counts: "found"
    (functions with docstrings) and each reason one was left out."""
    tree = tree or parse(source)
    lines = source.splitlines(keepends=True)
    imports = _module_imports(tree)
    future = [ast.unparse(s) for s in tree.body if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
    counts: Counter = Counter()
    found: list[Function] = []
    for fn, qualname, in_class in _walk_defs(tree):
        docstring = ast.get_docstring(fn)
        if docstring is None:
            continue
        counts["found"] += 1
        if qualname is None:
            counts["nested function"] += 1
            continue
        drop_first, reason = _standalone(fn, in_class)
        if reason:
            counts[reason] += 1
            continue
        code = _function_source(fn, lines, drop_first, in_class)
        if code is None:
            counts["docstring shares a line with code"] += 1
            continue
        try:
            mined = parse(code).body[0]
        except SyntaxError:
            counts["unparsable"] += 1
            continue
        assert isinstance(mined, (ast.FunctionDef, ast.AsyncFunctionDef))
        header = imports_used(mined, imports, future)
        response = "\n".join(header) + "\n\n\n" + code if header else code
        docstring = docstring.strip()
        found.append(
            Function(
                qualname=qualname,
                lineno=fn.lineno,
                instruction=instruction_for(mined, docstring),
                response=response,
                docstring=docstring,
                lines=sum(1 for line in code.splitlines() if line.strip()),
            )
        )
    found.sort(key=lambda f: f.lineno)
    return found, counts
