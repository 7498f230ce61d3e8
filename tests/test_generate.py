import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner
from test_diffs import is_insertion_only

from lintseq import apply_edits, normalize
from lintseq.cli import main
from lintseq.engine.generate import Settings, generate


def write_jsonl(path: Path, rows: list) -> Path:
    with open(path, "wb") as f:
        for row in rows:
            f.write(row if isinstance(row, bytes) else (json.dumps(row) + "\n").encode())
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def big_program(functions: int = 40) -> str:
    parts = []
    for i in range(functions):
        parts.append(
            f"def f{i}(a, b):\n    x = a + {i}\n    if x > b:\n        y = x * 2\n    else:\n        y = b\n\n"
            f"    return y + a\n\n\n"
        )
    return "".join(parts)


GOOD = {
    "plain": "def add(a, b):\n    return a + b\n",
    "tabs": "def f(a):\n\tif a:\n\t\treturn 1\n\treturn 2\n",
    "crlf": "import os\r\n\r\ndef g():\r\n    return os.sep\r\n",
    "markdown": "Here is the code:\n```python\ndef h(x):\n    return x * 2\n```\nIt doubles x.",
    "huge": big_program(500),  # 5,000 lines
}


def bad_input_file(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    assert GOOD["huge"].count("\n") >= 5000
    rows: list = []
    expected_rejects: dict[int, str] = {}

    def add(row, reason=None):
        if reason:
            expected_rejects[len(rows)] = reason
        rows.append(row)

    add({"instruction": "plain", "response": GOOD["plain"]})
    add(b'{"instruction": "broken", "response": \n', "invalid JSON")
    add({"instruction": "tabs", "response": GOOD["tabs"]})
    add({"response": "x = 1\n"}, "missing field")
    add({"instruction": "num", "response": 42}, "field not a string")
    add({"instruction": "crlf", "response": GOOD["crlf"]})
    add({"instruction": "syntax", "response": "def f(:\n    pass\n"}, "does not parse")
    add({"instruction": "empty", "response": ""}, "empty program")
    add({"instruction": "comments", "response": "# only a comment\n\n# another\n"}, "no code")
    add(b'{"instruction": "latin1", "response": "x = \xe9"}\n', "not UTF-8")
    add({"instruction": "markdown", "response": GOOD["markdown"]})
    add(b"[1, 2, 3]\n", "not a JSON object")
    add({"instruction": "js", "response": "```js\nconsole.log(1)\n```"}, "not Python")
    add({"instruction": "huge", "response": GOOD["huge"]})
    add({"instruction": "nul", "response": "x = 1\x00\n"}, "does not parse")
    return write_jsonl(tmp_path / "bad.jsonl", rows), expected_rejects


def test_bad_input_is_processed_to_the_end(tmp_path):
    path, expected = bad_input_file(tmp_path)
    out = tmp_path / "out.jsonl"
    summary = generate(path, out, Settings(samples=2), workers=2, progress=False)
    rows = read_jsonl(out)
    rejects = read_jsonl(tmp_path / "out.rejects.jsonl")
    assert {r["row"]: r["reason"].split(":")[0] for r in rejects} == expected
    good = {r["instruction"] for r in rows}
    assert good == {"plain", "tabs", "crlf", "markdown", "huge"}
    for r in rows:
        assert apply_edits(r["edit_path"]) == normalize(r["response"])
        assert all(is_insertion_only(e) for e in r["edit_path"])
        assert r["n_edits"] == len(r["edit_path"])
    assert sum(1 for r in rows if r["instruction"] == "markdown" and r["response"].startswith("def h")) == 2
    assert summary.programs == 5 and summary.sequences == 10
    assert summary.rows_in == 15 and sum(summary.rejects.values()) == len(expected)
    saved = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert saved["rows_in"] == 15 and saved["rejected"] == len(expected)


def test_same_seed_same_output_whatever_the_workers(tmp_path, sample_rows):
    src = write_jsonl(tmp_path / "in.jsonl", sample_rows)
    outs = []
    for workers in (1, 2, 3):
        out = tmp_path / f"out{workers}.jsonl"
        generate(src, out, Settings(samples=2, seed=7), workers=workers, progress=False)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]
    other = tmp_path / "other.jsonl"
    generate(src, other, Settings(samples=2, seed=8), workers=2, progress=False)
    assert other.read_bytes() != outs[0]


