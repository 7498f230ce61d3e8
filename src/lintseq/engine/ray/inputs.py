"""Which files a Ray run reads, and how they are cut into chunks of whole rows.

Row identity: the shards are taken in sorted path order and their rows numbered on from one
shard to the next, as if the shards were one file concatenated in that order. For a single file
this is the local engine's numbering (non-blank lines from 0), so both engines give a row the
same `row` field, the same `-n` subset and the same seeds.

A chunk is a run of consecutive rows of one shard. Even a single big file is cut into many
chunks, because Ray's own file readers give one block (one task) per file.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from lintseq.engine.records import is_parquet

SHARD_SUFFIXES = (".jsonl", ".json", ".parquet", ".pq")
GRAIN = 8  # JSONL scans remember the byte offset of every GRAIN-th row; chunks are multiples of it


class EngineError(RuntimeError):
    """A Ray run cannot start; the message says why and what to do."""


class InputError(EngineError):
    """INPUT names nothing that can be read."""


@dataclass(frozen=True)
class ShardScan:
    """What a scan of one shard learned: its rows, and where every GRAIN-th row starts."""

    path: str
    rows: int
    offsets: tuple[int, ...] = ()  # JSONL only: byte offset of row k*GRAIN


@dataclass(frozen=True)
class Chunk:
    """Consecutive rows of one shard: the unit of work, of retry and of output (one part file)."""

    index: int  # position in the plan; names the part files
    path: str
    first_row: int  # global row number of the chunk's first row
    rows: int  # rows in the chunk
    start: int  # JSONL: byte offset of the first row's line; Parquet: row number within the file
    chosen: tuple[int, ...] | None = None  # with `-n`: the global rows of this chunk to use

    @property
    def parquet(self) -> bool:
        return is_parquet(self.path)

    def covers(self, row: int) -> bool:
        return self.first_row <= row < self.first_row + self.rows


def _is_shard(path: Path, root: Path | None = None) -> bool:
    """A data file, skipping `.`/`_` names below `root` (as pyarrow and Ray Data do)."""
    parts = path.relative_to(root).parts if root is not None else path.parts[-1:]
    hidden = any(part.startswith((".", "_")) for part in parts)
    return path.is_file() and not hidden and path.name.endswith(SHARD_SUFFIXES)


def _walk(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if _is_shard(p, path)] if path.is_dir() else [path]


def expand_inputs(spec: str | os.PathLike) -> list[Path]:
    """The shards named by a file, a directory (searched recursively) or a glob, sorted."""
    text = os.fspath(spec)
    if glob.has_magic(text):
        parts = Path(text).parts
        fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
        root = Path(*parts[:fixed]) if fixed else Path()
        matches = map(Path, glob.glob(text, recursive=True))
        files = [q for p in matches for q in _walk(p) if _is_shard(q, root)]
        if not files:
            raise InputError(f"no {', '.join(SHARD_SUFFIXES)} files match {text!r}")
    else:
        path = Path(text)
        if path.is_dir():
            files = _walk(path)
            if not files:
                raise InputError(f"{text}: no {', '.join(SHARD_SUFFIXES)} files in this directory")
        elif path.is_file():
            files = [path]
        else:
            raise InputError(f"{text}: no such file or directory")
    return sorted(set(files), key=str)


def scan_shard(path: str) -> ShardScan:
    """Count a shard's rows; for JSONL note row offsets (the same line rule as `iter_jsonl`)."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return ShardScan(path, pq.ParquetFile(path).metadata.num_rows)
    rows, pos, offsets = 0, 0, []
    with open(path, "rb") as f:
        for raw in f:
            if raw.strip():
                if rows % GRAIN == 0:
                    offsets.append(pos)
                rows += 1
            pos += len(raw)
    return ShardScan(path, rows, tuple(offsets))


def default_chunk_rows(total: int, linter: str = "fast") -> int:
    """About 8 chunks for small inputs, at most 1024 rows (128 with the slow pylint linter) for
    big ones. Ray Data costs tens of milliseconds per task, so a chunk should hold seconds of
    work; and a chunk is what a retry redoes. Fixed by the input and settings alone, so a rerun
    makes the same chunks and can keep the parts already written."""
    rows = min(128 if linter == "pylint" else 1024, max(32, -(-total // 8)))
    return -(-rows // GRAIN) * GRAIN


def plan_chunks(scans: list[ShardScan], chunk_rows: int, chosen: set[int] | None = None) -> list[Chunk]:
    """Cut the shards into chunks; with `chosen` (the `-n` subset), drop chunks left empty."""
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    chunk_rows = -(-chunk_rows // GRAIN) * GRAIN
    chunks: list[Chunk] = []
    first = 0
    index = 0
    for scan in scans:
        for start in range(0, scan.rows, chunk_rows):
            n = min(chunk_rows, scan.rows - start)
            where = start if is_parquet(scan.path) else scan.offsets[start // GRAIN]
            picked = None
            if chosen is not None:
                picked = tuple(r for r in range(first + start, first + start + n) if r in chosen)
            if picked != ():
                chunks.append(Chunk(index, scan.path, first + start, n, where, picked))
            index += 1
        first += scan.rows
    return chunks
