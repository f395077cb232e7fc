"""The one metric suite (mathphys_nb.learn.metrics): the_well's definitions, the training-loss convention, PCC,
dispersion scores, persistence and skill; non-finite input refused naming the field; lead bins labelled honestly."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from the_well.benchmark.metrics import VRMSE, VMSE, MSE, PearsonR

from mathphys_nb.core import MathPhysError, ShapeError
from mathphys_nb.learn.metrics import (NonFiniteError, mse, vmse, vrmse, pcc, vmse_loss, vrmse_loss, dispersion_scores,
                                       persistence, persistence_pairs, skill, bin_means, lead_vrmse, LOSS)

RNG = np.random.default_rng(0)
A, B = RNG.normal(size=(3, 2, 12, 10)), RNG.normal(size=(3, 2, 12, 10)).cumsum(-1)
META = SimpleNamespace(n_spatial_dims=2)
well = lambda M, a, b: M.eval(torch.as_tensor(np.moveaxis(a, 1, -1)), torch.as_tensor(np.moveaxis(b, 1, -1)), META).numpy()


@pytest.mark.parametrize('ours,theirs', [(vrmse, VRMSE), (vmse, VMSE), (mse, MSE), (pcc, PearsonR)])
def test_the_suite_is_the_wells_definition_for_numpy_and_torch(ours, theirs):
    ref = well(theirs, A, B)
    np.testing.assert_allclose(ours(A, B), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours(torch.as_tensor(A), torch.as_tensor(B)).numpy(), ref, rtol=1e-10, atol=1e-12)


def test_the_training_loss_is_the_same_quantity_with_the_loss_convention():
    p, t = torch.as_tensor(A, dtype=torch.float32), torch.as_tensor(B, dtype=torch.float32)
    ref = ((p - t) ** 2).mean((-2, -1)) / (t.var((-2, -1), unbiased=False) + 1e-2)
    assert float(vmse_loss(p, t)) == pytest.approx(float(ref.mean()), rel=1e-6)
    assert float(vrmse_loss(p, t)) == pytest.approx(float((ref + 1e-12).sqrt().mean()), rel=1e-6)
    assert float(vmse_loss(p, t)) == pytest.approx(float(vmse(p, t, **LOSS).mean()), rel=1e-6)


@pytest.mark.parametrize('where', ['prediction', 'target'])
def test_non_finite_input_raises_naming_the_field(where):
    bad = A.copy(); bad[1, 1, 3, 3] = np.nan if where == 'prediction' else np.inf
    args = (bad, B) if where == 'prediction' else (A, bad)
    with pytest.raises(NonFiniteError, match=f"the {where} holds NaN or Inf in field 'energy'"):
        vrmse(*args, names=['density', 'energy'])
    with pytest.raises(MathPhysError): dispersion_scores(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(ShapeError): vrmse(A, B[..., :5])


def test_dispersion_scores_are_chang_and_hanna_with_prediction_first():
    o = np.array([1.0, 2.0, 4.0, 0.0]); m = dispersion_scores(2 * o, o)        # a model twice too high
    assert m['fb'] == pytest.approx(-2 / 3) and m['mg'] == pytest.approx(0.5) and m['fac2'] == 1.0
    m = dispersion_scores(o, o); assert (m['fb'], m['nmse'], m['mg'], m['vg'], m['fac2']) == (0.0, 0.0, 1.0, 1.0, 1.0)


def test_persistence_is_defined_once_and_skill_against_it():
    traj = RNG.normal(size=(2, 6, 1, 4, 4))
    p = persistence(traj[:, :2], 3); assert p.shape == (2, 3, 1, 4, 4) and np.array_equal(p[:, 2], traj[:, 1])
    f, t = persistence_pairs(traj, 2); assert np.array_equal(f[0], traj[0, 0]) and np.array_equal(t[0], traj[0, 2])
    assert torch.equal(persistence(torch.as_tensor(traj[:, :2]), 2)[:, 1], torch.as_tensor(traj[:, 1]))
    assert skill(0.5, 1.0) == 0.5 and skill({'a': 2.0, 'b': 1.0}, {'a': 1.0}) == {'a': -1.0}
    assert lead_vrmse(persistence(traj[:, :1], 5), traj[:, 1:]).shape == (5,)
    with pytest.raises(MathPhysError): persistence(traj, 0)


def test_lead_bins_are_labelled_by_the_leads_they_hold():
    assert bin_means(np.arange(1, 6)) == {'1-5': 3.0}                 # `eval emulator --leads 5`: "1-5", not "1-20"
    assert list(bin_means(np.ones(30))) == ['1-20', '21-30']
    assert list(bin_means(np.ones(100))) == ['1-20', '21-60', '61-100']


def test_a_forecaster_refuses_data_of_another_grid():
    from mathphys_nb.forecast.models import ForecasterConfig, build_model
    from mathphys_nb.forecast.train import evaluate, tiny_dispersion_dataset, load_split
    import tempfile
    from pathlib import Path
    d = tiny_dispersion_dataset(Path(tempfile.mkdtemp()), n_traj=3, n=16, nz=4, n_frames=8)
    cfg = ForecasterConfig('v2', nz=11, ny=23, nx=23)
    with pytest.raises(ShapeError, match='trained on 11×23×23 grids; the data holds 4×16×16'):
        evaluate(build_model(cfg), cfg, load_split(d, 'test'), leads=(1,))
