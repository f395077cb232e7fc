"""Emulator training, rollouts and the running layer: exact resume, windows, augmented latents, bounded 100+-step
rollouts, metrics with known answers, the train/eval commands (one JSON line) and the quick weights recipe."""
import contextlib
import io
import json

import numpy as np
import pytest
import torch

from mathphys_nb.core import RangeError, ShapeError
from mathphys_nb.well.data import make_dataset
from mathphys_nb.emulator.ae_data import load_frames, transform_from_stats
from mathphys_nb.emulator.training import (EmulatorTrainConfig, LatentSet, dataset_params, encode_trajectories,
                                           fit_emulator, load_emulator, sample_windows, train_emulator)
from mathphys_nb.learn.codec import PoolCodec, standardize
from mathphys_nb.emulator.rollout import (Emulator, rollout, lead_vrmse, bin_means, spread_skill, spectrum_error,
                                          evaluate_rollouts, summarize)

torch.set_num_threads(1)
TINY = dict(width=24, depth=1, heads=2, batch=4, warmup=1)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('emu')
    ds = make_dataset('euler', n_traj=4, res=16, out=root, t_end=0.8, n_frames=17)
    tr = load_frames(ds, 'train')
    return root, ds, tr, PoolCodec(transform_from_stats(ds, tr), 4, tr.periodic)


def _latents(tiny, copies=1):
    _, ds, tr, codec = tiny
    z = encode_trajectories(codec, tr.data, copies=copies)
    names, prm = dataset_params(ds, 'train')
    ls = LatentSet(z, torch.as_tensor(np.tile(prm, (copies, 1))), names)
    m, s = ls.channel_stats()
    return LatentSet(standardize(ls.z, m, s), ls.params, names)


def test_augmented_copies_are_whole_trajectory_symmetries(tiny):
    _, _, tr, codec = tiny
    n = tr.data.shape[0]
    z = encode_trajectories(codec, tr.data, copies=3, seed=1)
    assert z.shape == (3 * n, 17, 5, 4, 4)
    torch.testing.assert_close(z[:n], encode_trajectories(codec, tr.data, copies=1))
    for c in (1, 2):   # density (channel 1) totals are invariant under mirrors, transposes and rolls, frame by frame
        torch.testing.assert_close(z[c * n:(c + 1) * n, :, 1].mean((-1, -2)), z[:n, :, 1].mean((-1, -2)), atol=1e-4, rtol=0)
    assert not torch.allclose(z[n:2 * n], z[:n])


def test_windows_and_masks(tiny):
    ls = _latents(tiny)
    x, mask, p = sample_windows(ls, 64, 5, 4, torch.Generator().manual_seed(0))
    assert x.shape == (64, 5, 5, 4, 4) and mask.shape == (64, 5) and p.shape == (64, 3)
    k = mask.sum(1)
    assert k.min() == 1 and k.max() == 4 and (mask == (torch.arange(5)[None] < k[:, None])).all()
    with pytest.raises(RangeError): sample_windows(ls, 4, 40, 4, torch.Generator())
    with pytest.raises(ShapeError): LatentSet(ls.z[0], ls.params)


@pytest.mark.parametrize('kind', ['diffusion', 'deterministic'])
def test_resume_gives_the_uninterrupted_weights(tiny, tmp_path, kind):
    ls = _latents(tiny)
    cfg = EmulatorTrainConfig(kind=kind, max_steps=6, ckpt_every=2, **TINY)
    train_emulator(ls, cfg, tmp_path / 'a.pt', show=False)
    train_emulator(ls, cfg, tmp_path / 'b.pt', stop_after=4, show=False)
    assert (tmp_path / 'b.resume.pt').exists()
    train_emulator(ls, cfg, tmp_path / 'b.pt', show=False)
    assert (tmp_path / 'b.pt.json').exists() and (tmp_path / 'b.curve.json').exists()
    a, b = load_emulator(tmp_path / 'a.pt')[0], load_emulator(tmp_path / 'b.pt')[0]
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items()): assert torch.equal(v, w), k
    c = EmulatorTrainConfig(kind=kind, max_steps=6, ckpt_every=2, **{**TINY, 'seed': 1})
    train_emulator(ls, c, tmp_path / 'c.pt', show=False)
    assert not all(torch.equal(v, w) for v, w in zip(a.state_dict().values(), load_emulator(tmp_path / 'c.pt')[0].state_dict().values()))


