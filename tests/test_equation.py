"""Tests of `equation_to_simulation`: the four examples behave as their exact solutions say, and every kind
of bad equation is refused with an error that names the problem."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mathphys_nb.core import MathPhysError, UnknownNameError, RangeError, ShapeError
from mathphys_nb.physics.equation import EquationError, EquationSimulation, equation_to_simulation, example_checks
from mathphys_nb.physics.wave import peak_frequency, wave_dt_limit


def test_diffusion_mode_decays_at_alpha_k2():
    s = equation_to_simulation('u_t = 0.1*(u_xx + u_yy)', n=32)
    assert isinstance(s, EquationSimulation) and s.kind == 'diffusion'
    assert s.coefficients['Dx'] == pytest.approx(0.1) and s.coefficients['Dy'] == pytest.approx(0.1)
    r = s.run(T=0.05, n_frames=3)
    assert r.fields['u'].shape == (3, 32, 32) and np.allclose(r.t, [0, 0.025, 0.05])
    k2 = 2 * (2 * np.pi) ** 2
    ratio = r.fields['u'][1:].max(axis=(1, 2)) / r.fields['u'][0].max()
    np.testing.assert_allclose(ratio, np.exp(-0.1 * k2 * r.t[1:]), rtol=5e-3)


def test_wave_has_frequency_c_k():
    s = equation_to_simulation('u_tt = 4*u_xx', n=64)
    assert (s.kind, s.one_d) == ('wave', True) and s.coefficients['c2x'] == pytest.approx(4.0)
    X, _ = s.grid.mesh()
    r = s.run(5.0, 801, u0=np.sin(2 * np.pi * X))
    w = peak_frequency(r.fields['u'][:, 0, 16], r.t[1] - r.t[0])
    assert abs(w / (2 * 2 * np.pi) - 1) < 1e-3
    assert s.dt <= wave_dt_limit(2.0, s.grid.dx, s.grid.dy)            # the step respects the leapfrog CFL limit


def test_advection_translates_at_half():
    s = equation_to_simulation('u_t + 0.5*u_x = 0.01*u_xx', n=128)
    assert s.kind == 'advection-diffusion' and s.coefficients['ax'] == pytest.approx(0.5)
    r = s.run(0.6, 4); x = s.grid.x()
    phase = lambda f: np.angle((f.mean(0) * np.exp(2j * np.pi * x)).sum()) / (2 * np.pi)
    shifts = [(phase(f) - phase(r.fields['u'][0]) + 0.5) % 1 - 0.5 for f in r.fields['u']]
    np.testing.assert_allclose(shifts, 0.5 * r.t, atol=2e-3)
    # the peak moved right, not left: the sign of the advection is right
    assert abs(x[r.fields['u'][-1].mean(0).argmax()] - (0.3 + 0.3)) < 0.02


def test_reaction_diffusion_saturates_at_pm1():
    s = equation_to_simulation('u_t = D*laplace(u) + u - u**3', D=1e-4, n=48)
    assert s.kind == 'reaction-diffusion' and s.coefficients['Dx'] == pytest.approx(1e-4)
    uT = s.run(10.0, 2, seed=1).fields['u'][-1]
    assert np.abs(uT).max() <= 1 + 1e-6 and uT.max() > 0.99 and uT.min() < -0.99
    assert np.mean(np.abs(uT) > 0.9) > 0.5
    # D from the defaults, and params= and keywords agree
    assert equation_to_simulation('u_t = D*laplace(u) + u - u**3').coefficients['Dx'] == pytest.approx(0.01)
    a = equation_to_simulation('u_t = D*laplace(u) + u - u**3', params={'D': 1e-3}, n=16).run(0.5, 2).fields['u']
    b = equation_to_simulation('u_t = D*laplace(u) + u - u**3', D=1e-3, n=16).run(0.5, 2).fields['u']
    np.testing.assert_array_equal(a, b)


def test_example_errors_converge():
    e32, e64 = [np.array([r['error'] for r in example_checks(n)]) for n in (32, 64)]
    assert np.all(e64 < e32) and np.all(e32[:3] / e64[:3] > 3)


@pytest.mark.parametrize('text, exc, why', [
    ('u_t = k*u_xx', UnknownNameError, 'unknown symbol(s) k'),
    ('u_t = 0.1*u_zz', UnknownNameError, 'u_zz'),
    ('u_t = u*u_x + 0.01*u_xx', EquationError, 'non-linear term'),
    ('u_t = u_x**2 + 0.01*u_xx', EquationError, 'non-linear term in u_x'),
    ('u_t = sin(u_x) + 0.01*u_xx', EquationError, 'non-linear term in u_x'),
    ('u_t = u_x*u_xx', EquationError, 'non-linear term'),
    ('u_t = -0.1*u_xx', EquationError, 'backward heat equation is ill-posed'),
    ('u_t = 0.1*u_xx - 0.2*u_yy', EquationError, 'ill-posed'),
    ('u_tt = -u_xx', EquationError, 'ill-posed'),
    ('u_xx + u_yy = 0', EquationError, 'no time derivative'),
    ('u_t = = u', EquationError, "exactly one '='"),
    ('u_t + u_xx', EquationError, "exactly one '='"),
    ('u_t = (u', EquationError, 'not a valid expression'),
    ('u_t = ', EquationError, 'right side is empty'),
    ('u_t = 0.5*u_x', EquationError, 'no diffusion term'),
    ('u_tt + u_t = u_xx', EquationError, 'damped waves'),
    ('u*u_t = u_xx', EquationError, 'u_t must appear linearly'),
    ('u_t = 0.1*u_xx + 1/u', EquationError, 'singular'),
    ('u_t = 0.1*u_xx + 0.2*u_yy', EquationError, 'anisotropic'),
    ('u_t = 0.1*laplace(u**2)', EquationError, 'laplace() applies to u only'),
])
def test_refusals_say_why(text, exc, why):
    with pytest.raises(exc) as e:
        equation_to_simulation(text)
    assert why in str(e.value)
    assert isinstance(e.value, MathPhysError)


def test_bad_options():
    with pytest.raises(RangeError, match='n must be'): equation_to_simulation('u_t = 0.1*u_xx', n=2)
    with pytest.raises(RangeError, match='L='): equation_to_simulation('u_t = 0.1*u_xx', L=-1.0)
    with pytest.raises(EquationError, match='must be text'): equation_to_simulation(3)
    s = equation_to_simulation('u_t = 0.1*u_xx', n=16)
    with pytest.raises(ShapeError, match='u0 has shape'): s.run(0.1, 2, u0=np.zeros((5, 5)))
    with pytest.raises(RangeError, match='t_end'): s.run(-1.0)


FAST_EQ = settings(max_examples=15, deadline=None)


@FAST_EQ
@given(D=st.floats(1e-3, 1.0), a=st.floats(-2.0, 2.0).filter(lambda v: abs(v) > 1e-3))
def test_parse_advection_diffusion_coefficients(D, a):
    s = equation_to_simulation(f'u_t + {a!r}*u_x = {D!r}*laplace(u)', n=16)
    assert s.kind == 'advection-diffusion'
    assert s.coefficients['Dx'] == pytest.approx(D) and s.coefficients['ax'] == pytest.approx(a)
    g = s.grid; limit = 1 / (4 * D / g.dx**2 + abs(a) / g.dx)      # combined explicit limit (2D, dx = dy)
    assert s.dt <= limit


def test_named_coefficients_have_documented_defaults_and_are_reported():
    from mathphys_nb.physics.equation import COEFFICIENTS, DEFAULT_PARAMS, parse_equation
    s = equation_to_simulation('u_t + a*u_x = D*u_xx', n=16)              # lesson 07 asks for exactly this
    assert s.kind == 'advection-diffusion' and s.parameters == {'a': DEFAULT_PARAMS['a'], 'D': DEFAULT_PARAMS['D']}
    assert s.coefficients['ax'] == pytest.approx(DEFAULT_PARAMS['a']) and s.coefficients['Dx'] == pytest.approx(DEFAULT_PARAMS['D'])
    assert s.run(0.01, 2).params['parameters'] == f"a={DEFAULT_PARAMS['a']:g}, D={DEFAULT_PARAMS['D']:g}"
    t = equation_to_simulation('u_t + a*u_x = D*u_xx', {'a': -1.0}, D=0.2, n=16)
    assert (t.coefficients['ax'], t.coefficients['Dx'], t.parameters) == (-1.0, 0.2, {'a': -1.0, 'D': 0.2})
    for name, (default, meaning) in COEFFICIENTS.items():               # each documented name reads as its default
        assert parse_equation(f'u_t = {name}*u_xx').coefficients == {name: default} and meaning
    w = equation_to_simulation('u_tt = c**2*laplace(u)', c=2.0, n=16)
    assert w.kind == 'wave' and w.coefficients['c2x'] == pytest.approx(4.0) and w.parameters == {'c': 2.0}


def test_parse_equation_builds_the_same_expression_as_python_precedence():
    import sympy as sp
    from mathphys_nb.physics.equation import parse_equation
    e, s, _ = parse_equation('u_t = -u**2**2 + 2**-1 - 3/4*u + (u - 1)*(u + 1)')
    u = s['u']
    assert sp.expand(e - (s['u_t'] - (-u**4 + sp.Rational(1, 2) - sp.Rational(3, 4)*u + u**2 - 1))) == 0
