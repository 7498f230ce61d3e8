"""Trainer checkpoints that a stopped run resumes from (`pretrain --resume`, `train --resume`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("lintseq.checkpoints")


def last_complete_checkpoint(state: Path) -> str | None:
    """The newest Trainer checkpoint that was written to the end.

    The Trainer writes `trainer_state.json` last; a run killed while saving leaves a folder
    without it, which `resume_from_checkpoint` would choke on. Such folders are renamed
    `incomplete-checkpoint-N` (kept, not deleted, and no longer matched by the Trainer).
    """
    if not state.is_dir():
        return None
    found = sorted(
        (int(p.name.split("-")[1]), p)
        for p in state.glob("checkpoint-*")
        if p.is_dir() and p.name.split("-")[1].isdigit()
    )
    for _, path in reversed(found):
        if (path / "trainer_state.json").is_file():
            return str(path)
        log.warning("%s was not written to the end; setting it aside", path)
        os.replace(path, path.with_name(f"incomplete-{path.name}"))
    return None


def refuse_changed(what: str, saved: dict, now: dict) -> None:
    """A resumed run must repeat the stopped one: a ValueError naming each setting that differs."""
    changed = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
    if changed:
        diff = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in changed)
        raise ValueError(f"cannot resume {what}: settings differ from the run that wrote it ({diff})")
