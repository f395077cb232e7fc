"""The lesson kit: checked exercises, predict-first boxes, the update-line checker and the quantitative plot_frames."""
import matplotlib
import numpy as np
import pytest

from mathphys_nb.core import RangeError
from mathphys_nb.physics.grid import Grid2D, diffusion_dt_limit, pad
from mathphys_nb.widgets.lessons import (Answer, Predict, answers_made, check_heat_step, check_update, check_wave_step,
                                         run_steps, standing_wave, plot_standing_wave)
from mathphys_nb.widgets.viewer import plot_frames

matplotlib.use('Agg')


def heat_step(u, alpha, dt, dx):
    return u + alpha * dt / dx**2 * (np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, 1) + np.roll(u, -1, 1) - 4 * u)


def wave_step(u_prev, u, c, dt, dx):
    p = pad(u, 1, 'dirichlet')
    return 2 * u - u_prev + (c * dt / dx)**2 * (p[1:-1, 2:] + p[1:-1, :-2] + p[2:, 1:-1] + p[:-2, 1:-1] - 4 * u)


def test_number_answer_right_wrong_and_follows_the_run():
    run = {'T': 2.0}
    a = Answer('period?', lambda: run['T'], rel=0.05, hint='T = 2π/ω', unit='s')
    assert a.check('2.04') and a.verdict == 'right' and a.message.startswith('Right')
    assert not a.check(2.2) and a.verdict == 'wrong' and 'too large' in a.message and 'T = 2π/ω' in a.message
    assert not a.check(1.5) and 'too small' in a.message
    run['T'] = 1.5; assert a.check(1.5)                       # computed from the run at each check
    assert not a.check('import os') and 'Not a number' in a.message
    assert a in answers_made()


def test_absolute_tolerance_and_zero_answer():
    a = Answer('divergence of a vortex?', 0.0, tol=1e-3)
    assert a.check('0') and a.check(5e-4) and not a.check(0.01)


def test_choice_answer():
    a = Answer('type?', 'saddle', choices=('node', 'saddle', 'centre'), hint='Δ < 0')
    assert not a.check('node') and 'Δ < 0' in a.message and a.check('saddle')
    with pytest.raises(RangeError): Answer('type?', 'spiral', choices=('node', 'saddle'))


def test_answer_widget_click():
    a = Answer('x?', 3.0, tol=0.1); w = a.widget()
    w.box.value = '4'; w.button.click(); assert '✗' in w.verdict.value
    w.box.value = '3.05'; w.button.click(); assert '✓' in w.verdict.value and a.verdict == 'right'
    assert 'mp-answer' in w._dom_classes and 'mp-verdict' in w.verdict._dom_classes


def test_predict():
    p = Predict('half-life?', unit='s')
    assert 'No prediction' in p.text(0.5)
    p.set('1/4'); assert 'You predicted 0.25 s' in p.text(0.5) and '50 %' in p.text(0.5)
    p.widget().box.value = '0.5'; p.reveal(0.5); assert p.value == 0.5 and '(off by 0 %)' in p.text(0.5)
    with pytest.raises(RangeError): p.set('soon')


def test_check_update_generic():
    assert check_update(lambda u: u + 1, np.full(4, 5.0), np.zeros(4), n_steps=5).passed
    r = check_update(lambda u: u + 1.1, np.full(4, 5.0), np.zeros(4), n_steps=5, hint='add one')
    assert not r.passed and abs(r.max_error - 0.5) < 1e-12 and 'add one' in r.message
    assert not check_update(lambda u: 1 / 0, np.ones(2), np.ones(2)).passed
    assert not check_update(lambda u: u * np.nan, np.ones(2), np.ones(2)).passed


def test_heat_and_wave_steps_against_the_library():
    assert check_heat_step(heat_step).passed and check_heat_step(heat_step, n=16, alpha=0.2).passed
    assert not check_heat_step(lambda u, a, dt, dx: u + a * dt / dx**2 * (np.roll(u, 1, 0) + np.roll(u, -1, 0) - 2 * u)).passed
    assert check_wave_step(wave_step).passed and check_wave_step(wave_step, n=24, mode=(1, 3)).passed
    assert not check_wave_step(lambda up, u, c, dt, dx: 2 * u - up).passed


