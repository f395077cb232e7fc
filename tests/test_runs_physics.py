"""The plain-Python reference loops of the running layer agree with the vectorized solvers value by value."""
import numpy as np

from mathphys_nb.physics.euler import euler_rhs, quadrant_state
from mathphys_nb.physics.grid import Grid2D, laplacian
from mathphys_nb.runs.physics import euler_rhs_loop, laplacian_loop


def test_vectorized_rhs_matches_the_per_cell_loop():
    g = Grid2D(7, 5, Lx=0.7, Ly=0.5); U = quadrant_state(g, 1.3, np.random.default_rng(11), (0.5, 0.3))
    np.testing.assert_allclose(euler_rhs(U, g, 1.3, limiter='minmod'), euler_rhs_loop(U, g, 1.3), rtol=1e-12, atol=1e-12)


def test_laplacian_loop_matches_the_stencil():
    u = np.random.default_rng(4).normal(size=(9, 7))
    np.testing.assert_allclose(laplacian_loop(u, 0.3, 0.2), laplacian(u, 0.3, 0.2), rtol=1e-12, atol=1e-10)
