"""Per-task time limits from the reference solution's measured time, as EvalPlus sets them.

EvalPlus's documented rule gives each test input max(4 s, 4 x the reference solution's time on
it). The bundled HumanEval+ and MBPP+ tests run all of a task's inputs in one program, so a
task's limit here is max(MIN_TIME_LIMIT, FACTOR x T), 4 s and 4 by default: T is the wall time
of the reference solution judged as a sample is (`Problem.job_for`: its process, the harness, the test)
measured in the same sandbox, with the same workers, on this machine. A slow machine measures a
slow reference, so it does not fail correct solutions for its own speed.

Inside that limit, each input of a plus test's loop gets EvalPlus's per-input limit,
max(MIN_INPUT_LIMIT, FACTOR x t) = max(1 s, 4 t) by default, t the milliseconds the
reference's process took on that input (`Job.measure`, `input_limits`), counted in the
candidate process's CPU time, with twice that of waiting as a backstop for a candidate that
uses none (`_launcher.WALL_SLACK`): the harness fails a sample whose answer is that late, so
one that loops stops after ~1 s, not at the task's limit. CPU time, because one input's
wall-clock wait does not average out a busy machine's spikes as a whole task does: on 2 cores
at load 8, EvalPlus's own (wall-clock) limit failed a correct HumanEval+ 59 variant (an input
answered in 0.27 s took over 1 s) and, in the same runs, EvalPlus failed the references of
HumanEval+ 15 and 130.

Measurements are cached in `lintseq.cache.cache_dir()/reference-times.json`, keyed by host, Python version,
sandbox mode and the program's hash, and written atomically; only tasks that have samples are
measured, each once per machine.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from lintseq.cache import cache_dir
from lintseq.evaluation.sandbox import Job, Result, Sandbox

FACTOR = 4.0  # EvalPlus's gt_time_limit_factor
MIN_TIME_LIMIT = 4.0  # the floor of EvalPlus's documented rule
MIN_INPUT_LIMIT = 1.0  # the floor EvalPlus 0.3.1 gives each input (its DEFAULT_MIN_TIME_LIMIT)
MEASURE_TIMEOUT = 300.0  # for the reference itself: the slowest (MBPP+ 599) takes ~40 s on 2 busy cores
CACHE_NAME = "reference-times.json"


def task_limit(reference: float | None, floor: float, factor: float = FACTOR) -> float:
    """max(floor, factor x reference); the floor alone when there is no reference time."""
    return floor if reference is None else max(floor, factor * reference)


def input_limits(ms: Sequence[int] | None, floor: float = MIN_INPUT_LIMIT, factor: float = FACTOR) -> tuple[float, ...]:
    """Each input's limit, max(floor, factor x its reference time) of the candidate's CPU time;
    () without measured times."""
    return tuple(max(floor, factor * t / 1000) for t in ms) if ms else ()


@dataclass
class References:
    """Reference times for a list of programs, in their order (None where the reference failed)."""

    seconds: list[float | None]
    measured: int = 0  # how many were run now (the rest came from the cache)
    failures: dict[int, Result] = field(default_factory=dict)  # index -> the failed run
    inputs: list[list[int] | None] = field(default_factory=list)  # per-input milliseconds (`Result.input_ms`)


def _key(program: str | Job, mode: str) -> str:
    where = f"{platform.node()}\0{sys.version}\0{mode}\0"
    text = program.text() if isinstance(program, Job) else program
    return hashlib.sha256((where + text).encode("utf-8", "surrogatepass")).hexdigest()


Entry = tuple[float, list[int] | None]  # seconds, and per-input milliseconds where measured


def _entry(value) -> Entry | None:
    """A cache value: seconds (as before per-input times), or [seconds, [ms, ...]]."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], list):
        ms = value[1] if all(type(t) is int and t >= 0 for t in value[1]) else None
        value = value[0]
    else:
        ms = None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value), ms
    return None


