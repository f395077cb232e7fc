"""The residual autoencoder design (a PCA or DCT base plus a zero-initialised learned correction), through the public
API: step 0 is its base exactly, a few steps lower the training loss, save → load_autoencoder → AutoencoderCodec
round trip, the ratio is the base's; the held-out evaluation (baselines fitted on the checkpoint's own training
data, overlapping seeds refused) and `mathphys eval ae --held-out`; the release-anywhere data recipe."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from mathphys_nb.core import MathPhysError, RangeError, ShapeError, write_json
from mathphys_nb.emulator.autoencoder import ResidualAE, ResidualAEConfig, residual_k
from mathphys_nb.emulator.ae_data import load_frames, reconstruction_vrmse, transform_from_stats
from mathphys_nb.emulator.ae_train import (AETrainConfig, train_autoencoder, load_autoencoder, tiny_well, export_weights,
                                           evaluate_heldout, fit_pca)
from mathphys_nb.learn.codec import AutoencoderCodec, PCACodec, TruncationCodec, score_codec
from mathphys_nb.learn.metrics import vmse_loss

torch.set_num_threads(1)
ENV = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE', 'MATHPHYS_PROGRESS': '0'}
# 3 fields on 16²: 768 numbers a frame; ratio 192 keeps k = 4 (the tiny set's 32 training frames are not fitted exactly)
TINY = dict(ratio=192, width=8, blocks=1, embed=2, batch=4, warmup=1, valid_every=4, ckpt_every=8, dropout=0.0, lr=3e-3, augment=False)


def mean_vrmse(codec, frames, tf): return float(np.mean(list(reconstruction_vrmse(codec, frames, tf).values())))


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp('res'); data = tiny_well(root)
    write_json(data / 'recipe.json', {'simulation': 'tiny', 'seed': 0, 'n_traj': 8})
    r = train_autoencoder(AETrainConfig(str(data), design='pca_residual', max_steps=8, **TINY), root / 'run', show=False)
    return root, data, r


def step0(checkpoint):
    "The checkpoint's model with its correction's head zeroed: the frozen base alone, i.e. the model at step 0."
    m, tf, _ = load_autoencoder(checkpoint)
    with torch.no_grad(): m.correction.head.conv.weight.zero_(); m.correction.head.conv.bias.zero_()
    return m, tf


def test_step0_is_the_pca_baseline_and_training_lowers_the_loss(run):
    root, data, r = run
    assert r['config']['name'] == 'pcares_k4_w8d1e2' and r['step'] == 8
    m0, tf = step0(r['checkpoint']); m1, _, _ = load_autoencoder(r['checkpoint'])
    valid = load_frames(data, 'valid').flat
    assert mean_vrmse(m0, valid, tf) == pytest.approx(r['baseline'], abs=1e-5)          # the learning curve's baseline line
    train = load_frames(data, 'train').flat
    assert mean_vrmse(m0, valid, tf) == pytest.approx(mean_vrmse(fit_pca(train, tf, 4), valid, tf), abs=1e-5)
    x = tf.forward(torch.as_tensor(train))
    with torch.no_grad(): l0, l1 = float(vmse_loss(m0(x), x)), float(vmse_loss(m1(x), x))
    assert l1 < l0


def test_fresh_model_reproduces_its_base_exactly():
    x = torch.randn(24, 2, 16, 16)
    pca = PCACodec(5).fit(x)
    m = ResidualAE(ResidualAEConfig(in_channels=2, res=16, k=5, width=8, depth=1, embed=3)).fit_base(pca).eval()
    with torch.no_grad(): torch.testing.assert_close(m(x), pca.decode(pca.encode(x)), atol=1e-4, rtol=0)
    d = ResidualAE(ResidualAEConfig(in_channels=2, res=16, k=10, base='dct', width=8, depth=1)).eval()
    with torch.no_grad(): np.testing.assert_allclose(d(x).numpy(), TruncationCodec.dct(10, (2, 16, 16)).roundtrip(x), atol=1e-4)
    with pytest.raises(MathPhysError, match='not fitted'):
        ResidualAE(ResidualAEConfig(in_channels=2, res=16, k=5)).encode(x)
    with pytest.raises(ShapeError, match='input must be'):
        m.encode(torch.randn(2, 2, 32, 32))


def test_save_load_codec_roundtrip_and_ratio(run, tmp_path):
    root, data, r = run
    m, tf, ck = load_autoencoder(r['checkpoint'])
    assert isinstance(m, ResidualAE) and ck['config']['arch']['base'] == 'pca'
    codec = AutoencoderCodec.load(r['checkpoint'])
    assert codec.ratio == pytest.approx(3 * 16 * 16 / 4) and codec.bytes_per_frame == 16
    fr = load_frames(data, 'test').flat
    z = codec.encode(fr); assert tuple(z.shape) == (len(fr), 4, 1, 1)
    assert score_codec(codec, fr)['vrmse_mean'] == pytest.approx(mean_vrmse(m, fr, tf), abs=1e-6)
    shipped = export_weights(r['checkpoint'], tmp_path / 'shipped.pt')
    m16, _, ck16 = load_autoencoder(shipped)
    assert ck16['state_dict']['base.mean'].dtype == torch.float32        # the base's level is not rounded to float16
    assert torch.equal(m16.base.components.half().float(), m16.base.components)
    assert mean_vrmse(m16, fr, tf) == pytest.approx(mean_vrmse(m, fr, tf), abs=2e-2)


def test_dct_residual_trains_and_ratio_equals_the_dct_base(run, tmp_path):
    root, data, _ = run
    r = train_autoencoder(AETrainConfig(str(data), design='dct_residual', max_steps=2, **{**TINY, 'embed': 0}), tmp_path / 'dct', show=False)
    m, tf, _ = load_autoencoder(r['checkpoint'])
    assert r['config']['name'] == 'dctres_k4_w8d1' and r['config']['data']['ratio'] == pytest.approx(192)
    m0, _ = step0(r['checkpoint']); fr = load_frames(data, 'valid').flat
    assert mean_vrmse(m0, fr, tf) == pytest.approx(mean_vrmse(TruncationCodec.dct(4, (3, 16, 16)), fr, tf), abs=1e-5)


def test_config_errors_are_one_clear_line():
    with pytest.raises(RangeError, match='not reachable'): residual_k(1000, 8, 1)
    with pytest.raises(MathPhysError, match='DC-AE settings'):
        AETrainConfig('x', design='dct_residual', factor=8, lat_channels=4).arch(5, (64, 64), (True, True))
    with pytest.raises(RangeError, match='PCA base only'): ResidualAEConfig(base='dct', learn_base='decoder')


def test_learnable_decoder_base_starts_at_the_base():
    x = torch.randn(16, 1, 8, 8); pca = PCACodec(3).fit(x)
    m = ResidualAE(ResidualAEConfig(in_channels=1, res=8, k=3, width=4, depth=1, embed=0, learn_base='decoder')).fit_base(pca)
    assert {'base.dec_mean', 'base.dec_components'} <= {n for n, _ in m.named_parameters()}
    assert 'base.components' not in {n for n, _ in m.named_parameters()}      # the encoder stays the fitted PCA
    with torch.no_grad(): torch.testing.assert_close(m(x), pca.decode(pca.encode(x)), atol=1e-4, rtol=0)


def test_heldout_baselines_come_from_the_training_data(run, tmp_path):
    root, data, r = run
    held = tiny_well(tmp_path / 'h', seed=5)
    write_json(held / 'recipe.json', {'simulation': 'tiny', 'seed': 900_000, 'n_traj': 8})
    ev = evaluate_heldout(r['checkpoint'], held)
    m, tf, _ = load_autoencoder(r['checkpoint'])
    frames = np.concatenate([load_frames(held, s).flat for s in ('train', 'valid', 'test')])
    assert ev['heldout']['frames'] == len(frames) and ev['heldout']['seeds'] == [900_000, 900_007]
    assert ev['vrmse_mean'] == pytest.approx(mean_vrmse(m, frames, tf), abs=1e-6)
    pca_train = fit_pca(load_frames(data, 'train').flat, tf, 4)              # fitted on the checkpoint's training frames ...
    assert ev['baselines']['pca'] == pytest.approx(mean_vrmse(pca_train, frames, tf), abs=1e-6)
    pca_held = PCACodec(4).fit(tf.forward(torch.as_tensor(load_frames(held, 'train').flat)))   # ... not on the evaluated set
    assert ev['baselines']['pca'] != pytest.approx(mean_vrmse(pca_held, frames, tf), abs=1e-3)
    write_json(held / 'recipe.json', {'simulation': 'tiny', 'seed': 6, 'n_traj': 8})
    with pytest.raises(MathPhysError, match='overlapping the training seeds'): evaluate_heldout(r['checkpoint'], held)
    with pytest.raises(MathPhysError, match='training dataset itself'): evaluate_heldout(r['checkpoint'], data)


def test_eval_command_held_out(run, tmp_path):
    root, data, r = run
    held = tiny_well(tmp_path / 'h', seed=9)
    cmd = [sys.executable, '-m', 'mathphys_nb.runs.autoencoder', 'eval', 'ae', '--checkpoint', str(r['checkpoint'])]
    p = subprocess.run(cmd + ['--data', str(held), '--held-out', '--json'], env=ENV, capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    d = json.loads(p.stdout.strip().splitlines()[-1])
    assert set(d['baselines']) == {'pca', 'dct'} and d['heldout']['train_data'] == str(data) and d['ratio'] == pytest.approx(192)
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert p.returncode == 2 and 'give --data' in p.stderr and 'Traceback' not in p.stderr


def test_release_anywhere_recipe_and_shipped_entries(tmp_path):
    from mathphys_nb.runs.autoencoder import SHIPPED, RELEASE_ANYWHERE64, FAMILY, ensure_dataset
    rec = {**RELEASE_ANYWHERE64, 'n_traj': 3, 'res': 16, 'params': {**RELEASE_ANYWHERE64['params'], 'n_frames': 2}}
    p = ensure_dataset(rec, tmp_path)
    assert p.name == 'diffusion_process_anywhere_64' and json.loads((p / 'recipe.json').read_text()) == rec
    assert load_frames(p, 'train').data.shape == (1, 2, 1, 16, 16)
    assert 'diffusion_process_anywhere' in FAMILY
    for name, k, base in (('ae_euler64_r80_dctres', 256, 'dct'), ('ae_euler64_r320_dctres', 64, 'dct'),
                          ('ae_release_anywhere64_r1024_pcares', 4, 'pca')):
        recipe, over = SHIPPED[name]
        a = AETrainConfig('x', **over).arch(5 if recipe['simulation'] == 'euler' else 1, (64, 64), (True, True))
        assert (a.k, a.base) == (k, base) and over['max_minutes'] > 0
    assert SHIPPED['ae_release_anywhere64_r1024_pcares'][0] is RELEASE_ANYWHERE64


def test_heldout_eval_makes_new_trajectories_of_the_training_recipe(tmp_path):
    from mathphys_nb.runs.autoencoder import RELEASE_ANYWHERE64, ensure_dataset, heldout_eval, training_recipe, HELDOUT_SEED
    rec = {**RELEASE_ANYWHERE64, 'n_traj': 3, 'res': 16, 'params': {**RELEASE_ANYWHERE64['params'], 'n_frames': 3}}
    data = ensure_dataset(rec, tmp_path / 'well')
    r = train_autoencoder(AETrainConfig(str(data), design='dct_residual', ratio=64, width=4, blocks=1, embed=0, max_steps=1, batch=2,
                                        valid_every=1, ckpt_every=1), tmp_path / 'run', show=False)
    assert training_recipe(r['checkpoint']) == rec
    ev = heldout_eval(r['checkpoint'], n_traj=3, root=tmp_path / 'held')
    assert ev['heldout']['seeds'] == [HELDOUT_SEED, HELDOUT_SEED + 2] and ev['heldout']['train_seeds'] == [0, 2]
    assert ev['heldout']['frames'] == 3 * 3 and ev['ratio'] == pytest.approx(64) and set(ev['baselines']) == {'pca', 'dct'}
