"""Every simulation that produces gridded fields over time becomes a dataset that the real `the_well` reads back."""
import numpy as np
import pytest

from mathphys_nb.physics.simulation import get_simulation, simulation_names

# every simulation with a grid resolution, time frames and a seed becomes a dataset (n is set by the data command)
GRIDDED = [n for n in simulation_names() if {'n', 'n_frames', 'seed'} <= {p.name for p in get_simulation(n).params}]


def _tiny(name):
    return {**{k: v for k, v in get_simulation(name).tiny.items() if k != 'n'}, 'n_frames': 4}


def test_gridded_simulations_are_found():
    assert {'heat_equation', 'euler_flow', 'wave_decomposition', 'gray_scott', 'brownian_motion', 'vector_field'} <= set(GRIDDED)


@pytest.mark.parametrize('name', GRIDDED)
def test_dataset_reads_back_through_the_well(name, tmp_path):
    import h5py
    from the_well.data import WellDataset
    from mathphys_nb.well.data import make_dataset
    p = make_dataset(name, n_traj=3, res=16, out=tmp_path, **_tiny(name))
    ds = WellDataset(path=str(p), well_split_name='train', n_steps_input=2, n_steps_output=1)
    assert len(ds) == 4 - 3 + 1
    s = ds[0]
    with h5py.File(next((p / 'data' / 'train').glob('*.hdf5')), 'r') as f:
        t0 = [np.asarray(f['t0_fields'][k])[0, :2] for k in f['t0_fields'].attrs['field_names']
              if f['t0_fields'][k].attrs['time_varying']]            # constant fields (e.g. terrain) are not inputs
        t1 = [np.asarray(f['t1_fields'][k])[0, :2, ..., i] for k in f['t1_fields'].attrs['field_names'] for i in range(2)]
    written = np.stack(t0 + t1, axis=-1)
    np.testing.assert_array_equal(s['input_fields'].numpy(), written)
    assert np.isfinite(s['output_fields'].numpy()).all()


@pytest.fixture(scope='module')
def dask_cluster():
    "A LocalCluster of 2 worker processes (dashboard off), standing in for a real cluster reached by its tcp address."
    distributed = pytest.importorskip('distributed')
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_dask_scheduler_writes_the_same_bytes_as_a_local_run(dask_cluster, tmp_path):
    from mathphys_nb.well.data import make_dataset
    kw = dict(n_traj=4, res=16, t_end=0.02, n_frames=3, seed=11)
    assert dask_cluster.startswith('tcp://')
    local = make_dataset('heat', out=tmp_path / 'local', **kw)
    remote = make_dataset('heat', out=tmp_path / 'dask', scheduler=dask_cluster, **kw)
    files = sorted(f.relative_to(local) for f in local.rglob('*') if f.is_file())
    assert len(files) >= 4 and files == sorted(f.relative_to(remote) for f in remote.rglob('*') if f.is_file())
    for f in files: assert (local / f).read_bytes() == (remote / f).read_bytes(), f


def test_dask_failed_task_is_reported_with_its_trajectory_index(dask_cluster):
    from mathphys_nb.core import MathPhysError
    from mathphys_nb.physics.simulation import get_simulation
    from mathphys_nb.well.data import run_jobs
    good = get_simulation('heat_equation').resolve(n=16, seed=0, t_end=0.01, n_frames=2)
    bad = {**good, 'seed': 5, 'n': 2}                    # Grid2D refuses n < 3 inside the task
    with pytest.raises(MathPhysError, match=r'trajectory 1 \(heat_equation, seed 5\) failed after 1 retries.*nx must be'):
        run_jobs([('heat_equation', good), ('heat_equation', bad)], scheduler=dask_cluster, retries=1)


def test_bad_worker_counts_and_unwritable_outputs_are_refused_before_any_simulation(tmp_path, monkeypatch):
    import mathphys_nb.well.data as wd
    from mathphys_nb.core import RangeError
    from mathphys_nb.well.io import DataError
    with pytest.raises(RangeError, match='workers must be an integer >= 1, got 0'): wd.run_jobs([], workers=0)
    monkeypatch.setattr(wd, '_simulate', lambda job: pytest.fail('a simulation ran before the output was checked'))
    (tmp_path / 'file').write_text('x')
    with pytest.raises(DataError, match='is a file, not a folder'):
        wd.make_dataset('heat', n_traj=3, res=8, out=tmp_path / 'file', t_end=0.01, n_frames=2)
    with pytest.raises(DataError, match='is a file, not a folder'):
        wd.make_default(tmp_path / 'file', entries=[('heat', 3, 8, {'t_end': 0.01, 'n_frames': 2})])
