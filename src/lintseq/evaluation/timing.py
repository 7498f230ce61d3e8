"""Per-task time limits from the reference solution's measured time, as EvalPlus sets them.

EvalPlus's documented rule gives each test input max(4 s, 4 x the reference solution's time on
it). The bundled HumanEval+ and MBPP+ tests run all of a task's inputs in one program, so a
task's limit here is max(MIN_TIME_LIMIT, FACTOR x T), 4 s and 4 by default: T is the wall time
of the reference solution judged as a sample is (`Problem.job_for`: its process, the harness, the test)
measured in the same sandbox, with the same workers, on this machine. A slow machine measures a
slow reference, so it does not fail correct solutions for its own speed.

Inside that limit, each input of a plus test's loop gets twice EvalPlus's per-input limit,
INPUT_SLACK x max(MIN_INPUT_LIMIT, FACTOR x t) = max(2 s, 8 t) by default, t the milliseconds
the reference's process took on that input (`Job.measure`, `input_limits`): the harness fails
a sample whose answer is that late, so one that loops stops after ~2 s, not at the task's
limit. Twice, because one input's wall-clock wait does not average out a busy machine's spikes
as a whole task does: on 2 cores at load 8, EvalPlus's own limit failed a correct HumanEval+ 59
variant (an input answered in 0.27 s took over 1 s) and, in the same runs, EvalPlus failed the
references of HumanEval+ 15 and 130.

Measurements are cached in `lintseq.cache.cache_dir()/reference-times.json`, keyed by host, Python version,
sandbox mode and the program's hash, and written atomically; only tasks that have samples are
measured, each once per machine.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lintseq.cache import cache_dir
from lintseq.evaluation.sandbox import Job, Result, Sandbox

FACTOR = 4.0  # EvalPlus's gt_time_limit_factor
MIN_TIME_LIMIT = 4.0  # the floor of EvalPlus's documented rule
MIN_INPUT_LIMIT = 1.0  # the floor EvalPlus 0.3.1 gives each input (its DEFAULT_MIN_TIME_LIMIT)
INPUT_SLACK = 2.0  # times EvalPlus's per-input limit (see above)
MEASURE_TIMEOUT = 300.0  # for the reference itself: the slowest (MBPP+ 599) takes ~40 s on 2 busy cores
CACHE_NAME = "reference-times.json"


def task_limit(reference: float | None, floor: float, factor: float = FACTOR) -> float:
    """max(floor, factor x reference); the floor alone when there is no reference time."""
    return floor if reference is None else max(floor, factor * reference)


def input_limits(ms: Sequence[int] | None, floor: float = MIN_INPUT_LIMIT, factor: float = FACTOR) -> tuple[float, ...]:
    """Each input's limit, INPUT_SLACK x max(floor, factor x its reference time); () without
    measured times."""
    return tuple(INPUT_SLACK * max(floor, factor * t / 1000) for t in ms) if ms else ()


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
    progress: Callable[[Iterable[Result]], Iterable[Result]] | None = None,
    cache: Path | None = None,
) -> References:
    """The wall time of each (reference) program, from the cache or measured in `sandbox`
    (a `Job` with `measure` also gives its per-input times)."""
    path = cache or cache_dir() / CACHE_NAME
    known = _load(path)
    keys = [_key(p, sandbox.mode) for p in programs]
    todo = sorted({k: i for i, k in enumerate(keys) if k not in known}.values())
    results: Iterable[Result] = sandbox.run_many((programs[i] for i in todo), (MEASURE_TIMEOUT for _ in todo))
    if progress and todo:
        results = progress(results)
    new: dict[str, Entry] = {}
    failures: dict[int, Result] = {}
    for i, res in zip(todo, results):
        if res.passed:
            new[keys[i]] = (res.duration, res.input_ms)
        else:
            failures[i] = res
    again = [i for i, res in failures.items() if res.status != "timeout"]
    for i, res in zip(again, sandbox.run_many([programs[i] for i in again], [MEASURE_TIMEOUT] * len(again))):
        if res.passed:  # a reference that failed (not timed out) is run once more before it counts as failed
            new[keys[i]] = (res.duration, res.input_ms)
            del failures[i]
        else:
            failures[i] = res
    if new:
        _save(path, new)
    times = {**known, **new}
    got = [times.get(k) for k in keys]
    return References([e[0] if e else None for e in got], len(todo), failures, [e[1] if e else None for e in got])
