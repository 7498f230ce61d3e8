"""Turn a dataset of (instruction, program) rows into LintSeq edit sequences (docs/design.md §2.7).

`process_record` is the whole job for one row and is pure: the local engine here and the Ray
engine both call it, so their outputs are the same rows. `generate` adds the local engine:
a process pool, output written in input order through `journal.Journal` (crash-safe,
resumable), rejects with reasons, and a summary.
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import random
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lintseq.diffs import apply_edits
from lintseq.engine.edit_paths import derive_seed, edit_sequence
from lintseq.engine.journal import Journal
from lintseq.engine.records import Reject, count_rows, iter_records
from lintseq.engine.summary import Summary
from lintseq.engine.units import SourceError, normalize, split_units
from lintseq.linters import get_linter
from lintseq.markdown import NotPython, extract_code
from lintseq.settings import setting


@dataclass(frozen=True)
class Settings:
    """Everything that decides the output rows; saved with a run so `--resume` can check it."""

    instruction_field: str = setting("instruction")
    code_field: str = setting("response")
    samples: int = setting(1, help="Edit sequences per program.", flags=("-s", "--samples"), min=1)
    seed: int = setting(0, help="Run seed; per-program seeds derive from it.")
    linter: str = setting(
        "fast",
        help="fast: in-process; pylint: the release's judgement; none: the no-linter ablation.",
        choices=("fast", "pylint", "none"),
    )
    weighting: str = setting(
        "indent", help="Which line to delete first: weighted by depth + 1, or uniformly.", choices=("indent", "uniform")
    )
    markdown: bool = setting(True, help="Reduce Markdown answers to their code blocks.")
    # a random subset of rows, drawn with the seed (the field keeps its name: saved runs compare it)
    limit: int | None = setting(
        None, help="Use a random subset of N rows, drawn with --seed.", flags=("--subset",), min=1, metavar="N"
    )

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def _check_program(code: str) -> Any:
    """The program's units, or the reason it cannot be used."""
    if not code.strip():
        return "empty program"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(code)
        except SyntaxError as exc:
            return f"does not parse: {exc.msg} (line {exc.lineno})"
        except (ValueError, MemoryError, RecursionError) as exc:
            return f"does not parse: {exc}"
    try:
        program = split_units(code)
    except SourceError as exc:
        return f"does not parse: {exc}"
    if not program.units:
        return "no code: only comments and blank lines"
    return program


def process_record(row: int, record: dict[str, Any] | Reject, settings: Settings) -> list[dict[str, Any]] | Reject:
    """The output rows for one input row (one per sample), or why it was rejected."""
    if isinstance(record, Reject):
        return record
    for field in (settings.instruction_field, settings.code_field):
        if field not in record:
            return Reject(row, f"missing field: {field!r}", str(sorted(record))[:200])
        if not isinstance(record[field], str):
            return Reject(row, f"field not a string: {field!r} is {type(record[field]).__name__}")
    code = record[settings.code_field]
    extracted = False
    if settings.markdown:
        try:
            code, extracted = extract_code(code)
        except NotPython as exc:
            return Reject(row, f"not Python: {exc}", record[settings.code_field][:200])
    program = _check_program(code)
    if isinstance(program, str):
        return Reject(row, program, code[:200])
    out = []
    base = dict(record)
    base[settings.code_field] = code
    if extracted:
        base["markdown_extracted"] = True
    try:
        linter = None if settings.linter == "none" else get_linter(settings.linter)
        for sample in range(settings.samples):
            seed = derive_seed(settings.seed, code, sample)
            edits = edit_sequence(program, random.Random(seed), linter, settings.weighting)  # type: ignore[arg-type]  # a str the sampler checks
            if apply_edits(edits) != normalize(code):
                return Reject(row, "internal error: edits do not rebuild the program", code[:200])
            out.append({**base, "edit_path": edits, "sample": sample, "seed": seed, "n_edits": len(edits), "row": row})
    except RecursionError:
        return Reject(row, "too deeply nested: recursion limit", code[:200])
    return out


# --- the local engine --------------------------------------------------------------------

_SETTINGS: Settings | None = None


def _init_worker(settings: Settings) -> None:
    global _SETTINGS
    _SETTINGS = settings
    if settings.linter != "none":
        get_linter(settings.linter)  # pay start-up once per worker


def _work(item: tuple[int, dict[str, Any] | Reject]) -> tuple[int, list[dict[str, Any]] | Reject]:
    assert _SETTINGS is not None
    row, record = item
    return row, process_record(row, record, _SETTINGS)


def pick_rows(total: int, limit: int | None, seed: int) -> set[int] | None:
    """The random subset for `-n` (None: every row); depends only on the seed and size."""
    if limit is None or limit >= total:
        return None
    return set(random.Random(f"subset:{seed}").sample(range(total), limit))


def _selected(path: Path, chosen: set[int] | None, start: int) -> Iterator[tuple[int, Any]]:
    for row, record in iter_records(path):
        if row < start or (chosen is not None and row not in chosen):
            continue
        yield row, record


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def generate(
    input_path: str | Path,
    output_path: str | Path,
    settings: Settings = Settings(),
    *,
    workers: int | None = None,
    rejects_path: str | Path | None = None,
    resume: bool = False,
    restart: bool = False,
    progress: bool = True,
) -> Summary:
    """Run the local engine over a whole file. Returns the run's summary."""
    input_path = Path(input_path)
    workers = workers or default_workers()
    journal = Journal(
        Path(output_path),
        Path(rejects_path) if rejects_path else None,
        settings.describe() | {"input": str(input_path)},
    )
    summary = Summary()
    start = journal.open(resume=resume, restart=restart, summary=summary)
    total = count_rows(input_path)
    chosen = pick_rows(total, settings.limit, settings.seed)
    todo = sum(1 for r in (chosen if chosen is not None else range(total)) if r >= start)
    items = _selected(input_path, chosen, start)

    from tqdm import tqdm

    bar = tqdm(total=todo, unit="row", disable=not progress, desc="lintseq generate", dynamic_ncols=True)
    began = time.perf_counter()
    done = 0
    pool = None
    try:
        results: Iterable[tuple[int, Any]]
        if workers <= 1:
            _init_worker(settings)
            results = map(_work, items)
        else:
            pool = multiprocessing.get_context("fork").Pool(workers, _init_worker, (settings,))
            results = pool.imap(_work, items, chunksize=4)
        for row, result in results:
            journal.write(row, result)
            summary.add(result)
            done += 1
            bar.update(1)
        if pool is not None:
            pool.close()
            pool.join()
    except BaseException:
        if pool is not None:
            pool.terminate()
        journal.abandon()
        raise
    finally:
        bar.close()
    summary.finish(time.perf_counter() - began, done, workers)
    journal.commit(summary)
    return summary
