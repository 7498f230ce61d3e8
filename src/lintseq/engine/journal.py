"""Crash-safe, resumable output for `generate`.

Rows go to `OUTPUT.partial` (and rejects to `REJECTS.partial`) in input order, each input
row's lines in one append (`io.AppendLog`), so a killed run leaves a prefix of whole rows plus
at most one torn line. Only a finished run renames them to their real names, so a file under the real name
is always complete. `--resume` drops the torn tail, checks the settings match, and continues
after the last whole row: the final file is the one an uninterrupted run writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lintseq.engine.records import Reject
from lintseq.engine.summary import Summary
from lintseq.io import AppendLog, atomic_write, load_jsonl, write_atomic


class ResumeError(RuntimeError):
    """The run cannot start or resume as asked (state on disk disagrees)."""


def default_rejects_path(output: Path) -> Path:
    stem = output.name
    for ext in (".jsonl", ".json", ".parquet", ".pq"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    return output.with_name(stem + ".rejects.jsonl")


def _rows_through(log: AppendLog, rows: list[dict[str, Any]], last: int) -> list[dict[str, Any]]:
    """The rows of input rows up to `last`; the log keeps only those."""
    kept = [r for r in rows if r["row"] <= last]
    if len(kept) != len(rows):
        log.rewrite(kept)
    return kept


class Journal:
    def __init__(self, output: Path, rejects: Path | None, meta: dict[str, Any]):
        self.output = output
        self.rejects = rejects or default_rejects_path(output)
        self.meta = meta
        self.out = AppendLog(output)
        self.rej = AppendLog(self.rejects)
        self.out_partial = self.out.partial
        self.meta_path = output.with_name(output.name + ".partial.meta.json")

    def open(self, *, resume: bool, restart: bool, summary: Summary) -> int:
        """Prepare the partial files; return the first row number still to do."""
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.rejects.parent.mkdir(parents=True, exist_ok=True)
        interrupted = self.meta_path.exists() or self.out_partial.exists()
        start = 0
        if interrupted and not (resume or restart):
            raise ResumeError(
                f"{self.out_partial} is left from an interrupted run: rerun with --resume to "
                "continue it, or --overwrite to discard it"
            )
        if interrupted and resume:
            saved = json.loads(self.meta_path.read_text()) if self.meta_path.exists() else {}
            if saved != self.meta:
                changed = sorted(k for k in set(saved) | set(self.meta) if saved.get(k) != self.meta.get(k))
                raise ResumeError(f"cannot resume: settings differ from the interrupted run ({', '.join(changed)})")
            outs = self.out.read()
            rejs = self.rej.read()
            samples = int(self.meta.get("samples", 1))
            last = max([r["row"] for r in outs] + [r["row"] for r in rejs], default=-1)
            if outs and outs[-1]["row"] == last and sum(r["row"] == last for r in outs) < samples:
                last -= 1  # the last row was cut short: do it again
            outs = _rows_through(self.out, outs, last)
            rejs = _rows_through(self.rej, rejs, last)
            summary.resumed(outs, rejs)
            start = last + 1
        else:
            self.out.discard()
            self.rej.discard()
        write_atomic(self.meta_path, json.dumps(self.meta))
        self.out.open()
        self.rej.open()
        return start

    def write(self, row: int, result: list[dict[str, Any]] | Reject) -> None:
        if isinstance(result, Reject):
            self.rej.append([result.to_dict()])
        else:
            self.out.append(result)

    def abandon(self) -> None:
        """Leave the partial files for `--resume`."""
        self.out.close()
        self.rej.close()

    def commit(self, summary: Summary) -> None:
        """Give the finished files their real names (atomically)."""
        if str(self.output).endswith((".parquet", ".pq")):
            self.out.close()
            _jsonl_to_parquet(self.out_partial, self.output)
            self.out_partial.unlink()
        else:
            self.out.commit()
        self.rej.commit()
        summary_path = self.output.with_name(self.output.name + ".summary.json")
        write_atomic(summary_path, json.dumps(summary.to_dict() | {"settings": self.meta}, indent=2))
        self.meta_path.unlink(missing_ok=True)


def _jsonl_to_parquet(src: Path, dest: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = load_jsonl(src, errors="surrogatepass")
    with atomic_write(dest, "wb") as fh:
        pq.write_table(pa.Table.from_pylist(rows), fh)
