"""Edit sequences as `generate`, `format` and `sample` files hold them, replayed one edit at a time.

`generate` rows carry `edit_path` (a list of diffs) next to the input fields; `format` rows
carry the training text, `prompt` and `completion`, where a LintSeq completion is the edits
joined by `<|diff|>` and a baseline completion is the whole program; `sample` rows carry a
model's `completion` for a `task_id`. All read into one `EditSequence`; `replay` turns its edits
into the states a reader looks at: training data by the diff format's strict reading (it is
always well-formed), a model's edits by the paper's rule, as `evaluate` scores them (§2.6).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from lintseq.diffs import (
    DIFF_TOKEN,
    EditError,
    apply_edits,
    apply_paper_piece,
    edits_from_completion,
    lintseq_completion,
    looks_like_edits,
    objection,
    paper_pieces,
    parse_edit,
    resolve,
)
from lintseq.engine.records import read_rows
from lintseq.engine.units import SourceError, split_units
from lintseq.formatting import prompt_for
from lintseq.markdown import strip_fences


class DataError(ValueError):
    """A row that is neither `generate` nor `format` output; the message names the line."""


@dataclass
class EditSequence:
    line: int  # line number in the file (1-based)
    row: int | None  # the input row it came from (`row`), when the file says
    sample: int | None
    id: str | None
    seed: int | None
    style: str  # "generate" (edit_path) | "lintseq" | "baseline" (format output) | "sample" (a model's)
    instruction: str
    edits: list[str]  # empty for a baseline row
    program: str  # the finished program
    text: str  # what training sees: prompt + completion (EOS is added by the trainer); a sample's completion
    rule: str = "strict"  # how `replay` reads the edits: "paper" for a model's output


@dataclass
class Step:
    """The program after one edit, and which of its lines the edit added."""

    edit: str
    lines: list[str]
    added: list[int]  # 0-based, ascending
    hunks: list[str]  # the edit's hunks, each its header line and its `+` lines


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _RowMeta(TypedDict):
    """The fields of an `EditSequence` that say where its row is."""

    line: int
    row: int | None
    sample: int | None
    seed: int | None
    id: str | None


def parse_row(n: int, row: dict | None, instruction_field: str = "instruction") -> EditSequence:
    """One line of a `generate`, `format` or `sample` file."""
    if row is None:
        raise DataError(f"line {n}: not a JSON object")
    meta = _RowMeta(
        line=n,
        row=_int(row.get("row")),
        sample=_int(row.get("sample")),
        seed=_int(row.get("seed")),
        id=str(row["id"]) if row.get("id") is not None else None,
    )
    try:
        if "edit_path" in row:
            edits = row["edit_path"]
            if not isinstance(edits, list) or not all(isinstance(e, str) for e in edits):
                raise ValueError("edit_path is not a list of strings")
            instruction = row.get(instruction_field)
            if not isinstance(instruction, str):
                raise ValueError(f"no string field {instruction_field!r} (the instruction; see --instruction-field)")
            program = apply_edits(edits)
            return EditSequence(
                **meta,
                style="generate",
                instruction=instruction,
                edits=edits,
                program=program,
                text=prompt_for(instruction, "lintseq") + lintseq_completion(edits),
            )
        prompt, completion = row.get("prompt"), row.get("completion")
        if prompt is None and isinstance(completion, str) and isinstance(row.get("task_id"), str):
            return _sample(meta, row["task_id"], completion, row.get("style"))
        if not isinstance(prompt, str) or not isinstance(completion, str):
            raise ValueError(
                "neither edit_path (`lintseq generate` output), prompt and completion (`lintseq format` output) "
                "nor task_id and completion (`lintseq sample` output)"
            )
        style = row.get("style") or ("lintseq" if prompt.endswith(DIFF_TOKEN) else "baseline")
        instruction = prompt.removesuffix(DIFF_TOKEN).removesuffix("\n")
        if style == "lintseq":
            edits = edits_from_completion(completion)
            program = apply_edits(edits)
        else:
            edits, program = [], completion
        return EditSequence(
            **meta, style=style, instruction=instruction, edits=edits, program=program, text=prompt + completion
        )
    except (ValueError, EditError) as exc:
        raise DataError(f"line {n}: {exc}") from None


def _sample(meta: _RowMeta, task_id: str, completion: str, style: object) -> EditSequence:
    """A model's completion: edits (the pieces the paper's rule reads) when it was sampled as an
    edit sequence, or holds one; otherwise the program it wrote."""
    meta["id"] = meta["id"] or task_id
    if style == "lintseq" or (style is None and looks_like_edits(completion)):
        edits = [p for p in paper_pieces(completion) if "@@" in p]
        program, rule = resolve(completion).program, "paper"
    else:
        edits, program, rule = [], strip_fences(completion), "strict"
    instruction = f"{task_id} (a sampled completion, {style or 'style not recorded'})"
    return EditSequence(
        **meta, style="sample", instruction=instruction, edits=edits, program=program, text=completion, rule=rule
    )


def read_sequences(path: str | Path, instruction_field: str = "instruction") -> Iterator[EditSequence]:
    """Every row of a `generate` or `format` file (JSONL or Parquet), in order."""
    for n, row, _ in read_rows(path):
        yield parse_row(n, row, instruction_field)


def find_sequence(
    path: str | Path,
    row: int | None,
    sample: int | None,
    instruction_field: str = "instruction",
    task: str | None = None,
) -> EditSequence:
    """The sequence of input row `row` (its `row` field, else its position from 0) or of task id
    `task` (a samples file), sample `sample` (default: the first in the file). Stops reading at
    the match."""
    seen = 0
    for position, seq in enumerate(read_sequences(path, instruction_field)):
        seen += 1
        number = seq.row if seq.row is not None else position
        if (
            (row is None or number == row)
            and (task is None or seq.id == task)
            and (sample is None or seq.sample == sample)
        ):
            return seq
    wanted = (
        f"row {row}" if row is not None else "",
        f"task {task}" if task is not None else "",
        f"sample {sample}" if sample is not None else "",
    )
    want = " and ".join(p for p in wanted if p)
    raise DataError(f"{path}: no sequence with {want} ({seen} rows read)" if seen else f"{path}: the file has no rows")


def replay(edits: list[str], rule: str = "strict") -> list[Step]:
    """The state after each edit, with the lines it added: by the diff format's strict reading
    (training data is always well-formed; hunk positions are new-file lines), or by the paper's
    rule (`rule="paper"`, a model's output: hunks that do not parse are left out)."""
    lines: list[str] = []
    steps: list[Step] = []
    for edit in edits:
        added: list[int] = []
        hunk_texts = []
        if rule == "paper":
            for where, count, text in apply_paper_piece(lines, edit, [], []):
                added = [i + count if i >= where else i for i in added] + list(range(where, where + count))
                hunk_texts.append(text)
        else:
            for hunk in parse_edit(edit):
                problem = objection(hunk, len(lines))
                if problem is not None or isinstance(hunk, str):
                    raise EditError(problem)
                added += hunk.apply(lines)
                hunk_texts.append("\n".join([hunk.header, *hunk.rows]))
        steps.append(Step(edit, list(lines), sorted(added), hunk_texts))
    return steps


KINDS = ("one line", "block", "several lines")


def edit_kinds(edits: list[str], rule: str = "strict") -> list[str]:
    """What each edit adds, in units of the finished program (logical lines, see `units`):
    "one line" (one statement or header), "block" (a compound statement's header with body
    lines under it), "several lines" (more than one, none the body of another); "unknown" if
    the finished program does not tokenize."""
    steps = replay(edits, rule)
    origin: list[int] = []  # which edit added each line of the current state
    for k, step in enumerate(steps):
        for i in step.added:
            origin.insert(i, k)
    try:
        units = split_units("".join(line + "\n" for line in steps[-1].lines) if steps else "").units
    except SourceError:
        return ["unknown"] * len(edits)
    by_edit: list[list[int]] = [[] for _ in edits]
    for u in units:
        by_edit[origin[u.code_start]].append(u.index)
    kinds = []
    for added in by_edit:
        mine = set(added)
        if len(added) == 1:
            kinds.append("one line")
        elif any(j in mine for i in added for j in range(i + 1, units[i].block_end)):
            kinds.append("block")
        else:
            kinds.append("several lines")
    return kinds
