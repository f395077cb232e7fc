"""The Well files we write, read back through the real `the_well` library: raw and z-score normalized, exactly."""
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from hypothesis import given, settings, strategies as st

from mathphys_nb.core import MathPhysError, ShapeError
from mathphys_nb.well.io import write_well_file, write_stats, compute_stats, vrmse, tiny_dataset


def _write(root, B=3, T=6, ny=5, nx=7, seed=0, bc='periodic'):
    rng = np.random.default_rng(seed)
    u = (rng.normal(size=(B, T, ny, nx)) + np.arange(nx) * 10.0).astype(np.float32)     # x-dependent: asymmetric
    m = rng.normal(size=(B, T, ny, nx, 2)).astype(np.float32); m[..., 1] += np.arange(ny)[:, None] * 100.0
    d = Path(root) / 'toy'
    for split in ('train', 'valid', 'test'):
        write_well_file(d / 'data' / split / 'toy.hdf5', 'toy', {'u': u}, {'m': m}, time=np.linspace(0, 1, T),
                        x=np.arange(nx) / nx, y=np.arange(ny) / ny, params={'alpha': 0.5, 'beta': 2.0}, bc=bc)
    write_stats(d)
    return d, u, m


@pytest.mark.parametrize('split', ['train', 'valid', 'test'])
def test_raw_samples_are_exactly_what_was_written(tmp_path, split):
    from the_well.data import WellDataset
    d, u, m = _write(tmp_path)
    ds = WellDataset(path=str(d), well_split_name=split, n_steps_input=2, n_steps_output=3)
    assert len(ds) == 3 * (6 - 5 + 1)
    ours = np.concatenate([u[..., None], m], axis=-1)                   # (B, T, ny, nx, F): u, m_x, m_y
    for i in range(len(ds)):
        b, t = divmod(i, 2)
        s = ds[i]
        assert s['input_fields'].shape == (2, 7, 5, 3)                  # the Well's (x, y) order
        np.testing.assert_array_equal(s['input_fields'].numpy(), ours[b, t:t + 2].swapaxes(1, 2))
        np.testing.assert_array_equal(s['output_fields'].numpy(), ours[b, t + 2:t + 5].swapaxes(1, 2))
        np.testing.assert_array_equal(s['constant_scalars'].numpy(), np.float32([0.5, 2.0]))
        np.testing.assert_allclose(s['space_grid'].numpy()[:, 0, 0], np.arange(7) / 7, rtol=1e-6)   # x varies on axis 0
        np.testing.assert_allclose(s['space_grid'].numpy()[0, :, 1], np.arange(5) / 5, rtol=1e-6)


def test_normalized_samples_match_zscore_of_the_written_data(tmp_path):
    from the_well.data import WellDataset
    from the_well.data.normalization import ZScoreNormalization
    d, u, m = _write(tmp_path)
    st_ = yaml.safe_load(open(d / 'stats.yaml'))
    ds = WellDataset(path=str(d), well_split_name='valid', n_steps_input=2, n_steps_output=1,
                     use_normalization=True, normalization_type=ZScoreNormalization)
    s = ds[0]
    z = lambda a, k: ((torch.as_tensor(a) - torch.as_tensor(st_['mean'][k])) / torch.as_tensor(st_['std'][k])).numpy()
    np.testing.assert_array_equal(s['input_fields'].numpy()[..., 0], z(u[0, :2].swapaxes(1, 2), 'u'))
    np.testing.assert_array_equal(s['input_fields'].numpy()[..., 1:], z(m[0, :2].swapaxes(1, 2), 'm'))
    # and normalization actually happened: the y-momentum (offset 0..400) comes back near zero mean
    assert abs(float(s['input_fields'][..., 2].mean())) < 2.0 < float(m[0, :2, ..., 1].mean())


