"""`lintseq stats`: what a `generate` or `format` file holds, in numbers and plots.

Per file: edits per sequence, lines added per edit, tokens (with a tokenizer) or characters
per training row, what each edit adds (one line, a block with its header, several lines; see
`sequences.edit_kinds`), and the rows the run rejected, by reason, from its rejects file. Two
files (e.g. `--linter fast` against `--linter none`) go side by side in one table and plots.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lintseq.engine.journal import default_rejects_path
from lintseq.engine.summary import _edit_lines as added_lines
from lintseq.inspection.sequences import KINDS, edit_kinds, read_sequences
from lintseq.io import read_jsonl, write_atomic, write_json


@dataclass
class FileStats:
    label: str
    path: str
    size_unit: str  # "tokens" | "characters"
    rows: int = 0
    inputs: set = field(default_factory=set)  # distinct input rows (or programs)
    styles: Counter = field(default_factory=Counter)
    edits_per_sequence: list[int] = field(default_factory=list)
    lines_per_edit: list[int] = field(default_factory=list)
    size_per_row: list[int] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    rejects: Counter = field(default_factory=Counter)
    rejects_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        n_edits = sum(self.kinds.values())
        return {
            "path": self.path,
            "rows": self.rows,
            "programs": len(self.inputs),
            "styles": dict(self.styles),
            "edits_per_sequence": describe(self.edits_per_sequence),
            "lines_per_edit": describe(self.lines_per_edit),
            f"{self.size_unit}_per_row": describe(self.size_per_row),
            "edits": n_edits,
            "edit_kinds": {k: self.kinds[k] for k in (*KINDS, "unknown") if self.kinds[k] or k in KINDS},
            "edit_kind_shares": {k: round(self.kinds[k] / n_edits, 4) if n_edits else 0.0 for k in KINDS},
            "rejected": sum(self.rejects.values()),
            "rejects_by_reason": dict(self.rejects.most_common()),
            "rejects_file": self.rejects_file,
        }


def describe(values: list[int]) -> dict[str, float]:
    """Mean, median, 90th percentile (nearest rank) and max; zeros for no values."""
    if not values:
        return {"count": 0, "mean": 0.0, "median": 0.0, "p90": 0, "max": 0}
    s = sorted(values)
    n = len(s)
    median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    return {"count": n, "mean": round(sum(s) / n, 2), "median": median, "p90": s[math.ceil(0.9 * n) - 1], "max": s[-1]}


def find_rejects(path: str | Path) -> Path | None:
    """The rejects file `generate` (STEM.rejects.jsonl) or `format` (FILE.rejects.jsonl) wrote beside `path`."""
    path = Path(path)
    for candidate in (default_rejects_path(path), path.with_name(path.name + ".rejects.jsonl")):
        if candidate.is_file():
            return candidate
    return None


def count_rejects(path: Path) -> Counter:
    """Rejected rows by reason (the part of the reason before its first colon)."""
    reasons: Counter = Counter()
    for line in read_jsonl(path):
        if line.value is None or "reason" not in line.value:
            raise ValueError(f"{path}:{line.number}: not a rejects row (a JSON object with a reason)")
        reasons[str(line.value["reason"]).split(":", 1)[0]] += 1
    return reasons


def file_stats(
    path: str | Path,
    label: str | None = None,
    tokenizer: Any = None,
    instruction_field: str = "instruction",
    rejects: str | Path | None = None,
) -> FileStats:
    """Everything `stats` reports about one file; with `tokenizer`, rows are measured in its
    tokens exactly as `lintseq train` counts them (prompt, completion and EOS)."""
    from lintseq.training.sft import sequence_lengths

    stats = FileStats(label or Path(path).name, str(path), "tokens" if tokenizer is not None else "characters")
    texts: list[str] = []
    for seq in read_sequences(path, instruction_field):
        stats.rows += 1
        stats.styles[seq.style] += 1
        stats.inputs.add(seq.row if seq.row is not None else seq.program)
        if seq.edits:
            stats.edits_per_sequence.append(len(seq.edits))
            stats.lines_per_edit += [added_lines(e) for e in seq.edits]
            stats.kinds.update(edit_kinds(seq.edits))
        if tokenizer is None:
            stats.size_per_row.append(len(seq.text))
        else:
            texts.append(seq.text)
    if tokenizer is not None:
        stats.size_per_row = sequence_lengths([{"prompt": t, "completion": ""} for t in texts], tokenizer)
    found = Path(rejects) if rejects else find_rejects(path)
    if found is not None:
        stats.rejects = count_rejects(found)
        stats.rejects_file = str(found)
    return stats


def labels_for(paths: list[str]) -> list[str]:
    """Short names that tell the files apart: the file name, or parent/name when those clash."""
    names = [Path(p).name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [str(Path(Path(p).parent.name) / Path(p).name) for p in paths]


# ------------------------------------------------------------------------------------ output


def table_rows(all_stats: list[FileStats]) -> list[tuple[str, list[str]]]:
    """(measure, one cell per file): the table printed and written to stats.md."""
    docs = [s.to_dict() for s in all_stats]
    rows: list[tuple[str, list[str]]] = [
        ("rows", [str(d["rows"]) for d in docs]),
        ("programs", [str(d["programs"]) for d in docs]),
    ]

    def dist(name: str, key: str) -> None:
        rows.append(
            (name, [f"{d[key]['mean']} / {d[key]['median']} / {d[key]['p90']} / {d[key]['max']}" for d in docs])
        )

    dist("edits per sequence", "edits_per_sequence")
    dist("lines per edit", "lines_per_edit")
    for unit in dict.fromkeys(s.size_unit for s in all_stats):
        cells = []
        for s, d in zip(all_stats, docs):
            if s.size_unit == unit:
                x = d[f"{unit}_per_row"]
                cells.append(f"{x['mean']} / {x['median']} / {x['p90']} / {x['max']}")
            else:
                cells.append("-")
        rows.append((f"{unit} per row", cells))
    rows.append(("edits", [str(d["edits"]) for d in docs]))
    for kind in KINDS:
        rows.append(
            (
                f"  adding {'a ' if kind == 'block' else ''}{kind}",
                [f"{100 * d['edit_kind_shares'][kind]:.1f}% ({d['edit_kinds'][kind]})" for d in docs],
            )
        )
    rows.append(("rejected rows", [str(d["rejected"]) if d["rejects_file"] else "no file" for d in docs]))
    reasons = sorted({r for s in all_stats for r in s.rejects}, key=lambda r: -sum(s.rejects[r] for s in all_stats))
    for reason in reasons:
        rows.append((f"  {reason}", [str(s.rejects[reason]) for s in all_stats]))
    return rows


DISTRIBUTIONS = "distributions: mean / median / p90 / max"


def markdown(all_stats: list[FileStats]) -> str:
    head = "| | " + " | ".join(s.label for s in all_stats) + " |"
    lines = [head, "|---|" + "---:|" * len(all_stats)]
    lines += ["| " + name.strip() + " | " + " | ".join(cells) + " |" for name, cells in table_rows(all_stats)]
    return "\n".join(lines) + f"\n\n({DISTRIBUTIONS})\n"


def print_table(all_stats: list[FileStats], console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", caption=DISTRIBUTIONS)
    table.add_column("")
    for s in all_stats:
        table.add_column(s.label, justify="right")
    for name, cells in table_rows(all_stats):
        table.add_row(name, *cells)
    (console or Console()).print(table)


def _shares(values: list[int], keys: list[int]) -> list[float]:
    counts = Counter(values)
    return [100 * counts[k] / len(values) if values else 0.0 for k in keys]


def _discrete_plot(all_stats: list[FileStats], attr: str, xlabel: str, title: str, path: Path, cap: int = 40) -> None:
    """Share of sequences/edits per value, one bar per file side by side; values above `cap`
    are pooled into the last bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lintseq.evaluation.plot import save_png

    top = min(max((max(getattr(s, attr), default=0) for s in all_stats), default=0), cap)
    keys = list(range(1, top + 1))
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    width = 0.8 / len(all_stats)
    for i, s in enumerate(all_stats):
        values = [min(v, top) for v in getattr(s, attr)]
        ax.bar([k - 0.4 + width * (i + 0.5) for k in keys], _shares(values, keys), width=width, label=s.label)
    ax.set_xlabel(xlabel + (f" (>= {top} pooled)" if top == cap else ""))
    ax.set_ylabel("share (%)")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    save_png(fig, path)


