"""The work of one chunk, as a Ray task runs it: read its rows, make their sequences, serialize.

Rows are read with the local engine's readers and turned into output with the local engine's
`process_record` and line encoder, so each row's output lines are byte for byte the local
engine's. Nothing here imports Ray: it is plain Python, testable without a cluster.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from lintseq.engine.generate import Settings, process_record
from lintseq.engine.ray.inputs import Chunk
from lintseq.engine.records import Reject, iter_jsonl
from lintseq.engine.summary import Summary
from lintseq.io import encode_line


def _jsonl_rows(chunk: Chunk) -> Iterator[tuple[int, dict[str, Any] | Reject]]:
    """`iter_jsonl` from the chunk's byte offset: it opens the (already positioned) descriptor,
    so malformed lines become the same Rejects, with the same reasons, as in a local run."""
    if chunk.rows <= 0:
        return
    fd = os.open(chunk.path, os.O_RDONLY)
    try:
        os.lseek(fd, chunk.start, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    # From the first next() below, the file object iter_jsonl opens owns (and closes) fd.
    rows = iter_jsonl(fd)
    try:
        for local, record in itertools.islice(rows, chunk.rows):
            row = chunk.first_row + local
            yield row, replace(record, row=row) if isinstance(record, Reject) else record
    finally:
        rows.close()


def _parquet_rows(chunk: Chunk) -> Iterator[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(chunk.path)
    groups: list[tuple[int, int]] = []  # (row group, its first row) for the groups the chunk reaches
    pos = 0
    for g in range(file.metadata.num_row_groups):
        n = file.metadata.row_group(g).num_rows
        if pos + n > chunk.start and pos < chunk.start + chunk.rows:
            groups.append((g, pos))
        pos += n
    if not groups:
        return
    table = file.read_row_groups([g for g, _ in groups]).slice(chunk.start - groups[0][1], chunk.rows)
    for i, record in enumerate(table.to_pylist()):
        yield chunk.first_row + i, record


def read_chunk(chunk: Chunk) -> Iterator[tuple[int, dict[str, Any] | Reject]]:
    """(global row number, record or Reject) for the chunk's rows (only the chosen ones with -n)."""
    rows = _parquet_rows(chunk) if chunk.parquet else _jsonl_rows(chunk)
    if chunk.chosen is None:
        yield from rows
        return
    chosen = set(chunk.chosen)
    for row, record in rows:
        if row in chosen:
            yield row, record


def _parquet_bytes(lines: list[bytes]) -> bytes:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    rows = [json.loads(line.decode("utf-8", "surrogatepass")) for line in lines]
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def _crash_if_asked(row: int, crash_once: tuple[str, int] | None) -> None:
    """Test hook: kill this worker process the first time it reaches `row` (marker file)."""
    if crash_once is None or row != crash_once[1]:
        return
    marker = Path(crash_once[0])
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os._exit(1)


def run_chunk(
    chunk: Chunk, settings: Settings, parquet: bool = False, crash_once: tuple[str, int] | None = None
) -> dict[str, Any]:
    """One chunk's output part, rejects part and summary, ready for the driver to write."""
    outs: list[bytes] = []
    rejects: list[bytes] = []
    summary = Summary()
    done = 0
    for row, record in read_chunk(chunk):
        _crash_if_asked(row, crash_once)
        result = process_record(row, record, settings)
        summary.add(result)
        if isinstance(result, Reject):
            rejects.append(encode_line(result.to_dict()))
        else:
            outs.extend(encode_line(r) for r in result)
        done += 1
    out = (_parquet_bytes(outs) if outs else b"") if parquet else b"".join(outs)
    return {"index": chunk.index, "rows": done, "out": out, "rejects": b"".join(rejects), "summary": summary}
