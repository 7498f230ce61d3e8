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
from typing import Any

log = logging.getLogger("lintseq.train")


def fast_cpu_head() -> bool:
    """Make TRL's fused LM head compact (labelled positions only) on a CPU as it is on CUDA, and
    compute it with `CpuLogProb`; False where this TRL lays its code out otherwise (then
    nothing changes: only speed is at stake)."""
    try:
        from trl.trainer import utils as trl_utils
    except ImportError:  # pragma: no cover - TRL is a dependency of training
        return False
    utils: Any = trl_utils  # private names, replaced below
    use_triton = getattr(utils, "_use_triton", None)
    original = getattr(utils, "_ChunkedLogProbFunction", None)
    if use_triton is None or original is None:
        return False
    if getattr(use_triton, "original", None) is None:

        def compact_on_cpu(device) -> bool:
            return device.type == "cpu" or use_triton(device)

        compact_on_cpu.original = use_triton  # type: ignore[attr-defined]
        utils._use_triton = compact_on_cpu
    if original is not CpuLogProb:
        CpuLogProb.original = original
        utils._ChunkedLogProbFunction = CpuLogProb
    return True


CHUNK = 512  # positions whose logits exist at once (512 x 49,152 fp32 is 100 MB)


def _fused_function():
    """The autograd function, built on first use (torch is imported lazily)."""
    import torch

    class FusedLogProb(torch.autograd.Function):
        """Per-position log-probabilities of `labels` under `hidden @ weight.T`, with entropy and
        whether the label is the argmax. The gradient is computed in the forward pass, a chunk
        of positions at a time: TRL's kernel keeps no logits either, but recomputes them in the
        backward pass (four vocabulary projections where three do). The backward pass scales
        the stored gradient; only a loss weighing positions unequally recomputes."""

        @staticmethod
        def forward(ctx, hidden, weight, labels):
            n = hidden.shape[0]
            log_probs, entropy = hidden.new_empty(n), hidden.new_empty(n)
            top1 = torch.empty(n, dtype=torch.bool, device=hidden.device)
            grad_h, grad_w = torch.empty_like(hidden), torch.zeros_like(weight)
            for a in range(0, n, CHUNK):
                h, y = hidden[a : a + CHUNK], labels[a : a + CHUNK]
                d, log_probs[a : a + CHUNK], entropy[a : a + CHUNK], top1[a : a + CHUNK] = _chunk(h, weight, y)
                grad_h[a : a + CHUNK] = d @ weight
                grad_w.addmm_(d.T, h)
            ctx.save_for_backward(hidden, weight, labels, grad_h, grad_w)
            ctx.mark_non_differentiable(entropy, top1)
            return log_probs, entropy, top1

        @staticmethod
        def backward(ctx, grad, _entropy, _top1):
            hidden, weight, labels, grad_h, grad_w = ctx.saved_tensors
            if len(grad) and bool((grad == grad[0]).all()):  # a mean over positions, as TRL's loss is
                return grad_h * grad[0], grad_w * grad[0], None
            grad_w = torch.zeros_like(weight)
            for a in range(0, len(grad), CHUNK):
                h = hidden[a : a + CHUNK]
                d = _chunk(h, weight, labels[a : a + CHUNK])[0] * grad[a : a + CHUNK, None]
                grad_w.addmm_(d.T, h)
            return grad_h * grad[:, None], grad_w, None

    return FusedLogProb


def _chunk(h, weight, y):
    """(d log p(y) / d logits, log p(y), entropy, y is the argmax) for one chunk of positions."""
    import torch

    logits = h @ weight.T
    top1 = logits.argmax(-1) == y
    log_p = logits.sub_(torch.logsumexp(logits, -1, keepdim=True))
    label = log_p.gather(1, y[:, None]).squeeze(1)
    p = log_p.exp()
    entropy = -(p * log_p).sum(-1)
    d = p.neg_()
    d.scatter_add_(1, y[:, None], torch.ones_like(label[:, None]))
    return d, label, entropy, top1


class CpuLogProb:
    """Stands in for TRL's `ChunkedLogProbFunction` (same `apply` arguments and results): the
    fused function above for an fp32 head without bias, temperature, soft cap or logit scale on
    a CPU, asking for log-probabilities, entropy and top-1 only; TRL's kernel for anything else."""

    original: Any = None
    function: Any = None

    @classmethod
    def apply(cls, hidden, weight, bias, labels, temperature, chunk_size, softcap, logit_scale, outputs):
        plain = bias is None and temperature == 1.0 and softcap is None and logit_scale == 1.0
        if not (plain and hidden.device.type == "cpu" and hidden.dtype == weight.dtype == _fp32()) or (
            set(outputs) - {"log_probs", "entropy", "is_top1"}
        ):
            return cls.original.apply(
                hidden, weight, bias, labels, temperature, chunk_size, softcap, logit_scale, outputs
            )
        cls.function = cls.function or _fused_function()
        log_probs, entropy, top1 = cls.function.apply(hidden, weight, labels)
        return (
            log_probs,
            entropy if "entropy" in outputs else None,
            None,
            None,
            top1 if "is_top1" in outputs else None,
        )


def _fp32():
    import torch

    return torch.float32
