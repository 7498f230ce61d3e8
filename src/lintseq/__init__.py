"""LintSeq: programs as insertion-only, lint-clean edit sequences (Piterbarg et al., ICLR 2025).

The engine (units, sampling, diffs, linters, `generate`) is imported eagerly and needs only
the standard library; the evaluation, formatting and training helpers are loaded on first use
so that `import lintseq` never pays for numpy, torch or ray.
"""

from __future__ import annotations

import importlib
from typing import Any

from lintseq.diffs import DIFF_TOKEN, EditError, Resolved, apply_edits, lintseq_completion, looks_like_edits, resolve
from lintseq.engine.edit_paths import derive_seed, sample_edit_sequence
from lintseq.engine.generate import Settings, generate, process_record
from lintseq.engine.units import SourceError, normalize, split_units
from lintseq.linters import Linter, get_linter
from lintseq.linters import available as available_linters
from lintseq.linters import register as register_linter

__version__ = "0.1.0"

_LAZY = {
    "prompt_for": "lintseq.formatting",
    "format_file": "lintseq.formatting",
    "FormatSettings": "lintseq.formatting",
    "SampleSettings": "lintseq.inference.types",
    "SamplingSettings": "lintseq.inference.types",
    "EvaluateSettings": "lintseq.evaluation.evaluate_settings",
    "MineSettings": "lintseq.mining.mine_settings",
    "TrainConfig": "lintseq.training.config",
    "PretrainConfig": "lintseq.training.config",
    "load_benchmark": "lintseq.evaluation.problems",
    "Problem": "lintseq.evaluation.problems",
    "estimate_pass_at_k": "lintseq.evaluation.passk",
    "pass_at_k": "lintseq.evaluation.passk",
    "Sandbox": "lintseq.evaluation.sandbox",
    "run_program": "lintseq.evaluation.sandbox",
    "evaluate": "lintseq.evaluation.scoring",
    "evaluate_many": "lintseq.evaluation.scoring",
    "strip_fences": "lintseq.markdown",
    "generate_ray": "lintseq.engine.ray",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lintseq' has no attribute {name!r}")


__all__ = [
    "DIFF_TOKEN",
    "EditError",
    "Linter",
    "Resolved",
    "Settings",
    "SourceError",
    "apply_edits",
    "available_linters",
    "derive_seed",
    "generate",
    "get_linter",
    "lintseq_completion",
    "looks_like_edits",
    "normalize",
    "process_record",
    "register_linter",
    "resolve",
    "sample_edit_sequence",
    "split_units",
    *_LAZY,
]
