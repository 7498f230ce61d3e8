"""LintSeq: programs as insertion-only, lint-clean edit sequences (Piterbarg et al., ICLR 2025)."""

from lintseq.diffs import DIFF_TOKEN, EditError, Resolved, apply_edits, resolve
from lintseq.linters import Linter, available as available_linters, get_linter
from lintseq.sampler import derive_seed, sample_edit_sequence
from lintseq.units import SourceError, normalize, split_units

__version__ = "0.1.0"

__all__ = [
    "DIFF_TOKEN",
    "EditError",
    "Linter",
    "Resolved",
    "SourceError",
    "apply_edits",
    "available_linters",
    "derive_seed",
    "get_linter",
    "normalize",
    "resolve",
    "sample_edit_sequence",
    "split_units",
]
