"""Run the stage graph into RUN_DIR, skipping what is already done.

A stage's key hashes the settings it reads (`Stage.reads`, all its `run` receives besides
workers and logging), its kind's version, the fingerprints of the outside files it reads and the
keys of the stages it depends on, so a changed setting re-runs that stage and everything
downstream. `RUN_DIR/<stage>/done.json` (written last, atomically) records the key, the
fingerprint of what the stage wrote, its wall time and the hardware; a stage is skipped when
its marker's key matches, its files are unchanged and it was built from its upstream stages'
current outputs (a re-run upstream stage re-runs everything below it). `started.json` marks an attempt: a
stage found started with the same key but not done was interrupted, and is resumed in place
(generate, pretrain and sample continue their partial files); any other stage folder is
cleared before the stage runs.

A run may be restricted to some stages (`select`: name patterns, or everything up to a stage),
so that the stages can run on different machines on one run directory carried between them
(scripts/gpu: training and sampling on a GPU, the rest here). A stage left out is taken as its
`done.json` records it: its key is the recorded one and its files are not looked at (they may
be on the other machine); a selected stage that needs one left out and not done is `blocked`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lintseq.experiment import regime
from lintseq.experiment.layout import CONFIG_RECORD, DONE, FORMAT, STARTED, Layout
from lintseq.experiment.recipe import ExperimentConfig
from lintseq.experiment.stages import Context, Stage, build, dumps
from lintseq.io import write_json

MARKERS = (DONE, STARTED)
HASH_LIMIT = 64 << 20  # files up to this size are hashed by content, larger ones by size and mtime


@dataclass
class Planned:
    stage: Stage
    key: str
    action: str  # "skip" | "run" | "resume"; in a restricted run also "leave" (not selected) | "blocked"
    reason: str


def _file_print(path: Path) -> str:
    st = path.stat()
    if st.st_size <= HASH_LIMIT:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{st.st_size}:{st.st_mtime_ns}"


def input_fingerprint(path: str) -> str:
    """Contents of an outside input; a string that is not a local path (a hub id) is itself."""
    p = Path(path)
    if p.is_file():
        return _file_print(p)
    if p.is_dir():
        h = hashlib.sha256()
        for f in sorted(q for q in p.rglob("*") if q.is_file() and "__pycache__" not in q.parts):
            st = f.stat()
            h.update(f"{f.relative_to(p)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()
    return f"name:{path}"


def output_fingerprint(stage: Stage, run_dir: Path) -> dict[str, list[int]]:
    """Size and mtime of every file the stage wrote: a deleted or edited output re-runs it."""
    out: dict[str, list[int]] = {}
    folder = Layout(run_dir).stage(stage.name)
    files = [f for f in folder.rglob("*") if f.is_file() and f.name not in MARKERS] if folder.is_dir() else []
    files += [run_dir / e for e in stage.extra_outputs if (run_dir / e).is_file()]
    for f in sorted(files):
        st = f.stat()
        out[str(f.relative_to(run_dir))] = [st.st_size, st.st_mtime_ns]
    return out


def stage_keys(stages: list[Stage], recorded: dict[str, str] | None = None) -> dict[str, str]:
    """Each stage's key; a stage in `recorded` (left out of a restricted run) keeps its recorded key."""
    recorded = recorded or {}
    keys: dict[str, str] = {}
    for st in stages:
        if st.name in recorded:
            keys[st.name] = recorded[st.name]
            continue
        doc = {
            "stage": st.name,
            "version": st.version,
            "reads": st.reads,
            "inputs": {i: input_fingerprint(i) for i in st.inputs},
            "upstream": {d: keys[d] for d in st.deps},
        }
        keys[st.name] = hashlib.sha256(dumps(doc).encode()).hexdigest()
    return keys


def select(stages: list[Stage], patterns: Sequence[str] = (), until: str | None = None) -> set[str] | None:
    """The names a restricted run may run: those matching a glob pattern (all, if none is given),
    up to and including `until`; None when nothing restricts the run."""
    if not patterns and until is None:
        return None
    names = [st.name for st in stages]
    if until is not None:
        if until not in names:
            raise ValueError(f"--until {until!r} is not a stage of this experiment ({', '.join(names)})")
        names = names[: names.index(until) + 1]
    for pattern in patterns:
        if not fnmatch.filter([st.name for st in stages], pattern):
            raise ValueError(f"--stages {pattern!r} matches no stage of this experiment")
    return {n for n in names if not patterns or any(fnmatch.fnmatchcase(n, p) for p in patterns)}


