"The one training loop (`mathphys_nb.learn.trainer`) on a tiny MLP: schedule, budgets, exact resume, DDP, NaN, curve."
import json
import os
import socket

import numpy as np
import pytest
import torch

from mathphys_nb.core import StabilityError, MathPhysError, RangeError
from mathphys_nb.learn.trainer import Trainer, TrainerConfig, lr_factor, share, curve_path, resume_path


def problem(n=128):
    g = torch.Generator().manual_seed(0); X = torch.randn(n, 4, generator=g); Y = torch.sin(X @ torch.randn(4, 2, generator=g))
    def batch_fn(step, g, rank, world):
        i = torch.randint(0, n, (8,), generator=g); return share((X[i], Y[i]), rank, world)
    loss_fn = lambda m, b: torch.mean((m(b[0]) - b[1]) ** 2)
    valid_fn = lambda m: float(torch.mean((m(X[:32]) - Y[:32]) ** 2))
    return batch_fn, loss_fn, valid_fn, float(torch.mean(Y[:32] ** 2))


def mlp(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Dropout(dropout), torch.nn.Linear(16, 2))


def cfg(**kw): return TrainerConfig(**{'max_steps': 8, 'lr': 1e-2, 'warmup': 2, 'valid_every': 2, 'ckpt_every': 2, 'threads': 1, **kw})


def test_warmup_then_cosine():
    f = np.array([lr_factor(s, 5, 50, floor=0.1) for s in range(50)])
    np.testing.assert_allclose(f[:5], np.arange(1, 6) / 5)                       # linear warm-up to 1
    assert np.all(np.diff(f[5:]) <= 0) and f[-1] == pytest.approx(0.1, abs=2e-3)  # cosine down to the floor
    assert lr_factor(27, 5, 50, floor=0.1) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * 22 / 45)))
    assert lr_factor(10, 5, None, time_frac=0.5) == pytest.approx(0.5)           # time budget alone: half way
    assert lr_factor(10, 5, 10_000, time_frac=1.0) == pytest.approx(0.0)         # time ran out before the steps


def test_config_rules_name_the_field():
    with pytest.raises(RangeError, match='max_steps'): TrainerConfig(max_steps=0)
    with pytest.raises(RangeError, match='max_steps or max_minutes'): TrainerConfig(max_steps=None)
    assert TrainerConfig.from_dict(cfg().to_dict()) == cfg()


def test_time_budget_stops_and_is_kept_on_resume(tmp_path):
    import time
    bf, lf, vf, base = problem()
    def slow(step, g, rank, world): time.sleep(0.02); return bf(step, g, rank, world)
    c = cfg(max_steps=100_000, max_minutes=0.3 / 60)                                  # 0.3 s
    r = Trainer(mlp(), c, slow, lf, tmp_path / 'm.pt', vf, base).fit(show=False)
    assert 1 <= r['step'] < 100 and 'time budget' in r['stopped'] and r['record']['seconds'] >= 0.3
    assert torch.load(tmp_path / 'm.pt', weights_only=True)['meta']['step'] == r['step']   # saved where it stopped
    assert json.loads(curve_path(tmp_path / 'm.pt').read_text())['rows'][-1][0] == r['step']
    again = Trainer(mlp(), c, slow, lf, tmp_path / 'm.pt', vf, base).fit(show=False)
    assert again['step'] == r['step']                                                    # spent: stops at once


def test_resume_is_bit_identical(tmp_path):
    bf, lf, vf, base = problem()
    c = cfg(ema=0.9)
    full = mlp(dropout=0.2); Trainer(full, c, bf, lf, tmp_path / 'full.pt', vf, base).fit(show=False)
    Trainer(mlp(dropout=0.2), c, bf, lf, tmp_path / 'part.pt', vf, base).fit(stop_after=4, show=False)
    assert torch.load(tmp_path / 'part.pt', weights_only=True)['meta']['step'] == 4
    part = mlp(dropout=0.2); r = Trainer(part, c, bf, lf, tmp_path / 'part.pt', vf, base).fit(show=False)
    assert r['step'] == 8
    a, b = full.state_dict(), part.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)                               # bit-identical parameters (EMA weights)
    ca, cb = (json.loads(curve_path(tmp_path / f).read_text())['rows'] for f in ('full.pt', 'part.pt'))
    assert [r[:1] + r[2:] for r in ca] == [r[:1] + r[2:] for r in cb]            # same curve (seconds aside)
    with pytest.raises(MathPhysError, match='another configuration'):
        Trainer(mlp(dropout=0.2), cfg(ema=0.9, lr=3e-3), bf, lf, tmp_path / 'part.pt').fit(show=False)


