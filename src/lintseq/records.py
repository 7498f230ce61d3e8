"""Read input rows from JSON Lines or Parquet, one (row number, record) at a time.

A line that is not a JSON object is not an exception but a `Reject` with its reason: one bad
row in a million must not stop a run, and must not vanish either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator


@dataclass(frozen=True)
class Reject:
    """A row that could not be used, and why. `reason` starts with a short category."""

    row: int
    reason: str
    excerpt: str = ""

    def to_json(self) -> dict[str, Any]:
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


def _excerpt(raw: bytes | str, limit: int = 200) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "backslashreplace")
    return raw[:limit]


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | Reject]]:
    """Rows numbered from 0, counting non-blank lines only."""
    row = 0
    with open(path, "rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield row, Reject(row, f"not UTF-8: byte {raw[exc.start]:#04x} at offset {exc.start}", _excerpt(raw))
                row += 1
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield row, Reject(row, f"invalid JSON: {exc.msg} at column {exc.colno}", _excerpt(text))
            else:
                if isinstance(value, dict):
                    yield row, value
                else:
                    yield row, Reject(row, f"not a JSON object: {type(value).__name__}", _excerpt(text))
            row += 1


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
