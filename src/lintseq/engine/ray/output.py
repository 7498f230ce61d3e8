"""The output directory of a Ray run, built crash-safe in `OUTPUT.partial/` and renamed at the end.

Each chunk has fixed file names (`part-000012.jsonl`, `_rejects/part-000012.jsonl`), written to
a temporary name and renamed, then recorded as done in `_chunks/000012.json` with its counts. A
retried or rerun chunk overwrites its own files, so nothing is duplicated; a rerun with the same
input and settings keeps the chunks already done; and only a finished run has `OUTPUT` (with
`_summary.json`) under its real name. Bookkeeping names start with `_`, which dataset readers
(pyarrow, Ray Data, Spark, pandas) skip, so `OUTPUT` reads directly as a dataset of parts.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from lintseq.engine.journal import ResumeError
from lintseq.engine.summary import Summary
from lintseq.io import partial_path, swap_dir, write_atomic

MANIFEST = "_manifest.json"
DONE_DIR = "_chunks"
REJECTS_DIR = "_rejects"
SUMMARY = "_summary.json"


def summary_to_dict(s: Summary) -> dict[str, Any]:
    """The mergeable counts of a summary (the histograms as [value, count] pairs)."""
    return {
        "programs": s.programs,
        "sequences": s.sequences,
        "rejects": dict(s.rejects),
        "edits_per_sequence": sorted(s.edits_per_sequence.items()),
        "lines_per_edit": sorted(s.lines_per_edit.items()),
    }


def summary_from_dict(d: dict[str, Any]) -> Summary:
    return Summary(
        programs=d["programs"],
        sequences=d["sequences"],
        rejects=Counter(d["rejects"]),
        edits_per_sequence=Counter({int(k): v for k, v in d["edits_per_sequence"]}),
        lines_per_edit=Counter({int(k): v for k, v in d["lines_per_edit"]}),
    )


class OutputDir:
    """Where one run's parts go, and the rules for reusing or replacing what is on disk."""

    def __init__(self, output: Path, rejects_path: Path | None = None, parquet: bool = False):
        self.output = output
        self.rejects_path = rejects_path
        self.suffix = ".parquet" if parquet else ".jsonl"
        self.partial = partial_path(output)

    def _part(self, index: int) -> Path:
        return self.partial / f"part-{index:06d}{self.suffix}"

    def _rejects_part(self, index: int) -> Path:
        return self.partial / REJECTS_DIR / f"part-{index:06d}.jsonl"

    def _check_replaceable(self) -> None:
        out = self.output
        if out.exists() and not (out.is_dir() and ((out / SUMMARY).exists() or not any(out.iterdir()))):
            kind = "a file" if out.is_file() else "a directory that is not a lintseq output"
            raise ResumeError(
                f"{out} exists and is {kind}: the Ray engine writes a directory there; remove it or choose another -o"
            )

    def open(self, manifest: dict[str, Any], *, restart: bool = False) -> dict[int, Summary]:
        """Prepare `OUTPUT.partial`; return the chunks an earlier, interrupted run already did."""
        self._check_replaceable()
        manifest_path = self.partial / MANIFEST
        done: dict[int, Summary] = {}
        if self.partial.exists():
            saved = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
            if saved == manifest and not restart:
                for marker in sorted((self.partial / DONE_DIR).glob("*.json")):
                    done[int(marker.stem)] = summary_from_dict(json.loads(marker.read_text()))
            elif restart or saved is None:
                shutil.rmtree(self.partial)
            else:
                changed = sorted(k for k in set(saved) | set(manifest) if saved.get(k) != manifest.get(k))
                raise ResumeError(
                    f"{self.partial} is left from an interrupted run with other input or settings "
                    f"({', '.join(changed)}): rerun with --overwrite to discard it"
                )
        (self.partial / DONE_DIR).mkdir(parents=True, exist_ok=True)
        (self.partial / REJECTS_DIR).mkdir(exist_ok=True)
        write_atomic(manifest_path, json.dumps(manifest, indent=1))
        return done

    def write(self, index: int, out: bytes, rejects: bytes, summary: Summary) -> None:
        """One chunk's files, then its done marker (last, so a marker means the files are whole)."""
        for path, data in ((self._part(index), out), (self._rejects_part(index), rejects)):
            if data:
                write_atomic(path, data)
            else:
                path.unlink(missing_ok=True)
        marker = self.partial / DONE_DIR / f"{index:06d}.json"
        write_atomic(marker, json.dumps(summary_to_dict(summary)))

    def commit(self, summary: Summary, settings: dict[str, Any]) -> None:
        """Write the summary, drop the bookkeeping, and give the directory its real name."""
        rej_dir = self.partial / REJECTS_DIR
        if self.rejects_path is not None:
            parts = sorted(rej_dir.glob("*.jsonl"))
            self.rejects_path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.rejects_path, b"".join(p.read_bytes() for p in parts))
            shutil.rmtree(rej_dir)
        write_atomic(self.partial / SUMMARY, json.dumps(summary.to_dict() | {"settings": settings}, indent=2))
        shutil.rmtree(self.partial / DONE_DIR)
        (self.partial / MANIFEST).unlink()
        self._check_replaceable()
        swap_dir(self.partial, self.output)