def test_stats_match_numpy(tmp_path):
    d, u, m = _write(tmp_path)
    st_ = yaml.safe_load(open(d / 'stats.yaml'))
    u64, m64 = u.astype(np.float64), m.astype(np.float64)
    np.testing.assert_allclose(st_['mean']['u'], u64.mean(), rtol=1e-9)
    np.testing.assert_allclose(st_['std']['u'], u64.std(), rtol=1e-7)
    np.testing.assert_allclose(st_['rms']['m'], np.sqrt((m64**2).mean(axis=(0, 1, 2, 3))), rtol=1e-9)
    du, dm = np.diff(u64, axis=1), np.diff(m64, axis=1)
    np.testing.assert_allclose(st_['mean_delta']['u'], du.mean(), rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(st_['std_delta']['m'], dm.std(axis=(0, 1, 2, 3)), rtol=1e-7)
    assert st_ == compute_stats(sorted((d / 'data' / 'train').glob('*.hdf5')))
    assert set(st_) == {'mean', 'std', 'rms', 'mean_delta', 'std_delta', 'rms_delta'}


def test_std_is_clipped_for_constant_fields(tmp_path):
    p = write_well_file(tmp_path / 'c' / 'data' / 'train' / 'c.hdf5', 'c', {'u': np.ones((2, 3, 4, 5))},
                        time=[0, 1, 2], x=np.arange(5), y=np.arange(4))
    st_ = compute_stats([p])
    assert st_['std']['u'] == 1e-4 and st_['std_delta']['u'] == 1e-4 and st_['mean']['u'] == 1.0


@pytest.mark.parametrize('bc,code', [('periodic', 2), ('open', 1), ('dirichlet', 0), (('open', 'periodic'), None)])
def test_boundary_conditions_reach_the_library(tmp_path, bc, code):
    from the_well.data import WellDataset
    d, *_ = _write(tmp_path, bc=bc)
    got = WellDataset(path=str(d), well_split_name='train', n_steps_input=1, n_steps_output=1)[0]['boundary_conditions']
    want = [[1, 1], [2, 2]] if code is None else [[code] * 2] * 2
    assert got.numpy().tolist() == want
    with h5py.File(next((d / 'data' / 'train').glob('*.hdf5'))) as f:
        assert list(f['dimensions'].attrs['spatial_dims']) == ['x', 'y']
        assert f['scalars']['alpha'].shape == () and f.attrs['n_trajectories'] == 3
        assert set(f) == {'dimensions', 'boundary_conditions', 'scalars', 't0_fields', 't1_fields', 't2_fields'}


def test_bad_input_writes_nothing(tmp_path):
    p = tmp_path / 'x.hdf5'
    u = np.zeros((1, 2, 3, 4))
    with pytest.raises(ShapeError, match='must be'): write_well_file(p, 'x', {'u': u[0]}, time=[0, 1], x=range(4), y=range(3))
    with pytest.raises(ShapeError, match='share'):
        write_well_file(p, 'x', {'u': u}, {'m': np.zeros((1, 2, 3, 5, 2))}, time=[0, 1], x=range(4), y=range(3))
    with pytest.raises(ShapeError, match='time/x/y'): write_well_file(p, 'x', {'u': u}, time=[0, 1, 2], x=range(4), y=range(3))
    with pytest.raises(MathPhysError, match='NaN'): write_well_file(p, 'x', {'u': u * np.nan}, time=[0, 1], x=range(4), y=range(3))
    with pytest.raises(MathPhysError, match='no train files'): write_stats(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_same_input_gives_the_same_bytes(tmp_path):
    a, *_ = _write(tmp_path / 'a'); b, *_ = _write(tmp_path / 'b')
    for f in ('data/train/toy.hdf5', 'data/test/toy.hdf5', 'stats.yaml'):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), F=st.integers(1, 3), shift=st.floats(-100, 100), scale=st.floats(1.0, 100))   # var(y) >> the 1e-7 in the denominator
def test_vrmse_of_the_spatial_mean_is_one(seed, F, shift, scale):
    tgt = np.random.default_rng(seed).normal(size=(2, 12, 10, F)) * scale + shift
    mean = np.broadcast_to(tgt.mean(axis=(1, 2), keepdims=True), tgt.shape)
    N = 12 * 10
    np.testing.assert_allclose(vrmse(mean, tgt), np.sqrt((N - 1) / N), rtol=1e-6)   # library uses the unbiased var
    np.testing.assert_allclose(vrmse(tgt, tgt), 0.0, atol=1e-12)
    np.testing.assert_allclose(vrmse(tgt + 0.5 * (tgt - mean), tgt), 0.5 * np.sqrt((N - 1) / N), rtol=1e-6)


# ---------------------------------------------------------------- reading back: refuse what is broken

