"""The Ray engine against the local engine, on a real local Ray cluster (head + one worker node).

The contract: the same output rows (and rejects) as `lintseq.engine.generate.generate` on the same input
and settings, as sets (order may differ), whatever the chunking, and still after a worker dies.
The chunk reader and planner are also checked without Ray, against `iter_records`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import SAMPLE
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from lintseq.engine.generate import Settings, generate
from lintseq.engine.journal import ResumeError
from lintseq.engine.ray.chunks import read_chunk
from lintseq.engine.ray.inputs import GRAIN, InputError, expand_inputs, plan_chunks, scan_shard
from lintseq.engine.ray.output import OutputDir
from lintseq.engine.records import Reject, iter_records
from lintseq.engine.summary import Summary

BAD_LINES = [
    b'{"instruction": "cut short", "response": ',
    b"[1, 2, 3]",
    b'{"instruction": "no code"}',
    b'{"instruction": "\xff\xfe latin", "response": "x = 1\\n"}',
    b'{"instruction": "not python", "response": "SELECT * FROM t;"}',
    b'{"instruction": "syntax", "response": "def f(:\\n    pass\\n"}',
]


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line]


def _dir_rows(out: Path, sub: str = "") -> list[bytes]:
    return sorted(line for part in sorted((out / sub).glob("part-*.jsonl")) for line in _lines(part))


def _local(src: Path, tmp: Path, settings: Settings) -> tuple[list[bytes], list[bytes], Summary]:
    out = tmp / "local.jsonl"
    summary = generate(src, out, settings, workers=1, progress=False)
    return sorted(_lines(out)), sorted(_lines(tmp / "local.rejects.jsonl")), summary


def _write_with_bad_lines(rows: list[dict], path: Path) -> None:
    """JSONL with bad lines, blank and whitespace-only lines, CRLF, and no final newline."""
    lines = [json.dumps(r).encode() for r in rows]
    for i, bad in enumerate(BAD_LINES):
        lines.insert(7 + 23 * i, bad)
    lines.insert(3, b"")
    lines.insert(11, b"   \t")
    lines[20] += b"\r"
    path.write_bytes(b"\n".join(lines))


# --- without Ray: chunks read exactly the rows the local engine reads --------------------


def _as_global(path: Path, offset: int) -> list[tuple[int, object]]:
    """What the local engine reads from `path`, renumbered as if it came `offset` rows in."""
    out = []
    for row, rec in iter_records(path):
        out.append((row + offset, rec.to_dict() | {"row": row + offset} if isinstance(rec, Reject) else rec))
    return out


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shards=st.lists(
        st.lists(
            st.one_of(
                st.dictionaries(st.sampled_from("abc"), st.integers(), max_size=2).map(json.dumps),
                st.sampled_from(["", "  ", "{bad", "[]", "\udcff"]),
            ),
            max_size=40,
        ),
        min_size=1,
        max_size=3,
    ),
    chunk_rows=st.integers(1, 30),
    trailing_newline=st.booleans(),
)
def test_chunks_cover_every_row_once_with_local_numbering(shards, chunk_rows, trailing_newline):
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, lines in enumerate(shards):
            p = Path(tmp) / f"s{i}.jsonl"
            data = "\n".join(lines).encode("utf-8", "surrogateescape")
            p.write_bytes(data + (b"\n" if trailing_newline else b""))
            paths.append(p)
        scans = [scan_shard(str(p)) for p in expand_inputs(tmp)]
        expected, offset = [], 0
        for p, scan in zip(paths, scans):
            expected += _as_global(p, offset)
            offset += scan.rows
        chunks = plan_chunks(scans, chunk_rows)
        assert all(0 < c.rows <= max(chunk_rows, GRAIN) + GRAIN for c in chunks)
        got = [(row, rec.to_dict() if isinstance(rec, Reject) else rec) for c in chunks for row, rec in read_chunk(c)]
        assert got == expected


def test_parquet_chunks_and_subset(tmp_path, sample_rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "s.parquet"
    pq.write_table(pa.Table.from_pylist(sample_rows), src, row_group_size=30)
    scans = [scan_shard(str(src))]
    chosen = {3, 31, 32, 99}
    chunks = plan_chunks(scans, 16, chosen)
    assert [row for c in chunks for row, _ in read_chunk(c)] == sorted(chosen)
    every = [(row, rec) for c in plan_chunks(scans, 16) for row, rec in read_chunk(c)]
    assert every == list(iter_records(src))


def test_expand_inputs_globs_dirs_and_hidden(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "_tmp").mkdir()
    for name in ["a.jsonl", "b/c.parquet", "_tmp/x.jsonl", ".hidden.jsonl", "notes.txt", "b/d.jsonl"]:
        (tmp_path / name).write_text("{}\n")
    rel = lambda ps: [str(p.relative_to(tmp_path)) for p in ps]  # noqa: E731
    assert rel(expand_inputs(tmp_path)) == ["a.jsonl", "b/c.parquet", "b/d.jsonl"]
    assert rel(expand_inputs(f"{tmp_path}/b/*.jsonl")) == ["b/d.jsonl"]
    assert rel(expand_inputs(f"{tmp_path}/**/*.jsonl")) == ["a.jsonl", "b/d.jsonl"]
    with pytest.raises(InputError, match=r"no .* files match"):
        expand_inputs(f"{tmp_path}/*.csv")
    with pytest.raises(InputError, match="no such file"):
        expand_inputs(tmp_path / "missing.jsonl")


def test_output_dir_refuses_to_replace_foreign_data(tmp_path):
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(ResumeError, match="not a lintseq output"):
        OutputDir(tmp_path).open({"a": 1})
    f = tmp_path / "file.jsonl"
    f.write_text("{}\n")
    with pytest.raises(ResumeError, match="is a file"):
        OutputDir(f).open({"a": 1})


def test_interrupted_run_with_other_settings_needs_restart(tmp_path):
    out = tmp_path / "out"
    OutputDir(out).open({"seed": 1})
    with pytest.raises(ResumeError, match="seed"):
        OutputDir(out).open({"seed": 2})
    assert OutputDir(out).open({"seed": 2}, restart=True) == {}


# --- Ray is optional -----------------------------------------------------------------------

HIDE_RAY = "import sys; sys.modules['ray'] = None; from lintseq.cli import main; main()"


def test_without_ray_the_cli_says_how_to_install_it(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", HIDE_RAY, "generate", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    ray = run("--sample", "-o", str(tmp_path / "r"), "--engine", "ray", "-q")
    assert ray.returncode != 0
    assert "pip install 'lintseq[ray]'" in ray.stderr
    assert not (tmp_path / "r").exists()
    local = run("--sample", "-o", str(tmp_path / "l.jsonl"), "--subset", "5", "--workers", "1", "-q")
    assert local.returncode == 0, local.stderr
    assert len(_lines(tmp_path / "l.jsonl")) == 5


def test_unreachable_cluster_fails_fast_with_a_clear_error(tmp_path):
    import socket

    from lintseq.engine.ray import EngineError, generate_ray

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EngineError, match="cannot reach the Ray cluster"):
        generate_ray(SAMPLE, tmp_path / "out", address=f"127.0.0.1:{port}", progress=False)
    assert not (tmp_path / "out").exists()


# --- on a real cluster ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def stdlib_with_bad_lines(stdlib_rows, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("stdlib") / "stdlib.jsonl"
    _write_with_bad_lines(stdlib_rows, path)
    return path


def test_cli_on_the_sample_with_bad_lines_equals_local(cluster, sample_rows, tmp_path):
    from click.testing import CliRunner

    from lintseq.cli import main

    src = tmp_path / "sample_bad.jsonl"
    _write_with_bad_lines(sample_rows, src)
    out = tmp_path / "ray_out"
    result = CliRunner().invoke(
        main, ["generate", str(src), "-o", str(out), "--engine", "ray", "--address", cluster.address, "-q"]
    )
    assert result.exit_code == 0, result.output
    rows, rejects, summary = _local(src, tmp_path, Settings())
    assert _dir_rows(out) == rows and len(rows) == summary.sequences >= 95
    assert _dir_rows(out, "_rejects") == rejects and len(rejects) == len(BAD_LINES)
    saved = json.loads((out / "_summary.json").read_text())
    assert saved["rejects_by_reason"] == summary.to_dict()["rejects_by_reason"]
    assert saved["settings"]["engine"] == "ray"
    assert not out.with_name(out.name + ".partial").exists()


@pytest.mark.slow
def test_stdlib_shards_with_bad_lines_equal_local(cluster, stdlib_with_bad_lines, tmp_path):
    """Three shards of a few hundred stdlib functions plus bad lines, two samples each: the rows
    are numbered as in the shards' concatenation and equal the local run on that file."""
    from lintseq.engine.ray import generate_ray

    lines = stdlib_with_bad_lines.read_bytes().split(b"\n")
    shards = tmp_path / "shards"
    shards.mkdir()
    cuts = [0, 101, 102, 250, len(lines)]
    for i in range(4):
        (shards / f"part-{i}.jsonl").write_bytes(b"\n".join(lines[cuts[i] : cuts[i + 1]]) + b"\n")
    settings = Settings(samples=2, seed=7)
    summary = generate_ray(
        shards,
        tmp_path / "out",
        settings,
        address=cluster.address,
        rejects_path=tmp_path / "rejects.jsonl",
        progress=False,
        chunk_rows=24,
    )
    rows, rejects, local = _local(stdlib_with_bad_lines, tmp_path, settings)
    assert _dir_rows(tmp_path / "out") == rows
    assert len(rows) == 2 * local.programs >= 600
    assert sorted(_lines(tmp_path / "rejects.jsonl")) == rejects
    assert {json.loads(r)["reason"].split(":")[0] for r in rejects} >= {
        "invalid JSON",
        "not UTF-8",
        "not a JSON object",
        "missing field",
    }
    assert summary.to_dict() | {
        "seconds": 0,
        "rows_per_second": 0,
        "rows_per_second_per_worker": 0,
        "workers": 0,
    } == local.to_dict() | {"seconds": 0, "rows_per_second": 0, "rows_per_second_per_worker": 0, "workers": 0}


