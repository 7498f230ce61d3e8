"""Where a mined file came from: its path and, for installed code, whose it is and under what license.

A file under a `sys.path` entry is matched to its distribution through
`importlib.metadata.packages_distributions()` (top-level import name -> distributions), and the
match is confirmed against the distribution's RECORD (`files`) when it has one, so a stray
top-level name such as `tests` is never credited to the wrong project. Files of the standard
library are credited to CPython under the PSF license. A file in a `site-packages` /
`dist-packages` folder that is not on this interpreter's `sys.path` (another Python's, a copy),
or under a folder holding `*.dist-info`, is matched against the distributions installed there
(`importlib.metadata.distributions(path=[folder])`): by RECORD, else by `top_level.txt`.
Anything else (a repository checkout, an editable install) has only its path.

`package_of` gives a file's `__package__`, so relative imports in mined code can be made absolute.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import sys
from collections.abc import Mapping
from functools import cache, lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from lintseq.mining.sources import stdlib_dir

STDLIB = {"distribution": "CPython", "version": platform.python_version(), "license": "PSF-2.0"}


def license_of(meta: Any) -> str | None:
    """License-Expression, else a one-line License field, else the license classifiers."""
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return expression
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 100 and text.upper() != "UNKNOWN":
        return text
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers)
    return text.splitlines()[0][:100] if text else None


@lru_cache(maxsize=1)
def _top_level() -> Mapping[str, list[str]]:
    return md.packages_distributions()


@lru_cache(maxsize=1)
def _import_roots() -> tuple[Path, ...]:
    """sys.path entries that hold installed code (the longest first, so nested roots win)."""
    roots = set()
    for entry in sys.path:
        if entry and os.path.isdir(entry) and ("site-packages" in entry or "dist-packages" in entry):
            roots.add(Path(entry).resolve())
    return tuple(sorted(roots, key=lambda p: len(p.parts), reverse=True))


@cache
def _distribution(name: str) -> tuple[md.Distribution, frozenset[str] | None] | None:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return None
    files = dist.files
    return dist, (frozenset(str(PurePosixPath(f)) for f in files) if files is not None else None)


@cache
def _describe(name: str) -> dict[str, Any] | None:
    found = _distribution(name)
    if found is None:
        return None
    meta = found[0].metadata
    return {"distribution": meta["Name"], "version": meta["Version"], "license": license_of(meta)}


SITE_DIRS = {"site-packages", "dist-packages"}


@cache
def _holds_dist_info(folder: Path) -> bool:
    try:
        return any(name.endswith(".dist-info") for name in os.listdir(folder))
    except OSError:
        return False


def _foreign_root(path: Path) -> Path | None:
    """The nearest folder above `path` named site-packages / dist-packages or holding *.dist-info."""
    for folder in path.parents:
        if folder.name in SITE_DIRS or _holds_dist_info(folder):
            return folder
    return None


def _describe_dist(dist: md.Distribution) -> dict[str, Any]:
    meta = dist.metadata
    return {"distribution": meta["Name"], "version": meta["Version"], "license": license_of(meta)}


@cache
def _foreign_index(root: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """({RECORD path: description}, {top-level name: description}) of the distributions in root."""
    by_file: dict[str, dict[str, Any]] = {}
    by_top: dict[str, dict[str, Any]] = {}
    dists = []
    for dist in md.distributions(path=[str(root)]):
        try:
            dists.append((dist.metadata["Name"] or "", dist))
        except Exception:  # unreadable metadata: not a distribution we can credit
            continue
    for _, dist in sorted(dists, key=lambda t: t[0].lower()):
        try:
            desc = _describe_dist(dist)
            files = dist.files or []
            top = (dist.read_text("top_level.txt") or "").split()
        except Exception:
            continue
        for f in files:
            by_file.setdefault(str(PurePosixPath(f)), desc)
        for name in top:
            by_top.setdefault(name, desc)
    return by_file, by_top


def _distribution_in(root: Path, rel: Path) -> dict[str, Any] | None:
    by_file, by_top = _foreign_index(root)
    found = by_file.get(rel.as_posix()) or by_top.get(rel.parts[0].removesuffix(".py"))
    return dict(found) if found else None


def _module_roots() -> tuple[Path, ...]:
    return tuple(sorted({*_import_roots(), stdlib_dir().resolve()}, key=lambda p: len(p.parts), reverse=True))


def package_of(path: Path) -> str | None:
    """The `__package__` of the module at `path` (dotted; "" for a top-level module), or None when
    it cannot be told. Under an import root (sys.path's site-packages, the stdlib, another
    site-packages / dist-packages folder) the path says it; elsewhere the chain of folders
    holding `__init__.py` does."""
    path = path.resolve()
    is_init = path.name == "__init__.py"
    root = next((r for r in _module_roots() if path.is_relative_to(r)), None) or _foreign_root(path)
    if root is not None:
        parts = list(path.relative_to(root).parent.parts)
    else:
        parts = []
        folder = path.parent
        while (folder / "__init__.py").is_file() and folder != folder.parent:
            parts.insert(0, folder.name)
            folder = folder.parent
        if is_init and not parts:
            return None
    if not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def distribution_of(path: Path) -> dict[str, Any] | None:
    """Name, version and license of the installed distribution that ships `path`, if any."""
    path = path.resolve()
    for root in _import_roots():
        if path.is_relative_to(root):
            rel = path.relative_to(root)
            break
    else:
        stdlib = stdlib_dir().resolve()
        if path.is_relative_to(stdlib) and not SITE_DIRS & set(path.parts):
            return dict(STDLIB)
        foreign = _foreign_root(path)
        return _distribution_in(foreign, path.relative_to(foreign)) if foreign is not None else None
    top = rel.parts[0].removesuffix(".py")
    record = rel.as_posix()
    for name in sorted(_top_level().get(top, [])):
        found = _distribution(name)
        if found is not None and (found[1] is None or record in found[1]):
            return _describe(name)
    return None


def provenance(path: Path) -> dict[str, Any]:
    """The `source` fields a row gets from its file."""
    info: dict[str, Any] = {"path": str(path)}
    info.update(distribution_of(path) or {})
    return info
