"""Forecaster models, training and evaluation: shapes, sizes, resume equality, the eval JSON schema, the recipe."""
import contextlib
import io
import json

import numpy as np
import pytest
import torch

from mathphys_nb.core import MathPhysError, RangeError, UnknownNameError, ShapeError
from mathphys_nb.forecast.models import ForecasterConfig, build_model, n_params, MODELS, config_from_dict
from mathphys_nb.forecast.train import (TrainConfig, train_forecaster, load_split, evaluate, load_forecaster, ship_state,
                                        tiny_dispersion_dataset, WindowData, rollout, diagnose, persistence_mse)

TINY = dict(past=2, nz=4, ny=8, nx=8)
SMALL = dict(hidden=4, latent=16, heads=2, ff=16)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return tiny_dispersion_dataset(tmp_path_factory.mktemp('disp'), n_traj=4, n_frames=14)


@pytest.mark.parametrize('model', MODELS)
def test_shapes_and_residual(model):
    cfg = ForecasterConfig(model, **TINY, **SMALL); net = build_model(cfg).eval()
    x = torch.rand(3, 2, 4, 8, 8); s = torch.rand(3, 3, 4, 8, 8); w = torch.rand(3, 3, 2, 4, 8, 8)
    assert net(x, s, w).shape == (3, 4, 8, 8)
    assert cfg.residual == (model != 'v1')


def test_param_counts_next_to_the_seed():
    full = dict(past=30, nz=21, ny=45, nx=45)
    v2 = n_params(build_model(ForecasterConfig('v2', **full)))
    assert 350_000 < v2 < 500_000                                              # the seed's ~400K
    assert v2 == n_params(build_model(ForecasterConfig('v2', past=4, nz=11, ny=23, nx=23)))
    v1 = n_params(build_model(ForecasterConfig('v1', **full)))
    assert v1 > 128 * 128 * 3 * 6 * 6                                          # its decoder's linear layer alone exceeds ~200K


def test_v1_pools_space_away():
    "v1 pools every frame to 1x1x1 before the transformer (the seed's design): no spatial map survives."
    cfg = ForecasterConfig('v1', past=2, nz=8, ny=16, nx=16, latent=16, heads=2, ff=16, dropout=0.0)
    net = build_model(cfg).eval()
    assert isinstance(net.encoder[-3], torch.nn.AdaptiveAvgPool3d)
    assert net.encoder[-3].output_size == (1, 1, 1)


def test_bad_configs():
    with pytest.raises(UnknownNameError, match='v1'): ForecasterConfig('v3')
    with pytest.raises(RangeError, match='past'): ForecasterConfig('v2', past=0)
    with pytest.raises(RangeError, match='grid'): ForecasterConfig('v2', nz=2)
    with pytest.raises(RangeError, match='lr'): TrainConfig(lr=0)
    net = build_model(ForecasterConfig('v2wind', **TINY, **SMALL))
    with pytest.raises(ShapeError, match='wind'): net(torch.rand(1, 2, 4, 8, 8), torch.rand(1, 3, 4, 8, 8))


def test_v2_names_and_legacy_configs():
    assert ForecasterConfig('v2').name == 'v2_convlstm_h32_skip_p4_11x23x23'
    assert ForecasterConfig('v2', skip=False).name == 'v2_convlstm_h32_p4_11x23x23'         # the seed's v2 exactly
    with pytest.raises(RangeError, match='skip'): ForecasterConfig('v1', skip=True)
    with pytest.raises(UnknownNameError, match='relu'): ForecasterConfig('v2', init='xavier')
    old = config_from_dict({'model': 'v2', 'past': 4, 'nz': 11, 'ny': 23, 'nx': 23, 'name': 'v2_convlstm_h32_p4_11x23x23'})
    assert (old.skip, old.init, old.name) == (False, 'torch', 'v2_convlstm_h32_p4_11x23x23')


def test_v2_fix_keeps_channels_alive_and_the_convlstm_above_adam_eps(tiny):
    "The first v2 (seed's design, PyTorch init, plain MSE) had dead decoder channels and ConvLSTM gradients below Adam's eps."
    wd = WindowData(load_split(tiny, 'train'), 2, 1); bt = wd.batch(list(range(0, len(wd), 3)))
    old = diagnose(ForecasterConfig('v2', **TINY, skip=False, init='torch'), bt, loss_norm=False)
    new = diagnose(ForecasterConfig('v2', **TINY), bt, loss_norm=True)
    assert max(new['dead_channels'].values()) == 0 < max(old['dead_channels'].values())
    assert old['grad_rms']['cells'] < old['adam_eps'] < new['grad_rms']['cells'] / 100
    assert min(new['convlstm_signal']) > 3 * min(old['convlstm_signal'])


def test_tiny_v2_learns_below_persistence(tiny):
    arr = load_split(tiny, 'train'); cfg = ForecasterConfig('v2', **TINY)
    r = train_forecaster(cfg, TrainConfig(max_steps=40, batch=4, lr=1e-3, threads=1, valid_every=5), arr, show=False)
    assert r['loss_ref'] == pytest.approx(persistence_mse(WindowData(arr, 2, 1)))
    assert r['curve'][-1][2] < 0.5 * r['curve'][0][2]                         # loss in units of persistence's MSE
    assert evaluate(r['model'], cfg, arr, leads=(1,), stride=1)['leads']['1']['skill'] > 0.5


