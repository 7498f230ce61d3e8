"""Instruction (and raw pre-training) data mined from Python source trees: `lintseq mine`.

Names are imported when first used, so `MineSettings` (what the experiment's config reads)
does not need mining's own dependencies installed."""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "MineSettings": "lintseq.mining.mine_settings",
    "MineSummary": "lintseq.mining.miner",
    "mine": "lintseq.mining.miner",
    "mine_file": "lintseq.mining.miner",
    "SourceError": "lintseq.mining.sources",
    "collect": "lintseq.mining.sources",
}

__all__ = ["MineSettings", "MineSummary", "SourceError", "collect", "mine", "mine_file"]


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'lintseq.mining' has no attribute {name!r}")
