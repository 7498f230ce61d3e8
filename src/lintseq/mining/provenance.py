"""Where a mined file came from: its path and, for installed code, whose it is and under what license.

A file under a `sys.path` entry is matched to its distribution through
`importlib.metadata.packages_distributions()` (top-level import name -> distributions), and the
match is confirmed against the distribution's RECORD (`files`) when it has one, so a stray
top-level name such as `tests` is never credited to the wrong project. Files of the standard
library are credited to CPython under the PSF license. Anything else (a repository checkout, an
editable install) has only its path.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import sys
from functools import lru_cache
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
def _top_level() -> dict[str, list[str]]:
    return md.packages_distributions()


@lru_cache(maxsize=1)
def _import_roots() -> tuple[Path, ...]:
    """sys.path entries that hold installed code (the longest first, so nested roots win)."""
    roots = set()
    for entry in sys.path:
        if entry and os.path.isdir(entry) and ("site-packages" in entry or "dist-packages" in entry):
            roots.add(Path(entry).resolve())
    return tuple(sorted(roots, key=lambda p: len(p.parts), reverse=True))


@lru_cache(maxsize=None)
def _distribution(name: str) -> tuple[md.Distribution, frozenset[str] | None] | None:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return None
    files = dist.files
    return dist, (frozenset(str(PurePosixPath(f)) for f in files) if files is not None else None)


@lru_cache(maxsize=None)
def _describe(name: str) -> dict[str, Any] | None:
    found = _distribution(name)
    if found is None:
        return None
    meta = found[0].metadata
    return {"distribution": meta["Name"], "version": meta["Version"], "license": license_of(meta)}


def distribution_of(path: Path) -> dict[str, Any] | None:
    """Name, version and license of the installed distribution that ships `path`, if any."""
    path = path.resolve()
    for root in _import_roots():
        if path.is_relative_to(root):
            rel = path.relative_to(root)
            break
    else:
        stdlib = stdlib_dir().resolve()
        inside = path.is_relative_to(stdlib) and not {"site-packages", "dist-packages"} & set(path.parts)
        return dict(STDLIB) if inside else None
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
