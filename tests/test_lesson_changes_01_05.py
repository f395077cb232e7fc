"""Lessons 01–05 run with every change they suggest, and their claims still hold.

Each lesson is executed in-process (execnb, like `nbdev_test`) with one extra cell after its parameters cell
that sets the suggested values: the presets named in its comments, the modes its questions name, the grid
halved and doubled, a narrower pluck. The lesson's own `assert` cells are its claims (second-order
convergence, decay at α|k|², the gas keeping its jumps, measured ω on the grid's relation, growth exactly
when an eigenvalue of the step has |μ| > 1, …); every exercise's right answer must be finite and accepted.
"""
import os
import re

import numpy as np
import pytest

from conftest import ROOT

LESSONS = ROOT / 'nbs' / 'lessons'
CHANGES = {
    '01_standing_waves': [dict(m=1, n=2), dict(m=1, n=7), dict(m=5, n=5), dict(N=16), dict(N=64)],
    '02_differential_equations': [dict(N=8), dict(N=16), dict(N=64), dict(m=2), dict(alpha=0.1)],
    '03_vector_calculus': [dict(preset="'source'"), dict(preset="'vortex'"), dict(preset="'shear'"), dict(N=24), dict(N=96)],
    '04_fourier': [dict(width=0.04), dict(N=16), dict(N=64)],
    '05_linear_algebra': [dict(preset=f"'{p}'", system=f"'{s}'") for p, s in
                          (('rotation', 'saddle'), ('scale', 'stable_node'), ('stretch', 'center'), ('reflection', 'stable_spiral'))],
}


def _param_cell(nb):
    "Index of the code cell right after the '## Parameters' heading."
    i = next(i for i, c in enumerate(nb.cells) if c.cell_type == 'markdown' and c.source.startswith('## Parameters'))
    return i + 1


def _suggested_names(src: str) -> set:
    "Names in quotes inside the comments of the parameters cell ('source', 'vortex', …)."
    return {m for line in src.splitlines() if '#' in line for m in re.findall(r"'(\w+)'", line.split('#', 1)[1])}


def _run(name: str, change: dict):
    from execnb.nbio import read_nb, new_nb
    from execnb.shell import CaptureShell
    from mathphys_nb.widgets.lessons import answers_made
    nb = read_nb(LESSONS / f'{name}.ipynb'); k = _param_cell(nb)
    from fastcore.basics import AttrDict
    extra = AttrDict(cell_type='code', source='\n'.join(f'{a} = {v}' for a, v in change.items()), metadata={}, outputs=[], idx_=k + 1)
    nb.cells.insert(k + 1, extra)
    before = len(answers_made()); cwd = os.getcwd(); os.chdir(LESSONS)
    try:
        sh = CaptureShell(); sh.run_all(nb, exc_stop=True)
    finally: os.chdir(cwd)
    return sh, answers_made()[before:]


@pytest.mark.parametrize('name', sorted(CHANGES))
def test_every_suggested_name_is_tried(name):
    from execnb.nbio import read_nb
    nb = read_nb(LESSONS / f'{name}.ipynb')
    src = nb.cells[_param_cell(nb)].source
    defaults = {m for line in src.splitlines() for m in re.findall(r"'(\w+)'", line.split('#', 1)[0])}   # run by nbdev_test as they are
    tried = {str(v).strip("'") for ch in CHANGES[name] for v in ch.values()} | defaults
    missing = _suggested_names(src) - tried
    assert not missing, f'{name} suggests {sorted(missing)} but the test does not try them'


@pytest.mark.parametrize('name,change', [(n, c) for n in sorted(CHANGES) for c in CHANGES[n]],
                         ids=[f'{n[:2]}-' + ','.join(f'{a}={v}' for a, v in c.items()).replace("'", '') for n in sorted(CHANGES) for c in CHANGES[n]])
def test_lesson_with_change(name, change):
    sh, answers = _run(name, change)                # an assert cell that fails (a claim that no longer holds) raises here
    for a, v in change.items(): assert sh.user_ns[a] == eval(str(v))
    assert len(answers) >= 2, f'{name}: only {len(answers)} checked exercises'
    for ans in answers:
        want = ans.expected_value()
        if ans.choices is None: assert np.isfinite(float(want)), (ans.question, want)
        else: assert str(want) in map(str, ans.choices), (ans.question, want, ans.choices)
        assert ans.check(want if ans.choices is not None else f'{float(want):.12g}'), (ans.question, ans.message)
