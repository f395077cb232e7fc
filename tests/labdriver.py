"""Drive JupyterLab in Debian chromium with playwright: one server, notebooks opened and run, canvases read back.

Shared by the browser tests (tests/test_lessons_browser.py) and the latency benchmark (bench/browser_latency.py).
The server binds 127.0.0.1 and keeps token auth on; the kernel imports this checkout (PYTHONPATH=ROOT).
"""
from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic']
HARMLESS = ('t.on is not a function',)           # pythreejs logs this once per render (toolchain notes)


def venv_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def browser_missing() -> list[str]:
    "What the browser run needs and this machine lacks."
    miss = [] if os.path.exists(CHROMIUM) else ['chromium']
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        miss.append('playwright')
    return miss


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@contextmanager
def lab_server(root: Path, work: Path):
    "JupyterLab serving `root` on 127.0.0.1 with a fresh token; yields (url, token)."
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(work / 'cfg'), JUPYTER_RUNTIME_DIR=str(work / 'rt'),
               JUPYTERLAB_WORKSPACES_DIR=str(work / 'ws'), MATHPHYS_PROGRESS='0', MPLBACKEND='module://matplotlib_inline.backend_inline',
               PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]),
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    cmd = [venv_bin('jupyter'), 'lab', '--no-browser', '--ip', '127.0.0.1', f'--port={port}',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}', '--ServerApp.open_browser=False',
           f'--LabApp.workspaces_dir={work / "ws"}', '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate']
    if os.geteuid() == 0: cmd.append('--allow-root')
    log = open(work / 'lab.log', 'w')
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2); break
            except Exception:
                if proc.poll() is not None: break
                time.sleep(0.25)
        if proc.poll() is not None:
            raise RuntimeError('JupyterLab exited:\n' + (work / 'lab.log').read_text()[-3000:])
        yield url, token
    finally:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill()
        log.close()


def api(url: str, token: str, path: str, method: str = 'GET'):
    req = urllib.request.Request(f'{url}{path}', method=method, headers={'Authorization': f'token {token}'})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
    return json.loads(body) if body else None


def shutdown_kernels(url: str, token: str):
    "Stop every kernel of the server (a closed tab keeps its kernel running)."
    for k in api(url, token, '/api/kernels') or []:
        try: api(url, token, f'/api/kernels/{k["id"]}', 'DELETE')
        except Exception: pass


@contextmanager
def browser(work: Path, width: int = 1400, height: int = 1000):
    "A headless chromium context (fresh profile); yields it."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(work / 'profile'), executable_path=CHROMIUM, headless=True,
                                                   args=ARGS, viewport={'width': width, 'height': height})
        try: yield ctx
        finally: ctx.close()


IDLE = ("() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
        ".some(e => /\\| Idle/.test(e.textContent))")
DONE = ("() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim());"
        " return p.length > 0 && p.every(t => /^\\[\\d+\\]:$/.test(t)) && "
        "[...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Idle/.test(e.textContent)); }")
STOPPED = ("() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Idle/.test(e.textContent)) && "
           "![...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].some(e => e.textContent.includes('*'))")


def open_and_run(page, url: str, token: str, nb: str, timeout_ms: int = 180_000) -> float:
    "Open notebook `nb` (path under the server root), Run All, wait until every code cell ran; returns seconds taken."
    t0 = time.perf_counter()
    page.goto(f'{url}/lab/tree/{nb}?reset&token={token}', timeout=timeout_ms)
    page.wait_for_selector('.jp-Notebook', timeout=timeout_ms)
    page.wait_for_function(IDLE, timeout=timeout_ms)
    page.click('.lm-MenuBar-itemLabel:text-is("Run")')
    page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
    try:
        page.wait_for_function(DONE, timeout=timeout_ms, polling=250)
    except Exception:
        page.wait_for_function(STOPPED, timeout=30_000, polling=250)    # an error stops Run All: report it, do not hang
    return time.perf_counter() - t0


def dismiss_news(page):
    "Close JupyterLab's 'get notified about news?' toast if it shows (it covers part of the page)."
    try: page.locator('.jp-toast-button', has_text='No').first.click(timeout=1500)
    except Exception: pass


def cell_errors(page) -> list[str]:
    "Tracebacks or widget rendering errors shown in output areas."
    texts = page.eval_on_selector_all('.jp-OutputArea-output', 'els => els.map(e => e.innerText)')
    errs = [t for t in texts if 'Traceback' in t or 'Error displaying widget' in t or 'Error rendering' in t
            or any(line.split(':')[0].endswith('Error') and not line.startswith(' ') for line in t.splitlines()[:3])]
    unrun = page.eval_on_selector_all('.jp-CodeCell .jp-InputPrompt', "els => els.filter(e => !/^\\[\\d+\\]:$/.test(e.textContent.trim())).length")
    if unrun: errs.append(f'{unrun} code cell(s) did not run')
    return errs


def pixels(png: bytes) -> np.ndarray:
    import matplotlib.image as mpimg
    return (mpimg.imread(io.BytesIO(png), format='png')[..., :3] * 255).astype(np.float32)


def canvas_is_blank(img: np.ndarray) -> bool:
    "A canvas is blank if (almost) all pixels have one colour."
    flat = img.reshape(-1, 3)
    dominant = np.abs(flat - np.median(flat, axis=0)).sum(1) < 8
    return bool(dominant.mean() > 0.98 or flat.std() < 2)


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    "Fraction of pixels whose colour moved by more than 30 (sum over RGB)."
    if a.shape != b.shape: return 1.0
    return float((np.abs(a - b).sum(-1) > 30).mean())


def canvases(page):
    "The WebGL canvases of output areas that are laid out (width > 0)."
    loc = page.locator('.jp-OutputArea-output canvas')
    return [loc.nth(i) for i in range(loc.count()) if (loc.nth(i).bounding_box() or {}).get('width', 0) > 0]


def shot(canvas, settle: float = 0.3) -> np.ndarray:
    canvas.scroll_into_view_if_needed(); time.sleep(settle)
    return pixels(canvas.screenshot())


def wait_changed(canvas, before: np.ndarray, timeout: float = 20.0, min_frac: float = 0.01) -> np.ndarray:
    "Screenshot `canvas` until it differs from `before` (or time runs out); returns the last picture."
    t_end = time.time() + timeout
    while True:
        now = shot(canvas, 0.3)
        if changed_fraction(before, now) > min_frac or time.time() > t_end: return now


def copy_lessons(dest: Path) -> Path:
    "A copy of nbs/lessons under dest/nbs (the server's root); returns that root."
    root = dest / 'nbs'
    shutil.copytree(ROOT / 'nbs' / 'lessons', root / 'lessons')
    return root