def test_nan_loss_stops_with_the_step_and_saves_nothing(tmp_path):
    bf, lf, vf, base = problem()
    def bad(step, g, rank, world):
        x, y = bf(step, g, rank, world); return x, torch.full_like(y, float('nan'))
    with pytest.raises(StabilityError, match='at step 1'):
        Trainer(mlp(), cfg(), bad, lf, tmp_path / 'm.pt', vf, base).fit(show=False)
    assert list(tmp_path.iterdir()) == []


def test_curve_has_the_baseline_column(tmp_path):
    bf, lf, vf, base = problem()
    r = Trainer(mlp(), cfg(), bf, lf, tmp_path / 'm.pt', vf, base, 'valid MSE', 'zero').fit(show=False)
    cv = json.loads(curve_path(tmp_path / 'm.pt').read_text())
    assert cv['columns'] == ['step', 'seconds', 'loss', 'valid', 'baseline'] and cv['baseline'] == 'zero'
    assert [row[0] for row in cv['rows']] == [0, 2, 4, 6, 8] and all(row[4] == base for row in cv['rows'])
    assert cv['rows'][0][1:3] == [0.0, None]           # the untrained model's row: no training loss yet
    assert cv['rows'][-1][3] < cv['rows'][0][3] and r['valid'] == cv['rows'][-1][3]
    rec = cv['record']; assert rec['threads'] == 1 and rec['processes'] == 1 and rec['cpu_seconds'] > 0 and 'load_average' in rec
    ck = torch.load(tmp_path / 'm.pt', weights_only=True); assert ck['meta']['train']['device'].startswith('cpu')
    assert resume_path(tmp_path / 'm.pt').exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def _ddp_worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    bf, lf, vf, base = problem(); m = mlp()
    r = Trainer(m, cfg(ckpt_every=100), bf, lf, None, vf, base).fit(show=False)
    if rank == 0: torch.save({'state': m.state_dict(), 'curve': r['curve']}, out)
    torch.distributed.destroy_process_group()


def test_ddp_two_processes_match_one(tmp_path):
    bf, lf, vf, base = problem(); one = mlp()
    r1 = Trainer(one, cfg(ckpt_every=100), bf, lf, None, vf, base).fit(show=False)
    torch.multiprocessing.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path / 'two.pt')), nprocs=2, join=True)
    two = torch.load(tmp_path / 'two.pt', weights_only=True)
    for k, v in one.state_dict().items(): torch.testing.assert_close(two['state'][k], v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose([r[2] for r in two['curve'] if r[0]], [r[2] for r in r1['curve'] if r[0]], rtol=1e-5)


def _steps(d: dict) -> int:
    return d['max_steps'] if 'max_steps' in d else d['steps']     # saved before the trainer's rename: 'steps'


def test_every_shipped_config_still_loads():
    "Each shipped checkpoint's saved configs (architecture and training) load through `from_dict`, under the names they were shipped with."
    from mathphys_nb.core import data_dir
    from mathphys_nb.emulator.autoencoder import arch_from_dict
    from mathphys_nb.emulator.denoiser import ViTConfig
    from mathphys_nb.forecast.models import ForecasterConfig
    from mathphys_nb.emulator.ae_train import AETrainConfig
    from mathphys_nb.emulator.training import EmulatorTrainConfig
    from mathphys_nb.forecast.train import TrainConfig
    files = sorted(data_dir('weights').glob('*.pt.json'))
    if not files: pytest.skip('no shipped weights (run `make weights`)')
    for f in files:
        c = json.loads(f.read_text())['config']
        if 'arch' in c:
            assert arch_from_dict(c['arch']).name == c['arch']['name'] == c['name'], f
            t = AETrainConfig.from_dict(c['train']); assert t.max_steps == _steps(c['train']), f
        elif 'vit' in c:
            v = ViTConfig.from_dict(c['vit']); t = EmulatorTrainConfig.from_dict(c['train'])
            assert t.name == c['name'] and v.name == c['name'].rsplit('_', 1)[0] and t.max_steps == _steps(c['train']), f
        else:
            assert ForecasterConfig.from_dict(c['model_config']).name == c['model_config']['name'], f
            assert TrainConfig.from_dict(c['train_config']).max_steps == _steps(c['train_config']), f
