"""The compiled stencil kernels (`physics.fused`) give the NumPy solvers' numbers to rounding, and the solvers fall
back to NumPy when the kernels are switched off or numba cannot be imported."""
import sys

import numpy as np
import pytest

from mathphys_nb.physics.grid import Grid2D, fused_kernels, laplacian, use_fused
from mathphys_nb.physics.heat import solve_diffusion
from mathphys_nb.physics.wave import solve_wave
from mathphys_nb.physics.gray_scott import seed_squares, solve_gray_scott
from mathphys_nb.physics.equation import equation_to_simulation


def _both(fn):
    "fn() with the kernels, then with NumPy."
    fast = fn()
    with use_fused(False): ref = fn()
    return fast, ref


@pytest.mark.parametrize('bc', ['periodic', 'dirichlet'])
def test_heat_and_wave_match_numpy(bc):
    g = Grid2D(20, 16, 1.0, 0.8); rng = np.random.default_rng(0); u0, v0 = rng.normal(size=(2, *g.shape))
    (_, a), (_, b) = _both(lambda: solve_diffusion(u0, g, 0.05, 0.01, 3, bc, value=0.2))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    (_, a, Ea), (_, b, Eb) = _both(lambda: solve_wave(u0, v0, g, 1.0, 0.2, 3, bc))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-11); np.testing.assert_allclose(Ea, Eb, rtol=1e-9)


def test_gray_scott_and_parsed_equation_match_numpy():
    A0, B0 = seed_squares(24, np.random.default_rng(1))
    (_, A, B, bud), (_, rA, rB, rbud) = _both(lambda: solve_gray_scott(A0, B0, 0.03, 0.062, 1 / 64, 40.0, 3))
    np.testing.assert_allclose(A, rA, atol=1e-12); np.testing.assert_allclose(B, rB, atol=1e-12); assert abs(bud - rbud) < 1e-9 * abs(rbud)
    for text, kw in (('u_t = D*laplace(u) + u - u**3', {'D': 1e-4}), ('u_t + 0.5*u_x - 0.2*u_y = 0.01*laplace(u)', {}),
                     ('u_t = 0.01*laplace(u) + sin(u)', {})):             # sin(u) is not a polynomial: NumPy source path
        s = equation_to_simulation(text, n=16, **kw)
        a, b = _both(lambda: s.run(20 * s.dt, 2).fields['u'])
        np.testing.assert_allclose(a, b, atol=1e-6)                     # frames are float32


def test_laplacian_kernel_only_for_2d_float64_periodic_or_dirichlet():
    u = np.random.default_rng(2).normal(size=(6, 7))
    with use_fused(False): ref = laplacian(u, 0.1, 0.2, 'dirichlet', 1.0)
    np.testing.assert_allclose(laplacian(u, 0.1, 0.2, 'dirichlet', 1.0), ref, atol=1e-10)
    assert laplacian(u.astype(np.float32), 0.1).dtype == np.float32       # NumPy path keeps the dtype
    np.testing.assert_allclose(laplacian(np.stack([u, u]), 0.1)[1], laplacian(u, 0.1), atol=1e-10)


def test_without_numba_the_solvers_fall_back(monkeypatch):
    import mathphys_nb.physics
    monkeypatch.delattr(mathphys_nb.physics, 'fused', raising=False)
    monkeypatch.setitem(sys.modules, 'mathphys_nb.physics.fused', None)   # `import` of it now raises ImportError
    assert fused_kernels() is None
    g = Grid2D(12, 12); u0 = np.random.default_rng(3).normal(size=g.shape)
    _, u = solve_diffusion(u0, g, 0.1, 0.01, 2)
    monkeypatch.undo()
    assert fused_kernels() is not None
    _, v = solve_diffusion(u0, g, 0.1, 0.01, 2)
    np.testing.assert_allclose(u, v, atol=1e-12)


def test_switch_is_restored_by_the_context_manager():
    before = fused_kernels() is not None
    with use_fused(False): assert fused_kernels() is None
    assert (fused_kernels() is not None) == before
