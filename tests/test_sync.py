"""The library is what the notebooks export, and the notebooks are clean.

Runs `nbdev_export` and `nbdev_clean` on a copy of the sources in a temporary folder and compares with the
checkout, so the test never changes the working tree and fails when someone edits mathphys_nb/ by hand, forgets
to export, or commits an unclean notebook.
"""
import filecmp
import shutil
import subprocess

from conftest import ROOT, venv_bin


def _tree(d):
    return {p.relative_to(d) for p in d.rglob('*') if p.is_file() and '__pycache__' not in p.parts}


def _copy(tmp):
    for name in ('settings.ini', 'setup.py', 'pyproject.toml'):
        shutil.copy(ROOT / name, tmp / name)
    shutil.copytree(ROOT / 'nbs', tmp / 'nbs')
    shutil.copytree(ROOT / 'mathphys_nb', tmp / 'mathphys_nb', ignore=shutil.ignore_patterns('__pycache__'))


def _diff(a, b, pattern='*'):
    ta, tb = _tree(a), _tree(b)
    changed = sorted(str(p) for p in ta & tb if not filecmp.cmp(a / p, b / p, shallow=False))
    return sorted(map(str, ta - tb)), sorted(map(str, tb - ta)), changed


def test_export_leaves_library_unchanged(tmp_path):
    _copy(tmp_path)
    shutil.rmtree(tmp_path / 'mathphys_nb')   # regenerate from scratch: stale hand-written modules show up too
    (tmp_path / 'mathphys_nb').mkdir()
    subprocess.run([venv_bin('nbdev_export')], cwd=tmp_path, check=True, capture_output=True)
    only_repo, only_export, changed = _diff(ROOT / 'mathphys_nb', tmp_path / 'mathphys_nb')
    assert not (only_export or changed or only_repo), (
        f'mathphys_nb/ is not what the notebooks export: changed {changed}, missing {only_export}, '
        f'not exported by any notebook {only_repo}. Run `make export` and commit.')


def test_clean_leaves_notebooks_unchanged(tmp_path):
    _copy(tmp_path)
    subprocess.run([venv_bin('nbdev_clean')], cwd=tmp_path, check=True, capture_output=True)
    _, _, changed = _diff(ROOT / 'nbs', tmp_path / 'nbs')
    assert not changed, f'notebooks not clean: {changed}. Run `make export` (nbdev_clean) and commit.'


def test_readme_is_generated_from_index():
    from mathphys_nb.runs.docs import readme_text
    assert (ROOT / 'README.md').read_text() == readme_text(), 'README.md is stale: run `make readme`'
