"""Edits as text (docs/design.md §2.4, §2.6): insertion-only unified diffs, and their replay.

An edit is what `difflib.unified_diff(old, new, n=0, lineterm="")` prints minus its two file
headers. difflib is free to align repeated lines in a way that turns a pure insertion into a
replace; when it does, the edit is written from the known alignment instead, so every edit
stays insertion-only.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

DIFF_TOKEN = "<|diff|>"

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_FENCE = re.compile(r"^\s*```")


class EditError(ValueError):
    """A malformed or inapplicable edit (strict mode)."""


def _hunk_header(old_at: int, new_start: int, count: int) -> str:
    new = str(new_start + 1) if count == 1 else f"{new_start + 1},{count}"
    return f"@@ -{old_at},0 +{new} @@"


def _format_inserts(new: list[str], runs: list[tuple[int, int, int]]) -> str:
    out: list[str] = []
    for old_at, j1, j2 in runs:
        out.append(_hunk_header(old_at, j1, j2 - j1))
        out.extend("+" + line for line in new[j1:j2])
    return "\n".join(out)


_DIFFLIB_MAX_CELLS = 250_000  # above this (old x new lines of the changed region) difflib is too slow


def _known_runs(inserted: list[bool]) -> list[tuple[int, int, int]]:
    """(old position, new start, new end) of each run of inserted lines."""
    runs = []
    old_pos = 0
    j = 0
    hi = len(inserted)
    while j < hi:
        if inserted[j]:
            j1 = j
            while j < hi and inserted[j]:
                j += 1
            runs.append((old_pos, j1, j))
        else:
            old_pos += 1
            j += 1
    return runs


def insertion_diff(old: list[str], new: list[str], inserted: list[bool] | None = None) -> str:
    """Insertion-only diff from `old` to `new`, where `old` is a subsequence of `new`.

    The hunks are difflib's alignment of the changed region (common prefix and suffix trimmed
    first). `inserted[j]` marks the lines of `new` that are not in `old`; that known alignment
    is used instead where difflib's would not be a pure insertion, or the region is so large
    that difflib's quadratic matching would dominate the run.
    """
    lo = 0
    while lo < len(old) and old[lo] == new[lo]:
        lo += 1
    tail = 0
    while tail < len(old) - lo and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    old_mid, new_mid = old[lo : len(old) - tail], new[lo : len(new) - tail]
    if len(old_mid) * len(new_mid) <= _DIFFLIB_MAX_CELLS:
        ops = difflib.SequenceMatcher(None, old_mid, new_mid, autojunk=False).get_opcodes()
        if all(tag in ("equal", "insert") for tag, *_ in ops):
            runs = [(i1 + lo, j1 + lo, j2 + lo) for tag, i1, _, j1, j2 in ops if tag == "insert"]
            return _format_inserts(new, runs)
    if inserted is None:
        raise EditError("old is not a subsequence of new under difflib's alignment")
    return _format_inserts(new, _known_runs(inserted))


def edits_from_states(states: list[list[str]], masks: list[list[bool]] | None = None) -> list[str]:
    """Diffs between consecutive states (first state is usually empty)."""
    return [insertion_diff(states[i], states[i + 1], masks[i] if masks else None) for i in range(len(states) - 1)]


@dataclass
class Resolved:
    """A program rebuilt from edits; `skipped` says what lenient mode had to leave out, and
    `recounted` which hunks were applied although their header's line count was wrong."""

    program: str
    edits: int = 0
    hunks: int = 0
    skipped: list[str] = field(default_factory=list)
    recounted: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.skipped

    def __str__(self) -> str:
        return self.program


def _apply_edit(
    lines: list[str], edit: str, strict: bool, skipped: list[str], recounted: list[str] | None = None
) -> int:
    """Apply the hunks of one edit to `lines` in place; returns the number applied.

    With a `recounted` list, a hunk whose `+` lines disagree with its header's count is applied
    with the lines it has (and noted there) instead of being malformed."""
    rows = [r for r in edit.split("\n") if r != "" and not _FENCE.match(r)]
    applied = 0
    i = 0
    while i < len(rows):
        m = _HUNK.match(rows[i])
        if not m:
            outside = f"text outside a hunk: {rows[i][:60]!r}"
            if strict:
                raise EditError(outside)
            skipped.append(outside)
            i += 1
            while i < len(rows) and not _HUNK.match(rows[i]):
                i += 1
            continue
        old_len = int(m.group(2)) if m.group(2) is not None else 1
        start = int(m.group(3))
        count = int(m.group(4)) if m.group(4) is not None else 1
        i += 1
        body: list[str] = []
        while i < len(rows) and not _HUNK.match(rows[i]):
            body.append(rows[i])
            i += 1
        problem: str | None = None
        if old_len != 0:
            problem = f"hunk removes lines: {m.group(0)}"
        elif any(not r.startswith("+") for r in body):
            problem = f"hunk has non-insertion lines: {m.group(0)}"
        elif len(body) != count and recounted is not None:
            recounted.append(f"hunk says {count} lines, has {len(body)}: {m.group(0)}")
            count = len(body)
        elif len(body) != count:
            problem = f"hunk says {count} lines, has {len(body)}: {m.group(0)}"
        elif count > 0 and not 1 <= start <= len(lines) + 1:
            problem = f"hunk position {start} outside a {len(lines)}-line program"
        if problem:
            if strict:
                raise EditError(problem)
            skipped.append(problem)
            continue
        at = start - 1 if count > 0 else start
        lines[at:at] = [r[1:] for r in body]
        applied += 1
    return applied


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def apply_edits(edits: list[str]) -> str:
    """Replay edits on an empty program (strict: any malformed hunk raises `EditError`)."""
    lines: list[str] = []
    for edit in edits:
        _apply_edit(lines, edit, True, [])
    return _join(lines)


# what ends an edit sequence in the training text: an empty edit after the last one
END_OF_EDITS = "\n" + DIFF_TOKEN + "\n" + DIFF_TOKEN


def resolve(model_output: str, strict: bool = False, hunk_counts: bool = True) -> Resolved:
    """Rebuild the program a model wrote as `<|diff|>`-separated edits.

    Lenient mode (default) skips malformed hunks and records them in `skipped`; strict mode
    raises `EditError`. A leading chunk that holds no hunk (an instruction, prose) is ignored,
    and the end-of-edits marker (an empty edit) ends the program: a model that runs on past it
    (no EOS within its token budget) does not get its next answer applied to this one.
    `hunk_counts=False` applies a hunk whose header miscounts its lines as written (an
    analysis option: small models get the count wrong far more often than the code).
    """
    lines: list[str] = []
    skipped: list[str] = []
    recounted: list[str] | None = None if hunk_counts else []
    edits = hunks = 0
    for chunk in model_output.replace("\r\n", "\n").split(DIFF_TOKEN):
        if not chunk.strip():
            if edits:
                break  # the end-of-edits marker
            continue
        if not edits and "@@" not in chunk:
            continue  # the prompt, or prose before the first edit
        hunks += _apply_edit(lines, chunk, strict, skipped, recounted)
        edits += 1
    if (
        not hunks and not skipped and DIFF_TOKEN not in model_output
    ):  # "" or plain text; an explicit empty sequence is fine
        problem = "no edits in the output"
        if strict:
            raise EditError(problem)
        skipped.append(problem)
    return Resolved(_join(lines), edits, hunks, skipped, recounted or [])
