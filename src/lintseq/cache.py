"""Where lintseq keeps what it can rebuild (converted models, measured time limits)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """`$LINTSEQ_CACHE`, else `$XDG_CACHE_HOME/lintseq`, else `~/.cache/lintseq` (plus `parts`)."""
    root = os.environ.get("LINTSEQ_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = os.path.join(xdg, "lintseq") if xdg else os.path.join(Path.home(), ".cache", "lintseq")
    return Path(root).expanduser().joinpath(*parts)
