"""The edit-sequence grammar (docs/design.md §2.4-§2.6): the one place that writes, joins,
splits, detects, replays and resolves edits, so that `generate`, `format`, `sample`, `evaluate`
and `show` cannot read the format differently.

An edit is what `difflib.unified_diff(old, new, n=0, lineterm="")` prints minus its two file
headers. difflib is free to align repeated lines in a way that turns a pure insertion into a
replace; when it does, the edit is written from the known alignment instead, so every edit
stays insertion-only.

Model output is read back by one of three rules (`RULES`). "paper" is the authors'
`resolve_edit_path`, which produced every LintSeq score in the paper, and is the default
wherever model output becomes a program; "strict" is the diff format's own reading (a hunk
whose header disagrees with its rows is skipped); "recount" is "strict" with miscounted hunks
applied as written. The two strict rules are analyses of how well-formed a model's edits are,
never the headline score.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from lintseq.markdown import cut_at_fences

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


# what ends an edit sequence in the training text: an empty edit after the last one
END_OF_EDITS = "\n" + DIFF_TOKEN + "\n" + DIFF_TOKEN
EDIT_SEPARATOR = "\n" + DIFF_TOKEN  # what follows every edit in the training text
RULES = ("paper", "strict", "recount")
_EOS_TEXT = "<|endoftext|>"  # the authors' EOS string, cut from the end of an output (paper rule)
_HEADER_ANYWHERE = re.compile(_HUNK.pattern, re.M)


def lintseq_completion(edits: list[str]) -> str:
    """Edits joined by `\\n<|diff|>`, closed by one empty edit (the release's terminator)."""
    return "".join(edit + EDIT_SEPARATOR for edit in edits) + EDIT_SEPARATOR


def edits_from_completion(completion: str) -> list[str]:
    """The edits of a LintSeq completion (`format` output); the inverse of `lintseq_completion`."""
    parts = completion.split(EDIT_SEPARATOR)
    edits = parts[:-2]
    if len(parts) < 3 or parts[-2:] != ["", ""] or lintseq_completion(edits) != completion:
        raise ValueError("the completion is not a LintSeq edit sequence ending in the end-of-edits marker")
    return edits


def looks_like_edits(text: str) -> bool:
    """Whether model output is an edit sequence: it holds `<|diff|>` or a hunk header at a line start."""
    return DIFF_TOKEN in text or _HEADER_ANYWHERE.search(text) is not None


@dataclass
class Resolved:
    """A program rebuilt from edits, and what the rule did to get it.

    `skipped`: hunks (or text) left out, with why. `recounted`: hunks applied although the
    diff format would reject them (a header whose count, old side or position disagrees with
    its rows, rows that are not `+` insertions, edits after the end-of-edits marker), with why.
    `clean`: neither, i.e. the diff format's strict reading applies every hunk as written."""

    program: str
    rule: str = "paper"
    edits: int = 0
    hunks: int = 0
    skipped: list[str] = field(default_factory=list)
    recounted: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.skipped and not self.recounted

    def __str__(self) -> str:
        return self.program


@dataclass
class Hunk:
    """One `@@ -a[,b] +c[,d] @@` header and the rows under it, as the diff format reads them."""

    header: str
    old_count: int
    start: int
    count: int
    rows: list[str]

    def problem(self, n_lines: int, recount: bool = False) -> str | None:
        """Why the strict reading cannot apply this hunk to an `n_lines`-line program (None: it
        can). With `recount`, a count that disagrees with the rows is not a problem."""
        if self.old_count != 0:
            return f"hunk removes lines: {self.header}"
        if any(not r.startswith("+") for r in self.rows):
            return f"hunk has non-insertion lines: {self.header}"
        if len(self.rows) != self.count and not recount:
            return self.miscount()
        if self.rows and not 1 <= self.start <= n_lines + 1:
            return f"hunk position {self.start} outside a {n_lines}-line program"
        return None

    def miscount(self) -> str:
        return f"hunk says {self.count} lines, has {len(self.rows)}: {self.header}"

    def apply(self, lines: list[str]) -> range:
        """Insert the rows (one `+` stripped each) in place; the indices of the new lines."""
        at = self.start - 1 if self.rows else self.start
        lines[at:at] = [r[1:] for r in self.rows]
        return range(at, at + len(self.rows))


def parse_edit(edit: str) -> list[Hunk | str]:
    """The hunks of one edit in order, and, as strings, runs of text outside any hunk.

    Empty rows and Markdown fence rows are not part of the format and are dropped."""
    out: list[Hunk | str] = []
    for row in edit.split("\n"):
        if row == "" or _FENCE.match(row):
            continue
        m = _HUNK.match(row)
        if m:
            old, start, count = m.group(2), int(m.group(3)), m.group(4)
            out.append(Hunk(m.group(0), int(old) if old is not None else 1, start, int(count) if count else 1, []))
        elif out and isinstance(out[-1], Hunk):
            out[-1].rows.append(row)
        elif not out or not isinstance(out[-1], str):
            out.append(row)
    return out


def objection(item: Hunk | str, n_lines: int, recount: bool = False) -> str | None:
    """Why the strict reading cannot apply an item of `parse_edit` (None: it can)."""
    if isinstance(item, str):
        return f"text outside a hunk: {item[:60]!r}"
    return item.problem(n_lines, recount)


def _apply_edit(
    lines: list[str], edit: str, strict: bool, skipped: list[str], recounted: list[str] | None = None
) -> int:
    """Apply the hunks of one edit to `lines` in place by the strict reading; returns the number
    applied. With a `recounted` list, a hunk whose rows disagree with its header's count is
    applied with the rows it has (and noted there) instead of being malformed."""
    applied = 0
    for hunk in parse_edit(edit):
        problem = objection(hunk, len(lines), recount=recounted is not None)
        if problem is not None or isinstance(hunk, str):
            if strict:
                raise EditError(problem)
            skipped.append(str(problem))
            continue
        if recounted is not None and len(hunk.rows) != hunk.count:
            recounted.append(hunk.miscount())
        hunk.apply(lines)
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


def resolve(model_output: str, rule: str = "paper", *, raise_errors: bool = False) -> Resolved:
    """Rebuild the program a model wrote as `<|diff|>`-separated edits, by `rule` (see `RULES`).

    The paper rule never fails; `raise_errors` makes the strict rules raise `EditError` at the
    first hunk they would skip (what `generate` and `format` need of their own output)."""
    if rule not in RULES:
        raise ValueError(f"unknown resolution rule {rule!r}; expected one of {', '.join(RULES)}")
    text = model_output.replace("\r\n", "\n")
    if rule == "paper":
        return _resolve_paper(text)
    return _resolve_strict(text, rule, raise_errors)


def _resolve_strict(text: str, rule: str, raise_errors: bool) -> Resolved:
    """The diff format's reading: split on every `<|diff|>`; chunks before the first that holds a
    hunk header are skipped (the prompt, prose); after an edit, an empty chunk is the
    end-of-edits marker and ends the program, so a model that wrote past it does not get its
    next answer appended."""
    lines: list[str] = []
    skipped: list[str] = []
    recounted: list[str] | None = [] if rule == "recount" else None
    edits = hunks = 0
    for chunk in text.split(DIFF_TOKEN):
        if not chunk.strip():
            if edits:
                break  # the end-of-edits marker
            continue
        if not edits and "@@" not in chunk:
            continue  # the prompt, or prose before the first edit
        hunks += _apply_edit(lines, chunk, raise_errors, skipped, recounted)
        edits += 1
    if not hunks and not skipped and DIFF_TOKEN not in text:  # "" or plain text; an explicit empty sequence is fine
        problem = "no edits in the output"
        if raise_errors:
            raise EditError(problem)
        skipped.append(problem)
    return Resolved(_join(lines), rule, edits, hunks, skipped, recounted or [])


def _paper_hunk(text: str, n_lines: int) -> tuple[int, list[str], str | None] | str:
    """(new-side start c, rows, the strict reading's objection or None) of one paper-rule hunk
    applied to an `n_lines`-line program, or why the rule skips it. `text` runs from the hunk's
    `@@` (or its piece's start) to the next hunk."""
    parts = text.split("@@")
    if len(parts) != 3:
        return f"not one '@@ ... @@' header: {text.strip()[:60]!r}"
    header = parts[1]
    sides = header.strip().split(" ")
    try:
        if len(sides) != 2:
            raise ValueError
        start = int(sides[1].lstrip("+").split(",")[0])
    except ValueError:
        return f"header does not parse: @@{header}@@"
    rows = [r[1:] if r[:1] in ("+", "-") else r for r in parts[2].lstrip().split("\n")]
    at = text.index("@@")
    strict = parse_edit(text[at:])
    if text[:at].replace(DIFF_TOKEN, "").strip():  # prose before the hunk (a separator is fine)
        found: str | None = f"text outside a hunk: {text[:at].strip()[:60]!r}"
    elif len(strict) != 1:
        found = f"not one hunk in the diff format: @@{header}@@"
    else:
        found = objection(strict[0], n_lines)
    return start, rows, found


def paper_pieces(text: str) -> list[str]:
    """Model output cut where the paper's rule cuts it (at `\\n<|diff|>`, after the exact EOS
    string is removed); pieces without `@@` are not edits."""
    return text.replace("\r\n", "\n").removesuffix(_EOS_TEXT).split(EDIT_SEPARATOR)


def apply_paper_piece(
    lines: list[str], piece: str, skipped: list[str], recounted: list[str], after_end: bool = False
) -> list[tuple[int, int, str]]:
    """Apply one piece's hunks by the paper's rule, in place; (first index, rows, hunk text) of
    each applied hunk, where the rows landed at the time. `after_end`: the piece follows the
    end-of-edits marker (applied, and noted in `recounted`)."""
    applied = []
    first, *rest = piece.split("\n@@")
    for part in [first, *("\n@@" + r for r in rest)]:
        if "@@" not in part:
            continue
        got = _paper_hunk(part, len(lines))
        if isinstance(got, str):
            skipped.append(got)
            continue
        start, rows, objection = got
        if after_end:
            objection = "an edit after the end-of-edits marker"
        if objection:
            recounted.append(objection)
        at = start - 1
        where = len(lines) if at >= len(lines) else len(lines[:at])  # Python slicing, as theirs
        lines[where:where] = rows
        applied.append((where, len(rows), part.strip("\n")))
    return applied


def _resolve_paper(text: str) -> Resolved:
    """The authors' `resolve_edit_path` (their src/utils.py), read as behaviour: split on
    `\\n<|diff|>` and skip pieces without `@@`; split a piece into hunks at `\\n@@`; skip a hunk
    whose header does not parse; insert every row (one leading `+` or `-` stripped) at line c-1
    of the program so far (Python slicing, as theirs: c = 0 inserts before the last line),
    appending when that is at or past its end; ignore the count and the old side; cut
    Markdown fences from the result as their evaluation does. Two accidents are not copied
    (docs/design.md §2.6): their `rstrip("<|endoftext|>")` strips a character set (here the
    exact string), and their `lstrip` removes every leading `+`/`-` (here exactly one)."""
    lines: list[str] = []
    skipped: list[str] = []
    recounted: list[str] = []
    edits = hunks = 0
    ended = False
    for piece in paper_pieces(text):
        if "@@" not in piece:
            ended = ended or (edits > 0 and not piece.strip())
            continue
        edits += 1
        hunks += len(apply_paper_piece(lines, piece, skipped, recounted, ended))
    if not edits and DIFF_TOKEN not in text:  # "" or plain text; an explicit empty sequence is fine
        skipped.append("no edits in the output")
    return Resolved(cut_at_fences(_join(lines)), "paper", edits, hunks, skipped, recounted)
