"""Property tests of the 2D Euler solver: flux consistency, conservation, x/y symmetry, the exact Riemann solver."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mathphys_nb.core import StabilityError, UnknownNameError
from mathphys_nb.physics.grid import Grid2D
from mathphys_nb.physics.euler import (FLUXES, conserved, physical_flux, primitive, quadrant_state, solve_euler, euler_rhs,
                               star_state, exact_riemann, sod_l1_error, conservation_drift)

pos = st.floats(0.05, 5.0)
vel = st.floats(-3.0, 3.0)
gam = st.sampled_from([1.13, 1.22, 1.3, 1.4, 1.597, 1.76])


@settings(max_examples=60, deadline=None)
@given(rho=pos, u=vel, v=vel, p=pos, gamma=gam)
def test_fluxes_are_consistent(rho, u, v, p, gamma):
    W = np.array([rho, u, v, p])[:, None]
    for name, flux in FLUXES.items():
        np.testing.assert_allclose(flux(W, W, gamma), physical_flux(W, gamma)[0], rtol=1e-12, atol=1e-12, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(rL=pos, uL=vel, pL=pos, rR=pos, uR=vel, pR=pos, gamma=gam)
def test_fluxes_reduce_to_upwind_for_supersonic_flow(rL, uL, pL, rR, uR, pR, gamma):
    # shift both states so that every wave moves right: the flux must be the left state's physical flux
    shift = math.sqrt(gamma * pL / rL) + math.sqrt(gamma * pR / rR) + abs(uL) + abs(uR) + 1
    WL, WR = np.array([rL, uL + shift, 0.1, pL])[:, None], np.array([rR, uR + shift, -0.2, pR])[:, None]
    for flux in FLUXES.values():
        np.testing.assert_allclose(flux(WL, WR, gamma), physical_flux(WL, gamma)[0], rtol=1e-12)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), gamma=gam, limiter=st.sampled_from(['mc', 'minmod']),
       flux=st.sampled_from(['hllc', 'hll']), stepper=st.sampled_from(['ssprk2', 'ssprk3']))
def test_periodic_runs_conserve_mass_momentum_energy(seed, gamma, limiter, flux, stepper):
    g = Grid2D(16, 12, Lx=1.0, Ly=0.75); rng = np.random.default_rng(seed)
    U0 = quadrant_state(g, gamma, rng, tuple(rng.uniform(0.3, 0.7, 2)))
    _, U, n = solve_euler(U0, g, gamma, 0.1, 2, 'periodic', limiter=limiter, flux=flux, stepper=stepper)
    assert n > 3 and max(conservation_drift(U).values()) < 1e-13


@pytest.mark.parametrize('bc', ['periodic', 'open'])
def test_transposing_the_problem_transposes_the_solution(bc):
    g = Grid2D(20, 20); rng = np.random.default_rng(7)
    U0 = quadrant_state(g, 1.4, rng, (0.35, 0.6))
    UT = U0[[0, 2, 1, 3]].swapaxes(-1, -2)                 # x <-> y, momenta swapped
    _, U, _ = solve_euler(U0, g, 1.4, 0.15, 2, bc)
    _, V, _ = solve_euler(UT, g, 1.4, 0.15, 2, bc)
    np.testing.assert_allclose(V[-1][[0, 2, 1, 3]].swapaxes(-1, -2), U[-1], rtol=1e-12, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(rL=pos, uL=st.floats(-1, 1), pL=pos, rR=pos, uR=st.floats(-1, 1), pR=pos, gamma=gam)
def test_star_state_is_mirror_symmetric_and_sampling_is_consistent(rL, uL, pL, rR, uR, pR, gamma):
    ps, us = star_state((rL, uL, pL), (rR, uR, pR), gamma)
    pm, um = star_state((rR, -uR, pR), (rL, -uL, pL), gamma)   # the mirrored problem
    assert math.isclose(ps, pm, rel_tol=1e-10) and math.isclose(us, -um, rel_tol=1e-8, abs_tol=1e-10)
    far = exact_riemann((rL, uL, pL), (rR, uR, pR), gamma, np.array([-1e3, 1e3]))
    np.testing.assert_allclose(far[:, 0], [rL, uL, pL]); np.testing.assert_allclose(far[:, 1], [rR, uR, pR])


def test_sod_star_state_and_shock_satisfy_toro_and_rankine_hugoniot():
    L, R, g = (1.0, 0.0, 1.0), (0.125, 0.0, 0.1), 1.4
    ps, us = star_state(L, R, g)
    assert abs(ps - 0.30313) < 1e-5 and abs(us - 0.92745) < 1e-5          # Toro, table 4.2, test 1
    xs = np.linspace(1.2, 2.2, 20001); W = exact_riemann(L, R, g, xs)
    j = int(np.argmax(np.abs(np.diff(W[0])))); a, b = W[:, j], W[:, j + 1]  # the last jump: the right shock
    assert abs(xs[j] - 1.75216) < 1e-3                                     # Toro's shock speed
    S = (a[0] * a[1] - b[0] * b[1]) / (a[0] - b[0])                        # shock speed from the mass flux
    mom = lambda w: w[0] * w[1] ** 2 + w[2]
    E = lambda w: w[2] / (g - 1) + 0.5 * w[0] * w[1] ** 2
    assert abs(S - 1.75216) < 1e-4
    assert abs((mom(a) - mom(b)) - S * (a[0] * a[1] - b[0] * b[1])) < 1e-10
    assert abs((a[1] * (E(a) + a[2]) - b[1] * (E(b) + b[2])) - S * (E(a) - E(b))) < 1e-10


def test_sod_converges():
    errs = [sod_l1_error(n) for n in (50, 100, 200)]
    assert errs[2] < 6e-3 and errs[0] / errs[1] > 1.6 and errs[1] / errs[2] > 1.6, errs


def test_bad_input_is_refused():
    g = Grid2D(16, 16); X, _ = g.mesh()
    U = conserved(1 + 0 * X, np.where(X < 0.5, -2.0, 2.0), 0 * X, 0.01 + 0 * X, 1.4)
    with pytest.raises(StabilityError, match='non-positive'): solve_euler(U, g, 1.4, 0.2, 2, cfl=0.99)
    with pytest.raises(StabilityError, match='non-finite'): solve_euler(U * np.nan, g, 1.4, 0.2, 2)
    with pytest.raises(StabilityError, match='vacuum'): star_state((1, -10, 0.1), (1, 10, 0.1), 1.4)
    with pytest.raises(UnknownNameError, match="unknown limiter 'superbee'"): euler_rhs(U, g, 1.4, limiter='superbee')
    with pytest.raises(ValueError, match='gamma'): solve_euler(U, g, 0.9, 0.2, 2)