def _size_plot(all_stats: list[FileStats], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lintseq.evaluation.plot import save_png

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    top = max((max(s.size_per_row, default=0) for s in all_stats), default=1)
    bins = [top * i / 40 for i in range(41)]
    for s in all_stats:
        if s.size_per_row:
            ax.hist(
                s.size_per_row,
                bins=bins,
                histtype="step",
                linewidth=1.5,
                label=f"{s.label} ({s.size_unit})",
                weights=[100 / len(s.size_per_row)] * len(s.size_per_row),
            )
    units = sorted({s.size_unit for s in all_stats})
    ax.set_xlabel(" / ".join(units) + " per training row")
    ax.set_ylabel("share of rows (%)")
    ax.set_title("Length of the training rows")
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_png(fig, path)


def _category_plot(
    all_stats: list[FileStats], categories: list[str], values, ylabel: str, title: str, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lintseq.evaluation.plot import save_png

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    width = 0.8 / len(all_stats)
    for i, s in enumerate(all_stats):
        ax.bar([j - 0.4 + width * (i + 0.5) for j in range(len(categories))], values(s), width=width, label=s.label)
    ax.set_xticks(range(len(categories)), categories, rotation=15 if len(categories) > 4 else 0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    save_png(fig, path)


def write_outputs(all_stats: list[FileStats], out: str | Path) -> list[Path]:
    """stats.json, stats.md and the plots in `out`; returns the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "stats.json", out / "stats.md"]
    write_json(written[0], {"files": {s.label: s.to_dict() for s in all_stats}})
    write_atomic(written[1], markdown(all_stats))
    if any(s.edits_per_sequence for s in all_stats):
        written.append(out / "edits_per_sequence.png")
        _discrete_plot(all_stats, "edits_per_sequence", "edits per sequence", "Edits per sequence", written[-1])
        written.append(out / "lines_per_edit.png")
        _discrete_plot(all_stats, "lines_per_edit", "lines added per edit", "Lines per edit", written[-1])
        written.append(out / "edit_kinds.png")
        _category_plot(
            all_stats,
            [f"{'a ' if k == 'block' else ''}{k}" for k in KINDS],
            lambda s: [100 * s.kinds[k] / max(sum(s.kinds.values()), 1) for k in KINDS],
            "share of edits (%)",
            "What each edit adds",
            written[-1],
        )
    written.append(out / f"{'_'.join(sorted({s.size_unit for s in all_stats}))}_per_row.png")
    _size_plot(all_stats, written[-1])
    reasons = sorted({r for s in all_stats for r in s.rejects})
    if reasons:
        written.append(out / "rejects.png")
        _category_plot(
            all_stats,
            reasons,
            lambda s: [s.rejects[r] for r in reasons],
            "rows",
            "Rejected rows by reason",
            written[-1],
        )
    return written
