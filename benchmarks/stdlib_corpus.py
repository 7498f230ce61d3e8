"""Mine a corpus of real, self-contained functions from the running Python's standard library.

Each function is kept with the module-level imports it uses, and only if nothing else is left
undefined, so the corpus measures LintSeq on code that is clean as written (the way training
data is). The choice is deterministic for a given Python installation.

    python benchmarks/stdlib_corpus.py -n 400 -o benchmarks/data/stdlib.jsonl
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import sysconfig
from pathlib import Path

from pyflakes import checker as pyflakes_checker
from pyflakes import messages as pyflakes_messages

SKIP_PARTS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo", "__pycache__", "ensurepip"}


def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if SKIP_PARTS & set(rel.parts) or rel.name.startswith("test_"):
            continue
        files.append(path)
    return files


def _import_lines(tree: ast.Module, source: str) -> dict[str, str]:
    """Name bound by a top-level import -> the import statement that binds only it."""
    bound: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                text = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                bound[name] = text
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if alias.name == "*":
                    continue
                name = alias.asname or alias.name
                text = f"from {node.module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                bound[name] = text
    return bound


def _undefined(code: str) -> set[str] | None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    found = pyflakes_checker.Checker(tree, filename="<corpus>")
    return {
        m.message_args[0]
        for m in found.messages
        if isinstance(m, (pyflakes_messages.UndefinedName, pyflakes_messages.UndefinedLocal))
    }


def mine(
    n: int = 400, per_module: int = 3, min_lines: int = 4, max_lines: int = 80, classes: bool = False
) -> list[dict]:
    """Up to `n` self-contained top-level functions (or classes), a few per module."""
    rows: list[dict] = []
    root = Path(sysconfig.get_paths()["stdlib"])
    kinds = (ast.ClassDef,) if classes else (ast.FunctionDef, ast.AsyncFunctionDef)
    for path in _stdlib_files():
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        imports = _import_lines(tree, source)
        taken = 0
        for node in tree.body:
            if not isinstance(node, kinds) or taken >= per_module:
                continue
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = source.splitlines()[start - 1 : node.end_lineno]
            if not min_lines <= len(lines) <= max_lines:
                continue
            body = "\n".join(lines) + "\n"
            missing = _undefined(body)
            if missing is None:
                continue
            needed = sorted(imports[name] for name in missing if name in imports)
            code = ("\n".join(needed) + "\n\n\n" if needed else "") + body
            if _undefined(code):
                continue
            rel = path.relative_to(root).as_posix()
            rows.append(
                {
                    "id": f"{rel}:{node.name}",
                    "instruction": f"Write the function `{node.name}` from the Python standard library module `{rel}`.",
                    "response": code,
                }
            )
            taken += 1
            if len(rows) >= n:
                return rows
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=400, help="number of programs")
    parser.add_argument("--per-module", type=int, default=3)
    parser.add_argument("--classes", action="store_true", help="mine classes instead of functions")
    parser.add_argument("-o", "--output", type=Path, default=None, help="JSONL path (default stdout)")
    args = parser.parse_args()
    rows = mine(args.n, args.per_module, classes=args.classes)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
    out = args.output.open("w") if args.output else sys.stdout
    for row in rows:
        out.write(json.dumps(row) + "\n")
    if args.output:
        out.close()
        print(f"{len(rows)} programs -> {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
