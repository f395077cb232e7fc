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
        t0 = [np.asarray(f['t0_fields'][k])[0, :2] for k in f['t0_fields'].attrs['field_names']]
        t1 = [np.asarray(f['t1_fields'][k])[0, :2, ..., i] for k in f['t1_fields'].attrs['field_names'] for i in range(2)]
    written = np.stack(t0 + t1, axis=-1)
    np.testing.assert_array_equal(s['input_fields'].numpy(), written)
    assert np.isfinite(s['output_fields'].numpy()).all()