def _read(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def plan(cfg: ExperimentConfig, run_dir: str | Path, only: set[str] | None = None) -> list[Planned]:
    """What a run would do with each stage, and why; `only` restricts it (see `select`)."""
    run_dir = Path(run_dir)
    layout = Layout(run_dir)
    stages = build(cfg)
    done = {st.name: _read(layout.done(st.name)) for st in stages}
    left_out = {n: str(d.get("key")) for n, d in done.items() if only is not None and n not in only and d}
    keys = stage_keys(stages, left_out)
    out: list[Planned] = []
    actions: dict[str, str] = {}
    for st in stages:
        if only is not None and st.name not in only:
            p = _left_out(st, keys[st.name], done[st.name] is not None)
        else:
            p = _decide(st, keys[st.name], done[st.name], _read(layout.started(st.name)), actions, run_dir)
        out.append(p)
        actions[st.name] = p.action
    return out


def _left_out(stage: Stage, key: str, done: bool) -> Planned:
    if done:
        return Planned(stage, key, "skip", "not selected: taken as its done.json records it")
    return Planned(stage, key, "leave", "not selected, not done")


def _decide(
    st: Stage, key: str, done: dict | None, started: dict | None, actions: dict[str, str], run_dir: Path
) -> Planned:
    """A selected stage's action: run, resume, skip, or blocked by a stage left out."""
    missing = [d for d in st.deps if actions[d] in ("leave", "blocked")]
    if missing:
        return Planned(st, key, "blocked", f"needs {', '.join(missing)}: left out of this run and not done")
    moved = [d for d in st.deps if actions[d] != "skip"]
    if moved:
        return Planned(st, key, "run", f"upstream {', '.join(moved)} will run")
    if done and done.get("key") == key:
        if done.get("outputs") != output_fingerprint(st, run_dir):
            return Planned(st, key, "run", "done, but its files changed since")
        if done.get("upstream") != upstream_outputs(st, run_dir):
            return Planned(st, key, "run", "an upstream stage was re-run since")
        return Planned(st, key, "skip", "done, same settings and inputs")
    if started and started.get("key") == key:
        if started.get("upstream") == upstream_outputs(st, run_dir):
            return Planned(st, key, "resume", "interrupted; continues where it stopped")
        # its partial files came from outputs that have since been rebuilt
        return Planned(st, key, "run", "interrupted, and an upstream stage was re-run since")
    if done or started:
        return Planned(st, key, "run", "settings, inputs or an upstream stage changed")
    return Planned(st, key, "run", "not run yet")


def upstream_outputs(stage: Stage, run_dir: Path) -> dict[str, dict | None]:
    """The output fingerprints its upstream stages recorded: what this stage was built from."""
    return {d: (_read(Layout(run_dir).done(d)) or {}).get("outputs") for d in stage.deps}


def records_config(run_dir: Path, cfg: ExperimentConfig) -> bool:
    """Whether RUN_DIR/config.json holds `cfg` (as the runner writes it: JSON, paths as strings)."""
    return _read(run_dir / CONFIG_RECORD) == json.loads(json.dumps(cfg.to_dict(), default=str))


def hardware() -> dict:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    info: dict = {"cpus": cpus, "machine": platform.machine(), "gpu": None}
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpus"] = torch.cuda.device_count()
    except ImportError:
        pass
    return info


def run(
    cfg: ExperimentConfig,
    run_dir: str | Path,
    *,
    progress: bool = False,
    log: Callable[[str], None] = print,
    only: set[str] | None = None,
) -> list[Planned]:
    """Run every (selected) stage that is not done; returns the plan it followed (action per stage)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = plan(cfg, run_dir, only)
    if not records_config(run_dir, cfg):  # the settings of the latest run, for the record
        write_json(run_dir / CONFIG_RECORD, cfg.to_dict(), default=str)
    machine = hardware()
    for p in steps:
        st, folder = p.stage, Layout(run_dir).stage(p.stage.name)
        if p.action in ("skip", "leave", "blocked"):
            log(f"{'[' + p.action + ']':<8} {st.name}: {p.reason}")
            continue
        log(f"[{p.action}] {st.name}: {st.what}")
        if p.action == "run" and folder.exists():
            shutil.rmtree(folder)
        if p.action == "run":
            for extra in st.extra_outputs:
                (run_dir / extra).unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / DONE).unlink(missing_ok=True)
        write_json(
            folder / STARTED,
            {"key": p.key, "started": time.time(), "upstream": upstream_outputs(st, run_dir)},
            default=str,
        )
        began = time.perf_counter()
        info = st.run(Context(run_dir, folder, st.reads, st.free, resume=p.action == "resume", progress=progress))
        seconds = time.perf_counter() - began
        write_json(
            folder / DONE,
            {
                "stage": st.name,
                "key": p.key,
                "seconds": round(seconds, 3),
                "hardware": machine,
                "resumed": p.action == "resume",
                "finished": time.time(),
                "info": info,
                "outputs": output_fingerprint(st, run_dir),
                "upstream": upstream_outputs(st, run_dir),
            },
            default=str,
        )
        log(f"[done]   {st.name} in {seconds:.1f} s")
        if st.name == FORMAT:  # the training rows are measured now: steps, warm-up, longest answers
            loud = regime.warning(regime.outside(cfg, info))
            if loud:
                log(loud)
    return steps
