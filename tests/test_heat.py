"""Property tests of the heat solver: mass, maximum principle, refusal of unstable steps, determinism."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mathphys_nb.core import StabilityError
from mathphys_nb.physics.grid import Grid2D, diffusion_dt_limit
from mathphys_nb.physics.heat import solve_diffusion
from mathphys_nb.physics.simulation import get_simulation, run_simulation

FAST = settings(max_examples=15, deadline=None)
sizes = st.integers(4, 20)
NAMES = ['heat_equation', 'diffusion_process']


@FAST
@given(nx=sizes, ny=sizes, alpha=st.floats(1e-3, 1.0), frac=st.floats(0.05, 1.0), seed=st.integers(0, 10**6))
def test_diffusion_periodic_conserves_mass_and_max_principle(nx, ny, alpha, frac, seed):
    g = Grid2D(nx, ny, 1.0, 0.7); u0 = np.random.default_rng(seed).normal(size=g.shape)
    dt = frac * diffusion_dt_limit(alpha, g.dx, g.dy)
    _, u = solve_diffusion(u0, g, alpha, 5 * dt, 3, dt=dt)
    np.testing.assert_allclose(u.sum(axis=(1, 2)), u0.sum(), atol=1e-10 * np.abs(u0).sum())
    assert u[-1].max() <= u0.max() + 1e-12 and u[-1].min() >= u0.min() - 1e-12


@FAST
@given(n=sizes, alpha=st.floats(1e-3, 1.0), over=st.floats(1.01, 10.0), bc=st.sampled_from(['periodic', 'dirichlet']))
def test_diffusion_refuses_unstable_dt(n, alpha, over, bc):
    g = Grid2D(n, n)
    with pytest.raises(StabilityError, match='exceeds the diffusion'):
        solve_diffusion(np.zeros(g.shape), g, alpha, 1.0, 2, bc, dt=over * diffusion_dt_limit(alpha, g.dx, g.dy))


@pytest.mark.parametrize('name', NAMES)
def test_same_seed_same_arrays(name):
    spec = get_simulation(name)
    a, b = (run_simulation(name, seed=7, **{**spec.tiny, 'n': 12, 'n_frames': 3}) for _ in range(2))
    assert a.fields.keys() == b.fields.keys()
    for k in a.fields:
        assert a.fields[k].shape[:1] == (3,) and a.fields[k].dtype == np.float32
        np.testing.assert_array_equal(a.fields[k], b.fields[k])
