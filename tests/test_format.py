"""`lintseq format`: the text layout of docs/design.md §2.5, round trip through `resolve`, rejects."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from lintseq import DIFF_TOKEN, apply_edits, derive_seed, normalize, resolve, sample_edit_sequence
from lintseq.cli import main
from lintseq.formatting import (
    FormatError,
    format_file,
    format_row,
    lintseq_completion,
    prompt_for,
)
from lintseq.io import AtomicJsonl


def sample_rows(n: int = 25) -> list[dict]:
    text = resources.files("lintseq").joinpath("data/sample.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()[:n]]


def generated(rows: list[dict], s: int = 3, linter: str = "fast") -> list[dict]:
    """What `lintseq generate` writes: source fields + edit_path, sample, seed, n_edits."""
    out = []
    for row in rows:
        for k in range(s):
            seed = derive_seed(0, row["response"], k)
            path = sample_edit_sequence(row["response"], seed=seed, linter=linter)
            out.append({**row, "edit_path": path, "sample": k, "seed": seed, "n_edits": len(path)})
    return out


@pytest.fixture(scope="module")
def gen_rows() -> list[dict]:
    return generated(sample_rows(25), s=3)


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_lintseq_text_is_the_spec_layout(gen_rows):
    row = gen_rows[0]
    out = format_row(row, "lintseq")
    edits = row["edit_path"]
    eos = "<|endoftext|>"
    spec = row["instruction"] + "\n" + DIFF_TOKEN + ("\n" + DIFF_TOKEN).join(edits)
    spec += "\n" + DIFF_TOKEN + "\n" + DIFF_TOKEN + eos
    assert out["prompt"] + out["completion"] + eos == spec
    assert out["prompt"] == row["instruction"] + "\n" + DIFF_TOKEN
    assert out["completion"].count(DIFF_TOKEN) == len(edits) + 1
    assert out["completion"].endswith("\n" + DIFF_TOKEN + "\n" + DIFF_TOKEN)
    assert (out["sample"], out["seed"], out["n_edits"], out["style"]) == (0, row["seed"], len(edits), "lintseq")


def test_every_lintseq_completion_resolves_to_the_program(gen_rows):
    for row in gen_rows:
        out = format_row(row, "lintseq")
        program = normalize(row["response"])
        assert resolve(out["completion"], "strict", raise_errors=True).program == program
        # what `lintseq sample` sees: the prompt is followed by the model's completion
        full = resolve(out["prompt"] + out["completion"], "strict", raise_errors=True)
        assert full.program == program and full.clean


def test_baseline_text_and_sampling_prompt(gen_rows):
    raw = sample_rows(3)[1]
    out = format_row(raw, "baseline")
    assert out["prompt"] == raw["instruction"] + "\n" == prompt_for(raw["instruction"], "baseline")
    assert out["completion"] == normalize(raw["response"])
    # from generate output the program is the replayed edits: identical to what LintSeq learns
    row = gen_rows[0]
    assert format_row(row, "baseline")["completion"] == apply_edits(row["edit_path"])
    assert format_row(row, "lintseq")["prompt"] == prompt_for(row["instruction"], "lintseq")


@settings(max_examples=25, deadline=None)
@given(
    instruction=st.text(min_size=1, max_size=80).filter(lambda t: DIFF_TOKEN not in t and "@@" not in t),
    pick=st.integers(0, 24),
)
def test_any_instruction_round_trips(gen_rows, instruction, pick):
    row = {**gen_rows[pick * 3], "instruction": instruction}
    out = format_row(row, "lintseq")
    assert out["prompt"].startswith(instruction)
    assert resolve(out["prompt"] + out["completion"]).program == normalize(row["response"])


def test_no_linter_ablation_formats_the_same_way():
    rows = generated(sample_rows(5), s=1, linter="none")
    for row in rows:
        out = format_row(row, "lintseq")
        assert resolve(out["completion"], "strict", raise_errors=True).program == normalize(row["response"])


def test_completion_of_no_edits_is_only_the_terminator():
    assert lintseq_completion([]) == "\n" + DIFF_TOKEN
    assert lintseq_completion(["@@ -0,0 +1 @@\n+x = 1"]) == "@@ -0,0 +1 @@\n+x = 1\n<|diff|>\n<|diff|>"


def test_bad_rows_raise_format_error(gen_rows):
    good = gen_rows[0]
    with pytest.raises(FormatError, match="edit_path"):
        format_row({k: v for k, v in good.items() if k != "edit_path"}, "lintseq")
    with pytest.raises(FormatError, match="replay"):
        format_row({**good, "edit_path": ["@@ -0,0 +5,2 @@\n+x"]}, "lintseq")
    with pytest.raises(FormatError, match="instruction"):
        format_row({**good, "instruction": f"use {DIFF_TOKEN}"}, "lintseq")
    with pytest.raises(FormatError, match="'code'"):
        format_row({"instruction": "x"}, "baseline", code_field="code")
    with pytest.raises(ValueError, match="style"):
        format_row(good, "neither")  # type: ignore[arg-type]


def test_format_file_counts_dedupes_and_rejects(tmp_path, gen_rows):
    src = tmp_path / "gen.jsonl"
    broken = {**gen_rows[0], "edit_path": ["not a hunk"], "sample": 0}
    write_jsonl(src, gen_rows[:30] + [broken])
    with open(src, "a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    dst = tmp_path / "out" / "ls.jsonl"
    stats = format_file(src, dst, "lintseq")
    assert (stats.read, stats.written, sum(stats.rejected.values())) == (32, 30, 2)
    assert len(read_jsonl(dst)) == 30
    rejects = read_jsonl(tmp_path / "out" / "ls.rejects.jsonl")  # beside the output, as generate writes them
    assert [r["line"] for r in rejects] == [31, 32]
    assert json.loads(rejects[0]["raw"])["edit_path"] == ["not a hunk"]

    base = tmp_path / "base.jsonl"
    stats = format_file(src, base, "baseline")
    assert stats.written == 10 and stats.duplicates == 20  # one per program out of s = 3
    assert [r["completion"] for r in read_jsonl(base)] == [normalize(r["response"]) for r in gen_rows[:30:3]]


def test_format_file_reads_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sample_rows(4)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "raw.parquet")
    stats = format_file(tmp_path / "raw.parquet", tmp_path / "b.jsonl", "baseline")
    assert stats.written == 4
    assert read_jsonl(tmp_path / "b.jsonl")[2]["id"] == rows[2]["id"]


def test_interrupted_write_leaves_no_file(tmp_path):
    target = tmp_path / "x.jsonl"
    with pytest.raises(RuntimeError), AtomicJsonl(target) as out:
        out.write({"a": 1})
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_cli_format_both_styles(tmp_path, gen_rows):
    src = tmp_path / "gen.jsonl"
    write_jsonl(src, gen_rows[:9])
    runner = CliRunner()
    res = runner.invoke(main, ["format", str(src), "-o", str(tmp_path / "ls.jsonl")])
    assert res.exit_code == 0, res.output
    assert len(read_jsonl(tmp_path / "ls.jsonl")) == 9
    res = runner.invoke(main, ["format", str(src), "-o", str(tmp_path / "b.jsonl"), "--style", "baseline"])
    assert res.exit_code == 0, res.output
    assert len(read_jsonl(tmp_path / "b.jsonl")) == 3
    res = runner.invoke(main, ["format", str(src), "-o", str(tmp_path / "c.jsonl"), "--chat"])
    assert res.exit_code != 0 and "--tokenizer" in res.output


def test_cli_format_chat_template(tmp_path, gen_rows):
    from lintseq.training.tokenizer import train_bpe_tokenizer

    tok = train_bpe_tokenizer([r["instruction"] + r["response"] for r in gen_rows], vocab_size=400)
    tok.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    tok.save_pretrained(tmp_path / "tok")
    src = tmp_path / "gen.jsonl"
    write_jsonl(src, gen_rows[:3])
    res = CliRunner().invoke(
        main, ["format", str(src), "-o", str(tmp_path / "c.jsonl"), "--chat", "--tokenizer", str(tmp_path / "tok")]
    )
    assert res.exit_code == 0, res.output
    row = read_jsonl(tmp_path / "c.jsonl")[0]
    assert row["prompt"] == f"<|user|>{gen_rows[0]['instruction']}\n<|assistant|>{DIFF_TOKEN}"
    assert resolve(row["prompt"] + row["completion"]).program == normalize(gen_rows[0]["response"])
