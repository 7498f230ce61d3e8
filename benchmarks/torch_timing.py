"""Timing helpers shared by the training benchmarks (peak memory, device sync)."""

from __future__ import annotations

import resource


def peak_memory_mib(device: str) -> float:
    """Peak GPU memory allocated on CUDA, else the process's peak RSS."""
    import torch

    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def sync(device: str) -> None:
    """Wait for queued GPU work so a timer measures it."""
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