def _load(path: Path) -> dict[str, Entry]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: e for k, v in doc.items() if (e := _entry(v)) is not None}


def _save(path: Path, new: dict[str, Entry]) -> None:
    """Merge `new` into the cache file (re-read first: another run may have added entries)."""
    from lintseq.io import write_atomic

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {k: [s, ms] if ms else s for k, (s, ms) in {**_load(path), **new}.items()}
        write_atomic(path, json.dumps(doc, sort_keys=True) + "\n")
    except OSError:
        pass  # a read-only home: measure again next time


def reference_times(
    programs: Sequence[str | Job],
    sandbox: Sandbox,
    progress: Callable[[Iterable], Iterable] | None = None,
    cache: Path | None = None,
) -> References:
    """The wall time of each (reference) program, from the cache or measured in `sandbox`
    (a `Job` with `measure` also gives its per-input times)."""
    got: dict[int, tuple[Entry | None, Result | None]] = {}
    with ThreadPoolExecutor(sandbox.workers) as pool:
        runs = ReferenceRuns(programs, sandbox.mode, lambda job, limit: pool.submit(sandbox.run, job, limit), cache)
        runs.start()
        got.update((i, (entry, failed)) for i, entry, failed in runs.cached())

        def measured() -> Iterator[Result]:
            while runs.pending:
                finished, _ = wait(runs.pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    for i, entry, failed in runs.done(future):
                        got[i] = entry, failed
                    yield future.result()

        try:
            for _ in progress(measured()) if progress is not None and runs.pending else measured():
                pass
        finally:
            runs.save()
    failures = {i: failed for i, (_, failed) in got.items() if failed is not None}
    entries = [got[i][0] for i in range(len(programs))]
    return References(
        [e[0] if e else None for e in entries], runs.measured, failures, [e[1] if e else None for e in entries]
    )


Measured = tuple[int, Entry | None, Result | None]  # program index, its time (None: failed), the failed run


class ReferenceRuns:
    """The times of reference programs (`mode`: the sandbox's), from the cache or measured by
    `submit(program, time limit) -> Future`, a pool the caller may give other work meanwhile
    (the evaluator runs a task's samples as soon as its reference is in) and waits on
    (`pending`, then `done`). A reference that fails other than by timing out runs once more
    before it counts as failed; `save` adds the new times to the cache."""

    def __init__(
        self,
        programs: Sequence[str | Job],
        mode: str,
        submit: Callable[[str | Job, float], Future],
        cache: Path | None = None,
    ):
        self.programs, self.submit = programs, submit
        self.path = cache or cache_dir() / CACHE_NAME
        self.known = _load(self.path)
        self.groups: dict[str, list[int]] = {}  # one run for programs that hash alike
        for i, program in enumerate(programs):
            self.groups.setdefault(_key(program, mode), []).append(i)
        self.todo = [k for k in self.groups if k not in self.known]
        self.measured = len(self.todo)
        self.pending: dict[Future, tuple[str, bool]] = {}  # run -> (key, whether it is the second try)
        self.new: dict[str, Entry] = {}

    def start(self) -> None:
        for k in self.todo:
            self._submit(k, False)

    def cached(self) -> list[Measured]:
        return [(i, self.known[k], None) for k, indices in self.groups.items() if k in self.known for i in indices]

    def done(self, future: Future) -> list[Measured]:
        """What a finished run says (nothing yet when it failed a first time: it runs again)."""
        k, again = self.pending.pop(future)
        res = future.result()
        if res.passed:
            self.new[k] = (res.duration, res.input_ms)
        elif res.status != "timeout" and not again:
            self._submit(k, True)
            return []
        return [(i, self.new.get(k), None if res.passed else res) for i in self.groups[k]]

    def save(self) -> None:
        if self.new:
            _save(self.path, self.new)

    def _submit(self, k: str, again: bool) -> None:
        self.pending[self.submit(self.programs[self.groups[k][0]], MEASURE_TIMEOUT)] = k, again