def test_run_steps_shows_the_heat_cfl_limit():
    g = Grid2D(24, 24); lim = diffusion_dt_limit(0.1, g.dx, g.dy)
    u0 = np.random.default_rng(0).normal(size=g.shape)
    assert not run_steps(lambda u: heat_step(u, 0.1, 0.95 * lim, g.dx), u0, 400)['blew_up']
    bad = run_steps(lambda u: heat_step(u, 0.1, 1.05 * lim, g.dx), u0, 2000)
    assert bad['blew_up'] and bad['steps'] < 2000


def test_plot_frames_is_quantitative():
    f = np.exp(-np.arange(5.0))[:, None, None] * np.sin(np.linspace(-3, 3, 16))[None, None, :] * np.ones((1, 12, 1))
    fig = plot_frames(f, np.arange(5.0), cmap='RdBu_r', extent=Grid2D(16, 12, 2.0, 1.5), t_unit='s')
    img = fig.axes[0].images[0]
    assert img.norm.vmin == -img.norm.vmax                          # centred on zero
    assert len(fig.axes) == 8 and fig.axes[0].get_xlabel() == 'x' and img.get_extent() == [0, 2.0, 0, 1.5]
    assert fig.axes[3].get_title() == 't = 4 s'
    fig = plot_frames(1 + 0 * f, np.arange(5.0), scale='shared', label='u (K)')
    assert len(fig.axes) == 5 and fig.axes[-1].get_ylabel() == 'u (K)' and fig.axes[0].get_xlabel() == 'x (cell)'
    fig = plot_frames(np.abs(f) + 1e-6, scale='log'); assert type(fig.axes[0].images[0].norm).__name__ == 'LogNorm'
    with pytest.raises(Exception, match='scale'): plot_frames(f, scale='big')


def test_standing_wave_plot_draws_nodal_lines_and_names_the_probed_cell():
    sw = standing_wave(3, 2, N=16, n_frames=9)
    fig = plot_standing_wave(sw, point=(0.25, 0.25))
    assert len(fig.axes[1].lines) == 2 + 1 + 1                      # x = 1/3, 2/3; y = 1/2; the probe ring
    import re
    x, y = map(float, re.findall(r'\(([\d.]+), ([\d.]+)\)', fig.axes[0].get_ylabel())[0])
    g = sw['grid']; assert abs(x - 0.25) <= g.dx / 2 and x in np.round(g.x(), 3) and y in np.round(g.y(), 3)   # the cell centre probed


def test_convergence_helpers():
    from mathphys_nb.widgets.lessons import observed_orders, plot_convergence, format_rows, drum_convergence
    assert np.allclose(observed_orders([10, 20, 40], [1.0, 0.5, 0.25]), [1, 1])
    fig = plot_convergence([10, 20], [1.0, 0.25]); assert 'observed orders: 2.00' in fig.axes[0].get_title()
    assert format_rows([{'a': 1.23456, 'b': True}]).splitlines()[1].split() == ['1.235', 'True']
    assert drum_convergence(1, 1, Ns=(8, 16))['order'][0] > 1.5


def test_cfl_experiments_with_student_steps():
    from mathphys_nb.widgets.lessons import wave_cfl_experiment, heat_cfl_experiment
    assert [r['stable'] for r in wave_cfl_experiment(wave_step, (0.6, 0.8), N=16)] == [True, False]
    assert [r['stable'] for r in heat_cfl_experiment(heat_step, (0.8, 1.3), n=16)] == [True, False]


def test_mode_decay_matches_the_grid_rate():
    from mathphys_nb.physics.simulation import run_simulation
    from mathphys_nb.widgets.lessons import mode_decay
    d = mode_decay(run_simulation('heat_equation', n=16, alpha=0.1, init='mode', m=1, t_end=0.1, n_frames=6))
    assert abs(d['rate'] - d['grid_rate']) < 1e-3 * d['rate'] and abs(d['rate'] - d['exact_rate']) < 0.03 * d['rate']
    with pytest.raises(RangeError): mode_decay(run_simulation('heat_equation', n=16, t_end=0.01, n_frames=2))