def test_resume_gives_the_same_weights(tiny, tmp_path):
    arr = load_split(tiny, 'train')
    cfg = ForecasterConfig('v1', **TINY, **SMALL); tc = TrainConfig(max_steps=4, batch=2, ckpt_every=1, valid_every=1)
    full = train_forecaster(cfg, tc, arr, tmp_path / 'a.pt', show=False)
    train_forecaster(cfg, tc, arr, tmp_path / 'b.pt', stop_after=2, show=False)
    res = train_forecaster(cfg, tc, arr, tmp_path / 'b.pt', resume=True, show=False)
    for (k, p), q in zip(full['model'].state_dict().items(), res['model'].state_dict().values()):
        assert torch.equal(p, q), k
    assert [r[2] for r in full['curve']] == [r[2] for r in res['curve']]
    with pytest.raises(MathPhysError, match='cannot resume'): train_forecaster(cfg, tc, arr, tmp_path / 'none.pt', resume=True)
    other = ForecasterConfig('simvp', **TINY, **SMALL)
    with pytest.raises(MathPhysError, match='another configuration'): train_forecaster(other, tc, arr, tmp_path / 'b.pt', resume=True)


def test_seeded_training_is_deterministic(tiny):
    arr = load_split(tiny, 'train'); cfg = ForecasterConfig('simvp', **TINY, **SMALL)
    a = train_forecaster(cfg, TrainConfig(max_steps=2, batch=2, seed=3, valid_every=1), arr, show=False)
    b = train_forecaster(cfg, TrainConfig(max_steps=2, batch=2, seed=3, valid_every=1), arr, show=False)
    assert [r[2] for r in a['curve']] == [r[2] for r in b['curve']]
    assert all(torch.equal(p, q) for p, q in zip(a['model'].state_dict().values(), b['model'].state_dict().values()))


def test_rollouts_are_non_negative_and_persistence_has_zero_skill(tiny):
    cfg = ForecasterConfig('v2', **TINY, **SMALL); net = build_model(cfg).eval()
    wd = WindowData(load_split(tiny, 'test'), 2, 5)
    y = rollout(net, cfg, wd.batch([0, 1]), 5)
    assert y.shape == (2, 5, 4, 8, 8) and float(y.min()) >= 0


def test_eval_command_prints_the_json_schema(tiny, tmp_path):
    from mathphys_nb.runs.forecast import _eval_cmd
    cfg = ForecasterConfig('simvp', **TINY, **SMALL)
    r = train_forecaster(cfg, TrainConfig(max_steps=2, batch=2), load_split(tiny, 'train'), show=False)
    from mathphys_nb.learn.store import save_checkpoint
    ck = save_checkpoint(tmp_path / 'm.pt', ship_state(r['model']), {'model_config': cfg.to_dict()})
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): assert _eval_cmd(['--checkpoint', str(ck), '--data', str(tiny), '--json']) == 0
    lines = buf.getvalue().strip().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert set(rec) == {'model', 'params', 'leads'} and rec['model'] == cfg.name and isinstance(rec['params'], int)
    assert set(rec['leads']) == {'1', '3', '5', '10'}
    keys = {'mse', 'pcc', 'fb', 'nmse', 'mg', 'vg', 'fac2', 'skill'}
    for m in rec['leads'].values():
        assert set(m) == keys | {'persistence'} and keys <= set(m['persistence'])
        assert all(isinstance(m[k], float) for k in keys)
    # the float16 shipped weights load back and predict like the float32 model
    net, cfg2 = load_forecaster(ck)
    assert cfg2.name == cfg.name
    x = torch.rand(1, 2, 4, 8, 8); s = torch.rand(1, 3, 4, 8, 8)
    torch.testing.assert_close(net(x, s), r['model'](x, s), atol=2e-2, rtol=2e-2)


def test_weights_recipe_quick(tmp_path):
    from mathphys_nb.runs.forecast import forecaster_weights
    es = forecaster_weights(tmp_path, quick=True, models=['v1', 'v2'])
    assert [e['model'] for e in es] == ['v1', 'v2']
    for e in es:
        net, cfg = load_forecaster(tmp_path / e['path'].split('/')[-1])
        assert set(e['test_metrics']) == {'1', '3'}


def test_shipped_forecasters_load():
    from mathphys_nb.forecast.compare import shipped_forecasters, shipped_record
    try: ships = shipped_forecasters()
    except MathPhysError: pytest.skip('no forecaster shipped in data/weights')
    assert {'v1', 'v2'} <= set(ships)
    for m, p in ships.items():
        net, cfg = load_forecaster(p)
        x = torch.rand(1, cfg.past, cfg.nz, cfg.ny, cfg.nx); s = torch.rand(1, 3, cfg.nz, cfg.ny, cfg.nx)
        w = torch.rand(1, cfg.past + 1, 2, cfg.nz, cfg.ny, cfg.nx)
        assert net(x, s, w).shape == (1, cfg.nz, cfg.ny, cfg.nx)
        assert set(shipped_record(p)['leads']) == {'1', '3', '5', '10'}
