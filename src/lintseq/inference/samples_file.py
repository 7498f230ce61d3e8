"""The samples file: crash-safe and resumable.

Rows are appended, one whole problem at a time, to `OUT.partial` (an `io.AppendLog`, fsynced per
problem); only when every problem is done is it renamed to `OUT`. So a file named `OUT` is always
complete, and a rerun after a crash keeps the problems already in `OUT.partial` (a torn last line
is cut, a problem with fewer than n rows is dropped and sampled again) and goes on from there.
"""

from __future__ import annotations

import os
from pathlib import Path

from lintseq.io import AppendLog

RUN_KEYS = ("model", "backend", "style", "chat", "benchmark", "settings")


class ResumeMismatch(ValueError):
    """The partial file was written by a run with other settings."""


class SampleFile:
    """Appends whole problems to the partial file; `finish()` renames it into place."""

    def __init__(self, path: str | os.PathLike, run: dict, n: int, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.log = AppendLog(self.path, durable=True)
        self.partial = self.log.partial
        self.run = {k: run[k] for k in RUN_KEYS}
        self.n = n
        if self.path.exists() and not overwrite:
            raise FileExistsError(f"{self.path} exists (a finished run); use --overwrite to sample again")
        if overwrite:
            self.log.discard()
        self.done: set[str] = self._resume() if self.log.exists() else set()
        self.log.open()

    def _resume(self) -> set[str]:
        rows = self.log.read()
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
        if len(unique) != len(rows):
            self.log.rewrite(unique)
        return complete

    def append(self, rows: list[dict]) -> None:
        """Write the rows of whole problems at once and make them durable."""
        self.log.append(rows)
        self.done.update(r["task_id"] for r in rows)

    def finish(self) -> None:
        self.log.commit()

    def close(self) -> None:
        self.log.close()
