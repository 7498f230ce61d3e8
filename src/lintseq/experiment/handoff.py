"""A run directory carried between machines in checked parts (scripts/gpu: here -> GPU -> here).

A run split between machines (`runner.select`) needs, on the other machine, only what its
selected stages read: the `done.json` of every stage (a stage left out is taken as its marker
records it) and the folders of the stages left out that a selected stage reads directly
(training reads format's rows, evaluation the sample folders). `handoff_files` lists those;
`pack` writes them as one gzipped tar cut into parts of at most `PART_BYTES` (the device tool
brings back files of at most 16 MiB) with a manifest of SHA-256 sums; `unpack` refuses a
missing, extra-short or damaged part before it writes anything into the run directory.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
from pathlib import Path

from lintseq.experiment.layout import Layout
from lintseq.experiment.recipe import ExperimentConfig
from lintseq.experiment.stages import build
from lintseq.io import atomic_write, write_json
from lintseq.models.gguf import file_sha256

PART_BYTES = 16 * 2**20
# scripts/gpu's split of the stage graph: what runs here first, on the device, here after
BEFORE_DEVICE = "format"  # lintseq experiment --until
ON_DEVICE = ("train-*", "gate-*", "sample-*")  # lintseq experiment --stages
AFTER_DEVICE = ("evaluate-*", "report")
ARCHIVE = "run"  # the packed run directory's name, both ways: run.tar.gz.IofN, run.tar.gz.manifest.json


class HandoffError(ValueError):
    """Parts that do not make the archive their manifest describes."""


def handoff_files(cfg: ExperimentConfig, run_dir: Path, only: set[str]) -> list[Path]:
    """Files (relative to run_dir) that a run of the stages `only` needs from this run directory."""
    layout, stages = Layout(run_dir), build(cfg)
    read = {d for st in stages if st.name in only for d in st.deps if d not in only}
    files = {layout.done(st.name) for st in stages if layout.done(st.name).is_file()}
    for name in read:
        folder = layout.stage(name)
        files |= {f for f in folder.rglob("*") if f.is_file()} if folder.is_dir() else set()
    return sorted(f.relative_to(run_dir) for f in files)


def part_name(file_name: str, index: int, count: int) -> str:
    return f"{file_name}.{index}of{count}"


def manifest_path(folder: Path, file_name: str) -> Path:
    return folder / f"{file_name}.manifest.json"


def split(path: Path, out: Path, part_bytes: int = PART_BYTES) -> dict:
    """The file as NAME.IofN parts of at most part_bytes in `out`, with NAME.manifest.json
    (sizes and SHA-256 of each part and of the whole); returns the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob(f"{path.name}.*of*"), manifest_path(out, path.name)]:
        old.unlink(missing_ok=True)  # an earlier split's parts would pass for this one's
    size = path.stat().st_size
    count = max(1, -(-size // part_bytes))
    parts = []
    with open(path, "rb") as fh:
        for i in range(1, count + 1):
            part = out / part_name(path.name, i, count)
            part.write_bytes(fh.read(part_bytes))
            parts.append({"name": part.name, "bytes": part.stat().st_size, "sha256": file_sha256(part)})
    manifest = {"name": path.name, "bytes": size, "sha256": file_sha256(path), "parts": parts}
    write_json(manifest_path(out, path.name), manifest)
    return manifest


def check_parts(folder: Path, file_name: str) -> dict:
    """The manifest, once every part it lists is in `folder` with its size and SHA-256."""
    path = manifest_path(folder, file_name)
    if not path.is_file():
        raise HandoffError(f"{path}: no manifest (the parts of {file_name} came without it)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    missing = [p["name"] for p in manifest["parts"] if not (folder / p["name"]).is_file()]
    if missing:
        raise HandoffError(f"{folder}: {len(missing)} of {len(manifest['parts'])} parts missing: {', '.join(missing)}")
    for p in manifest["parts"]:
        part = folder / p["name"]
        if part.stat().st_size != p["bytes"] or file_sha256(part) != p["sha256"]:
            raise HandoffError(f"{part}: not the part the manifest records (size or SHA-256 differ)")
    return manifest


def join(folder: Path, file_name: str, dest: Path) -> Path:
    """The checked parts of `file_name` in `folder` joined into dest/file_name (whole-file SHA-256 checked)."""
    manifest = check_parts(folder, file_name)
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / file_name
    with atomic_write(out, "wb") as fh:
        for p in manifest["parts"]:
            with open(folder / p["name"], "rb") as part:
                shutil.copyfileobj(part, fh, 1 << 22)
    if file_sha256(out) != manifest["sha256"]:
        out.unlink()
        raise HandoffError(f"the parts of {file_name} join into another file than the manifest records")
    return out


def pack(run_dir: Path, files: list[Path], out: Path, name: str, part_bytes: int = PART_BYTES) -> dict:
    """`files` (relative to run_dir) as one NAME.tar.gz split into parts in `out`; the manifest."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / f"{name}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for rel in files:
                tar.add(run_dir / rel, arcname=str(rel), recursive=False)
        return split(archive, out, part_bytes)


def unpack(folder: Path, name: str, run_dir: Path) -> list[str]:
    """The parts of NAME.tar.gz in `folder`, checked and joined, extracted into run_dir; its files."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        archive = join(folder, f"{name}.tar.gz", Path(tmp))
        with tarfile.open(archive, "r:gz") as tar:
            names = tar.getnames()
            tar.extractall(run_dir, filter="data")
    return names
