"""What a `generate` run did, in numbers a user checks before training on the output."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lintseq.engine.records import Reject


def _edit_lines(edit: str) -> int:
    return sum(1 for line in edit.split("\n") if line.startswith("+"))


def _dist(hist: Counter) -> dict[str, float]:
    """Mean, median and max of a histogram {value: count} (kept as counts so memory stays flat)."""
    n = sum(hist.values())
    if not n:
        return {"mean": 0.0, "median": 0.0, "max": 0.0}
    mean = sum(v * c for v, c in hist.items()) / n
    seen, median = 0, 0
    for v in sorted(hist):
        seen += hist[v]
        if seen * 2 >= n:
            median = v
            break
    return {"mean": round(mean, 2), "median": median, "max": max(hist)}


@dataclass
class Summary:
    programs: int = 0
    sequences: int = 0
    rejects: Counter = field(default_factory=Counter)
    edits_per_sequence: Counter = field(default_factory=Counter)
    lines_per_edit: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    rows_this_run: int = 0
    workers: int = 1

    def _add_rows(self, rows: list[dict[str, Any]]) -> None:
        """The sequences of one input row."""
        if not rows:
            return
        self.programs += 1
        self.sequences += len(rows)
        for r in rows:
            self.edits_per_sequence[r["n_edits"]] += 1
            self.lines_per_edit.update(_edit_lines(e) for e in r["edit_path"])

    def merge(self, other: Summary) -> None:
        """Fold in the counts of another summary (a shard of a distributed run)."""
        self.programs += other.programs
        self.sequences += other.sequences
        self.rejects.update(other.rejects)
        self.edits_per_sequence.update(other.edits_per_sequence)
        self.lines_per_edit.update(other.lines_per_edit)

    def add(self, result: list[dict[str, Any]] | Reject) -> None:
        if isinstance(result, Reject):
            self.rejects[result.category] += 1
        else:
            self._add_rows(result)

    def resumed(self, outs: list[dict[str, Any]], rejs: list[dict[str, Any]]) -> None:
        """Count what an interrupted run had already written."""
        by_row: dict[int, list[dict[str, Any]]] = {}
        for r in outs:
            by_row.setdefault(r["row"], []).append(r)
        for rows in by_row.values():
            self._add_rows(rows)
        for r in rejs:
            self.rejects[Reject(**r).category] += 1

    def finish(self, seconds: float, rows: int, workers: int) -> None:
        self.seconds, self.rows_this_run, self.workers = seconds, rows, workers

    @property
    def rows_in(self) -> int:
        return self.programs + sum(self.rejects.values())

    def to_dict(self) -> dict[str, Any]:
        rate = self.rows_this_run / self.seconds if self.seconds else 0.0
        return {
            "rows_in": self.rows_in,
            "programs": self.programs,
            "sequences": self.sequences,
            "rejected": sum(self.rejects.values()),
            "rejects_by_reason": dict(self.rejects.most_common()),
            "edits_per_sequence": _dist(self.edits_per_sequence),
            "lines_per_edit": _dist(self.lines_per_edit),
            "seconds": round(self.seconds, 2),
            "rows_per_second": round(rate, 2),
            "rows_per_second_per_worker": round(rate / max(self.workers, 1), 2),
            "workers": self.workers,
        }

    def render(self) -> str:
        j = self.to_dict()
        lines = [
            f"rows in        {j['rows_in']}",
            f"programs       {j['programs']}",
            f"sequences out  {j['sequences']}",
            f"rejected       {j['rejected']}",
        ]
        for reason, n in j["rejects_by_reason"].items():
            lines.append(f"  {n:>6}  {reason}")
        edits, per_edit = j["edits_per_sequence"], j["lines_per_edit"]
        lines.append(f"edits/sequence mean {edits['mean']}, median {edits['median']}, max {edits['max']}")
        lines.append(f"lines/edit     mean {per_edit['mean']}, median {per_edit['median']}, max {per_edit['max']}")
        lines.append(
            f"rate           {j['rows_per_second']} rows/s on {j['workers']} worker(s) "
            f"({j['rows_per_second_per_worker']}/s per worker) in {j['seconds']} s"
        )
        return "\n".join(lines)
