"""Functions with docstrings -> (instruction, response) pairs, keeping the author's formatting.

The response is the function's own source lines with the docstring lines cut out (comments and
layout survive, unlike `ast.unparse`), dedented, with the module-level imports it uses in front:
those of names it reads and does not bind itself (found with `symtable`), never the ones under
`if TYPE_CHECKING:`, relative ones made absolute when the module's package is known. Other
module-level names it reads (helpers, constants, classes) are listed in `free_names`: those
rows do not run on their own. Stubs (a body of only `pass`, `...`, `raise NotImplementedError`)
are left out. Lines are split where Python splits them (`\r\n`, `\r`, `\n`), so form feeds and
other characters `str.splitlines` breaks on keep ast's line numbers in step.
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
import builtins
import copy
import io
import re
import symtable
import tokenize
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lintseq.instructions import function_instruction

FuncDef = ast.FunctionDef | ast.AsyncFunctionDef
CLASS_DECORATORS = {"staticmethod", "classmethod"}
SKIP_DECORATORS = {"overload", "abstractmethod", "property", "cached_property"}
# Names every module has without defining them: not free names of a function.
MODULE_DUNDERS = {
    "__name__",
    "__file__",
    "__doc__",
    "__package__",
    "__spec__",
    "__loader__",
    "__builtins__",
    "__path__",
}
BUILTINS = frozenset(dir(builtins)) | MODULE_DUNDERS
# Line ends as the tokenizer counts them (str.splitlines also splits on \x0c, \x1c-\x1e, \x85,
# \u2028, \u2029, which would put ast's line numbers out of step with the lines).
LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
NOT_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


@dataclass(frozen=True)
class Function:
    """One mined function; `lines` counts its lines that hold code (not blank, not only a
    comment; imports not counted); `free_names` are the module-level names (helpers,
    constants, classes) it uses that are neither imported nor builtins: empty when the
    response runs on its own."""

    qualname: str
    lineno: int
    instruction: str
    response: str
    docstring: str
    lines: int
    free_names: tuple[str, ...] = ()


def split_lines(source: str) -> list[str]:
    """The source's lines with their ends, split where Python's tokenizer splits them."""
    return LINE.findall(source)


def code_lines(code: str) -> int:
    """How many lines hold code: blank lines and lines with only a comment do not count."""
    rows: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type not in NOT_CODE:
                rows.update(range(tok.start[0], tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        return sum(1 for line in split_lines(code) if line.strip())
    return len(rows)


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


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _type_checking(test: ast.expr) -> bool | None:
    """True for `TYPE_CHECKING` / `typing.TYPE_CHECKING`, False for their `not`, else None."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _type_checking(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
        return True
    return None


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
        elif isinstance(stmt, ast.If) and _type_checking(stmt.test) is not None:
            # `if TYPE_CHECKING:` imports exist only for type checkers; the `else` part is real
            todo[:0] = list(stmt.orelse if _type_checking(stmt.test) else stmt.body)
        elif isinstance(stmt, (ast.If, ast.Try, ast.TryStar)):
            inner = list(stmt.body) + list(stmt.orelse)
            if isinstance(stmt, (ast.Try, ast.TryStar)):
                inner += [s for h in stmt.handlers for s in h.body] + list(stmt.finalbody)
            todo[:0] = inner
    found.sort(key=lambda t: (t[0].lineno, t[0].col_offset))
    return found


