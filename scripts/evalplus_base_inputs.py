"""Write src/lintseq/data/evalplus-base-inputs.json: for each HumanEval+ and MBPP+ task, how many
of the first inputs of its bundled test (the OriginFmt file's `inputs`) are EvalPlus's base
inputs, so that one run of the plus test also gives EvalPlus's base verdict (design §4.1, "The base verdict").

    python scripts/evalplus_base_inputs.py [--check]

It reads EvalPlus's plain release files (tests/data/evalplus, with `base_input` apart from
`plus_input`) beside the bundled OriginFmt files. The OriginFmt `inputs` list is the base inputs
then the plus inputs with repeats dropped, so the count is the number of distinct base inputs;
the script checks that those are exactly the list's first entries wherever the list is a Python
literal whose values compare with the JSON release's (three MBPP+ tasks hold complex numbers or
infinities that the JSON release spells as strings: listed, not checked). `--check` exits 1 if
the committed file differs from what it would write (the test suite runs it).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAIN = ROOT / "tests" / "data" / "evalplus"
DATA = ROOT / "src" / "lintseq" / "data"
OUT = DATA / "evalplus-base-inputs.json"
FILES = {  # benchmark: (plain release, bundled OriginFmt, task id as lintseq names it)
    "humaneval+": ("HumanEvalPlus.jsonl.gz", "HumanEvalPlus-OriginFmt.jsonl.gz", lambda t: str(t)),
    "mbpp+": ("MbppPlus.jsonl.gz", "MbppPlus-OriginFmt.jsonl.gz", lambda t: f"MbppSanitized/{str(t).split('/')[-1]}"),
}


def _key(x) -> tuple:
    """A hashable form that tells 1 from 1.0 and True (as the tests' `==` on outputs may not)."""
    if isinstance(x, (list, tuple)):
        return ("seq", tuple(_key(i) for i in x))
    if isinstance(x, dict):
        return ("dict", tuple(sorted((_key(k), _key(v)) for k, v in x.items())))
    return (type(x).__name__, x)


def _literal_inputs(test: str) -> list | None:
    for node in ast.walk(ast.parse(test)):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "inputs":
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def _rows(path: Path) -> dict:
    return {str(r["task_id"]).split("/")[-1]: r for r in map(json.loads, gzip.open(path, "rt", encoding="utf-8"))}


def counts() -> tuple[dict[str, dict[str, int]], list[str]]:
    """(benchmark -> task id -> number of base inputs, tasks whose prefix could not be checked)."""
    table: dict[str, dict[str, int]] = {}
    unchecked: list[str] = []
    for bench, (plain, origin, task_id) in FILES.items():
        release, bundled = _rows(PLAIN / plain), _rows(DATA / origin)
        table[bench] = {}
        for short, row in bundled.items():
            base = {_key(x) for x in release[short]["base_input"]}
            inputs = _literal_inputs(row["test"])
            first = {_key(x) for x in inputs[: len(base)]} if inputs is not None else set()
            if first != base:
                if inputs is not None and base <= {_key(x) for x in inputs}:
                    raise SystemExit(f"{bench} {short}: the base inputs are in the test but not first")
                unchecked.append(f"{bench} {short}")
            table[bench][task_id(row["task_id"])] = len(base)
    return table, unchecked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the committed file is not what this writes")
    args = ap.parse_args()
    table, unchecked = counts()
    text = json.dumps(table, indent=0, sort_keys=True) + "\n"
    if args.check:
        sys.exit(0 if OUT.read_text(encoding="utf-8") == text else 1)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {sum(map(len, table.values()))} tasks; not checked: {', '.join(unchecked)}")


if __name__ == "__main__":
    main()
