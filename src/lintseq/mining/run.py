"""`mine` end to end: files -> candidate rows -> size filters -> decontamination -> dedup -> JSONL.

Files are read in sorted order (in a process pool when `workers > 1`, results still in order),
and the filters that compare rows with each other run in this process, so the output and its
summary are the same for any number of workers. The output and the summary are written to
temporary names and moved into place at the end: an interrupted run leaves no file that looks
complete.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from lintseq.mining.decontaminate import DEFAULT_N, Decontaminator
from lintseq.mining.dedup import Deduplicator
from lintseq.mining.extract import extract, parse, read_source
from lintseq.mining.provenance import provenance

DEFAULT_MIN_LINES = 3
DEFAULT_MAX_LINES = 200


@dataclass(frozen=True)
class MineSettings:
    """What decides the output rows. Size limits count non-blank lines of the function (imports
    not counted) or, with `raw`, of the file; in raw mode they apply only when given."""

    raw: bool = False
    min_lines: int | None = None
    max_lines: int | None = None
    min_docstring_chars: int = 10
    decontaminate: bool = True
    ngram: int = DEFAULT_N
    dedup: bool = True
    near_threshold: float = 0.85
    num_perm: int = 128

    def limits(self) -> tuple[int, int | None]:
        if self.raw:
            return self.min_lines or 0, self.max_lines
        return (
            DEFAULT_MIN_LINES if self.min_lines is None else self.min_lines,
            DEFAULT_MAX_LINES if self.max_lines is None else self.max_lines,
        )


@dataclass
class MineSummary:
    files_scanned: int = 0
    files_unparsable: int = 0
    functions_found: int = 0
    kept: int = 0
    removed: Counter = field(default_factory=Counter)
    contaminated: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["removed"] = dict(sorted(self.removed.items()))
        out["contaminated"] = dict(sorted(self.contaminated.items()))
        return out

    def lines(self) -> list[str]:
        found = "" if not self.functions_found else f", {self.functions_found} functions with docstrings"
        out = [
            f"{self.files_scanned} files scanned ({self.files_unparsable} unparsable){found}; "
            f"kept {self.kept} rows in {self.seconds:.1f}s"
        ]
        for reason, count in sorted(self.removed.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  removed {count}: {reason}")
        for bench, count in sorted(self.contaminated.items()):
            out.append(f"    contaminated by {bench}: {count}")
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


def mine_file(path: Path, settings: MineSettings) -> tuple[list[Candidate], Counter]:
    """The rows one file offers and the counts of what it left out; "file unparsable" and
    "found" are bookkeeping keys, not removal reasons."""
    counts: Counter = Counter()
    try:
        source = read_source(path)
        tree = parse(source)
    except (SyntaxError, UnicodeDecodeError, LookupError, OSError):
        counts["file unparsable"] += 1
        return [], counts
    origin = provenance(path)
    limits = settings.limits()
    if settings.raw:
        counts["found"] += 1
        reason = _size_reason(sum(1 for line in source.splitlines() if line.strip()), limits)
        if reason:
            counts[reason] += 1
            return [], counts
        return [Candidate({"text": source, "source": origin}, source, (source,))], counts
    functions, counts = extract(source, tree)
    out = []
    for fn in functions:
        reason = _size_reason(fn.lines, limits)
        if reason is None and len(fn.docstring) < settings.min_docstring_chars:
            reason = "docstring too short"
        if reason:
            counts[reason] += 1
            continue
        source_info = {"path": origin["path"], "qualname": fn.qualname, "lineno": fn.lineno}
        source_info.update({k: v for k, v in origin.items() if k != "path"})
        row = {"instruction": fn.instruction, "response": fn.response, "source": source_info}
        out.append(Candidate(row, fn.response, (fn.docstring, fn.response)))
    return out, counts


_SETTINGS: MineSettings | None = None


def _init(settings: MineSettings) -> None:
    global _SETTINGS
    _SETTINGS = settings


def _work(path: Path) -> tuple[list[Candidate], Counter]:
    assert _SETTINGS is not None
    return mine_file(path, _SETTINGS)


def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def summary_path(output: Path) -> Path:
    return output.with_name(output.name + ".summary.json")


def mine(
    files: Iterable[Path],
    output: str | Path,
    settings: MineSettings = MineSettings(),
    *,
    workers: int = 1,
    progress: bool = True,
    decontaminator: Decontaminator | None = None,
) -> MineSummary:
    """Mine `files` (in the order given) into `output` (JSON Lines) and `output.summary.json`."""
    began = time.perf_counter()
    files = list(files)
    output = Path(output)
    summary = MineSummary()
    if not settings.decontaminate:
        decontaminator = None
    elif decontaminator is None:
        decontaminator = Decontaminator(n=settings.ngram)
    dedup = Deduplicator(settings.near_threshold, settings.num_perm) if settings.dedup else None

    from tqdm import tqdm

    tmp = output.with_name(output.name + ".tmp")
    pool = None
    try:
        if workers > 1:
            pool = multiprocessing.get_context("fork").Pool(workers, _init, (settings,))
            results: Iterable[tuple[list[Candidate], Counter]] = pool.imap(_work, files, chunksize=4)
        else:
            results = (mine_file(p, settings) for p in files)
        bar = tqdm(results, total=len(files), unit="file", desc="lintseq mine", disable=not progress, dynamic_ncols=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            for candidates, counts in bar:
                summary.files_scanned += 1
                summary.files_unparsable += counts.pop("file unparsable", 0)
                found = counts.pop("found", 0)
                summary.functions_found += 0 if settings.raw else found
                summary.removed.update(counts)
                for cand in candidates:
                    if decontaminator is not None:
                        hits = decontaminator.check(*cand.texts)
                        if hits:
                            summary.removed["contaminated"] += 1
                            summary.contaminated.update(hits)
                            continue
                    if dedup is not None:
                        reason = dedup.check(cand.code)
                        if reason:
                            summary.removed[reason] += 1
                            continue
                    fh.write(json.dumps(cand.row, ensure_ascii=False) + "\n")
                    summary.kept += 1
        summary.seconds = round(time.perf_counter() - began, 2)
        report = summary.to_dict() | {"settings": asdict(settings), "output": str(output)}
        os.replace(tmp, output)
        _write_json_atomic(summary_path(output), report)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    finally:
        if pool is not None:
            pool.terminate()
    return summary