def test_divergence_coefficient_and_euler_checks():
    from mathphys_nb.widgets.lessons import check_divergence, check_sine_coefficient, check_euler_step, euler_stability, describe_matrix
    assert check_divergence(lambda vx, vy, dx: (vx[1:-1, 2:] - vx[1:-1, :-2] + vy[2:, 1:-1] - vy[:-2, 1:-1]) / (2 * dx), n=16).passed
    assert not check_divergence(lambda vx, vy, dx: vx, n=16).passed
    coef = lambda u, m, n, X, Y, dx: 4 * np.sum(u * np.sin(m * np.pi * X) * np.sin(n * np.pi * Y)) * dx * dx
    assert check_sine_coefficient(coef).passed and not check_sine_coefficient(lambda *a: 0.0).passed
    A = [[-1.0, 0.5], [0.0, -2.0]]
    assert check_euler_step(lambda A, x, dt: x + dt * x @ np.asarray(A).T, A).passed
    rows = euler_stability(lambda A, x, dt: x + dt * x @ np.asarray(A).T, A, (0.5, 1.2))
    assert [r['bounded'] for r in rows] == [True, False] and rows[1]['max |1 + dt λ|'] > 1   # stable node: dt < 2/|λ| = 1
    d = describe_matrix([[0.0, -1.0], [1.0, 0.0]]); assert d['type'] == 'center' and d['tau'] == 0 and d['Delta'] == 1


def test_tracer_drift_euler_spirals_out_rk4_does_not():
    from mathphys_nb.widgets.lessons import tracer_drift
    rows = tracer_drift(lambda P, v, dt: P + dt * v(P), steps=(10, 40))
    assert rows[0]['your radius / r0'] > rows[1]['your radius / r0'] > 1
    assert all(abs(r['RK4 radius / r0'] - 1) < 0.02 for r in rows)


def test_case_study_checks_fourier_quant_plume():
    from mathphys_nb.codec.codecs import fp16_up
    from mathphys_nb.widgets.lessons import check_fourier_truncation, check_group_quant, check_ground_plume

    def truncate(u, m, strict=False):
        c = np.fft.rfft2(u); ky = np.fft.fftfreq(u.shape[0], 1 / u.shape[0]); kx = np.fft.rfftfreq(u.shape[1], 1 / u.shape[1])
        keep = (np.abs(ky)[:, None] < m) & (kx[None, :] < m) if strict else (np.abs(ky)[:, None] <= m) & (kx[None, :] <= m)
        return np.fft.irfft2(c * keep, s=u.shape)
    u = np.random.default_rng(1).standard_normal((24, 20))                       # any frame, also not square
    assert check_fourier_truncation(truncate, u, 2).passed and check_fourier_truncation(truncate, m=4).passed
    wrong = check_fourier_truncation(lambda u, m: truncate(u, m, strict=True), u, 2)
    assert not wrong.passed and 'drops' in wrong.message and 'VRMSE yours' in wrong.message
    assert 'shape' in check_fourier_truncation(lambda u, m: u[1:], u, 2).message

    def quantize(w, group, nearest=False):
        g = w.reshape(-1, group); s = (np.abs(g).max(1) / 127).astype(np.float16) if nearest else fp16_up(np.abs(g).max(1) / 127)
        q = np.clip(np.round(g / s.astype(np.float64)[:, None]), -127, 127).astype(np.int8)
        return (q * s.astype(np.float64)[:, None]).reshape(w.shape), q, s
    W = np.random.default_rng(2).standard_normal((16, 48)) * 0.1
    assert check_group_quant(quantize, W, 32).passed and check_group_quant(quantize).passed
    near = check_group_quant(lambda w, g: quantize(w, g, nearest=True), W, 32)
    assert not near.passed and 'scales differ' in near.message
    assert 'raised' in check_group_quant(lambda w, g: w.reshape(3), W, 32).message
    with pytest.raises(RangeError): check_group_quant(quantize, W, 50)

    def ground(x, y, Q, u, Ky, Kz, H):
        sy2, sz2 = 2 * Ky * x / u, 2 * Kz * x / u
        return Q / (np.pi * u * np.sqrt(sy2 * sz2)) * np.exp(-y**2 / (2 * sy2) - H**2 / (2 * sz2))
    p = dict(Q=2e6, wind_speed=3.0, Kh=15.0, Kz=5.0, H=80.0)
    assert check_ground_plume(ground).passed and check_ground_plume(ground, p).passed
    half = check_ground_plume(lambda *a: ground(*a) / 2, p); assert not half.passed and 'mirror source' in half.message
    no_y = check_ground_plume(lambda x, y, Q, u, Ky, Kz, H: ground(x, 0 * y, Q, u, Ky, Kz, H), p); assert not no_y.passed
