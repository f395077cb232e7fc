"""A real browser runs a lesson in JupyterLab: Debian chromium driven by playwright.

Starts JupyterLab on 127.0.0.1 (token auth on) over a copy of the lessons, opens the standing-waves lesson, runs all
cells, checks that the ipywidgets slider and the pythreejs WebGL canvas are in the DOM, that the canvas is not blank,
and that moving the slider changes the picture (pixel check on screenshots of the canvas element).
"""
import io
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, venv_bin

CHROMIUM = '/usr/bin/chromium'
LESSON = 'lessons/01_standing_waves.ipynb'
pytestmark = pytest.mark.browser


def _need_browser():
    missing = [w for w, ok in (('chromium', os.path.exists(CHROMIUM)), ('playwright', _has_playwright())) if not ok]
    if missing:
        msg = f"browser test needs {', '.join(missing)} (apt-get install chromium; pip install playwright)"
        if os.environ.get('CI'): pytest.fail(msg)
        pytest.skip(msg)


def _has_playwright():
    try:
        import playwright.sync_api  # noqa: F401
        return True
    except ImportError:
        return False


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    root = tmp_path / 'nbs'
    shutil.copytree(ROOT / 'nbs' / 'lessons', root / 'lessons')
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / 'cfg'), JUPYTER_RUNTIME_DIR=str(tmp_path / 'rt'),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / 'ws'), MATHPHYS_PROGRESS='0')
    cmd = [venv_bin('jupyter'), 'lab', '--no-browser', '--ip', '127.0.0.1', f'--port={port}',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}', '--ServerApp.open_browser=False',
           f'--LabApp.workspaces_dir={tmp_path / "ws"}']
    if os.geteuid() == 0: cmd.append('--allow-root')
    log = open(tmp_path / 'lab.log', 'w')
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2); break
            except Exception:
                if proc.poll() is not None: break
                time.sleep(0.5)
        else:
            pytest.fail('JupyterLab did not start:\n' + (tmp_path / 'lab.log').read_text()[-3000:])
        if proc.poll() is not None: pytest.fail('JupyterLab exited:\n' + (tmp_path / 'lab.log').read_text()[-3000:])
        # without the token the server must refuse the API (auth stays on)
        with pytest.raises(Exception): urllib.request.urlopen(f'{url}/api/contents', timeout=5)
        yield url, token, tmp_path
    finally:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()


def _pixels(png: bytes) -> np.ndarray:
    import matplotlib.image as mpimg
    return (mpimg.imread(io.BytesIO(png), format='png')[..., :3] * 255).astype(np.float32)


def canvas_is_blank(img: np.ndarray) -> bool:
    "A canvas is blank if (almost) all pixels have one colour."
    flat = img.reshape(-1, 3)
    dominant = np.abs(flat - np.median(flat, axis=0)).sum(1) < 8
    return dominant.mean() > 0.98 or flat.std() < 2


def test_blank_detector():
    assert canvas_is_blank(np.full((50, 50, 3), 244.0))
    img = np.full((50, 50, 3), 244.0); img[10:40, 10:40] = [30, 120, 200]
    assert not canvas_is_blank(img)


def test_lesson_widgets_render_and_respond(lab):
    _need_browser()
    from playwright.sync_api import sync_playwright
    url, token, tmp = lab
    args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--no-first-run', '--disable-quic']
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp / 'profile'), executable_path=CHROMIUM, headless=True,
                                                   args=args, viewport={'width': 1400, 'height': 1000})
        page = ctx.new_page()
        errors = []
        page.on('pageerror', lambda e: errors.append(str(e)))
        page.goto(f'{url}/lab/tree/{LESSON}?reset&token={token}', timeout=120_000)
        page.wait_for_selector('.jp-Notebook', timeout=120_000)
        try:
            # the kernel has started when the status bar names it and says Idle
            page.wait_for_function("() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
                                   ".some(e => /ipykernel\\) \\| Idle/.test(e.textContent))", timeout=120_000)
            page.click('.lm-MenuBar-itemLabel:text-is("Run")')
            page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
            page.wait_for_selector('.widget-slider', timeout=180_000)
            canvas = page.wait_for_selector('.jp-OutputArea-output canvas', timeout=120_000)
        except Exception:
            page.screenshot(path=str(tmp / 'lab_failure.png'))
            raise AssertionError(f'lesson widgets did not appear; screenshot {tmp / "lab_failure.png"}; page errors {errors[:5]}')
        assert page.locator('.jupyter-widgets').count() >= 2       # slider + VBox/renderer widget DOM
        canvas.scroll_into_view_if_needed()
        time.sleep(3)
        shot0 = _pixels(canvas.screenshot())
        page.screenshot(path=str(tmp / 'lab_before.png'))
        assert not canvas_is_blank(shot0), 'the WebGL canvas is blank after running the lesson'
        handle = page.locator('.widget-slider .noUi-handle').first
        handle.click()
        for _ in range(10): handle.press('ArrowRight')
        page.wait_for_function("() => parseFloat(document.querySelector('.widget-slider .widget-readout').textContent) > 0",
                               timeout=30_000)
        time.sleep(3)
        shot1 = _pixels(canvas.screenshot())
        page.screenshot(path=str(tmp / 'lab_after.png'))
        diff = np.abs(shot1 - shot0).mean()
        changed = (np.abs(shot1 - shot0).sum(-1) > 30).mean()
        out = os.environ.get('MATHPHYS_BROWSER_SHOTS')
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            for n in ('lab_before.png', 'lab_after.png'): shutil.copy(tmp / n, Path(out) / n)
        ctx.close()
    assert not canvas_is_blank(shot1)
    assert changed > 0.01 and diff > 1.0, f'canvas did not change after moving the slider (mean diff {diff:.2f}, changed {changed:.3%})'
