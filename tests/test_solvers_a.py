"""Property tests for the diffusion, wave, Gray–Scott solvers and the equation parser (hypothesis)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mathphys_nb.core import StabilityError
from mathphys_nb.grid import Grid2D, diffusion_dt_limit
from mathphys_nb.diffusion import solve_diffusion
from mathphys_nb.wave import solve_wave, wave_dt_limit
from mathphys_nb.gray_scott import solve_gray_scott, mass_balance_residual, seed_squares
from mathphys_nb.equation import equation_to_simulation
from mathphys_nb.simulation import run_simulation

FAST = settings(max_examples=15, deadline=None)
sizes = st.integers(4, 20)


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


@FAST
@given(n=st.integers(6, 20), c=st.floats(0.1, 4.0), courant=st.floats(0.1, 1.0),
       bc=st.sampled_from(['periodic', 'dirichlet']), seed=st.integers(0, 10**6))
def test_wave_energy_conserved(n, c, courant, bc, seed):
    g = Grid2D(n, n + 1); rng = np.random.default_rng(seed)
    _, _, E = solve_wave(rng.normal(size=g.shape), rng.normal(size=g.shape), g, c, 0.5, 4, bc, courant=courant)
    assert np.abs(E - E[0]).max() <= 1e-9 * abs(E[0])


@FAST
@given(F=st.floats(0.0, 0.1), k=st.floats(0.0, 0.07), seed=st.integers(0, 10**6))
def test_gray_scott_mass_balance(F, k, seed):
    A0, B0 = seed_squares(16, np.random.default_rng(seed))
    _, A, B, budget = solve_gray_scott(A0, B0, F, k, 1 / 64, 40.0, 3)
    assert mass_balance_residual(A, B, budget) < 1e-12


@FAST
@given(D=st.floats(1e-3, 1.0), a=st.floats(-2.0, 2.0).filter(lambda v: abs(v) > 1e-3))
def test_parse_advection_diffusion_coefficients(D, a):
    s = equation_to_simulation(f'u_t + {a!r}*u_x = {D!r}*laplace(u)', n=16)
    assert s.kind == 'advection-diffusion'
    assert s.coefficients['Dx'] == pytest.approx(D) and s.coefficients['ax'] == pytest.approx(a)
    g = s.grid; limit = 1 / (4 * D / g.dx**2 + abs(a) / g.dx)      # combined explicit limit (2D, dx = dy)
    assert s.dt <= limit


TINY = {'heat_equation': dict(n=12, t_end=0.01, n_frames=3), 'diffusion_process': dict(n=12, t_end=0.01, n_frames=3),
        'wave_decomposition': dict(n=12, t_end=0.1, n_frames=3), 'frequency_analysis': dict(n=12, t_end=0.1, n_frames=3),
        'gray_scott': dict(n=16, t_end=20.0, n_frames=3)}


@pytest.mark.parametrize('name', sorted(TINY))
def test_same_seed_same_arrays(name):
    a, b = (run_simulation(name, seed=7, **TINY[name]) for _ in range(2))
    assert a.fields.keys() == b.fields.keys()
    for k in a.fields:
        assert a.fields[k].shape[:1] == (3,) and a.fields[k].dtype == np.float32
        np.testing.assert_array_equal(a.fields[k], b.fields[k])
