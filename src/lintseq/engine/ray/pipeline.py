"""The Ray driver: scan the shards, plan chunks, run them with Ray Data, write the parts.

Workers only compute; the driver writes every file (see `output`), so the output directory
needs to exist only where the driver runs, while the input must be readable at the same path
on every node (a shared filesystem, or the same files copied to each node).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ray

from lintseq.engine.generate import Settings, pick_rows
from lintseq.engine.ray.chunks import run_chunk
from lintseq.engine.ray.inputs import Chunk, EngineError, default_chunk_rows, expand_inputs, plan_chunks, scan_shard
from lintseq.engine.ray.output import OutputDir
from lintseq.engine.records import is_parquet
from lintseq.engine.summary import Summary


def _map_chunk(
    item: dict[str, Any], settings: Settings, parquet: bool, crash_once: tuple[str, int] | None
) -> dict[str, Any]:
    result = run_chunk(pickle.loads(item["chunk"]), settings, parquet, crash_once)
    result["summary"] = pickle.dumps(result["summary"])
    return result


def _check_reachable(address: str) -> None:
    """Fail in seconds, not minutes, when nothing listens at a plain `host:port` (ray.init
    keeps retrying a dead address for a long time)."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", "ray://...": let Ray resolve it
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        raise EngineError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}. "
            "Is it running (`ray status` on the head node)?"
        ) from None


def _connect(address: str | None, workers: int | None) -> bool:
    """Join the cluster at `address` (or $RAY_ADDRESS), or start a local Ray; True if this call
    started or joined it (and so should leave it at the end)."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError) as exc:
        if not address:
            raise
        raise EngineError(
            f"cannot join the Ray cluster at {address}: {str(exc).splitlines()[0]}\n"
            "Check that it runs (`ray status` on the head node) and, if it uses token "
            "authentication, that RAY_AUTH_MODE=token and its token (~/.ray/auth_token or "
            "RAY_AUTH_TOKEN) are set here too."
        ) from exc
    return True


def _fingerprint(path: Path) -> list[Any]:
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


@contextlib.contextmanager
def _quiet_ray_data() -> Iterator[None]:
    """Our tqdm bar replaces Ray Data's bars and its per-stage notes, for this run only."""
    ctx = ray.data.DataContext.get_current()
    saved = ctx.enable_progress_bars, ctx.print_on_execution_start
    loggers = {
        logging.getLogger("ray.data._internal.progress"): logging.ERROR,
        logging.getLogger("ray.data._internal.execution.streaming_executor"): logging.WARNING,
    }
    levels = {lg: lg.level for lg in loggers}
    ctx.enable_progress_bars = ctx.print_on_execution_start = False
    for lg, level in loggers.items():
        lg.setLevel(level)
    try:
        yield
    finally:
        ctx.enable_progress_bars, ctx.print_on_execution_start = saved
        for lg, level in levels.items():
            lg.setLevel(level)


def _plan(shards: list[Path], settings: Settings, chunk_rows: int | None) -> tuple[list[Chunk], int]:
    """Scan the shards in parallel on the cluster and cut them into chunks."""
    scans = ray.get([ray.remote(scan_shard).remote(str(p)) for p in shards])
    total = sum(s.rows for s in scans)
    rows_per_chunk = chunk_rows or default_chunk_rows(total, settings.linter)
    return plan_chunks(scans, rows_per_chunk, pick_rows(total, settings.limit, settings.seed)), rows_per_chunk


def _run_chunks(
    todo: list[Chunk],
    sink: OutputDir,
    summary: Summary,
    settings: Settings,
    *,
    parquet: bool,
    workers: int | None,
    progress: bool,
    crash_once: tuple[str, int] | None,
) -> int:
    """Process the chunks with Ray Data, writing each one's files as it arrives; rows done."""
    from tqdm import tqdm

    rows = sum(len(c.chosen) if c.chosen is not None else c.rows for c in todo)
    done = 0
    with tqdm(total=rows, unit="row", disable=not progress, desc="lintseq generate (ray)", dynamic_ncols=True) as bar:
        if not todo:
            return 0
        items = ray.data.from_items([{"chunk": pickle.dumps(c)} for c in todo], override_num_blocks=len(todo))
        ds = items.map(
            _map_chunk,  # type: ignore[arg-type]  # ray types `fn` as taking the row alone; fn_kwargs gives the rest
            fn_kwargs={"settings": settings, "parquet": parquet, "crash_once": crash_once},
            compute=ray.data.TaskPoolStrategy(size=workers) if workers else None,
        )
        for result in ds.iter_rows():
            part = pickle.loads(result["summary"])
            sink.write(int(result["index"]), result["out"], result["rejects"], part)
            summary.merge(part)
            done += int(result["rows"])
            bar.update(int(result["rows"]))
    return done


def generate_ray(
    input_path: str | Path,
    output_path: str | Path,
    settings: Settings = Settings(),
    *,
    address: str | None = None,
    rejects_path: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    chunk_rows: int | None = None,
    restart: bool = False,
    _crash_once: tuple[str, int] | None = None,
) -> Summary:
    """Run `generate` on a Ray cluster. Same output rows as the local engine; order may differ.

    `input_path`: a JSONL/Parquet file, a directory of them, or a glob. `output_path`: a
    directory of `part-NNNNNN.jsonl` (`.parquet` if it ends in .parquet), `_rejects/` (or one
    file at `rejects_path`) and `_summary.json`. An interrupted run is continued by the next run
    with the same input and settings; `restart` discards it instead. `workers` caps the tasks
    running at once (default: every CPU of the cluster). `_crash_once=(marker, row)` is a test
    hook that kills the worker processing `row`, once.
    """
    output = Path(output_path)
    shards = [p.resolve() for p in expand_inputs(input_path)]
    parquet = is_parquet(output)
    started = _connect(address, workers)
    try:
        with _quiet_ray_data():
            chunks, rows_per_chunk = _plan(shards, settings, chunk_rows)
            meta = settings.describe() | {"input": [str(p) for p in shards], "engine": "ray"}
            manifest = meta | {
                "shards": [_fingerprint(p) for p in shards],
                "chunk_rows": rows_per_chunk,
                "parquet": parquet,
                "chunks": len(chunks),
            }
            sink = OutputDir(output, Path(rejects_path) if rejects_path else None, parquet)
            done = sink.open(manifest, restart=restart)
            summary = Summary()
            for part in done.values():
                summary.merge(part)
            began = time.perf_counter()
            rows = _run_chunks(
                [c for c in chunks if c.index not in done],
                sink,
                summary,
                settings,
                parquet=parquet,
                workers=workers,
                progress=progress,
                crash_once=_crash_once,
            )
            summary.finish(time.perf_counter() - began, rows, workers or int(ray.cluster_resources().get("CPU", 1)))
            sink.commit(summary, meta)
            return summary
    finally:
        if started:
            ray.shutdown()
