"""Trainer checkpoints that a stopped run resumes from (`pretrain --resume`, `train --resume`)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from lintseq.io import write_atomic

log = logging.getLogger("lintseq.checkpoints")

TRAINER_STATE = "trainer_state.json"  # the Trainer's last file of a checkpoint


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
        if (path / TRAINER_STATE).is_file():
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


class BackgroundCheckpoints:
    """Trainer mixin: a checkpoint's large files are written by a thread while the next step's
    forward and backward passes run, instead of stopping training for them (on a CPU a 135M
    model's checkpoint, weights and two AdamW moments, is ~1.6 GB).

    No copy is taken: weights, optimizer and scheduler change only at the optimizer step, and
    the thread is joined just before it (`on_pre_optimizer_step`). What changes sooner is taken
    at once: the RNG states are written before training goes on, and the Trainer's state is
    serialised then and written by the thread after every other file, so a checkpoint with
    `trainer_state.json` is complete (`last_complete_checkpoint`). Only a single process's
    run saves this way; sharded or multi-process runs save as the Trainer does.
    """

    _saver: Any = None  # the thread writing a checkpoint, if any
    _save_error: BaseException | None = None

    def _save_checkpoint(self, model, trial) -> None:
        t: Any = self
        if trial is not None or t.args.world_size > 1 or t.is_deepspeed_enabled or t.is_fsdp_enabled:
            super()._save_checkpoint(model, trial)  # type: ignore[misc]
            return
        self.wait_for_checkpoint()
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        out = Path(t._get_output_dir(trial=None)) / f"{PREFIX_CHECKPOINT_DIR}-{t.state.global_step}"
        t.store_flos()
        out.mkdir(parents=True, exist_ok=True)
        t._save_rng_state(str(out))
        state = _state_json(t)
        self._saver = threading.Thread(target=self._write, args=(out, state), name="checkpoint", daemon=False)
        self._saver.start()

    def _write(self, out: Path, state: str) -> None:
        """The large files, then the Trainer's state (last), then the old checkpoints' rotation."""
        from transformers.trainer_utils import rotate_checkpoints

        t: Any = self
        try:
            t.save_model(str(out), _internal_call=True)
            t._save_optimizer_and_scheduler(str(out))
            t._save_scaler(str(out))
            write_atomic(out / TRAINER_STATE, state)
            rotate_checkpoints(
                output_dir=str(out.parent),
                save_total_limit=t.args.save_total_limit,
                best_model_checkpoint=t.state.best_model_checkpoint,
                use_mtime=True,
            )
        except BaseException as e:  # raised in the training thread by `wait_for_checkpoint`
            self._save_error = e

    def wait_for_checkpoint(self) -> None:
        """Block until the checkpoint being written is on disk; raise what its writing raised."""
        if self._saver is not None:
            self._saver.join()
            self._saver = None
        if self._save_error is not None:
            error, self._save_error = self._save_error, None
            raise RuntimeError("writing a checkpoint failed") from error


def _state_json(trainer) -> str:
    """`trainer_state.json` as the Trainer writes it at this moment (stateful callbacks included)."""
    from transformers.trainer_callback import ExportableState

    state = trainer.state
    for cb in [c for c in trainer.callback_handler.callbacks + [trainer.control] if isinstance(c, ExportableState)]:
        name = cb.__class__.__name__
        if isinstance(state.stateful_callbacks[name], list):
            state.stateful_callbacks[name].append(cb.state())
        else:
            state.stateful_callbacks[name] = cb.state()
    return json.dumps(dataclasses.asdict(state), indent=2, sort_keys=True) + "\n"  # as `save_to_json`


def join_checkpoint_writer():
    """A `TrainerCallback` (built lazily: transformers is imported on use) that joins the
    checkpoint thread before each optimizer step and when training ends."""
    from transformers import TrainerCallback

    class JoinCheckpointWriter(TrainerCallback):
        def __init__(self) -> None:
            self.trainer: Any = None

        def _join(self) -> None:
            if self.trainer is not None:
                self.trainer.wait_for_checkpoint()

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            self._join()

        def on_train_end(self, args, state, control, **kwargs):
            self._join()

    return JoinCheckpointWriter()
