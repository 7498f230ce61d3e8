"""TRL's fused LM head, scoring only the positions that have a label on a CPU too.

TRL's `SFTTrainer` computes the loss with a chunked LM head (`trl.kernels.ChunkedLogProbFunction`,
which recomputes each chunk's logits in the backward pass instead of keeping them). On CUDA it
scores only the labelled positions; on any other device it scores every position, because on
compiled backends (e.g. Neuron) a varying count of positions would recompile the kernel. A CPU
compiles nothing, and there the vocabulary projection of the prompt's positions, whose labels are
masked, is pure waste: profiled on SmolLM2-135M with chat-formatted LintSeq rows, the LM head's
forward and backward were 35% of a training step. Scoring only the labelled positions gives the
same loss and metrics (the kernel's per-token outputs are zero where there is no label either way).
"""

from __future__ import annotations

import logging

log = logging.getLogger("lintseq.train")


def score_labelled_positions_only() -> bool:
    """Make TRL's fused LM head compact (labelled positions only) on a CPU as it is on CUDA;
    False where this TRL lays its code out otherwise (then nothing changes: only speed is at stake)."""
    try:
        from trl.trainer import utils
    except ImportError:  # pragma: no cover - TRL is a dependency of training
        return False
    use_triton = getattr(utils, "_use_triton", None)
    if use_triton is None or getattr(use_triton, "_lintseq_cpu", False):
        return use_triton is not None

    def compact_on_cpu(device) -> bool:
        return device.type == "cpu" or use_triton(device)

    compact_on_cpu._lintseq_cpu = True  # type: ignore[attr-defined]
    compact_on_cpu.original = use_triton  # type: ignore[attr-defined]
    utils._use_triton = compact_on_cpu
    return True