@pytest.mark.parametrize('kind', ['diffusion', 'deterministic'])
def test_rollout_stays_finite_and_bounded_for_120_steps(tiny, tmp_path, kind):
    root, ds, tr, codec = tiny
    cfg = EmulatorTrainConfig(kind=kind, max_steps=40, ckpt_every=40, **TINY)
    fit_emulator(codec, ds, cfg, tmp_path / 'm.pt', copies=2, cache=tmp_path)
    emu = Emulator.load(tmp_path / 'm.pt')
    z = emu.encode(tr.data[:, :1])
    _, prm = dataset_params(ds, 'train')
    r = rollout(emu.model, z, 120, torch.as_tensor(prm), members=2, sampler_steps=4, generator=torch.Generator().manual_seed(0))
    assert r.shape == (len(tr.data), 2, 120, 5, 4, 4)
    assert torch.isfinite(r).all()
    assert r.abs().max() < 20 * max(1.0, z.abs().max().item())           # standardized latents: no blow-up
    u = emu.decode(r[:, :, -1])
    assert np.isfinite(u).all() and u.shape == (len(tr.data), 2, 5, 16, 16)


def test_metrics_with_known_answers():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(2, 5, 3, 16, 16))
    assert np.allclose(lead_vrmse(t, t), 0)
    assert np.allclose(lead_vrmse(np.broadcast_to(t.mean((-2, -1), keepdims=True), t.shape), t), 1, atol=0.01)
    assert bin_means(np.arange(1, 101)) == {'1-20': 10.5, '21-60': 40.5, '61-100': 80.5}
    mu = rng.normal(size=(6, 1, 4, 1, 16, 16))
    ens = mu + rng.normal(size=(6, 20, 4, 1, 16, 16)); truth = (mu + rng.normal(size=mu.shape))[:, 0]
    assert spread_skill(ens, truth) == pytest.approx(1.0, abs=0.08)
    assert spread_skill(mu + 0.3 * rng.normal(size=ens.shape), truth) == pytest.approx(0.3, abs=0.06)
    assert spectrum_error(t, t) == {'low': 0.0, 'mid': 0.0, 'high': 0.0}
    with pytest.raises(RangeError): spread_skill(ens[:, :1], truth)


def test_eval_command_prints_one_json_line(tiny, tmp_path):
    from mathphys_nb.runs.emulator import train_emulator_command, eval_emulator_command
    root, ds, tr, codec = tiny
    out = tmp_path / 'cli.pt'
    with contextlib.redirect_stdout(io.StringIO()):
        assert train_emulator_command(['--data', str(ds), '--pool-factor', '4', '--kind', 'diffusion', '--out', str(out),
                                       '--width', '24', '--depth', '1', '--heads', '2', '--steps', '3', '--batch', '4',
                                       '--copies', '1', '--threads', '1']) == 0
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert eval_emulator_command(['--checkpoint', str(out), '--data', str(ds), '--leads', '6', '--members', '2',
                                      '--sampler-steps', '2', '--json']) == 0
    lines = buf.getvalue().strip().splitlines()
    assert len(lines) == 1
    js = json.loads(lines[0])
    assert list(js) == ['kind', 'ratio', 'vrmse', 'persistence', 'autoencoder', 'spread_skill', 'seconds_per_frame', 'evaluations_per_frame',
                        'data', 'split', 'trajectories']
    assert js['split'] == 'test' and js['trajectories'] >= 1
    assert js['kind'] == 'diffusion' and js['ratio'] == 16.0 and js['evaluations_per_frame'] == 0.5
    assert list(js['vrmse']) == ['1-6']   # the bin is labelled by the leads it holds and js['spread_skill'] > 0
    assert js['seconds_per_frame']['emulator'] > 0 and js['seconds_per_frame']['solver'] > 0
    with contextlib.redirect_stderr(io.StringIO()):
        assert eval_emulator_command(['--checkpoint', str(tmp_path / 'missing.pt'), '--data', str(ds)]) == 2


def test_quick_weights_recipe(tmp_path):
    from mathphys_nb.runs.emulator import emulator_weights
    rows = emulator_weights(tmp_path, quick=True)   # the 64² 80× pair and the 128² pair, on tiny grids a quarter of theirs
    assert [(r['model'], r['resolution']) for r in rows] == [('diffusion', 16), ('deterministic', 16), ('diffusion', 32), ('deterministic', 32)]
    for r in rows:
        assert (tmp_path / f"{r['path'].split('/')[-1]}").exists()
        assert set(r['test']) >= {'vrmse', 'persistence', 'autoencoder', 'spread_skill', 'skill'}
        emu = Emulator.load(tmp_path / r['path'].split('/')[-1])
        assert all(v.dtype == torch.float32 for v in emu.model.state_dict().values())