@pytest.mark.parametrize('group,field,bad', [('t0_fields', 'u', np.nan), ('t1_fields', 'm', np.inf), ('t1_fields', 'm', -np.inf)])
def test_non_finite_values_are_refused_naming_file_and_field(tmp_path, group, field, bad):
    from mathphys_nb.well.io import DataError, check_dataset
    d, *_ = _write(tmp_path)
    fp = d / 'data' / 'valid' / 'toy.hdf5'
    with h5py.File(fp, 'r+') as f: f[f'{group}/{field}'][(2, 5, 1, 1, 0)[:f[f'{group}/{field}'].ndim]] = bad
    with pytest.raises(DataError, match=f'{fp}: field {group}/{field} holds 1 NaN/inf value\\(s\\) in trajectory 2'):
        check_dataset(d)
    check_dataset(d, finite=False)                                   # the file still opens


def test_a_truncated_or_foreign_file_is_named(tmp_path):
    from mathphys_nb.well.io import DataError, check_dataset, open_well_file
    d, *_ = _write(tmp_path)
    fp = d / 'data' / 'test' / 'toy.hdf5'
    for cut in (0, 100, 2000):
        fp.write_bytes((d / 'data' / 'train' / 'toy.hdf5').read_bytes()[:cut])
        with pytest.raises(DataError, match='cannot be read as HDF5'): check_dataset(d)
    fp.write_text('{"not": "hdf5"}')
    with pytest.raises(DataError, match=f'{fp} cannot be read as HDF5'):
        with open_well_file(fp): pass


def test_find_dataset_accepts_the_folder_above_one_dataset(tmp_path):
    from mathphys_nb.well.io import DataError, find_dataset
    d, *_ = _write(tmp_path / 'out')
    assert find_dataset(d) == d and find_dataset(tmp_path / 'out') == d
    with pytest.raises(DataError, match='holds no dataset'): find_dataset(tmp_path / 'out' / 'toy' / 'data' / 'train')
    _write(tmp_path / 'out' / 'second')                             # a dataset one level deeper does not count
    assert find_dataset(tmp_path / 'out') == d
    (tmp_path / 'out' / 'toy2' / 'data').mkdir(parents=True)
    with pytest.raises(DataError, match=r'holds 2 datasets \(toy, toy2\)'): find_dataset(tmp_path / 'out')


def test_a_write_interrupted_after_the_train_file_leaves_a_dataset_readers_refuse(tmp_path, monkeypatch):
    "stats.yaml is removed first and written last: a dataset whose writing stopped midway has none."
    import mathphys_nb.well.io as wio
    from mathphys_nb.physics.simulation import run_simulation
    res = [run_simulation('heat_equation', n=8, t_end=0.01, n_frames=2, seed=s) for s in range(3)]
    splits = {'train': res[:1], 'valid': res[1:2], 'test': res[2:]}
    d = wio.write_well_dataset(tmp_path, 'h', splits)
    assert wio.check_dataset(d) == d
    real = wio.write_results
    def killed(path, *a, **k):
        if 'valid' in str(path): raise KeyboardInterrupt                # stands in for a kill after the train file
        return real(path, *a, **k)
    monkeypatch.setattr(wio, 'write_results', killed)
    with pytest.raises(KeyboardInterrupt): wio.write_well_dataset(tmp_path, 'h', splits)
    assert not (d / 'stats.yaml').exists() and not list(d.rglob('*.tmp'))
    with pytest.raises(wio.DataError, match='is incomplete: it has no stats.yaml'): wio.check_dataset(d)
    monkeypatch.setattr(wio, 'write_results', real)
    assert wio.check_dataset(wio.write_well_dataset(tmp_path, 'h', splits)) == d    # a rerun completes it


def test_stale_temporary_files_of_the_same_target_are_removed(tmp_path):
    from mathphys_nb.well.io import clean_stale_temps
    target = tmp_path / 'x.hdf5'
    mine = [tmp_path / '.x.hdf5.abc.tmp', tmp_path / '.x.hdf5.def.tmp']
    other = [tmp_path / '.y.hdf5.abc.tmp', tmp_path / '.x.hdf5x.abc.tmp', tmp_path / 'x.hdf5.abc.tmp']
    for f in mine + other: f.write_bytes(b'')
    assert sorted(clean_stale_temps(target)) == sorted(mine)
    assert all(f.exists() for f in other)
