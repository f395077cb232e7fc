"""The checkpoint store (mathphys_nb.learn.store): every bad file gets one clear error naming it, the manifest's
SHA-256 guards every shipped file, storage dtypes round-trip, and every shipped checkpoint loads through the store
and reproduces the test metric recorded in the manifest (recomputed on its recipe's data)."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT
from mathphys_nb.core import MathPhysError
from mathphys_nb.learn.store import (CheckpointError, save_checkpoint, load_checkpoint, load_model, read_manifest, shipped,
                                     shipped_checkpoint, update_manifest, entry_file, file_sha256, encode_state, decode_state)
import mathphys_nb.emulator.ae_data, mathphys_nb.emulator.denoiser, mathphys_nb.forecast.models   # register the three kinds

torch.set_num_threads(1)
MANIFEST = read_manifest()
KIND_OF = {n: e['kind'] for n, e in MANIFEST.items()}


@pytest.fixture
def bad_files(tmp_path):
    good = save_checkpoint(tmp_path / 'good.pt', {'w': torch.ones(4)}, {'x': 1}); raw = good.read_bytes()
    (tmp_path / 'empty.pt').write_bytes(b'')
    (tmp_path / 'truncated.pt').write_bytes(raw[:len(raw) // 2])
    (tmp_path / 'random.pt').write_bytes(np.random.default_rng(0).bytes(4096))
    torch.save({'state_dict': {}, 'evil': tempfile.TemporaryDirectory}, tmp_path / 'pickled.pt')   # needs unpickling a class
    return tmp_path


@pytest.mark.parametrize('name,message', [('missing.pt', 'no such checkpoint file'), ('empty.pt', 'is empty (0 bytes)'),
                                          ('truncated.pt', 'truncated or damaged'), ('random.pt', 'not a torch checkpoint'),
                                          ('pickled.pt', 'pickled Python objects')])
def test_each_bad_checkpoint_gets_one_clear_error_naming_the_file(bad_files, name, message):
    with pytest.raises(CheckpointError) as e: load_checkpoint(bad_files / name)
    assert message in str(e.value) and str(bad_files / name) in str(e.value)
    assert isinstance(e.value, MathPhysError) and '\n' not in str(e.value)


def test_a_checkpoint_of_another_kind_is_refused_naming_both_kinds():
    ae = entry_file(MANIFEST['ae_euler64_r80_dctres'])
    with pytest.raises(CheckpointError, match="holds a checkpoint of kind 'autoencoder', not of kind 'emulator'"):
        load_model(ae, 'emulator')
    with pytest.raises(CheckpointError, match="of kind 'forecaster', not of kind 'autoencoder'"):
        load_model('forecast_v2', 'autoencoder')


def test_a_swapped_file_or_a_manifest_pointing_elsewhere_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv('MATHPHYS_DATA', str(tmp_path)); w = tmp_path / 'weights'; w.mkdir()
    a = save_checkpoint(w / 'a.pt', {'w': torch.ones(2)}, {'model_config': {}}); b = save_checkpoint(w / 'b.pt', {'w': torch.zeros(2)}, {'model_config': {}})
    update_manifest('a', {'path': 'weights/a.pt', 'kind': 'forecaster'})
    assert read_manifest()['a']['sha256'] == file_sha256(a)
    m = read_manifest(); m['a']['path'] = 'weights/b.pt'; (w / 'manifest.json').write_text(json.dumps(m))   # points at another file
    with pytest.raises(CheckpointError, match='rerun `make weights`'): shipped_checkpoint('a')
    m['a']['path'] = 'weights/a.pt'; (w / 'manifest.json').write_text(json.dumps(m))
    a.write_bytes(b.read_bytes())                                                                          # other bytes, same name
    with pytest.raises(CheckpointError, match='SHA-256 differs'): load_checkpoint(a)
    (w / 'manifest.json').write_text('{not json')
    with pytest.raises(MathPhysError, match='not valid JSON'): read_manifest()


@pytest.mark.parametrize('dtype,ratio,tol', [('float16', 0.5, 1e-3), ('int8', 0.25, 1.0 / 127)])
def test_float16_and_int8_storage_shrink_the_file_and_load_back_as_float32(tmp_path, dtype, ratio, tol):
    sd = {f'conv{i}.weight': torch.randn(64, 32, 3, 3) for i in range(3)} | {'conv0.bias': torch.randn(64)}
    f32 = save_checkpoint(tmp_path / 'f32.pt', sd, dtype='float32'); small = save_checkpoint(tmp_path / 's.pt', sd, dtype=dtype)
    assert small.stat().st_size < (ratio + 0.05) * f32.stat().st_size
    ck = load_checkpoint(small); assert ck['storage']['dtype'] == dtype
    for k, v in sd.items():
        back = ck['state_dict'][k]; assert back.dtype == torch.float32
        scale = v.abs().flatten(1).amax(1) if v.ndim > 1 else v.abs().max()
        err = (back - v).abs().flatten(1).amax(1) if v.ndim > 1 else (back - v).abs().max()
        assert torch.all(err <= tol * scale + 1e-6), (k, float((err / scale).max()))


def test_int8_storage_is_idempotent_and_every_int8_model_was_checked_against_its_tolerance():
    "Re-storing an int8 checkpoint as int8 changes nothing (no drift when requantized again); every int8 entry records its metric before and after."
    from mathphys_nb.learn.codec import AutoencoderCodec
    name = 'ae_release_anywhere64_r64_pcares'
    ck = load_checkpoint(entry_file(MANIFEST[name])); assert ck['storage']['dtype'] == 'int8'
    q = decode_state(*encode_state(ck['state_dict'], 'int8'))
    a = AutoencoderCodec.load(name); x = torch.rand(4, 1, 64, 64)
    ref = a.roundtrip(x); a.model.load_state_dict(q); out = a.roundtrip(x)
    assert np.abs(out - ref).max() <= 1e-5 * np.abs(ref).max()
    for n, e in MANIFEST.items():
        if e['dtype'] == 'int8':
            c = e['storage_check']
            assert abs(c['metric_after'] - c['metric_before']) <= c['tolerance'] + 1e-12, (n, c)


@pytest.mark.parametrize('name', sorted(MANIFEST))
def test_every_shipped_checkpoint_loads_through_the_store(name):
    e = MANIFEST[name]; f = entry_file(e)
    assert e['sha256'] == file_sha256(f) and e['dtype'] == load_checkpoint(f)['storage']['dtype']
    model = load_model(name, e['kind'])
    net = model[0]
    assert sum(p.numel() for p in net.parameters()) > 0 and not net.training


def _test_split(recipe: dict):
    "The test split of a recipe, regenerated with the project's data code (the same seeds as `make weights`)."
    from mathphys_nb.well.data import plan_dataset, run_jobs
    from mathphys_nb.well.io import write_results
    name, plan = plan_dataset(recipe['simulation'], recipe['n_traj'], recipe['res'], recipe['seed'], **recipe['params'])
    d = Path(tempfile.mkdtemp()); write_results(d / 'data' / 'test' / 'test.hdf5', [r for r, _ in run_jobs([(name, p) for p in plan['test']])])
    return d


def test_shipped_release_autoencoders_reproduce_their_recorded_vrmse():
    "The whole test split of the recipe (the release anywhere, 26 frames of 64² each, seconds to simulate): the manifest's number to 1e-4."
    from mathphys_nb.emulator.ae_data import load_frames
    from mathphys_nb.learn.codec import AutoencoderCodec, score_codec
    es = {n: e for n, e in MANIFEST.items() if n.startswith('ae_release_anywhere64')}
    frames = load_frames(_test_split(next(iter(es.values()))['data_recipe']), 'test').flat
    for n, e in es.items():
        s = score_codec(AutoencoderCodec.load(n), frames)
        assert abs(s['vrmse_mean'] - e['test']['vrmse_mean']) < 1e-4, (n, s['vrmse_mean'], e['test']['vrmse_mean'])
        assert s['ratio'] == pytest.approx(e['ratio'])


def test_every_shipped_autoencoder_scores_as_the_reference_definition():
    "Store + codec + metric suite against torch.load, the raw network and the_well's own VRMSE, on a few frames of each recipe."
    from types import SimpleNamespace
    from the_well.benchmark.metrics import VRMSE
    from mathphys_nb.emulator.autoencoder import build_autoencoder, arch_from_dict
    from mathphys_nb.learn.store import decode_state
    from mathphys_nb.learn.codec import AutoencoderCodec, score_codec
    from mathphys_nb.physics.simulation import run_simulation
    from mathphys_nb.well.data import ALIASES
    from mathphys_nb.emulator.rollout import sim_frames
    for n, e in MANIFEST.items():
        if e['kind'] != 'autoencoder': continue
        r = e['data_recipe']; ck = torch.load(entry_file(e), weights_only=True); c = ck['config']
        res = run_simulation(ALIASES.get(r['simulation'], r['simulation']), n=r['res'], seed=r['seed'], t_end=0.02, n_frames=3)
        u = torch.as_tensor(sim_frames(res, c['transform']['names']))
        net = build_autoencoder(arch_from_dict(c['arch'])); net.load_state_dict(decode_state(ck['state_dict'], (ck.get('storage') or {}).get('scales'))); net.eval()
        t = c['transform']; L = torch.tensor(t['log1p'])[:, None, None].bool(); m = torch.tensor(t['mean'])[:, None, None]; s = torch.tensor(t['std'])[:, None, None]
        with torch.no_grad():
            x = (torch.where(L, torch.log1p(u.clamp_min(-0.999)), u) - m) / s; y = net(x) * s + m; rec = torch.where(L, torch.expm1(y), y)
        ref = VRMSE.eval(rec.double().moveaxis(1, -1), u.double().moveaxis(1, -1), SimpleNamespace(n_spatial_dims=2)).mean().item()
        assert abs(score_codec(AutoencoderCodec.load(n), u)['vrmse_mean'] - ref) < 1e-4, n


@pytest.mark.parametrize('name', ['forecast_simvp', 'forecast_v1'])
def test_shipped_forecasters_reproduce_their_recorded_test_metrics(name):
    "The 12 recorded test rollouts (seeds 54-59 simulated again): every metric at every lead to 1e-4."
    from mathphys_nb.forecast.compare import simulated_split, SHIPPED_EVAL
    from mathphys_nb.forecast.train import evaluate
    net, cfg = load_model(name, 'forecaster'); ev = evaluate(net, cfg, simulated_split(), **SHIPPED_EVAL)
    rec = MANIFEST[name]['test_metrics']
    for lead, ms in rec.items():
        for k, v in ms.items(): assert abs(ev['leads'][lead][k] - v) < 1e-4, (name, lead, k, ev['leads'][lead][k], v)


def test_update_manifest_records_a_replaced_file(tmp_path):
    "Re-storing a shipped file (float16 -> int8) and updating its entry must record the new file, not trip over the old SHA-256."
    from mathphys_nb.learn.store import save_checkpoint, update_manifest, read_manifest, load_checkpoint
    sd = {'w': torch.randn(8, 4)}; f = tmp_path / 'm.pt'
    save_checkpoint(f, sd, {'arch': 'x'}, dtype='float16'); update_manifest('m', {'path': 'm.pt', 'kind': 'test'}, tmp_path)
    old = read_manifest(tmp_path)['m']['sha256']
    save_checkpoint(f, sd, {'arch': 'x'}, dtype='int8')
    e = {k: v for k, v in read_manifest(tmp_path)['m'].items() if k != 'dtype'}
    m = update_manifest('m', e, tmp_path)['m']
    assert m['sha256'] != old and m['dtype'] == 'int8'
    assert load_checkpoint(f, sha256=m['sha256'])['storage']['dtype'] == 'int8'