def test_torchrun_two_processes_keep_weights_in_sync(tiny, tmp_path):
    """Two gloo processes, each drawing its half of the global batch: gradients are averaged, so both ranks end with the
    same weights (equal validation loss on the same fixed windows); without the all-reduce they would differ."""
    import os, shutil, subprocess, sys
    from conftest import ROOT, venv_bin
    root, ds, tr, codec = tiny
    torchrun = venv_bin('torchrun')
    if not os.path.exists(torchrun): pytest.skip('torchrun not installed next to this python')
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', 'MATHPHYS_PROGRESS': '0'}
    out = subprocess.run([torchrun, '--nproc_per_node', '2', '-m', 'mathphys_nb.runs.cli', 'train', 'emulator', '--data', str(ds),
                          '--pool-factor', '4', '--kind', 'diffusion', '--out', str(tmp_path / 'ddp.pt'), '--width', '24', '--depth', '1',
                          '--heads', '2', '--steps', '4', '--batch', '8', '--copies', '1', '--threads', '1'],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rows, dec, txt = [], json.JSONDecoder(), out.stdout      # the two ranks print at once: a line can hold both objects
    i = txt.find('{"')
    while i != -1:
        try: obj, i = dec.raw_decode(txt, i)
        except ValueError: i += 1; obj = None
        if isinstance(obj, dict) and 'rank' in obj: rows.append(obj)
        i = txt.find('{"', i)
    assert sorted(r['rank'] for r in rows) == [0, 1] and all(r['world'] == 2 for r in rows)
    assert rows[0]['valid_loss'] == rows[1]['valid_loss']
    assert (tmp_path / 'ddp.pt').exists()


def test_time_budget_stops_and_resume_respects_it(tiny, tmp_path):
    cfg = EmulatorTrainConfig(kind='deterministic', max_steps=100_000, ckpt_every=25, max_minutes=0.3 / 60, **TINY)   # 0.3 s
    r = train_emulator(_latents(tiny), cfg, tmp_path / 'b.pt', show=False)
    assert 1 <= r['step'] < 100_000 and 'time budget' in r['stopped'] and (tmp_path / 'b.resume.pt').exists()
    assert train_emulator(_latents(tiny), cfg, tmp_path / 'b.pt', show=False)['step'] == r['step']


def test_shipped_recipes_cover_two_euler_ratios_the_moving_release_and_128():
    from mathphys_nb.runs.emulator import SHIPPED_EMULATORS, SHIPPED_TRAIN, SHIPPED_TRAIN_OVER
    from mathphys_nb.emulator.training import EMULATION_DATA
    ratios = {ae for ae, data, kind in SHIPPED_EMULATORS.values() if data == 'euler64_dt04'}
    assert ratios == {'ae_euler64_r80_dctres', 'ae_euler64_r320_dctres'}
    assert SHIPPED_EMULATORS['emu_release_anywhere64_r1024_pcares_diffusion'][1] == 'release_anywhere64'
    assert EMULATION_DATA['release_anywhere64']['params']['centre'] == 'anywhere'
    assert SHIPPED_EMULATORS['emu_euler128_r80_dctres_deterministic'] == ('ae_euler128_r80_dctres', 'euler128_dt04', 'deterministic')
    assert not any(n.startswith('emu_euler128_r80_d') and 'dctres' not in n for n in SHIPPED_EMULATORS)
    assert EMULATION_DATA['euler128_dt04']['res'] == 128 and SHIPPED_TRAIN['max_minutes'] <= 15
    assert all(o['max_minutes'] <= 15 for o in SHIPPED_TRAIN_OVER.values())


def test_core_table_of_the_shipped_euler_emulators():
    from mathphys_nb.runs.emulator import shipped, shipped_core_table, eval_emulator_command
    if not any(e.get('system') == 'euler' and e.get('resolution') == 64 for e in shipped('emulator').values()):
        pytest.skip('no shipped Euler emulators (run `make weights`)')
    ct = shipped_core_table(64)
    assert list(ct['ratios']) == ['80', '320'] and ct['goal_ratio'] == '80'
    assert len(ct['rows']) == 6 and all('diffusion better' in r and r['mean state'] == 1.0 for r in ct['rows'])
    goals = [v['goal'] for v in ct['verdicts']]
    assert '80× (the goal): deterministic VRMSE at leads 1-20 within 2× the AE floor' in goals
    assert '320×: diffusion VRMSE at leads 1-20 below 1 (the mean state)' in goals
    assert sum('diffusion no worse than deterministic at leads ≥ 21' in g for g in goals) == 2
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): assert eval_emulator_command(['--table', '--json']) == 0
    js = json.loads(buf.getvalue())
    assert sorted(js['ratios']) == ['320', '80'] and js['resolution'] == 64 and js['goal_ratio'] == '80'
    assert all(isinstance(v['met'], bool) for v in js['verdicts'])
