"""The autoencoder (emulator.autoencoder / ae_data / ae_train, runs.autoencoder): shapes, the ratio ladder, the latent
bound, physics-respecting augmentations, weights-only round trips, exact resume, DDP on 2 CPU processes, the eval JSON."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT
from mathphys_nb.core import RangeError, ShapeError, MathPhysError
from mathphys_nb.learn.store import save_checkpoint, shipped_checkpoint
from mathphys_nb.emulator.autoencoder import (DCAEConfig, AutoEncoder, ratio_ladder, choose_latent, compression_ratio,
                                              softclip, ladder_table)
from mathphys_nb.emulator.ae_data import augment, load_frames, transform_from_stats, reconstruction_vrmse
from mathphys_nb.learn.codec import PCACodec, TruncationCodec
from mathphys_nb.emulator.ae_train import AETrainConfig, train_autoencoder, load_autoencoder, tiny_well, export_weights

torch.set_num_threads(1)
ENV = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1', 'OMP_WAIT_POLICY': 'PASSIVE', 'MATHPHYS_PROGRESS': '0'}
TINY = dict(ratio=12, width=8, max_width=16, batch=4, warmup=2, valid_every=3, ckpt_every=3, dropout=0.0)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return tiny_well(tmp_path_factory.mktemp('ae'))


@pytest.mark.parametrize('ratio,shape', [(20, (16, 8, 8)), (80, (4, 8, 8)), (320, (1, 8, 8)), (1280, (1, 4, 4)), (512, (10, 2, 2))])
def test_shapes_and_reported_ratio(ratio, shape):
    pick = choose_latent(ratio, 64, 5)
    ae = AutoEncoder(DCAEConfig(in_channels=5, lat_channels=pick['lat_channels'], factor=pick['factor'], width=8, max_width=16)).eval()
    x = torch.randn(2, 5, 64, 64)
    with torch.no_grad(): z = ae.encode(x); y = ae.decode(z)
    assert z.shape == (2, *shape) and y.shape == x.shape
    assert ae.ratio(x.shape) == pytest.approx(ratio, rel=0.02)


def test_ladder_spans_20_to_1280_and_names_nearest_when_unreachable():
    lad = ratio_ladder(64, 5)
    for r in lad: assert r['ratio'] == pytest.approx(5 * r['factor'] ** 2 / r['lat_channels'])
    rs = {round(r['ratio'], 6) for r in lad}
    assert {20, 80, 128, 256, 320, 512, 1024, 1280} <= rs and min(rs) <= 20 and max(rs) >= 1280
    assert choose_latent(48, 64, 5)['ratio'] == pytest.approx(1280 / 27)        # 48 → nearest reachable 47.41 (f16c27)
    with pytest.raises(RangeError, match='nearest reachable: .*256.*341.33') as e: choose_latent(300, 64, 1)
    assert '300' in str(e.value)
    assert all(row['config'] != '—' for row in ladder_table(64, 5))


def test_softclip_bound_and_identity_near_zero():
    z = torch.cat([torch.linspace(-1e6, 1e6, 10001), torch.randn(1000) * 100]).double()
    s = softclip(z)
    assert s.abs().max() < 5 and softclip(z.float()).abs().max() <= 5 and torch.all(torch.diff(softclip(torch.sort(z).values)) >= 0)
    assert torch.allclose(softclip(torch.tensor([1e-4, -1e-4])), torch.tensor([1e-4, -1e-4]), rtol=1e-6)
    ae = AutoEncoder(DCAEConfig(in_channels=1, lat_channels=2, factor=4, width=8, max_width=8))
    assert ae.encode(torch.randn(3, 1, 16, 16) * 1e4).abs().max() <= 5


def test_augmentation_flips_the_vector_component_along_the_mirrored_axis():
    names = ['density', 'momentum_x', 'momentum_y']
    n = 8; i = torch.arange(n, dtype=torch.float32)
    u = torch.stack([i[:, None].expand(n, n), torch.full((n, n), 0.5), torch.full((n, n), -2.0)])[None]   # density grows along axis 0
    seen = set()
    for s in range(64):
        a = augment(u, names, (False, False), torch.Generator().manual_seed(s), transpose=False, rolls=False)[0]
        flipped0 = bool(a[0, 0, 0] > a[0, -1, 0])
        assert float(a[1].mean()) == (-0.5 if flipped0 else 0.5)                 # axis-0 mirror ⇔ momentum_x changes sign
        assert abs(float(a[2].mean())) == 2.0
        seen.add((flipped0, float(a[2].mean())))
    assert len(seen) == 4                                                         # both mirrors occur, independently
    t = augment(u, names, (False, False), torch.Generator().manual_seed(0), flips=False, rolls=False, transpose=True)
    assert {float(t[0, 1].mean()), float(t[0, 2].mean())} <= {0.5, -2.0}
    r = augment(u, names, (True, False), torch.Generator().manual_seed(3), flips=False, transpose=False)[0]
    assert torch.equal(r[0].sort(0).values, u[0, 0].sort(0).values) and torch.equal(r[0][0], r[0][0, 0].expand(n))   # rolls only along periodic axis 0


def test_checkpoint_round_trip_weights_only(tmp_path):
    cfg = DCAEConfig(in_channels=3, lat_channels=2, factor=4, width=8, max_width=16, periodic=(True, False))
    torch.manual_seed(0); ae = AutoEncoder(cfg).eval()
    tf = {'names': ['a', 'b', 'c'], 'log1p': [True, False, False], 'mean': [0.1, 0, 0], 'std': [1, 2, 3]}
    p = save_checkpoint(tmp_path / 'm.pt', ae.state_dict(), {'name': cfg.name, 'arch': cfg.to_dict(), 'transform': tf, 'data': {'res': [16, 16]}})
    raw = torch.load(p, weights_only=True)                                       # plain tensors and builtins only
    assert raw['config']['arch']['periodic'] == [True, False]
    m2, tf2, _ = load_autoencoder(p)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad(): assert torch.equal(ae(x), m2(x))
    assert m2.cfg == cfg and tf2.log1p == [True, False, False]
    assert json.loads(Path(str(p) + '.json').read_text())['config']['name'] == 'dcae_f4c2_w8_m16'


def test_resume_gives_the_uninterrupted_result(tiny, tmp_path):
    cfg = AETrainConfig(str(tiny), max_steps=6, **{**TINY, 'dropout': 0.05})     # dropout on: its masks come from the saved RNG state
    full = train_autoencoder(cfg, tmp_path / 'full', show=False)
    train_autoencoder(cfg, tmp_path / 'part', stop_after=3, show=False)
    assert load_autoencoder(tmp_path / 'part' / 'last.pt')[2]['meta']['step'] == 3
    rest = train_autoencoder(cfg, tmp_path / 'part', show=False)
    assert [r[2:4] for r in rest['curve']] == [r[2:4] for r in full['curve']]   # training losses and validation VRMSE
    np.testing.assert_allclose([r[4] for r in rest['curve']], [r[4] for r in full['curve']], rtol=1e-3)   # PCA baseline (its own fit)
    a, b = (load_autoencoder(d / 'last.pt')[0].state_dict() for d in (tmp_path / 'full', tmp_path / 'part'))
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(MathPhysError, match='another configuration'):
        train_autoencoder(AETrainConfig(str(tiny), max_steps=7, **{**TINY, 'lr': 3e-3}), tmp_path / 'part', show=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def test_ddp_two_cpu_processes_match_one(tiny, tmp_path):
    torchrun = Path(sys.executable).parent / 'torchrun'
    if not torchrun.exists(): pytest.skip(f'torchrun not found next to {sys.executable}')
    args = ['--data', str(tiny), '--max-steps', '6', '--quiet', '--threads', '1'] + sum(
        [[f"--{k.replace('_', '-')}", str(v)] for k, v in TINY.items()], [])
    one = train_autoencoder(AETrainConfig(str(tiny), max_steps=6, **TINY), tmp_path / 'one', show=False)
    cmd = [str(torchrun), '--nnodes', '1', '--nproc_per_node', '2', '--master_addr', '127.0.0.1', '--master_port', str(_free_port()),
           '-m', 'mathphys_nb.runs.autoencoder', 'train', 'ae', '--out', str(tmp_path / 'two')] + args
    try: r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=240, cwd=ROOT)
    except subprocess.TimeoutExpired: pytest.skip('torchrun did not finish in 240 s (machine too loaded to start 2 processes)')
    if r.returncode != 0 and ('Address already in use' in r.stderr or 'rendezvous' in r.stderr.lower() and 'timed out' in r.stderr.lower()):
        pytest.skip(f'torchrun could not start its processes: {r.stderr[-300:]}')
    assert r.returncode == 0, r.stderr[-2000:]
    two = json.loads((tmp_path / 'two' / 'last.curve.json').read_text())
    assert two['record']['processes'] == 2
    np.testing.assert_allclose([r[2] for r in two['rows'] if r[0]], [r[2] for r in one['curve'] if r[0]], rtol=1e-4)   # training loss
    np.testing.assert_allclose([r[3] for r in two['rows']], [r[3] for r in one['curve']], rtol=1e-4)   # validation VRMSE
    assert json.loads(r.stdout.strip().splitlines()[-1])['steps'] == 6            # rank 0 reports once


def test_eval_command_prints_the_json_line(tiny, tmp_path):
    train_autoencoder(AETrainConfig(str(tiny), max_steps=2, **TINY), tmp_path / 'run', show=False)
    r = subprocess.run([sys.executable, '-m', 'mathphys_nb.runs.autoencoder', 'eval', 'ae', '--checkpoint', str(tmp_path / 'run' / 'last.pt'),
                        '--data', str(tiny), '--json'], env=ENV, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines(); assert len(lines) == 1
    d = json.loads(lines[0])
    assert set(d) == {'kind', 'ratio', 'vrmse', 'vrmse_mean', 'bytes_per_frame', 'baselines'} and d['kind'] == 'autoencoder'
    assert set(d['vrmse']) == {'density', 'momentum_x', 'momentum_y'} and set(d['baselines']) == {'pca', 'dct'}
    assert d['ratio'] == pytest.approx(12) and d['bytes_per_frame'] == 4 * 16 * 16 * 3 // 12
    assert d['vrmse_mean'] == pytest.approx(np.mean(list(d['vrmse'].values())))
    other = tiny_well(tmp_path / 'o', res=32)
    with pytest.raises(ShapeError, match='trained on'):
        from mathphys_nb.emulator.ae_train import evaluate_autoencoder
        evaluate_autoencoder(tmp_path / 'run' / 'last.pt', other)


def test_linear_baselines_are_exact_with_full_size_and_lossy_below(tiny):
    fr = load_frames(tiny, 'train'); tf = transform_from_stats(tiny, fr)
    x = tf.forward(torch.as_tensor(fr.flat))
    full = TruncationCodec.dct(3 * 16 * 16, (3, 16, 16))
    assert max(reconstruction_vrmse(full, fr.flat, tf).values()) < 1e-4
    small = reconstruction_vrmse(TruncationCodec.dct(12, (3, 16, 16)), fr.flat, tf)
    assert 0.01 < np.mean(list(small.values())) < 1.5
    pca = PCACodec(5).fit(x)
    assert torch.allclose(pca.components @ pca.components.T, torch.eye(5), atol=1e-4)


def test_weights_recipe_quick_writes_a_loadable_manifest_entry(tmp_path):
    from mathphys_nb.runs.autoencoder import autoencoder_weights
    rows = autoencoder_weights(tmp_path, quick=True)
    man = json.loads((tmp_path / 'manifest.json').read_text())
    (name, e), = man.items()
    assert e['kind'] == 'autoencoder' and e['config'] == rows[0]['config'] and e['data_recipe']['seed'] == 0
    m, tf, ck = load_autoencoder(tmp_path / f'{name}.pt')
    assert ck['storage']['dtype'] == 'float16' and e['dtype'] == 'float16'   # stored as float16, decoded to float32 on load
    assert set(e['test']) >= {'vrmse', 'baselines', 'ratio'} and not (tmp_path / '_work').exists()


def test_shipped_weights_load_and_are_small():
    man_path = ROOT / 'data' / 'weights' / 'manifest.json'
    if not man_path.exists(): pytest.skip('no shipped weights (run `make weights`)')
    man = {k: v for k, v in json.loads(man_path.read_text()).items() if v.get('kind') == 'autoencoder'}
    if not man: pytest.skip('no autoencoder in the manifest')
    total = 0
    for name, e in man.items():
        p = shipped_checkpoint(name); total += p.stat().st_size                     # path relative to data/
        m, tf, ck = load_autoencoder(p)
        assert ck['config']['name'] == e['config'] and m.cfg.name == e['config']
        x = torch.zeros(1, m.cfg.in_channels, e['resolution'], e['resolution'])
        with torch.no_grad(): z = m.encode(tf.forward(x + 1.0))                     # either design: the latent numbers per frame
        assert e['ratio'] == pytest.approx(x[0].numel() / z[0].numel(), rel=1e-3)
        with torch.no_grad(): assert torch.isfinite(m(tf.forward(x + 1.0))).all()
    assert total < 20e6


class _Report:
    def __init__(self): self.calls = []
    def section(self, t): self.calls.append(('section', t)); return self
    def text(self, t): self.calls.append(('text', t)); return self
    def table(self, rows, caption=''): self.calls.append(('table', rows)); return self
    def figure(self, fig, caption=''):
        import matplotlib.pyplot as plt
        self.calls.append(('figure', caption)); plt.close(fig); return self


def test_demo_step_and_benchmark_on_shipped_weights():
    from mathphys_nb.runs.autoencoder import demo_autoencoder, bench_autoencoder, shipped_entries
    entries = shipped_entries()
    if not entries: pytest.skip('no shipped autoencoders (run `make weights`)')
    rep = _Report(); demo_autoencoder(rep, quick=True)
    tables = [rows for kind, rows in rep.calls if kind == 'table']
    assert len(tables[0]) == len(entries) and {'AE', 'PCA', 'DCT', 'latent B/frame'} <= set(tables[0][0])
    live = tables[-1]
    assert live and all(abs(r['VRMSE now'] - r['VRMSE in manifest']) < 0.5 * r['VRMSE in manifest'] + 0.05 for r in live)
    rows = bench_autoencoder(quick=True)
    assert {r['unit'] for r in rows} == {'ms/frame', 'B/frame', 'MB/frame'} and all(r['value'] > 0 for r in rows)


def test_euler_recipes_are_residual_designs_and_128_trains_on_the_emulation_set():
    "The Euler DC-AEs lost to PCA or DCT on held-out data and are no longer recipes; 128² trains on the emulators' own set."
    from mathphys_nb.runs.autoencoder import SHIPPED
    from mathphys_nb.emulator.training import EMULATION_DATA
    eu = {n: r for n, r in SHIPPED.items() if 'euler' in n}
    assert eu and all(o.get('design') == 'dct_residual' for _, o in eu.values())
    rec, over = SHIPPED['ae_euler128_r80_dctres']
    assert rec == 'euler128_dt04' and EMULATION_DATA[rec]['res'] == 128 and over['max_minutes'] <= 15


def test_retraining_a_shipped_model_in_place_updates_its_manifest_entry(tmp_path, monkeypatch):
    "The export replaces the shipped file before its manifest entry is rewritten; reading the new file back then failed the SHA-256 check."
    import mathphys_nb.learn.store as store
    from mathphys_nb.runs.autoencoder import build_shipped
    root = tmp_path / 'data'; w = root / 'weights'; w.mkdir(parents=True)
    def fake_data_dir(*parts, create=False):                               # a data folder whose weights/ the store checks
        p = root.joinpath(*parts); p.mkdir(parents=True, exist_ok=True) if create else None; return p
    monkeypatch.setattr(store, 'data_dir', fake_data_dir)
    kw = dict(work=tmp_path / '_work', quick=True, show=False)
    build_shipped('ae_euler64_r320_dctres', w, **kw); sha1 = store.read_manifest()['ae_euler64_r320_dctres']['sha256']
    e = build_shipped('ae_euler64_r320_dctres', w, train_over={'max_steps': 3}, **kw)    # resumes the work run: one more step
    m = store.read_manifest()['ae_euler64_r320_dctres']
    assert e['train']['steps'] == 3 and m['sha256'] != sha1 and m['sha256'] == store.file_sha256(w / 'ae_euler64_r320_dctres.pt')
    assert store.load_checkpoint(w / 'ae_euler64_r320_dctres.pt')['config']     # checked against the new entry


def test_nan_data_is_one_error_line_and_no_checkpoint(tmp_path):
    "Issue 17: NaN in the data once gave all-NaN checkpoints; now `train ae` stops before training, exit 2, one line."
    import h5py
    data = tiny_well(tmp_path)
    f = next((data / 'data' / 'train').glob('*.hdf5'))
    with h5py.File(f, 'r+') as h:
        ds = h['t0_fields']['density']; a = ds[()]; a[1, 3] = np.nan; ds[...] = a
    args = sum([[f"--{k.replace('_', '-')}", str(v)] for k, v in TINY.items()], [])
    r = subprocess.run([sys.executable, '-m', 'mathphys_nb.runs.autoencoder', 'train', 'ae', '--data', str(data), '--out', str(tmp_path / 'run'),
                        '--max-steps', '2', '--quiet', '--threads', '1'] + args, env=ENV, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.strip().count('\n') == 0 and 'NaN' in r.stderr, r.stderr[-1000:]
    assert not (tmp_path / 'run' / 'last.pt').exists()
