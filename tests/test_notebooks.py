"""Every notebook under nbs/ passes nbdev's test runner: one pytest test per notebook, each in its own process.

Cells flagged with a test flag from settings.ini (`slow`, `gpu`) are skipped unless the flag is listed in
$MATHPHYS_TEST_FLAGS (e.g. "slow gpu"); the `gpu` flag is also turned on automatically when a CUDA device is usable.
"""
import os
import subprocess
import sys
from configparser import ConfigParser

import pytest

from conftest import ROOT

cfg = ConfigParser(); cfg.read(ROOT / 'settings.ini')
TST_FLAGS = cfg['DEFAULT'].get('tst_flags', '').split()


def _notebooks():
    for p in sorted((ROOT / 'nbs').rglob('*.ipynb')):
        rel = p.relative_to(ROOT / 'nbs')
        if any(part.startswith(('_', '.')) for part in rel.parts): continue
        yield rel


def _forced_flags():
    flags = set(os.environ.get('MATHPHYS_TEST_FLAGS', '').split())
    try:
        from mathphys_nb.core import gpu_available
        if gpu_available(): flags.add('gpu')
    except Exception: pass
    return sorted(flags & set(TST_FLAGS))


RUNNER = """
import sys
from pathlib import Path
from nbdev.test import test_nb as run_notebook
skip = sys.argv[2].split() ; force = sys.argv[3].split()
ok, secs = run_notebook(Path(sys.argv[1]), skip_flags=skip, force_flags=force, showerr=True)
print(f'{sys.argv[1]}: {secs:.1f}s')
sys.exit(0 if ok else 1)
"""


@pytest.mark.parametrize('rel', list(_notebooks()), ids=str)
def test_notebook(rel):
    env = dict(os.environ, MATHPHYS_PROGRESS='0', MPLBACKEND='Agg', OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    force = _forced_flags()
    skip = [f for f in TST_FLAGS if f not in force]
    r = subprocess.run([sys.executable, '-c', RUNNER, str(ROOT / 'nbs' / rel), ' '.join(skip), ' '.join(force)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, f'notebook {rel} failed:\n{r.stderr[-6000:]}\n{r.stdout[-2000:]}'
