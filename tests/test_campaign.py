"""The training campaign (`mathphys weights --budget`): budget split, the lock, bad arguments, the manifest's records,
the curve picture, int8 re-storage with the metric re-measured, a tiny end-to-end campaign on CPU through the GPU
script, and the shipped folder's size and SHA-256 checks. Tiny models only: seconds of training in all."""
import contextlib, io, json, os, shutil, subprocess, sys
from pathlib import Path

import pytest

from mathphys_nb.core import repo_root
from mathphys_nb.learn.store import read_manifest, file_sha256, entry_file, load_checkpoint, weights_dir
from mathphys_nb.runs.campaign import (split_budget, next_share, training_lock, run_campaign, save_curve_png, crossing_minute,
                                       requantize_shipped, shipped_bytes, campaign_models)
from mathphys_nb.runs.cli import main

ROOT = repo_root()


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def test_the_budget_is_split_equally_and_unused_minutes_pass_on():
    assert split_budget(90, ['a', 'b', 'c']) == {'a': 30, 'b': 30, 'c': 30}
    assert split_budget(90, ['a', 'b', 'c'], used={'a': 0}) == {'a': 30, 'b': 45, 'c': 45}
    assert next_share(10, 12, 2) == 0.0


def test_a_second_training_is_refused_in_one_line_with_exit_2(tmp_path, monkeypatch):
    lock = tmp_path / 'training.lock'; monkeypatch.setenv('MATHPHYS_TRAINING_LOCK', str(lock))
    with training_lock(lock):
        rc, out, err = run(['weights', '--budget', '1', '--quick', '--out', tmp_path / 'w'])
    assert rc == 2 and len(err.strip().splitlines()) == 1 and 'never two trainings at once' in err and f'pid {os.getpid()}' in err, err
    assert not (tmp_path / 'w' / 'manifest.json').exists()
    with training_lock(lock):                          # the recipes' own full run (no --budget) is refused too
        rc, out, err = run(['weights', '--only', 'forecaster', '--out', tmp_path / 'w'])
    assert rc == 2 and 'never two trainings at once' in err and not (tmp_path / 'w' / 'manifest.json').exists(), err


@pytest.mark.parametrize('args, message', [
    (['--budget', '0'], 'must be a number > 0'), (['--budget', 'ten'], 'expected a number'),
    (['--budget', '1', '--device', 'tpu'], 'invalid choice'), (['--budget', '1', '--only', 'nonsense', '--quick'], 'nonsense'),
    (['--resume'], '--resume needs --budget'), (['--device', 'cuda'], '--device needs --budget'),
    (['--requantize', 'int4'], 'invalid choice'), (['--budget', '1', '--quick'], 'give --out')])
def test_bad_arguments_get_one_line_and_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.setenv('MATHPHYS_TRAINING_LOCK', str(tmp_path / 'lock'))
    rc, out, err = run(['weights', *args])
    assert rc == 2 and len(err.strip().splitlines()) == 1 and message in err and 'Traceback' not in err, err


@pytest.mark.skipif(__import__('torch').cuda.is_available(), reason='a CUDA device is visible here')
def test_device_cuda_without_a_gpu_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv('MATHPHYS_TRAINING_LOCK', str(tmp_path / 'lock'))
    rc, out, err = run(['weights', '--budget', '1', '--device', 'cuda', '--quick', '--out', tmp_path / 'w'])
    assert rc == 2 and 'no CUDA device' in err and len(err.strip().splitlines()) == 1 and not (tmp_path / 'w' / 'manifest.json').exists(), err


