"""`mine` end to end: files -> candidate rows -> size filters -> decontamination -> dedup -> JSONL.

Files are read in sorted order (in a process pool when `workers > 1`, results still in order),
and the filters that compare rows with each other run in this process, so the output and its
summary are the same for any number of workers. A file that cannot be read or parsed, or whose
mining fails in any other way, is counted with its reason (and a few example paths per reason)
and the run goes on. The output and the summary are written to temporary names and moved into
place at the end (the old summary is removed first): an interrupted run leaves no file that
looks complete, and never a new output beside an old summary.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lintseq.io import AtomicFile, dumps_line
from lintseq.mining.decontaminate import Decontaminator
from lintseq.mining.dedup import Deduplicator
from lintseq.mining.extract import extract, parse, read_source
from lintseq.mining.mine_settings import DEFAULT_MAX_LINES, DEFAULT_MIN_LINES, MineSettings
from lintseq.mining.provenance import package_of, provenance

__all__ = ["DEFAULT_MAX_LINES", "DEFAULT_MIN_LINES", "MineSettings", "MineSummary", "mine", "mine_file", "summary_path"]

ERROR_EXAMPLES = 3  # example paths kept per file error reason
NOT_SELF_CONTAINED = "needs module-level names"


CONTAMINATED_EXAMPLES = 50  # rows listed in the summary as dropped for contamination


@dataclass
class MineSummary:
    """`files_unparsable`: files that could not be read or parsed; `files_failed`: files whose
    mining failed otherwise; `file_errors`: {reason: {"count", "examples"}} for both.
    `kept_not_self_contained`: kept rows whose `free_names` is not empty."""

    files_scanned: int = 0
    files_unparsable: int = 0
    files_failed: int = 0
    functions_found: int = 0
    kept: int = 0
    kept_not_self_contained: int = 0
    removed: Counter = field(default_factory=Counter)
    contaminated: Counter = field(default_factory=Counter)
    # the first rows dropped as contaminated, so a false positive can be seen and checked
    contaminated_examples: list[dict[str, Any]] = field(default_factory=list)
    file_errors: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def file_error(self, reason: str, example: str) -> None:
        entry = self.file_errors.setdefault(reason, {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < ERROR_EXAMPLES:
            entry["examples"].append(example)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["removed"] = dict(sorted(self.removed.items()))
        out["contaminated"] = dict(sorted(self.contaminated.items()))
        out["file_errors"] = dict(sorted(self.file_errors.items()))
        return out

    def lines(self) -> list[str]:
        found = "" if not self.functions_found else f", {self.functions_found} functions with docstrings"
        failed = f", {self.files_failed} failed" if self.files_failed else ""
        out = [
            f"{self.files_scanned} files scanned ({self.files_unparsable} unparsable{failed}){found}; "
            f"kept {self.kept} rows in {self.seconds:.1f}s"
        ]
        if self.kept_not_self_contained:
            out.append(f"  kept {self.kept_not_self_contained} rows that use module-level names (free_names)")
        for reason, entry in sorted(self.file_errors.items(), key=lambda kv: (-kv[1]["count"], kv[0])):
            out.append(f"  file errors {entry['count']}: {reason}, e.g. {entry['examples'][0]}")
        for reason, count in sorted(self.removed.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  removed {count}: {reason}")
        for bench, count in sorted(self.contaminated.items()):
            out.append(f"    contaminated by {bench}: {count}")
        for ex in self.contaminated_examples[:3]:
            where = ex["source"].get("path", "?") + (
                f" {ex['source']['qualname']}" if ex["source"].get("qualname") else ""
            )
            out.append(f"    e.g. {where} ({', '.join(ex['benchmarks'])})")
        return out


@dataclass
class Candidate:
    row: dict[str, Any]
    code: str  # what dedup compares
    texts: tuple[str, ...]  # what decontamination checks


def _size_reason(lines: int, limits: tuple[int, int | None]) -> str | None:
    if lines < limits[0]:
        return "too short"
    if limits[1] is not None and lines > limits[1]:
        return "too long"
    return None


FileError = tuple[str, str]  # (reason, example: "path: what went wrong")


def _syntax_reason(exc: SyntaxError, path: Path) -> str:
    """The parser's message as a category: without the file's name and line numbers."""
    msg = str(exc.msg or "SyntaxError").replace(f" for {str(path)!r}", "")
    msg = re.sub(r"\bline \d+", "line N", msg)
    return msg if len(msg) <= 100 else msg[:99] + "…"


def mine_file(path: Path, settings: MineSettings) -> tuple[list[Candidate], Counter, FileError | None]:
    """The rows one file offers, the counts of what it left out ("found" is a bookkeeping key,
    not a removal reason) and, when the file could not be mined, why. Never raises for a bad
    file: unreadable or unparsable ones and any failure while mining are reported."""
    try:
        source = read_source(path)
        tree = parse(source)
    except SyntaxError as exc:
        where = f":{exc.lineno}" if exc.lineno else ""
        message = str(exc.msg).replace(f" for {str(path)!r}", "")
        return [], Counter(), (f"unparsable: {_syntax_reason(exc, path)}", f"{path}{where}: {message}")
    except (UnicodeDecodeError, LookupError, OSError) as exc:
        return [], Counter(), (f"unparsable: {type(exc).__name__}", f"{path}: {exc}")
    try:
        return _mine_source(path, source, tree, settings) + (None,)
    except Exception as exc:  # a bug or an input we did not foresee: lose this file, not the run
        return [], Counter(), (f"file failed: {type(exc).__name__}", f"{path}: {str(exc)[:200]}")


def _mine_source(path: Path, source: str, tree: Any, settings: MineSettings) -> tuple[list[Candidate], Counter]:
    origin = provenance(path)
    limits = settings.limits()
    counts: Counter = Counter()
    if settings.raw:
        counts["found"] += 1
        reason = _size_reason(sum(1 for line in source.splitlines() if line.strip()), limits)
        if reason:
            counts[reason] += 1
            return [], counts
        return [Candidate({"text": source, "source": origin}, source, (source,))], counts
    functions, counts = extract(source, tree, package_of(path))
    out = []
    for fn in functions:
        reason = _size_reason(fn.lines, limits)
        if reason is None and len(fn.docstring) < settings.min_docstring_chars:
            reason = "docstring too short"
        if reason is None and settings.self_contained and fn.free_names:
            reason = NOT_SELF_CONTAINED
        if reason:
            counts[reason] += 1
            continue
        source_info = {"path": origin["path"], "qualname": fn.qualname, "lineno": fn.lineno}
        source_info.update({k: v for k, v in origin.items() if k != "path"})
        row = {
            "instruction": fn.instruction,
            "response": fn.response,
            "free_names": list(fn.free_names),
            "source": source_info,
        }
        out.append(Candidate(row, fn.response, (fn.docstring, fn.response)))
    return out, counts


_SETTINGS: MineSettings | None = None


def _init(settings: MineSettings) -> None:
    global _SETTINGS
    _SETTINGS = settings


def _work(path: Path) -> tuple[list[Candidate], Counter, FileError | None]:
    assert _SETTINGS is not None
    return mine_file(path, _SETTINGS)


def summary_path(output: Path) -> Path:
    return output.with_name(output.name + ".summary.json")


def _count_file(summary: MineSummary, counts: Counter, error: FileError | None, raw: bool) -> None:
    """One file's counts (and error, if any) into the run's summary."""
    summary.files_scanned += 1
    if error is not None:
        if error[0].startswith("unparsable"):
            summary.files_unparsable += 1
        else:
            summary.files_failed += 1
        summary.file_error(*error)
    found = counts.pop("found", 0)
    summary.functions_found += 0 if raw else found
    summary.removed.update(counts)


def _kept(
    cand: Candidate, summary: MineSummary, decontaminator: Decontaminator | None, dedup: Deduplicator | None
) -> bool:
    """Whether a candidate survives decontamination and deduplication, counted either way."""
    if decontaminator is not None:
        hits = decontaminator.check(*cand.texts)
        if hits:
            summary.removed["contaminated"] += 1
            summary.contaminated.update(hits)
            if len(summary.contaminated_examples) < CONTAMINATED_EXAMPLES:
                summary.contaminated_examples.append({"source": cand.row.get("source", {}), "benchmarks": list(hits)})
            return False
    if dedup is not None:
        reason = dedup.check(cand.code)
        if reason:
            summary.removed[reason] += 1
            return False
    summary.kept += 1
    summary.kept_not_self_contained += bool(cand.row.get("free_names"))
    return True


def mine(
    files: Iterable[Path],
    output: str | Path,
    settings: MineSettings = MineSettings(),
    *,
    workers: int | None = None,
    progress: bool = True,
    decontaminator: Decontaminator | None = None,
) -> MineSummary:
    """Mine `files` (in the order given) into `output` (JSON Lines) and `output.summary.json`,
    with `workers` processes [`settings.workers`]."""
    began = time.perf_counter()
    workers = settings.workers if workers is None else workers
    files = list(files)
    output = Path(output)
    summary = MineSummary()
    if not settings.decontaminate:
        decontaminator = None
    elif decontaminator is None:
        decontaminator = Decontaminator(n=settings.ngram)
    dedup = Deduplicator(settings.near_threshold, settings.num_perm) if settings.dedup else None

    from tqdm import tqdm

    summary_file = summary_path(output)
    rows = AtomicFile(output)
    summary_out: AtomicFile | None = None
    pool = None
    try:
        if workers > 1:
            pool = multiprocessing.get_context("fork").Pool(workers, _init, (settings,))
            results: Iterable[tuple[list[Candidate], Counter, FileError | None]] = pool.imap(_work, files, chunksize=4)
        else:
            results = (mine_file(p, settings) for p in files)
        bar = tqdm(
            results, total=len(files), unit="file", desc="lintseq mine", disable=not progress, dynamic_ncols=True
        )
        for candidates, counts, error in bar:
            _count_file(summary, counts, error, settings.raw)
            for cand in candidates:
                if _kept(cand, summary, decontaminator, dedup):
                    rows.write(dumps_line(cand.row))
        summary.seconds = round(time.perf_counter() - began, 2)
        report = summary.to_dict() | {"settings": settings.describe(), "output": str(output)}
        # the summary is written first and the old one removed before either file moves into
        # place: an interruption leaves the old pair, or an output without a summary, never a
        # new output beside an old summary
        summary_out = AtomicFile(summary_file)
        summary_out.write(json.dumps(report, indent=2) + "\n")
        summary_out.close()
        rows.close()
        if summary_file.is_file():
            summary_file.unlink()
        rows.commit()
        summary_out.commit()
    except BaseException:
        rows.discard()
        if summary_out is not None:
            summary_out.discard()
        raise
    finally:
        if pool is not None:
            pool.terminate()
    return summary
