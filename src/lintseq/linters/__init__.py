"""Linter backends. A backend maps program text to the lines that carry an error (docs/design.md §3.1).

Each backend is one small module with a `Linter` subclass; `get_linter(name)` builds one.
The sampler asks a backend about *units* through `error_units`, which backends that keep
state between calls (incremental analysis) may override; the default lints the text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lintseq.engine.units import Program


class Linter(ABC):
    """Program text -> 1-based line numbers with an error."""

    name: str = "?"

    @abstractmethod
    def error_lines(self, source: str) -> set[int]:
        """Lines of `source` (1-based) that carry an error; empty means clean."""

    def error_units(self, program: Program, keep: Sequence[int]) -> set[int]:
        """Units (indices into `program.units`) of the state `keep` that carry an error."""
        owner = program.line_owner(keep)
        if not owner:
            return set()
        bad = self.error_lines(program.text(keep))
        last = len(owner)
        return {owner[min(max(line, 1), last) - 1] for line in bad}

    def close(self) -> None:  # noqa: B027  an optional hook: most backends hold nothing to release
        """Release resources held between calls."""


_BACKENDS: dict[str, Callable[[], Linter]] = {}


def register(name: str, factory: Callable[[], Linter]) -> None:
    _BACKENDS[name] = factory


def available() -> list[str]:
    _load_builtin()
    return sorted(_BACKENDS) + ["none"]


def _load_builtin() -> None:
    if "fast" not in _BACKENDS:
        from lintseq.linters import fast  # noqa: F401  (registers itself)
    if "pylint" not in _BACKENDS:
        try:
            from lintseq.linters import pylint_backend  # noqa: F401
        except ImportError:
            pass


_INSTANCES: dict[str, Linter] = {}


def get_linter(name: str | Linter) -> Linter:
    """A backend by name (`fast`, `pylint`) or a ready instance; one instance per process."""
    if isinstance(name, Linter):
        return name
    if name in _INSTANCES:
        return _INSTANCES[name]
    _load_builtin()
    if name == "pylint" and name not in _BACKENDS:
        raise ImportError("the pylint backend needs pylint: pip install 'lintseq[pylint]'")
    try:
        factory = _BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown linter {name!r}; choose from {', '.join(available())}") from None
    _INSTANCES[name] = linter = factory()
    return linter
