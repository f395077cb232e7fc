"""The 3D dispersion simulator: mass budget, positivity, the analytic Gaussian plume, clear errors, The Well files."""
import subprocess
import sys

import h5py
import numpy as np
import pytest

from mathphys_nb.core import MathPhysError, RangeError, ShapeError, UnknownNameError
from mathphys_nb.forecast.dispersion import (Grid3D, Scenario, Source, simulate, dispersion, advect_axis,
                                             diffuse_vertical, source_map, face_winds)
from mathphys_nb.forecast.plume import gaussian_plume, plume_errors
from mathphys_nb.learn.metrics import dispersion_scores

from mathphys_nb.physics.simulation import run_simulation
from mathphys_nb.well.data import make_dataset


def _hilly(v_dep=0.005, veer=1e-4):
    g = Grid3D(nx=14, ny=12, nz=6, Lx=1400, Ly=1200, Lz=300)
    X, Y = np.meshgrid(g.x(), g.y())
    h = 120 * np.exp(-((X - 700)**2 + (Y - 600)**2) / 250**2)
    return Scenario(g, h, (Source(200., 300., 40., 1e6), Source(600., 900., 10., 2e5), Source(1000., 200., 150., 5e5)),
                    wind_speed=6., wind_dir=0.8, veer_rate=veer, shear_exp=0.35, beta=1.2, Kh=30., Kz=None, v_dep=v_dep)


@pytest.mark.parametrize('v_dep', [0.0, 0.01])
def test_mass_budget_closes_and_nothing_goes_negative(v_dep):
    r = simulate(_hilly(v_dep), n_frames=8, dt_frame=60., spinup=2)
    assert np.abs(r['budget_residual']).max() / r['emitted'][-1] < 1e-12
    assert r['c'].min() >= 0
    assert r['outflow'][-1] > 0 and (r['deposited'][-1] > 0) == (v_dep > 0)


def test_face_winds_are_divergence_free_over_terrain():
    sc = _hilly(); u, v = sc.winds(100.)
    g = sc.grid
    div = (u[..., 1:] - u[..., :-1]) / g.dx + (v[:, 1:] - v[:, :-1]) / g.dy
    assert np.abs(div).max() < 1e-12 * np.abs(u).max()


def test_mc_advection_is_conservative_and_bounded_for_variable_velocity():
    rng = np.random.default_rng(0)
    c = rng.random((3, 30)); c[:, :3] = 0; c[:, -3:] = 0
    u = rng.uniform(0.2, 1.0, (3, 31))
    c2, out = advect_axis(c, u, 0.45, 1.0)
    assert c2.min() >= 0
    np.testing.assert_allclose(c2.sum(-1) + 0.45 * out, c.sum(-1), rtol=1e-13)


def test_implicit_vertical_diffusion_is_positive_for_huge_steps():
    c = np.zeros((10, 4)); c[3] = 1.0
    c2, dep = diffuse_vertical(c, np.full(9, 50.0), dt=1e5, dz=10., v_dep=0.02)
    assert c2.min() >= 0
    np.testing.assert_allclose(c2.sum(0) * 10 + dep * 1e5, 10.0, rtol=1e-12)


def test_plume_preset_matches_the_gaussian_plume_and_converges():
    errs = []
    for n, nz in ((23, 11), (45, 21)):
        r = dispersion(n=n, nz=nz, preset='plume', n_frames=31)
        g = r.grid
        errs.append(plume_errors(r.fields['concentration'][-1], g.x(), g.y(), g.z(), r.params))
    assert errs[1]['ground_l2'] < 0.08 and errs[1]['centreline_l2'] < 0.12
    assert errs[1]['ground_l2'] < 0.6 * errs[0]['ground_l2'] and errs[1]['centreline_l2'] < 0.8 * errs[0]['centreline_l2']


def test_gaussian_plume_carries_the_emission():
    y = np.arange(-3000, 3000, 5.) + 2.5; z = np.arange(0, 3000, 2.5) + 1.25
    Y, Z = np.meshgrid(y, z)
    flux = 3.0 * gaussian_plume(2000., Y, Z, Q=5e5, u=3., Ky=20., Kz=5., H=80.).sum() * 5 * 2.5
    assert abs(flux / 5e5 - 1) < 2e-3