def test_killed_worker_is_retried_without_loss_or_duplicates(cluster, tmp_path, monkeypatch):
    """A worker process dies (os._exit) half-way through a chunk; Ray retries the chunk.
    (The cluster comes from $RAY_ADDRESS here, with the task pool capped by `workers`.)"""
    from lintseq.engine.ray import generate_ray

    marker = tmp_path / "crashed"
    monkeypatch.setenv("RAY_ADDRESS", cluster.address)
    summary = generate_ray(
        SAMPLE, tmp_path / "out", Settings(), workers=2, progress=False, chunk_rows=16, _crash_once=(str(marker), 42)
    )
    assert marker.exists() and int(marker.read_text()) != os.getpid()
    rows, _, local = _local(SAMPLE, tmp_path, Settings())
    got = _dir_rows(tmp_path / "out")
    assert len(got) == len(set(got)) == 100
    assert got == rows
    assert summary.programs == local.programs


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_output(cluster, tmp_path, monkeypatch):
    from lintseq.engine.ray import generate_ray

    settings = Settings(limit=60, seed=5)
    out = tmp_path / "out"
    real_write = OutputDir.write
    calls = []

    def write_then_die(self, *args):
        real_write(self, *args)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(OutputDir, "write", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        generate_ray(SAMPLE, out, settings, address=cluster.address, progress=False, chunk_rows=8)
    monkeypatch.setattr(OutputDir, "write", real_write)
    assert not out.exists() and out.with_name("out.partial").is_dir()
    summary = generate_ray(SAMPLE, out, settings, address=cluster.address, progress=False, chunk_rows=8)
    rows, _, _ = _local(SAMPLE, tmp_path, settings)
    assert _dir_rows(out) == rows and len(rows) == 60
    assert summary.rows_in == 60 and summary.rows_this_run < 60
    assert not out.with_name("out.partial").exists()


@pytest.mark.slow
def test_parquet_in_parquet_out_with_subset(cluster, sample_rows, tmp_path):
    import pyarrow as pa
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    from lintseq.engine.ray import generate_ray

    src = tmp_path / "s.parquet"
    pq.write_table(pa.Table.from_pylist(sample_rows), src, row_group_size=30)
    settings = Settings(limit=37, seed=3)
    generate_ray(src, tmp_path / "out.parquet", settings, address=cluster.address, progress=False)
    rows, _, _ = _local(src, tmp_path, settings)
    got = pads.dataset(tmp_path / "out.parquet", format="parquet").to_table().to_pylist()
    canon = lambda rs: sorted(json.dumps(r, sort_keys=True) for r in rs)  # noqa: E731
    assert canon(got) == canon(json.loads(r) for r in rows)


@pytest.mark.slow
def test_removed_node_mid_run_loses_nothing(tmp_path, stdlib_rows):
    """A whole worker node leaves the cluster mid-run (its own cluster: the node is gone after)."""
    import threading

    import ray
    from ray.cluster_utils import Cluster

    from lintseq.engine.ray import generate_ray

    src = tmp_path / "in.jsonl"
    _write_with_bad_lines(stdlib_rows, src)
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    node = c.add_node(num_cpus=1)
    c.wait_for_nodes()
    try:
        part_dir = tmp_path / "out.partial"

        def remove_when_started():
            while not (part_dir / "_chunks").exists() or len(list((part_dir / "_chunks").iterdir())) < 2:
                if stop.wait(0.05):
                    return
            c.remove_node(node)

        stop = threading.Event()
        t = threading.Thread(target=remove_when_started)
        t.start()
        generate_ray(src, tmp_path / "out", Settings(), address=c.address, progress=False, chunk_rows=8)
        stop.set()
        t.join()
        assert node not in c.worker_nodes
    finally:
        ray.shutdown()
        c.shutdown()
    rows, rejects, _ = _local(src, tmp_path, Settings())
    got = _dir_rows(tmp_path / "out")
    assert len(got) == len(set(got)) and got == rows
    assert _dir_rows(tmp_path / "out", "_rejects") == rejects
