"""What decides a mining run's rows: its sources, size limits and filters, declared once with
their defaults and command-line spelling (`lintseq mine` and the experiment's `[*.mine]`
tables both read them). Imports nothing that mining needs installed (datasketch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lintseq.mining.decontaminate import DEFAULT_N
from lintseq.settings import setting

DEFAULT_MIN_LINES = 3
DEFAULT_MAX_LINES = 200


@dataclass(frozen=True)
class MineSettings:
    """What decides the output rows, with the defaults both `lintseq mine` and the experiment's
    `[data.mine]`/`[pretrain.mine]` tables use. Size limits count the lines of the function that
    hold code (imports not counted) or, with `raw`, the non-blank lines of the file; in raw mode
    they apply only when given. `self_contained` drops functions that use module-level names
    other than imports (helpers, constants, classes of their module). `workers` changes only
    how fast: the output is the same for any number."""

    paths: tuple[str, ...] = setting((), argument=True, metavar="PATH...", path="any", exists=True)
    packages: tuple[str, ...] = setting(
        (), help="An installed module or package (repeatable).", flags=("--package",), metavar="NAME"
    )
    stdlib: bool = setting(False, help="The standard library (without site-packages).")
    site_packages: bool = setting(False, help="Every installed package in this interpreter's site-packages.")
    skip_tests: bool = setting(
        True,
        help="Skip test suites (test/tests dirs, test_*.py, conftest.py); --include-tests mines them too.",
        flags=("--skip-tests/--include-tests",),
    )
    max_files: int | None = setting(None, help="Only the first N files (sorted paths).", min=1)
    raw: bool = setting(False, help='Whole files as {"text", "source"} rows: a pre-training corpus.')
    min_lines: int | None = setting(
        None,
        help=f"Fewest lines of code in a function [{DEFAULT_MIN_LINES}] (with --raw: "
        "non-blank lines in a file, no limit).",
        min=0,
    )
    max_lines: int | None = setting(
        None,
        help=f"Most lines of code in a function [{DEFAULT_MAX_LINES}] (with --raw: "
        "non-blank lines in a file, no limit).",
        min=1,
    )
    min_docstring_chars: int = setting(10, min=1)
    self_contained: bool = setting(
        False,
        help="Drop functions that use module-level names other than imports and "
        "builtins (helpers, constants, classes of their module); rows list such names in "
        "`free_names`.",
    )
    decontaminate: bool = setting(
        True, help="Drop rows that overlap HumanEval / MBPP ids 1-600 / MBPP+ (--no-decontaminate keeps them)."
    )
    ngram: int = setting(DEFAULT_N, help="Word n-gram size for decontamination.", min=1)
    dedup: bool = setting(True, help="Drop exact and near duplicates (--no-dedup keeps them).")
    near_threshold: float = setting(
        0.85, help="MinHash Jaccard similarity at which a row is a near duplicate.", min=0.0, max=1.0, min_open=True
    )
    num_perm: int = setting(128, cli=False)
    workers: int = setting(1, help="Processes reading files.", flags=("-j", "--workers"), min=1)

    def files(self) -> list[Path]:
        """The files the sources name, sorted (raises `SourceError` for a source that is missing)."""
        from lintseq.mining.sources import collect

        return collect(self.paths, self.packages, self.stdlib, self.skip_tests, self.max_files, self.site_packages)

    def describe(self) -> dict[str, Any]:
        """The settings as the summary records them (less `workers`: it does not change the output)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items() if k != "workers"}

    def limits(self) -> tuple[int, int | None]:
        if self.raw:
            return self.min_lines or 0, self.max_lines
        return (
            DEFAULT_MIN_LINES if self.min_lines is None else self.min_lines,
            DEFAULT_MAX_LINES if self.max_lines is None else self.max_lines,
        )
