"""The house rules of the layout: areas are subpackages, the library never imports the running layer, asking for
one simulation imports only what it needs, and the physics part does not import torch."""
import ast
import json
import subprocess
import sys

import pytest

from conftest import ROOT

PKG = ROOT / 'mathphys_nb'
AREAS = ['physics', 'well', 'codec', 'learn', 'emulator', 'forecast', 'widgets', 'runs']


def test_areas_are_subpackages():
    for a in AREAS: assert (PKG / a / '__init__.py').exists(), a
    flat = sorted(p.stem for p in PKG.glob('*.py') if not p.stem.startswith('_'))
    assert flat == ['core'], f'only core lives at the top level, found {flat}'


def _imports(path):
    out = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.ImportFrom):
            mod = n.module or ''
            if n.level: mod = '.'.join(path.relative_to(ROOT).with_suffix('').parts[:-n.level] + ((mod,) if mod else ()))
            out.add(mod)
        elif isinstance(n, ast.Import): out |= {a.name for a in n.names}
    return out


def test_library_never_imports_the_running_layer():
    bad = {str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m.startswith('mathphys_nb.runs'))
           for p in PKG.rglob('*.py') if 'runs' not in p.relative_to(PKG).parts and p.name != '_modidx.py'}
    assert not {k: v for k, v in bad.items() if v}, bad


def _runs_imports_in_notebook(path):
    "Lines of a notebook's code cells that import the running layer (mathphys_nb.runs)."
    cells = json.loads(path.read_text())['cells']
    return [line.strip() for c in cells if c['cell_type'] == 'code' for line in ''.join(c['source']).splitlines()
            if ('import' in line and 'mathphys_nb.runs' in line) or line.strip().startswith('from .runs')]


def test_no_library_notebook_imports_the_running_layer():
    "Library notebooks (every numbered notebook below 90; the running layer is 90+) never import mathphys_nb.runs, exported or not."
    lib = [p for p in sorted((ROOT / 'nbs').glob('[0-8]*.ipynb'))]
    assert len(lib) > 30, lib
    pending = {'21_poincare.ipynb'}          # its fix is another change of issue 18: drop it from here once that lands
    bad = {p.name: _runs_imports_in_notebook(p) for p in lib}
    assert not {k: v for k, v in bad.items() if v and k not in pending}, bad
    assert all(bad.get(k) for k in pending), f'{pending} no longer import runs: remove them from pending'


def test_every_area_is_listed():
    found = sorted(p.parent.name for p in PKG.glob('*/__init__.py'))
    assert sorted(AREAS) == found, (AREAS, found)


def _modules_after(code):
    out = subprocess.run([sys.executable, '-c', code + '\nimport sys, json; print(json.dumps(sorted(sys.modules)))'],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_one_simulation_imports_only_its_module():
    mods = _modules_after("from mathphys_nb.physics.simulation import get_simulation; get_simulation('heat_equation')")
    ours = {m for m in mods if m.startswith('mathphys_nb.')}
    assert 'mathphys_nb.physics.heat' in ours
    assert not ours & {'mathphys_nb.physics.euler', 'mathphys_nb.physics.wave', 'mathphys_nb.codec.poincare'}, ours
    assert 'torch' not in mods


def test_physics_does_not_import_torch():
    code = 'import importlib, pkgutil, mathphys_nb.physics as P\n' \
           'for m in pkgutil.iter_modules(P.__path__): importlib.import_module(f"mathphys_nb.physics.{m.name}")'
    mods = _modules_after(code)
    assert 'mathphys_nb.physics.euler' in mods and 'torch' not in mods


def test_every_simulation_home_registers_what_it_claims():
    from mathphys_nb.physics.simulation import SIMULATION_HOMES, SIMULATIONS, get_simulation
    for name, home in SIMULATION_HOMES.items():
        assert get_simulation(name).fn.__module__ == home, (name, home)
    assert set(SIMULATIONS) <= set(SIMULATION_HOMES), set(SIMULATIONS) - set(SIMULATION_HOMES)


def test_mathphys_help_lists_the_subcommands():
    exe = ROOT / '.venv' / 'bin' / 'mathphys'
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-m', 'mathphys_nb.runs.cli']
    out = subprocess.run(cmd + ['--help'], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    for sub in ('data', 'demo', 'bench', 'docs', 'lab', 'weights'): assert f'  {sub}' in out, out


def test_simulation_entry_points_document_every_parameter():
    "Each registered simulation function carries a docments comment per parameter (what show_doc prints)."
    from fastcore.docments import docments
    from mathphys_nb.physics.simulation import simulation_names, get_simulation
    undocumented = {}
    for name in simulation_names():
        fn = get_simulation(name).fn
        missing = [k for k, v in docments(fn).items() if k != 'return' and not v]
        if missing: undocumented[name] = missing
    assert not undocumented, f'parameters without a docments comment: {undocumented}'


def test_solvers_document_every_parameter():
    from fastcore.docments import docments
    from mathphys_nb.physics import grid, heat, wave, gray_scott, euler
    fns = [grid.pad, grid.laplacian, heat.solve_diffusion, wave.solve_wave, gray_scott.solve_gray_scott, euler.solve_euler, euler.hllc_flux]
    bad = {f.__name__: [k for k, v in docments(f).items() if k != 'return' and not v] for f in fns}
    assert not any(bad.values()), bad


def _library_notebooks():
    "(notebook, module path) of every notebook with a `#| default_exp`."
    import re
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        exp = next((m.group(1) for c in cells if c['cell_type'] == 'code'
                    for m in [re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M)] if m), None)
        if exp: yield nb, cells, PKG.joinpath(*exp.split('.')).with_suffix('.py')


def test_module_docstrings_are_whole_sentences():
    "nbdev makes a module's docstring from the first `> ` line of its notebook's title cell: one line, a whole sentence."
    bad = {}
    nbs = list(_library_notebooks())
    assert len(nbs) > 40, len(nbs)
    for nb, cells, mod in nbs:
        quote = [l for l in ''.join(cells[0]['source']).splitlines() if l.startswith('>')]
        doc = ast.get_docstring(ast.parse(mod.read_text()), clean=False) or ''
        summary = quote[0][1:].strip() if quote else ''
        if len(quote) != 1: bad[nb.name] = f'the summary has {len(quote)} `>` lines (nbdev keeps only the first)'
        elif doc != summary: bad[nb.name] = f'{mod.name} docstring {doc[-60:]!r} differs from the summary {summary[-60:]!r} (escapes?)'
        elif not doc.endswith('.') or '\n' in doc: bad[nb.name] = f'not one sentence ending with a full stop: {doc[-60:]!r}'
    assert not bad, bad