def test_random_subset(tmp_path, sample_rows):
    src = write_jsonl(tmp_path / "in.jsonl", sample_rows)
    generate(src, tmp_path / "a.jsonl", Settings(limit=10, seed=3), workers=1, progress=False)
    generate(src, tmp_path / "b.jsonl", Settings(limit=10, seed=3), workers=2, progress=False)
    a = read_jsonl(tmp_path / "a.jsonl")
    assert len(a) == 10 and a == read_jsonl(tmp_path / "b.jsonl")
    assert [r["row"] for r in a] != list(range(10))


def test_parquet_in_and_out(tmp_path, sample_rows):
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(sample_rows[:20]), src)
    out = tmp_path / "out.parquet"
    generate(src, out, Settings(), workers=1, progress=False)
    table = pq.read_table(out).to_pylist()
    assert len(table) == 20
    assert all(apply_edits(r["edit_path"]) == normalize(r["response"]) for r in table)
    jsonl = tmp_path / "out.jsonl"
    generate(write_jsonl(tmp_path / "in.jsonl", sample_rows[:20]), jsonl, Settings(), workers=1, progress=False)
    assert [r["edit_path"] for r in read_jsonl(jsonl)] == [r["edit_path"] for r in table]


def _partial_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_sigkill_then_resume_gives_the_uninterrupted_file(tmp_path, stdlib_rows):
    src = write_jsonl(tmp_path / "in.jsonl", stdlib_rows)
    full = tmp_path / "full.jsonl"
    generate(src, full, Settings(samples=2), workers=2, progress=False)

    out = tmp_path / "killed.jsonl"
    cmd = [sys.executable, "-m", "lintseq.cli", "generate", str(src), "-o", str(out), "-s", "2", "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    partial = out.with_name(out.name + ".partial")
    deadline = time.time() + 120
    while _partial_lines(partial) < 100 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed run must not leave a complete-looking file"
    assert partial.exists()
    with open(partial, "ab") as f:  # a torn last line, as a crash mid-write would leave
        f.write(b'{"row": 99999, "edit_pa')

    refused = CliRunner().invoke(main, ["generate", str(src), "-o", str(out), "-s", "2", "-q"])
    assert refused.exit_code != 0 and "--resume" in refused.output

    mismatch = CliRunner().invoke(main, ["generate", str(src), "-o", str(out), "-s", "3", "--resume", "-q"])
    assert mismatch.exit_code != 0 and "settings differ" in mismatch.output

    resumed = CliRunner().invoke(
        main, ["generate", str(src), "-o", str(out), "-s", "2", "--workers", "2", "--resume", "-q"]
    )
    assert resumed.exit_code == 0, resumed.output
    assert out.read_bytes() == full.read_bytes()
    assert out.with_name("killed.rejects.jsonl").read_bytes() == full.with_name("full.rejects.jsonl").read_bytes()
    assert not partial.exists()


def test_cli_on_the_bundled_sample(tmp_path):
    out = tmp_path / "s.jsonl"
    result = CliRunner().invoke(main, ["generate", "--sample", "-o", str(out), "-s", "2", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "sequences out  200" in result.output
    rows = read_jsonl(out)
    assert len(rows) == 200 and {
        "instruction",
        "response",
        "edit_path",
        "sample",
        "seed",
        "n_edits",
        "row",
        "id",
    } <= set(rows[0])


def test_output_is_independent_of_the_working_directory_and_installed_packages(tmp_path, sample_rows):
    """The default backend reads no config and resolves no imports: a working directory full of
    pylint config files and a package that the programs import change nothing, byte for byte."""
    rows = sample_rows[:30] + [
        {"instruction": "uses a package", "response": "import fakepkg\n\n\ndef f(x):\n    return fakepkg.helper(x)\n"},
        {"instruction": "from-import", "response": "from fakepkg import helper, other\n\nVALUE = helper(other)\n"},
    ]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    plain, hostile = tmp_path / "plain", tmp_path / "hostile"
    plain.mkdir()
    hostile.mkdir()
    strict = "[MESSAGES CONTROL]\nenable=all\n"
    for name, text in {
        "pylintrc": strict,
        ".pylintrc": strict,
        "setup.cfg": "[pylint.main]\nenable=all\n",
        "pyproject.toml": "[tool.pylint.main]\nenable = ['all']\n",
        "fakepkg.py": "CONSTANT = 1\n",
    }.items():
        (hostile / name).write_text(text)
    outputs = []
    for cwd, extra in ((plain, {}), (hostile, {"PYTHONPATH": str(hostile)})):
        out = cwd / "out.jsonl"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | extra
        res = subprocess.run(
            [sys.executable, "-m", "lintseq", "generate", str(data), "-o", str(out), "-s", "2", "--workers", "1"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert res.returncode == 0, res.stderr[-2000:]
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == 2 * len(rows)
