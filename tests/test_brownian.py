"""Property tests of the random walkers: boxes keep walkers inside, exact bin probabilities are probabilities."""
import numpy as np
from hypothesis import given, settings, strategies as st

from mathphys_nb.physics.brownian import walk, apply_box, bin_probs_1d, msd, msd_tolerance
from mathphys_nb.physics.grid import Grid2D


@settings(max_examples=40, deadline=None)
@given(st.floats(-50, 50), st.floats(-3, 3), st.floats(0.1, 5))
def test_boxes_keep_points_inside(x, lo, L):
    for bc in ('periodic', 'reflecting'):
        y = float(apply_box(np.array([x]), bc, lo, lo + L)[0])
        assert lo - 1e-9 <= y <= lo + L + 1e-9


@settings(max_examples=40, deadline=None)
@given(st.floats(-0.9, 0.9), st.floats(0.01, 3), st.sampled_from(['free', 'periodic', 'reflecting']))
def test_bin_probabilities(x0, t, bc):
    edges = np.linspace(-1, 1, 21)
    p = bin_probs_1d(edges, x0, 0.5, t, bc, -1, 1)[0]
    assert (p >= -1e-15).all()
    total = p.sum()
    assert (abs(total - 1) < 1e-10) if bc != 'free' else (total <= 1 + 1e-12)


def test_reflecting_is_symmetric_and_periodic_is_shift_invariant():
    e = np.linspace(-1, 1, 41)
    p = bin_probs_1d(e, 0.3, 0.5, 0.2, 'reflecting', -1, 1)[0]; q = bin_probs_1d(e, -0.3, 0.5, 0.2, 'reflecting', -1, 1)[0]
    np.testing.assert_allclose(p, q[::-1], atol=1e-13)
    a = bin_probs_1d(e, 0.0, 0.5, 0.2, 'periodic', -1, 1)[0]; b = bin_probs_1d(e, 0.1, 0.5, 0.2, 'periodic', -1, 1)[0]
    np.testing.assert_allclose(np.roll(a, 2), b, atol=1e-13)


def test_msd_is_2dDt_within_tolerance_for_several_seeds():
    for seed in range(5):
        X = walk(3000, 6, 0.3, 0.02, 1, steps_per_frame=5, rng=np.random.default_rng(seed))
        t = np.arange(6) * 0.1
        assert np.abs(msd(X)[1:] / (2 * 0.3 * t[1:]) - 1).max() < msd_tolerance(3000, 1, sigmas=5)   # 25 correlated looks: 5σ
