"""Shared fixtures: the bundled sample and the stdlib corpus (mined once per session)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "lintseq" / "data" / "sample.jsonl"


def load_benchmark_script(name: str):
    """Import a script from benchmarks/ as a module (they are not a package)."""
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True, scope="session")
def _reference_time_cache(tmp_path_factory):
    """Reference times that tests measure (humaneval+, mbpp+) go to the session's own cache."""
    before = os.environ.get("LINTSEQ_CACHE")
    os.environ["LINTSEQ_CACHE"] = str(tmp_path_factory.mktemp("lintseq-cache"))
    yield
    if before is None:
        os.environ.pop("LINTSEQ_CACHE", None)
    else:
        os.environ["LINTSEQ_CACHE"] = before


@pytest.fixture(scope="session")
def sample_rows() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text().splitlines()]


@pytest.fixture(scope="session")
def stdlib_rows() -> list[dict]:
    rows = load_benchmark_script("stdlib_corpus").mine(n=320)
    assert len(rows) >= 300
    return rows
