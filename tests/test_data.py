"""Every simulation that produces gridded fields over time becomes a dataset that the real `the_well` reads back."""
import numpy as np
import pytest

from mathphys_nb.core import import_all_modules
from mathphys_nb.simulation import SIMULATIONS

import_all_modules()
TINY = {'heat_equation': dict(t_end=0.02, n_frames=4), 'diffusion_process': dict(t_end=0.02, n_frames=4),
        'wave_decomposition': dict(t_end=0.2, n_frames=4), 'frequency_analysis': dict(t_end=0.2, n_frames=4),
        'gray_scott': dict(t_end=20.0, n_frames=4), 'euler_flow': dict(t_end=0.02, n_frames=4),
        'brownian_motion': dict(n_walkers=200, n_frames=4), 'vector_field': dict(n_particles=4, n_frames=4)}


@pytest.mark.parametrize('name', sorted(TINY))
def test_dataset_reads_back_through_the_well(name, tmp_path):
    import h5py
    from the_well.data import WellDataset
    from mathphys_nb.data import make_dataset
    assert name in SIMULATIONS, f'{name} is not registered'
    p = make_dataset(name, n_traj=3, res=16, out=tmp_path, **TINY[name])
    ds = WellDataset(path=str(p), well_split_name='train', n_steps_input=2, n_steps_output=1)
    assert len(ds) == 4 - 3 + 1
    s = ds[0]
    with h5py.File(next((p / 'data' / 'train').glob('*.hdf5')), 'r') as f:
        t0 = [np.asarray(f['t0_fields'][k])[0, :2] for k in f['t0_fields'].attrs['field_names']]
        t1 = [np.asarray(f['t1_fields'][k])[0, :2, ..., i] for k in f['t1_fields'].attrs['field_names'] for i in range(2)]
    written = np.stack(t0 + t1, axis=-1)
    np.testing.assert_array_equal(s['input_fields'].numpy(), written)
    assert np.isfinite(s['output_fields'].numpy()).all()
