"""Which files `mine` reads: directories, single files, installed packages, the stdlib.

Everything comes back as one sorted, de-duplicated list of absolute paths, so a run reads files
in the same order wherever it runs (the dedup keeps the first copy it meets).
"""

from __future__ import annotations

import importlib.util
import os
import sysconfig
from collections.abc import Iterable, Iterator
from pathlib import Path

SKIP_DIRS = {"__pycache__", "site-packages", "dist-packages", "node_modules"}
TEST_DIRS = {"test", "tests", "testing"}


class SourceError(ValueError):
    """A PATH or package name that cannot be mined."""


def is_test_path(path: Path) -> bool:
    """Test suites by the usual conventions: test/tests dirs, *_test dirs, test_*.py, conftest.py."""
    for part in path.parent.parts:
        if part in TEST_DIRS or part.endswith(("_test", "_tests")) or part.startswith("test_"):
            return True
    name = path.name
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


def walk(root: Path, skip_tests: bool) -> Iterator[Path]:
    """*.py under root, skipping caches, hidden dirs, nested site-packages and (optionally) tests."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
        for name in filenames:
            if name.endswith(".py") and not name.startswith("."):
                path = Path(dirpath, name)
                if not (skip_tests and is_test_path(path.relative_to(root))):
                    yield path


def package_location(name: str) -> Path:
    """The installed directory (package) or file (module) that `import name` would load."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise SourceError(f"cannot resolve package {name!r}: {exc}") from exc
    if spec is None:
        raise SourceError(f"no installed module or package named {name!r}")
    if spec.submodule_search_locations:
        locations = [p for p in spec.submodule_search_locations if os.path.isdir(p)]
        if locations:
            return Path(sorted(locations)[0])
    if spec.origin and spec.origin.endswith(".py") and os.path.isfile(spec.origin):
        return Path(spec.origin)
    raise SourceError(f"{name!r} has no Python source to mine (origin: {spec.origin})")


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def site_packages_dirs() -> list[Path]:
    """This interpreter's site-packages (pure and platform-specific, when they differ)."""
    paths = sysconfig.get_paths()
    return sorted({Path(paths[k]) for k in ("purelib", "platlib") if Path(paths[k]).is_dir()})


def collect(
    paths: Iterable[str | os.PathLike],
    packages: Iterable[str] = (),
    stdlib: bool = False,
    skip_tests: bool = False,
    max_files: int | None = None,
    site_packages: bool = False,
) -> list[Path]:
    roots = [Path(p) for p in paths] + [package_location(n) for n in packages]
    if stdlib:
        roots.append(stdlib_dir())
    if site_packages:
        roots += site_packages_dirs()
    files: set[Path] = set()
    for root in roots:
        if not root.exists():
            raise SourceError(f"no such file or directory: {root}")
        if root.is_dir():
            files.update(p.resolve() for p in walk(root, skip_tests))
        else:
            files.add(root.resolve())
    ordered = sorted(files)
    return ordered[:max_files] if max_files is not None else ordered
