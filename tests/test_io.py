"""`lintseq.io`: atomic writes (whole file or the old one, no leftovers) and JSON Lines read
line by line, with every line that is not an object reported, never dropped."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lintseq.io import (
    AppendLog,
    AtomicFile,
    AtomicJsonl,
    JsonlError,
    atomic_write,
    load_jsonl,
    read_jsonl,
    swap_dir,
    temp_dir,
    write_atomic,
    write_json,
    write_jsonl,
)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    write_atomic(target, b"\x00bytes")
    assert target.read_bytes() == b"\x00bytes"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()  # like any file the user writes


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="stop"), atomic_write(target) as fh:
        fh.write("half of it")
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl.") and p.name.endswith(".part")]
        raise RuntimeError("stop")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
    with pytest.raises(TypeError):
        write_json(tmp_path / "doc.json", {"x": object()})  # not JSON: nothing is created
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_two_files_are_finished_before_either_moves(tmp_path: Path) -> None:
    """`close` then `commit`: both temporaries are complete before the first rename."""
    first, second = AtomicFile(tmp_path / "a"), AtomicFile(tmp_path / "b")
    first.write("A")
    second.write("B")
    first.close()
    second.close()
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    first.commit()
    second.commit()
    assert (tmp_path / "a").read_text() == "A" and (tmp_path / "b").read_text() == "B"
    third = AtomicFile(tmp_path / "c")
    third.write("C")
    third.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_temp_dir_is_a_fresh_hidden_folder_beside_its_target(tmp_path: Path) -> None:
    a, b = temp_dir(tmp_path / "model"), temp_dir(tmp_path / "model")
    assert a != b and a.parent == b.parent == tmp_path and not any(a.iterdir())
    assert a.name.startswith(".model.") and a.name.endswith(".part")
    assert a.stat().st_mode & 0o777 == 0o777 & ~_umask()  # not mkdtemp's private 0700


def test_json_writers_keep_their_formats(tmp_path: Path) -> None:
    write_json(tmp_path / "d.json", {"b": "é", "a": [1]})
    assert (tmp_path / "d.json").read_text(encoding="utf-8") == '{\n  "b": "\\u00e9",\n  "a": [\n    1\n  ]\n}\n'
    write_jsonl(tmp_path / "r.jsonl", [{"x": "é"}, {"y": 1}])
    assert (tmp_path / "r.jsonl").read_text(encoding="utf-8") == '{"x": "é"}\n{"y": 1}\n'
    write_jsonl(tmp_path / "a.jsonl", [{"x": "é"}], ensure_ascii=True)
    assert (tmp_path / "a.jsonl").read_bytes() == b'{"x": "\\u00e9"}\n'
    with AtomicJsonl(tmp_path / "s.jsonl") as out:
        out.write({"z": "\u2028"})
    assert load_jsonl(tmp_path / "s.jsonl") == [{"z": "\u2028"}]


def test_every_bad_line_is_reported_with_its_number_and_text(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"a": 1}\n\n   \n{"a": \n[1, 2]\n{"a": "\xe9"}\n"text"\n{"a": 2}\r\n{"a": 3}'
    )  # the last line has no newline
    lines = list(read_jsonl(path))
    assert [(x.number, x.index) for x in lines] == [(1, 0), (4, 1), (5, 2), (6, 3), (7, 4), (8, 5), (9, 6)]
    assert [x.value for x in lines] == [{"a": 1}, None, None, None, None, {"a": 2}, {"a": 3}]
    assert [x.error.split(":")[0] for x in lines if x.value is None] == [
        "invalid JSON",
        "not a JSON object",
        "not UTF-8",
        "not a JSON object",
    ]
    assert lines[3].error == "not UTF-8: byte 0xe9 at offset 7" and lines[3].text == '{"a": "\\xe9"}\n'
    assert lines[1].text == '{"a": \n' and lines[2].error == "not a JSON object: list"
    # the column is json's, counted on the line after the newline it reached (as generate has always reported it)
    with pytest.raises(JsonlError, match=rf"^{re.escape(str(path))}:4: invalid JSON: Expecting value at column 1$"):
        load_jsonl(path)


def test_a_descriptor_is_read_from_where_it_stands_and_surrogates_on_request(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        b'{"skip": 1}\n' + json.dumps({"s": "\ud800"}, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n"
    )
    fd = os.open(path, os.O_RDONLY)
    os.lseek(fd, len(b'{"skip": 1}\n'), os.SEEK_SET)
    [line] = list(read_jsonl(fd))
    assert line.number == 1 and line.value is None and line.error.startswith("not UTF-8")
    with pytest.raises(OSError):
        os.fstat(fd)  # the reader owned the descriptor and closed it
    assert load_jsonl(path, errors="surrogatepass")[1] == {"s": "\ud800"}
    assert list(read_jsonl(path, errors="replace"))[1].value == {"s": "\ufffd\ufffd\ufffd"}


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)  # \u2028, \x85, \r ... included
_rows = st.lists(st.dictionaries(_text, st.one_of(_text, st.integers(), st.none()), max_size=3), max_size=8)


@settings(max_examples=60, deadline=None)
@given(rows=_rows, ascii_=st.booleans(), garbage=st.lists(st.sampled_from(["[]", "{", "7", '"s"']), max_size=4))
def test_written_rows_read_back_in_order_and_garbage_is_never_dropped(tmp_path_factory, rows, ascii_, garbage) -> None:
    path = tmp_path_factory.mktemp("p") / "rows.jsonl"
    write_jsonl(path, rows, ensure_ascii=ascii_)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(g + "\n" for g in garbage))
    lines = list(read_jsonl(path))
    assert [x.value for x in lines[: len(rows)]] == rows
    assert [x.text.rstrip("\n") for x in lines[len(rows) :]] == garbage
    assert all(x.value is None and x.error for x in lines[len(rows) :])
    assert [x.number for x in lines] == list(range(1, len(rows) + len(garbage) + 1))


# ------------------------------------------------------------------------------ append logs


def test_a_torn_last_row_is_cut_and_the_next_append_starts_its_own_line(tmp_path: Path) -> None:
    log = AppendLog(tmp_path / "rows.jsonl")
    log.open()
    log.append([{"a": 1}, {"a": "\udcff"}])  # a lone surrogate, as a source file's bad byte reads
    log.close()
    with open(log.partial, "ab") as f:
        f.write(b'{"a": 3, "to')  # a crash mid-write
    assert log.read() == [{"a": 1}, {"a": "\udcff"}]
    assert log.partial.read_bytes().endswith(b"}\n")  # the torn bytes are gone from the file too
    log.open()
    log.append([{"a": 4}])
    log.commit()
    assert not log.partial.exists()
    assert [r["a"] for r in load_jsonl(log.path, errors="surrogatepass")] == [1, "\udcff", 4]


def test_a_bad_whole_line_in_a_log_is_an_error_naming_it(tmp_path: Path) -> None:
    log = AppendLog(tmp_path / "rows.jsonl")
    log.partial.write_bytes(b'{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(JsonlError, match=r"rows\.jsonl\.partial:2: invalid JSON"):
        log.read()


def test_rewrite_keeps_a_subset_and_refuses_an_open_log(tmp_path: Path) -> None:
    log = AppendLog(tmp_path / "rows.jsonl", durable=True)
    log.open()
    log.append({"i": i} for i in range(4))
    with pytest.raises(ValueError, match="open"):
        log.rewrite([])
    log.close()
    log.rewrite(r for r in log.read() if r["i"] % 2)
    assert log.read() == [{"i": 1}, {"i": 3}]
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl.partial"]
    log.discard()
    assert not any(tmp_path.iterdir())


def test_swap_dir_replaces_a_folder_whole_or_not_at_all(tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "old.txt").write_text("old")
    work = temp_dir(out)
    (work / "new.txt").write_text("new")
    swap_dir(work, out)
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    with pytest.raises(OSError):
        swap_dir(tmp_path / "missing", out)  # the rename fails: the old folder is put back
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
