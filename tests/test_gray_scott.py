"""Property tests of Gray–Scott: the mass balance closes, determinism."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mathphys_nb.physics.gray_scott import solve_gray_scott, mass_balance_residual, seed_squares
from mathphys_nb.physics.simulation import get_simulation, run_simulation

FAST = settings(max_examples=15, deadline=None)
NAMES = ['gray_scott']


@FAST
@given(F=st.floats(0.0, 0.1), k=st.floats(0.0, 0.07), seed=st.integers(0, 10**6))
def test_gray_scott_mass_balance(F, k, seed):
    A0, B0 = seed_squares(16, np.random.default_rng(seed))
    _, A, B, budget = solve_gray_scott(A0, B0, F, k, 1 / 64, 40.0, 3)
    assert mass_balance_residual(A, B, budget) < 1e-12


@pytest.mark.parametrize('name', NAMES)
def test_same_seed_same_arrays(name):
    spec = get_simulation(name)
    a, b = (run_simulation(name, seed=7, **{**spec.tiny, 'n': 16, 'n_frames': 3}) for _ in range(2))
    assert a.fields.keys() == b.fields.keys()
    for k in a.fields:
        assert a.fields[k].shape[:1] == (3,) and a.fields[k].dtype == np.float32
        np.testing.assert_array_equal(a.fields[k], b.fields[k])