def global_uses(code: str) -> set[str]:
    """Names the function in `code` (alone in a module) reads from its module: references that
    are not bound locally in any of its scopes (an assigned name is a local even where it is
    read, so `for _ in ...` or a local `np = ...` is not a use), including names in its
    decorators, defaults and annotations. SyntaxError if the code does not compile."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        top = symtable.symtable(code, "<mined>", "exec")
    uses = {s.get_name() for s in top.get_symbols() if s.is_referenced() and not s.is_assigned()}
    todo = list(top.get_children())
    while todo:
        table = todo.pop()
        todo += table.get_children()
        uses |= {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.is_global()}
    return uses


def _runtime_names(fn: FuncDef, lazy_annotations: bool) -> set[str]:
    """Names the function loads when it is defined and run: annotations of local variables never
    are, and those of signatures not under `from __future__ import annotations`."""
    skip: set[int] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.AnnAssign) or (
            lazy_annotations and isinstance(node, ast.arg) and node.annotation is not None
        ):
            skip.add(id(node.annotation))
        elif lazy_annotations and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            skip.add(id(node.returns))
    names: set[str] = set()
    todo: list[ast.AST] = [fn]
    while todo:
        node = todo.pop()
        if id(node) in skip:
            continue
        if isinstance(node, ast.Name):
            names.add(node.id)
        todo += ast.iter_child_nodes(node)
    return names


def _attribute_chains(fn: FuncDef) -> set[str]:
    """Every dotted name the function reads, and its prefixes: `xml.etree.ElementTree.fromstring`
    gives `xml.etree`, `xml.etree.ElementTree` and `xml.etree.ElementTree.fromstring`."""
    chains = set()
    for node in ast.walk(fn):
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if parts and isinstance(node, ast.Name):
            chains.add(".".join([node.id, *reversed(parts)]))
    return chains


def absolute_module(stmt: ast.ImportFrom, package: str | None) -> str | None:
    """The absolute module a relative `from` import names, given the importing module's package
    (`__package__`); None when that is unknown or the import climbs above it."""
    if not stmt.level:
        return stmt.module
    if not package:
        return None
    parts = package.split(".")
    if stmt.level - 1 >= len(parts):
        return None
    base = parts[: len(parts) - (stmt.level - 1)]
    return ".".join(base + ([stmt.module] if stmt.module else []))


def imports_used(
    fn: FuncDef, imports: list, future: list[str], uses: set[str] | None = None, package: str | None = None
) -> list[str]:
    """The module's import lines the function needs, each reduced to the names it uses.

    `uses` are the names it reads from its module (`global_uses`; by default every name in it).
    Of several imports binding one name, the first wins (try: fast; except: fallback), except for
    plain `import a.b` statements, which all bind `a`: those whose dotted path the function reads
    are kept, or all of them when it reads none. Relative imports become absolute when the
    module's package is known."""
    used = _names(fn) if uses is None else uses
    chains = _attribute_chains(fn)
    by_name: dict[str, list[tuple[ast.Import | ast.ImportFrom, ast.alias]]] = {}
    for stmt, alias, name in imports:
        if name in used:
            by_name.setdefault(name, []).append((stmt, alias))
    picked: set[int] = set()
    for name, bindings in by_name.items():
        stmt, alias = bindings[0]
        if isinstance(stmt, ast.Import) and alias.asname is None:
            plain = [a for s, a in bindings if isinstance(s, ast.Import) and a.asname is None]
            matching = [a for a in plain if a.name in chains or a.name == name]
            seen: set[str] = set()
            for a in matching or plain:
                if a.name not in seen:
                    seen.add(a.name)
                    picked.add(id(a))
        else:
            picked.add(id(alias))
    chosen: dict[int, list[ast.alias]] = {}
    stmts: dict[int, ast.Import | ast.ImportFrom] = {}
    for stmt, alias, _ in imports:  # source order
        if id(alias) in picked:
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
            absolute = absolute_module(stmt, package)
            if absolute is None:
                node = ast.ImportFrom(module=stmt.module, names=aliases, level=stmt.level)
            else:
                node = ast.ImportFrom(module=absolute, names=aliases, level=0)
        line = ast.unparse(node)
        if line not in lines:
            lines.append(line)
    return lines


def _is_stub(fn: FuncDef) -> bool:
    """A body of only `pass`, `...` and `raise NotImplementedError[(...)]`."""
    for stmt in fn.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis:
            continue
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                continue
        return False
    return True


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
    # the caller found a docstring (an expression statement first) in parsed code (positions set)
    assert isinstance(doc, ast.Expr) and doc.end_lineno is not None and doc.end_col_offset is not None
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


def extract(source: str, tree: ast.Module | None = None, package: str | None = None) -> tuple[list[Function], Counter]:
    """Every standalone-able function with a docstring, in source order, and counts: "found"
    (functions with docstrings) and each reason one was left out. `package` is the module's
    `__package__` (dotted), for turning its relative imports into absolute ones."""
    tree = tree or parse(source)
    lines = split_lines(source)
    imports = _module_imports(tree)
    imported = {name for _, _, name in imports}
    future = [ast.unparse(s) for s in tree.body if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
    lazy_annotations = any(
        isinstance(s, ast.ImportFrom) and s.module == "__future__" and any(a.name == "annotations" for a in s.names)
        for s in tree.body
    )
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
            body = parse(code).body
            uses = global_uses(code)
        except SyntaxError:
            counts["unparsable"] += 1
            continue
        mined = body[0] if len(body) == 1 else None
        if not isinstance(mined, (ast.FunctionDef, ast.AsyncFunctionDef)) or mined.name != fn.name:
            counts["extracted code is not the function"] += 1  # a bug if it ever happens
            continue
        if _is_stub(mined):
            counts["stub body"] += 1
            continue
        header = imports_used(mined, imports, future, uses, package)
        free = uses & _runtime_names(mined, lazy_annotations)
        free -= BUILTINS | imported | {fn.name}
        response = "\n".join(header) + "\n\n\n" + code if header else code
        docstring = docstring.strip()
        found.append(
            Function(
                qualname=qualname,
                lineno=fn.lineno,
                instruction=function_instruction(mined, docstring),
                response=response,
                docstring=docstring,
                lines=code_lines(code),
                free_names=tuple(sorted(free)),
            )
        )
    found.sort(key=lambda f: f.lineno)
    return found, counts
