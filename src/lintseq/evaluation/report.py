"""Writing a report: atomic JSON/JSONL files and the terminal table."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence


def write_atomic(path: str | Path, text: str) -> None:
    """Write to a temporary name beside `path`, then rename: never a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, doc: dict) -> None:
    write_atomic(path, json.dumps(doc, indent=2) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    write_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def load_scores(path: str | Path) -> dict:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not any(k.startswith("pass@") or k == "curve" for k in doc):
        raise ValueError(f"{path}: not a score file written by `lintseq evaluate --json`")
    doc.setdefault("label", Path(path).stem)
    return doc


def table(runs: Sequence[dict]) -> str:
    """pass@k per run, plus n, diversity and how many samples passed."""
    ks = sorted({int(k[5:]) for r in runs for k in r if k.startswith("pass@")})
    head = ["run", "n", *(f"pass@{k}" for k in ks), "distinct", "passed"]
    rows = [head]
    for r in runs:
        n = r.get("n_per_problem", {})
        n_txt = str(n.get("min", "")) if n.get("min") == n.get("max") else f"{n.get('min')}-{n.get('max')}"
        rows.append(
            [
                str(r.get("label", "")),
                n_txt,
                *(f"{100 * r[f'pass@{k}']:.2f}" if f"pass@{k}" in r else "-" for k in ks),
                f"{r.get('diversity', {}).get('mean_distinct_share', 0):.3f}",
                f"{r.get('correct', '')}/{r.get('samples_evaluated', '')}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
