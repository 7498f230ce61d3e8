"""The samples file: crash-safe and resumable.

Rows are appended, one whole problem at a time, to `OUT.partial` (flushed and fsynced); only when
every problem is done is it renamed to `OUT`. So a file named `OUT` is always complete, and a rerun
after a crash keeps the problems already in `OUT.partial` (a torn last line, or a problem with
fewer than k rows, is dropped and sampled again) and goes on from there.
"""

from __future__ import annotations

import os
from pathlib import Path

from lintseq.io import dumps_line, read_jsonl, write_jsonl

RUN_KEYS = ("model", "backend", "style", "chat", "benchmark", "settings")


class ResumeMismatch(ValueError):
    """The partial file was written by a run with other settings."""


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _read_rows(path: Path) -> list[dict]:
    """Rows of a JSONL file; a torn or unreadable last line (a crash mid-write) is dropped."""
    lines = list(read_jsonl(path))
    for i, line in enumerate(lines):
        if line.value is None and i < len(lines) - 1:
            raise ValueError(
                f"{path}: line {line.number} is not JSON ({line.error}); delete the file or use --overwrite"
            )
    return [line.value for line in lines if line.value is not None]


def _ends_cleanly(path: Path) -> bool:
    """Empty, or its last byte is a newline."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return True
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


class SampleFile:
    """Appends whole problems to the partial file; `finish()` renames it into place."""

    def __init__(self, path: str | os.PathLike, run: dict, n: int, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.run = {k: run[k] for k in RUN_KEYS}
        self.n = n
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists (a finished run); use --overwrite to sample again")
        if overwrite:
            self.partial.unlink(missing_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done: set[str] = self._resume() if self.partial.exists() else set()
        self._f = self.partial.open("a", encoding="utf-8")

    def _resume(self) -> set[str]:
        rows = _read_rows(self.partial)
        for r in rows:
            theirs = {k: r.get(k) for k in RUN_KEYS}
            if theirs != self.run:
                diff = sorted(k for k in RUN_KEYS if theirs[k] != self.run[k])
                raise ResumeMismatch(
                    f"{self.partial} was written with different {', '.join(diff)}; "
                    "rerun with the same settings, or use --overwrite to start again"
                )
        samples: dict[str, set[int]] = {}
        for r in rows:
            samples.setdefault(r["task_id"], set()).add(r["sample"])
        complete = {t for t, s in samples.items() if s == set(range(self.n))}
        kept = [r for r in rows if r["task_id"] in complete]
        # Keep one row per (task, sample), in file order, and drop incomplete problems.
        seen: set[tuple[str, int]] = set()
        unique = []
        for r in kept:
            key = (r["task_id"], r["sample"])
            if key not in seen:
                seen.add(key)
                unique.append(r)
        # rewrite also when a torn last line is left: the next append would be glued onto it
        if len(unique) != len(rows) or not _ends_cleanly(self.partial):
            write_jsonl(self.partial, unique)
        return complete

    def append(self, rows: list[dict]) -> None:
        """Write the rows of whole problems at once and make them durable."""
        self._f.write("".join(dumps_line(r) for r in rows))
        self._f.flush()
        os.fsync(self._f.fileno())
        self.done.update(r["task_id"] for r in rows)

    def finish(self) -> None:
        self._f.close()
        os.replace(self.partial, self.path)

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()
