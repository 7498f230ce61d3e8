"""Seconds per LintSeq sequence on large programs, fast backend, incremental against text.

Three kinds of program, each at 500, 1,000, 2,000 and 5,000 lines: many small functions,
one class with many methods, and mostly module-level statements. The incremental path
(pieces.py + memo.py) and the path that lints each state's text (`FastLinter(incremental=
False)`) are timed in the same run on the same programs, and must produce the same edits.

    python benchmarks/large_program.py                  # all sizes; text path up to 2,000 lines
    python benchmarks/large_program.py --text-max 5000  # the text path at 5,000 lines too (minutes)
"""

from __future__ import annotations

import argparse
import time

from lintseq.engine.edit_paths import sample_edit_sequence
from lintseq.linters.fast import FastLinter


def functions(n: int) -> str:
    """n functions of 9 lines, each calling the one before."""
    return "".join(
        f"def f{i}(a, b):\n    x = a + {i}\n    if x > b:\n        y = x * 2\n    else:\n"
        f"        y = b\n\n    return y + f{max(i - 1, 0)}(a, b)\n\n"
        for i in range(n)
    )


def one_class(n: int) -> str:
    """One class with an __init__ and n methods of 8 lines using an attribute."""
    head = "class Big:\n    def __init__(self, a):\n        self.a = a\n        self.total = 0\n\n"
    methods = "".join(
        f"    def m{i}(self, a, b):\n        x = a + {i}\n        if x > b:\n"
        f"            self.total += x\n        else:\n            x = b\n"
        f"        return x + self.total\n\n"
        for i in range(n)
    )
    return head + methods


def module_level(n: int) -> str:
    """n blocks of 7 module-level lines: assignments, branches, a loop, calls."""
    return "".join(
        f"x{i} = {i} * 2\nif x{i} > 3:\n    y{i} = x{i} + x{max(i - 1, 0)}\nelse:\n    y{i} = 0\n"
        f"for k in range(y{i}):\n    print(k, y{i})\n"
        for i in range(n)
    )


KINDS = {"functions": (functions, 9), "class": (one_class, 8), "module": (module_level, 7)}


def lines_to_program(kind: str, lines: int) -> str:
    make, per = KINDS[kind]
    return make(max(1, lines // per))


def time_one(code: str, linter: FastLinter, seed: int) -> tuple[float, list[str]]:
    t = time.process_time()
    edits = sample_edit_sequence(code, seed=seed, linter=linter)
    return time.process_time() - t, edits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="500,1000,2000,5000")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--text-max", type=int, default=2000, help="largest size timed on the text path")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"{'kind':10} {'lines':>6} {'edits':>6} {'incremental s':>14} {'text s':>9} {'ratio':>7}")
    for kind in args.kinds.split(","):
        for size in map(int, args.sizes.split(",")):
            code = lines_to_program(kind, size)
            t_new, edits = time_one(code, FastLinter(incremental=True), args.seed)
            row = f"{kind:10} {code.count(chr(10)):6d} {len(edits):6d} {t_new:14.2f}"
            if size <= args.text_max:
                t_old, old = time_one(code, FastLinter(incremental=False), args.seed)
                if old != edits:
                    raise SystemExit(f"{kind} {size}: the two paths made different sequences")
                row += f" {t_old:9.2f} {t_old / t_new:6.1f}x"
            print(row, flush=True)


if __name__ == "__main__":
    main()