def test_make_weights_passes_the_campaign_through():
    r = subprocess.run(['make', '--no-print-directory', '-n', 'weights', 'BUDGET=5', 'ONLY=forecaster ae_euler64_r80_dctres', 'DEVICE=cuda', 'RESUME=1'],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert 'mathphys weights --budget 5 --only forecaster ae_euler64_r80_dctres --device cuda --resume' in r.stdout, r.stdout[-500:]
    r = subprocess.run(['make', '--no-print-directory', '-n', 'weights'], cwd=ROOT, capture_output=True, text=True, timeout=60)
    line = [l for l in r.stdout.splitlines() if 'mathphys weights' in l]           # (under `make test`, make prints directory lines too)
    assert line and line[-1].rstrip().endswith('mathphys weights'), r.stdout[-300:]


def test_list_names_every_recipe_with_its_models():
    rc, out, err = run(['weights', '--list'])
    assert rc == 0 and 'autoencoder: ae_' in out and 'forecast_simvp' in out and 'emu_euler64_r80_dctres_diffusion' in out, out


def test_only_takes_families_and_model_names_in_training_order():
    assert campaign_models(['forecaster', 'ae_euler64_r80_dctres'])[0] == ('autoencoder', 'ae_euler64_r80_dctres')
    assert {f for f, _ in campaign_models(['forecaster'])} == {'forecaster'}


def test_the_curve_picture_is_written_compact_and_the_crossing_found(tmp_path):
    c = {'name': 'toy', 'metric': 'valid VRMSE', 'baseline': 'pca', 'rows': [[s, 6 * s, 1.0, 1 / (1 + s / 10), 0.5] for s in range(1, 60)]}
    p = save_curve_png(c, tmp_path / 'toy.curve.png')
    assert p.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and 5_000 < p.stat().st_size < 60_000
    assert crossing_minute(c) == 1.1                   # step 11 at 66 s: the first valid below 0.5 (step 10 is at it)
    assert crossing_minute({**c, 'rows': c['rows'][:5]}) is None


KEYS = ('budget_minutes', 'share_minutes', 'steps', 'seconds', 'cpu_seconds', 'device', 'threads', 'load_average_start',
        'load_average_end', 'crosses_baseline', 'crosses_baseline_minute', 'gpu_recipe', 'where')


def test_tiny_campaign_end_to_end_on_cpu_through_the_gpu_script(tmp_path):
    "The GPU script's one call, with --device cpu --quick: three tiny models into a tmp folder, never data/weights."
    before = {p.name: p.stat().st_mtime for p in weights_dir().iterdir()}
    env = {**os.environ, 'MATHPHYS_TRAINING_LOCK': str(tmp_path / 'lock'), 'BUDGET': '0.1',
           'PATH': f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    r = subprocess.run(['bash', str(ROOT / 'tools' / 'gpu_campaign.sh'), '--device', 'cpu', '--quick', '--out', str(tmp_path / 'w')],
                       env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    m = read_manifest(tmp_path / 'w')
    assert sorted(m) == ['ae_euler64_r320_dctres', 'emu_euler64_r80_dctres_deterministic', 'forecast_simvp']
    for n, e in m.items():
        c = e['campaign']
        assert all(k in c for k in KEYS), (n, sorted(c))
        assert c['gpu_recipe'] and c['budget_minutes'] == 0.1 and c['threads'] == os.cpu_count() and c['device'].startswith('cpu')
        assert c['steps'] > 0 and c['seconds'] > 0 and c['cpu_seconds'] > 0
        assert c['crosses_baseline'] in ('never within the budget', 'no baseline') or c['crosses_baseline_minute'] is not None
        f = entry_file(e, tmp_path / 'w'); assert e['sha256'] == file_sha256(f)
        assert (tmp_path / 'w' / f'{n}.curve.png').stat().st_size > 5_000 and (tmp_path / 'w' / f'{n}.curve.json').exists()
        assert load_checkpoint(f)['config']                    # loads through the store
    assert m['ae_euler64_r320_dctres']['test']['vrmse_mean'] > 0
    assert {p.name: p.stat().st_mtime for p in weights_dir().iterdir()} == before


def test_resume_continues_from_the_work_checkpoint_and_a_busy_machine_gets_one_warning(tmp_path, monkeypatch, capsys):
    kw = dict(only=['ae_euler64_r320_dctres'], out=tmp_path / 'w', quick=True, show=False, lock=tmp_path / 'lock', log=lambda *a: None)
    with monkeypatch.context() as mp:
        mp.setattr(os, 'getloadavg', lambda: (os.cpu_count() + 3.0, 0.0, 0.0))
        run_campaign(0.05, **kw)
    err = [l for l in capsys.readouterr().err.splitlines() if 'load average' in l]
    assert len(err) == 1 and err[0].startswith('warning: the 1-minute load average is') and f'{os.cpu_count()} cores' in err[0], err
    s1 = read_manifest(tmp_path / 'w')['ae_euler64_r320_dctres']['campaign']['steps']
    run_campaign(0.05, resume=True, **kw)
    c = read_manifest(tmp_path / 'w')['ae_euler64_r320_dctres']['campaign']
    assert c['resume'] and c['resumed_minutes'] > 0 and c['steps'] >= s1, (s1, c)


def test_requantize_keeps_int8_only_within_tolerance_and_rerecords_the_metric(tmp_path):
    "A tiny autoencoder: int8 stored and re-measured; a zero tolerance refuses a change."
    w = tmp_path / 'w'
    run_campaign(0.05, only=['ae_euler64_r320_dctres'], out=w, quick=True, show=False, lock=tmp_path / 'lock', log=lambda *a: None)
    e0 = read_manifest(w)['ae_euler64_r320_dctres']; b0 = (w / 'ae_euler64_r320_dctres.pt').stat().st_size
    r0 = requantize_shipped(dtype='int8', tolerance=1e-12, folder=w, root=tmp_path / 'well', log=lambda *a: None)[0]
    assert r0['kept'] == (abs(r0['after'] - r0['before']) <= 1e-12) and r0['after'] != r0['before']   # int8 moves it: refused
    assert read_manifest(w)['ae_euler64_r320_dctres'] == e0 and (w / 'ae_euler64_r320_dctres.pt').stat().st_size == b0   # nothing changed
    assert sorted(p.name for p in w.iterdir() if 'tmp' in p.name) == []
    rows = requantize_shipped(dtype='int8', tolerance=0.5, folder=w, root=tmp_path / 'well', log=lambda *a: None)
    e = read_manifest(w)['ae_euler64_r320_dctres']; f = w / 'ae_euler64_r320_dctres.pt'
    assert rows[0]['kept'] and e['dtype'] == 'int8' and load_checkpoint(f)['storage']['dtype'] == 'int8'
    assert f.stat().st_size < b0 and e['sha256'] == file_sha256(f) and e['bytes'] == f.stat().st_size
    assert e['test']['vrmse_mean'] == pytest.approx(rows[0]['after']) and e['storage_check']['metric_before'] == pytest.approx(e0['test']['vrmse_mean'], rel=1e-4)
    assert load_checkpoint(f)['meta']['test']['vrmse_mean'] == pytest.approx(rows[0]['after'])
    assert e['campaign'] == e0['campaign']


def test_every_shipped_manifest_entry_matches_its_file():
    m = read_manifest()
    assert m
    for n, e in m.items():
        f = entry_file(e); assert f.exists(), n
        assert e.get('sha256') == file_sha256(f), f'{n}: the manifest SHA-256 differs from {f}'


def test_the_shipped_weights_stay_under_20_mb():
    assert shipped_bytes() < 20e6, f'{shipped_bytes() / 1e6:.1f} MB'


def test_prune_removes_only_what_no_recipe_names(tmp_path):
    import torch
    from mathphys_nb.learn.store import save_checkpoint, update_manifest
    w = tmp_path / 'w'; w.mkdir()
    for n in ('ae_euler64_r1280', 'forecast_simvp'):           # a retired model and one a recipe still names
        save_checkpoint(w / f'{n}.pt', {'x': torch.zeros(2)}, {'name': n}); (w / f'{n}.curve.json').write_text('{}')
        update_manifest(n, {'path': f'weights/{n}.pt', 'kind': 'toy'}, w)
    rc, out, err = run(['weights', '--prune', '--out', w])
    assert rc == 0 and 'pruned 1 model(s): ae_euler64_r1280' in out, (out, err)
    assert list(read_manifest(w)) == ['forecast_simvp'] and (w / 'forecast_simvp.pt').exists()
    assert not any(p.name.startswith('ae_euler64_r1280') for p in w.iterdir())


def test_a_resumed_fine_tune_keeps_its_init_from(tmp_path):
    "`--resume` of a campaign that fine-tunes from the shipped weights once dropped `init_from` on its second session: the resume file's config then differed and the resume was refused."
    w = tmp_path / 'w'; name = 'ae_euler64_r320_dctres'
    kw = dict(only=[name], out=w, quick=True, show=False, lock=tmp_path / 'lock', log=lambda *a: None)
    run_campaign(0.05, **kw)                                  # the "shipped" model
    shutil.rmtree(w / '_work')                                # no resume file: a resumed campaign fine-tunes from the shipped file
    run_campaign(0.05, resume=True, **kw)
    e1 = read_manifest(w)[name]
    assert e1['train']['init_from'] == str(w / f'{name}.pt'), e1['train']
    run_campaign(0.05, resume=True, **kw)                     # a resume file exists now: the run goes on from it, init_from kept
    e2 = read_manifest(w)[name]
    assert e2['train']['init_from'] == e1['train']['init_from'] and e2['campaign']['resume'] and e2['train']['steps'] >= e1['train']['steps']
