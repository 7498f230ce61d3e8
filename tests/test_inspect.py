"""`lintseq show` and `lintseq stats` on a small file whose numbers are counted by hand below."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lintseq import derive_seed, sample_edit_sequence
from lintseq.cli import main
from lintseq.diffs import EditError, edits_from_completion, resolve
from lintseq.formatting import format_file, format_row
from lintseq.inspection.sequences import DataError, edit_kinds, find_sequence, replay
from lintseq.inspection.view import ADDED

# Three sequences of two programs, written by hand.
#   A (row 0): def f(x) / y = x + 1 / if y > 2: / y = 0 / return y, in three edits
#   B (row 1, sample 0) and C (row 1, sample 1): import os / x = 1 / print(x)
A = [
    "@@ -0,0 +1,2 @@\n+def f(x):\n+    return y",  # header with body: block, 2 lines
    "@@ -1,0 +2 @@\n+    y = x + 1",  # one line
    "@@ -2,0 +3,2 @@\n+    if y > 2:\n+        y = 0",
]  # block, 2 lines
B = [
    "@@ -0,0 +1,2 @@\n+import os\n+x = 1",  # two statements: several lines
    "@@ -2,0 +3 @@\n+print(x)",
]  # one line
C = [
    "@@ -0,0 +1 @@\n+x = 1",  # one line
    "@@ -0,0 +1 @@\n+import os\n@@ -1,0 +3 @@\n+print(x)",
]  # two hunks, two statements: several lines
REJECTS = [
    {"row": 2, "reason": "does not parse: line 1", "excerpt": ""},
    {"row": 3, "reason": "does not parse: line 4", "excerpt": ""},
    {"row": 4, "reason": "empty program", "excerpt": ""},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def generated(tmp_path) -> Path:
    rows = [
        {
            "id": "t/a",
            "instruction": "Write f.",
            "response": "",
            "edit_path": A,
            "sample": 0,
            "seed": 1,
            "n_edits": 3,
            "row": 0,
        },
        {
            "id": "t/b",
            "instruction": "Print x.",
            "response": "",
            "edit_path": B,
            "sample": 0,
            "seed": 2,
            "n_edits": 2,
            "row": 1,
        },
        {
            "id": "t/b",
            "instruction": "Print x.",
            "response": "",
            "edit_path": C,
            "sample": 1,
            "seed": 3,
            "n_edits": 2,
            "row": 1,
        },
    ]
    path = write_jsonl(tmp_path / "edits.jsonl", rows)
    write_jsonl(tmp_path / "edits.rejects.jsonl", REJECTS)  # where generate writes them
    return path


def test_replay_marks_the_lines_each_edit_added():
    steps = replay(C)
    assert [s.lines for s in steps] == [["x = 1"], ["import os", "x = 1", "print(x)"]]
    assert [s.added for s in steps] == [[0], [0, 2]]
    assert steps[1].hunks == ["@@ -0,0 +1 @@\n+import os", "@@ -1,0 +3 @@\n+print(x)"]
    assert edit_kinds(A) == ["block", "one line", "block"]
    assert edit_kinds(B) == ["several lines", "one line"]
    assert edit_kinds(C) == ["one line", "several lines"]


def test_completion_round_trip_and_bad_rows(generated, tmp_path):
    row = format_row({"instruction": "Write f.", "edit_path": A}, "lintseq")
    assert edits_from_completion(row["completion"]) == A
    with pytest.raises(ValueError, match="end-of-edits"):
        edits_from_completion("@@ -0,0 +1 @@\n+x = 1")
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"instruction": "x", "code": "y"}])
    with pytest.raises(DataError, match="line 1: neither edit_path"):
        find_sequence(bad, None, None)
    with pytest.raises(DataError, match="no sequence with row 1 and sample 2 \\(3 rows read\\)"):
        find_sequence(generated, 1, 2)
    assert find_sequence(generated, 1, 1).edits == C


def test_stats_match_a_hand_count(generated, tmp_path):
    res = CliRunner().invoke(main, ["stats", str(generated), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "out" / "stats.json").read_text())["files"]["edits.jsonl"]
    assert doc["rows"] == 3 and doc["programs"] == 2
    # edits per sequence 3, 2, 2
    assert doc["edits_per_sequence"] == {"count": 3, "mean": 2.33, "median": 2, "p90": 3, "max": 3}
    # lines per edit: A 2, 1, 2; B 2, 1; C 1, 2 -> 11 lines in 7 edits
    assert doc["lines_per_edit"] == {"count": 7, "mean": 1.57, "median": 2, "p90": 2, "max": 2}
    assert doc["edits"] == 7
    assert doc["edit_kinds"] == {"one line": 3, "block": 2, "several lines": 2}
    assert doc["edit_kind_shares"] == {"one line": 0.4286, "block": 0.2857, "several lines": 0.2857}
    assert doc["rejected"] == 3 and doc["rejects_by_reason"] == {"does not parse": 2, "empty program": 1}
    # characters per row: exactly the training text `lintseq format` writes
    formatted = tmp_path / "lintseq.jsonl"
    format_file(generated, formatted, "lintseq")
    texts = [json.loads(line) for line in formatted.read_text().splitlines()]
    sizes = sorted(len(r["prompt"] + r["completion"]) for r in texts)
    assert doc["characters_per_row"]["max"] == sizes[-1] and doc["characters_per_row"]["median"] == sizes[1]
    assert "| adding a block | 28.6% (2) |" in (tmp_path / "out" / "stats.md").read_text()
    for png in ("edits_per_sequence", "lines_per_edit", "edit_kinds", "characters_per_row", "rejects"):
        assert (tmp_path / "out" / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "adding several lines" in res.output and "28.6% (2)" in res.output


def test_stats_on_format_output_and_two_files_side_by_side(generated, tmp_path):
    pytest.importorskip("transformers")
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from tiny_lm import train_tokenizer

    from lintseq.training.sft import sequence_lengths

    lint, base = tmp_path / "lintseq.jsonl", tmp_path / "base.jsonl"
    format_file(generated, lint, "lintseq")
    format_file(generated, base, "baseline")
    tok_dir = tmp_path / "tok"
    train_tokenizer().save_pretrained(tok_dir)
    res = CliRunner().invoke(
        main, ["stats", str(generated), str(lint), "--tokenizer", str(tok_dir), "-o", str(tmp_path / "cmp")]
    )
    assert res.exit_code == 0, res.output
    files = json.loads((tmp_path / "cmp" / "stats.json").read_text())["files"]
    a, b = files["edits.jsonl"], files["lintseq.jsonl"]
    for key in ("rows", "programs", "edits_per_sequence", "lines_per_edit", "edit_kinds"):
        assert a[key] == b[key], key
    # tokens per row as `lintseq train` counts them (prompt, completion, EOS)
    from transformers import AutoTokenizer

    rows = [json.loads(line) for line in lint.read_text().splitlines()]
    lengths = sorted(sequence_lengths(rows, AutoTokenizer.from_pretrained(tok_dir)))
    assert a["tokens_per_row"]["max"] == b["tokens_per_row"]["max"] == lengths[-1]
    assert a["tokens_per_row"]["median"] == lengths[1]
    assert b["rejects_file"] is None and a["rejected"] == 3

    res = CliRunner().invoke(main, ["stats", str(base), "-o", str(tmp_path / "base")])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "base" / "stats.json").read_text())["files"]["base.jsonl"]
    assert doc["rows"] == 2 and doc["styles"] == {"baseline": 2} and doc["edits"] == 0
    res = CliRunner().invoke(main, ["stats", str(base), str(lint), str(generated), "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "one FILE, or two" in res.output


def _panels(text: str) -> dict[int, list[str]]:
    """Lines of each edit's panel in a rendering, by edit number."""
    panels: dict[int, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.search(r"edit (\d+)/\d+:", line)
        if m:
            current = int(m.group(1))
            panels[current] = []
        elif current is not None:
            panels[current].append(line)
    return panels


def test_show_in_the_terminal_marks_each_edits_lines(generated):
    res = CliRunner().invoke(main, ["show", str(generated), "--row", "0"], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    assert "t/a" in res.output and "Write f." in res.output
    assert "edit 3/3: +2 lines in 1 hunk (block), 5 lines now" in res.output
    panels = _panels(res.output)
    marked = {
        k: [re.sub(r"\s+", " ", line.strip("│ ")) for line in lines if re.match(r"│\s*\d+ \+", line)]
        for k, lines in panels.items()
    }
    assert marked == {1: ["1 + def f(x):", "2 + return y"], 2: ["2 + y = x + 1"], 3: ["3 + if y > 2:", "4 + y = 0"]}
    assert "@@ -2,0 +3,2 @@" in "\n".join(panels[3])


def test_show_html_has_every_state_with_the_added_lines_highlighted(generated, tmp_path):
    page = tmp_path / "c.html"
    res = CliRunner().invoke(main, ["show", str(generated), "--row", "1", "--sample", "1", "--html", str(page)])
    assert res.exit_code == 0, res.output
    doc = page.read_text(encoding="utf-8")
    assert doc.startswith("<!DOCTYPE html>") and "<title>lintseq show: t/b</title>" in doc
    assert "<script" not in doc and "http" not in doc  # opens offline, runs nothing
    lines = doc.split("\n")

    def plain(line: str) -> str:
        return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", line)).strip("│ "))

    panels = _panels("\n".join(lines))
    assert sorted(panels) == [1, 2]
    added = {k: [plain(x) for x in raw if f"background-color: {ADDED.split()[-1]}" in x] for k, raw in panels.items()}
    assert added == {1: ["1 + x = 1"], 2: ["1 + import os", "3 + print(x)"]}
    states = {k: [plain(x) for x in raw if re.match(r"\d+ ", plain(x))] for k, raw in panels.items()}
    assert states[2] == ["1 + import os", "2 x = 1", "3 + print(x)"]


def test_show_reads_format_output_of_both_styles(tmp_path, sample_rows):
    row = sample_rows[0]
    path = sample_edit_sequence(row["response"], seed=derive_seed(0, row["response"], 0))
    gen = write_jsonl(tmp_path / "g.jsonl", [{**row, "edit_path": path, "sample": 0, "row": 0, "n_edits": len(path)}])
    format_file(gen, tmp_path / "l.jsonl", "lintseq")
    format_file(gen, tmp_path / "b.jsonl", "baseline")
    one = CliRunner().invoke(main, ["show", str(gen)], env={"COLUMNS": "120"})
    two = CliRunner().invoke(main, ["show", str(tmp_path / "l.jsonl")], env={"COLUMNS": "120"})
    assert one.exit_code == two.exit_code == 0
    assert _panels(one.output) == _panels(two.output) and len(_panels(one.output)) == len(path)
    base = CliRunner().invoke(main, ["show", str(tmp_path / "b.jsonl")], env={"COLUMNS": "120"})
    assert base.exit_code == 0 and "a baseline row holds no edits" in base.output
    missing = CliRunner().invoke(main, ["show", str(gen), "--row", "5"])
    assert missing.exit_code == 1 and "no sequence with row 5" in missing.output


def test_show_replays_a_models_sample_by_the_papers_rule(tmp_path):
    """A sampled completion is shown as `evaluate` reads it: a miscounted hunk and one past the
    end are applied (the paper's rule), and the last state is the program that gets scored."""
    completion = (
        "@@ -0,0 +1,3 @@\n+def f(x):\n+    return x\n<|diff|>"  # says 3 rows, has 2
        "@@ -0,0 +1 @@\n+import os\n<|diff|>"
        "@@ -9,0 +9 @@\n+print(f(1))\n<|diff|>\n<|diff|>"  # past the end: appended
    )
    samples = tmp_path / "samples.jsonl"
    rows = [
        {"task_id": "T/1", "sample": 0, "completion": "x = 1\n", "style": "baseline"},
        {"task_id": "T/1", "sample": 1, "completion": completion, "style": "lintseq"},
    ]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    seq = find_sequence(samples, None, 1, task="T/1")
    assert seq.style == "sample" and seq.rule == "paper" and len(seq.edits) == 3
    steps = replay(seq.edits, seq.rule)
    assert steps[-1].lines == ["import os", "def f(x):", "    return x", "print(f(1))"]
    assert steps[1].added == [0] and steps[2].added == [3]
    assert "".join(line + "\n" for line in steps[-1].lines) == resolve(completion).program == seq.program
    with pytest.raises(EditError):
        replay(seq.edits)  # the diff format's strict reading would not apply it
    plain = find_sequence(samples, None, 0, task="T/1")
    assert plain.edits == [] and plain.program == "x = 1\n"
    res = CliRunner().invoke(main, ["show", str(samples), "--task", "T/1", "--sample", "1"])
    assert res.exit_code == 0, res.output
    assert "resolved by the paper's rule" in res.output and "edit 3/3" in res.output
    missing = CliRunner().invoke(main, ["show", str(samples), "--task", "T/9"])
    assert missing.exit_code != 0 and "task T/9" in missing.output
