"""Read input rows from JSON Lines or Parquet, one (row number, record) at a time.

A line that is not a JSON object is not an exception but a `Reject` with its reason: one bad
row in a million must not stop a run, and must not vanish either. `iter_records` numbers rows
as `generate` does (from 0, non-blank lines); `read_rows` by line number, with the line's text,
as `format` reports rejects and `train` reports errors. Both read lines with `lintseq.io`.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lintseq.io import read_jsonl


@dataclass(frozen=True)
class Reject:
    """A row that could not be used, and why. `reason` starts with a short category."""

    row: int
    reason: str
    excerpt: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "reason": self.reason, "excerpt": self.excerpt}

    @property
    def category(self) -> str:
        return self.reason.split(":", 1)[0]


def is_parquet(path: str | Path) -> bool:
    return str(path).endswith((".parquet", ".pq"))


def count_rows(path: str | Path) -> int:
    """Rows in the file (non-blank lines for JSONL), for progress bars and `-n`."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def iter_jsonl(path: str | Path | int) -> Generator[tuple[int, dict[str, Any] | Reject], None, None]:
    """Rows numbered from 0, counting non-blank lines only (a generator: `close` closes the file)."""
    for line in read_jsonl(path):
        yield line.index, line.value if line.value is not None else Reject(line.index, line.error, line.text[:200])


def iter_parquet(path: str | Path, batch_size: int = 1024) -> Iterator[tuple[int, dict[str, Any] | Reject]]:
    import pyarrow.parquet as pq

    row = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
        for record in batch.to_pylist():
            yield row, record
            row += 1


def iter_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | Reject]]:
    """(row number, record or Reject) for every row of a JSONL or Parquet file."""
    return iter_parquet(path) if is_parquet(path) else iter_jsonl(path)


def read_rows(path: str | Path) -> Iterator[tuple[int, dict | None, str]]:
    """(line number, row or None, raw text) for JSON Lines; Parquet rows get their index (from 1)."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        for n, row in enumerate(pq.read_table(path).to_pylist(), 1):
            yield n, row, json.dumps(row, ensure_ascii=False, default=str)
        return
    for line in read_jsonl(path):
        yield line.number, line.value, line.text