def test_bad_parameters_raise_clear_errors():
    g = Grid3D(nx=8, ny=8, nz=4)
    with pytest.raises(RangeError, match='nz'): Grid3D(nz=1)
    with pytest.raises(RangeError, match='1 to 3 sources'): Scenario(g, np.zeros((8, 8)), ())
    with pytest.raises(RangeError, match='1 to 3 sources'): Scenario(g, np.zeros((8, 8)), (Source(1., 1., 1., 1.),) * 4)
    with pytest.raises(ShapeError, match='terrain'): Scenario(g, np.zeros((7, 8)), (Source(1., 1., 1., 1.),))
    with pytest.raises(RangeError, match='Kz'): Scenario(g, np.zeros((8, 8)), (Source(1., 1., 1., 1.),), Kz=0.)
    with pytest.raises(RangeError, match='wind_speed'): Scenario(g, np.zeros((8, 8)), (Source(1., 1., 1., 1.),), wind_speed=-1)
    with pytest.raises(RangeError, match='source x'): source_map(g, [Source(1e6, 1., 1., 1.)])
    with pytest.raises(RangeError, match='Q'): source_map(g, [Source(1., 1., 1., -1.)])
    with pytest.raises(RangeError, match='terrain'): Scenario(g, np.full((8, 8), -5.), (Source(1., 1., 1., 1.),))
    sc = Scenario(g, np.zeros((8, 8)), (Source(1., 1., 1., 1.),))
    with pytest.raises(RangeError, match='n_frames'): simulate(sc, n_frames=0)
    with pytest.raises(RangeError, match='dt_frame'): simulate(sc, dt_frame=0.)
    with pytest.raises(RangeError, match='initial'): simulate(sc, c0=-np.ones(g.shape))
    with pytest.raises(UnknownNameError, match='preset'): dispersion(n=8, nz=4, preset='nope')
    with pytest.raises(UnknownNameError, match='preset'): run_simulation('dispersion', preset='nope')
    with pytest.raises(RangeError, match='n'): run_simulation('dispersion', n=3)


def test_dataset_is_3d_well_with_physical_scalars(tmp_path):
    from the_well.data import WellDataset
    d = make_dataset('dispersion', n_traj=3, res=8, out=tmp_path, nz=4, preset='plume', n_frames=6)
    with h5py.File(d / 'data' / 'train' / f'{d.name}.hdf5', 'r') as f:
        assert int(f.attrs['n_spatial_dims']) == 3
        sc = {k: float(f['scalars'][k][()]) for k in f['scalars'].attrs['field_names']}
        for k, v in {'wind_speed': 4., 'Kh': 25., 'Kz': 10., 'Q': 1e6, 'H': 125., 'source_x': 500., 'source_y': 2250.}.items():
            assert sc[k] == pytest.approx(v)
        np.testing.assert_allclose(f['dimensions/z'][:], (np.arange(4) + 0.5) * 1050 / 4, rtol=1e-6)
        np.testing.assert_allclose(f['dimensions/x'][:], (np.arange(8) + 0.5) * 4500 / 8, rtol=1e-6)
        assert not f['t0_fields/terrain'].attrs['time_varying']
    s = WellDataset(path=str(d), well_split_name='test', n_steps_input=2, n_steps_output=1)[0]
    assert tuple(s['input_fields'].shape) == (2, 8, 8, 4, 3)          # (T, x, y, z, concentration/wind_u/wind_v)
    assert tuple(s['constant_fields'].shape) == (8, 8, 4, 3)


def test_splits_never_share_a_source_configuration(tmp_path):
    d = make_dataset('dispersion', n_traj=5, res=8, out=tmp_path, nz=4, n_frames=3)
    maps = {}
    for split in ('train', 'valid', 'test'):
        with h5py.File(d / 'data' / split / f'{d.name}.hdf5', 'r') as f: maps[split] = np.asarray(f['t0_fields/source_q'])
    for a in maps['train']:
        for split in ('valid', 'test'):
            assert not any(np.allclose(a, b) for b in maps[split])


def test_data_command_makes_the_plume_preset(tmp_path):
    p = subprocess.run([sys.executable, '-m', 'mathphys_nb.runs.cli', 'data', 'make', 'dispersion', '--n-traj', '3', '--res', '8',
                        '--out', str(tmp_path), '--set', 'preset=plume', 'nz=4', 'n_frames=3'], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / 'dispersion_8' / 'data' / 'test' / 'dispersion_8.hdf5').exists()


def test_dispersion_metrics_rule_for_values_below_threshold():
    o = np.array([0.0, 0.0, 1.0, 4.0]); p = np.array([0.0, 0.05, 1.5, 1.0])
    m = dispersion_scores(p, o, thr=0.1)
    # pairs 0 and 1: both below 0.1 -> left out; pair 2 within 2x, pair 3 off by 4x
    assert m['fac2'] == pytest.approx(0.5)
    assert m['mg'] == pytest.approx(np.exp(np.mean([np.log(1 / 1.5), np.log(4.0)])))
    assert m['fb'] == pytest.approx((5 / 4 - 2.55 / 4) / (0.5 * (5 / 4 + 2.55 / 4)))
