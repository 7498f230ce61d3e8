"""Optimizer-step arithmetic, mirroring `transformers.Trainer.set_initial_training_values`.

The paper compares runs at equal optimizer steps: baseline 10 epochs on N rows, LintSeq 2
epochs on 5N rows. A run is matched by giving it `max_steps` equal to the other run's total.
"""

from __future__ import annotations

import math


def accumulation_steps(batch_size: int, micro_batch_size: int, world_size: int = 1) -> int:
    """Gradient accumulation so that micro x accumulation x world = the effective batch."""
    if batch_size < 1 or micro_batch_size < 1 or world_size < 1:
        raise ValueError("batch sizes and world size must be positive")
    per_step = micro_batch_size * world_size
    if batch_size % per_step:
        raise ValueError(
            f"effective batch {batch_size} is not a multiple of micro-batch {micro_batch_size} "
            f"x {world_size} process(es)"
        )
    return batch_size // per_step


def steps_per_epoch(n_rows: int, micro_batch_size: int, accumulation: int, world_size: int = 1) -> int:
    """Optimizer steps in one pass over `n_rows` (the last, partial step counts)."""
    if n_rows < 1:
        raise ValueError("no training rows")
    batches = math.ceil(n_rows / (micro_batch_size * world_size))
    return max(math.ceil(batches / accumulation), 1)


def total_steps(n_rows: int, epochs: float, micro_batch_size: int, accumulation: int, world_size: int = 1) -> int:
    """Steps the Trainer takes for `epochs` (possibly fractional) over `n_rows`."""
    if epochs <= 0:
        raise ValueError("epochs must be positive")
    return math.ceil(epochs * steps_per_epoch(n_rows, micro_batch_size, accumulation, world_size))


def matched_epochs(
    n_rows: int, target_steps: int, micro_batch_size: int, accumulation: int, world_size: int = 1
) -> float:
    """The (fractional) epochs over `n_rows` that `target_steps` amounts to, for reporting."""
    return target_steps / steps_per_epoch(n_rows, micro_batch_size, accumulation, world_size)
