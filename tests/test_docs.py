"""The docs site: built from `_quarto.yml` + nbdev's sidebar on a few notebooks (executed, light settings), with no
broken internal link, and two pages opened in headless Chromium (math typeset by the site's own MathJax,
pictures loaded, no request leaving 127.0.0.1). `make docs` builds every notebook the same way."""
import functools
import html
import http.server
import re
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = '/usr/bin/chromium'
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run']
# a library notebook with math, exported functions and pictures; the lesson (math, a picture, a widget); the front page
SUBSET = ['index.ipynb', '12_heat.ipynb', 'lessons/01_standing_waves.ipynb']


def _build(d: Path) -> dict:
    from mathphys_nb.runs.docs import build_docs
    nbs = d / 'nbs'
    for rel in SUBSET:
        (nbs / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / 'nbs' / rel, nbs / rel)
    shutil.copy2(ROOT / '_quarto.yml', nbs / '_quarto.yml')
    env = os.environ.get('PYTHONPATH', '')
    os.environ['PYTHONPATH'] = os.pathsep.join([str(ROOT)] + ([env] if env else []))   # the spawned workers import the package
    try:
        return build_docs(d / '_docs', execute=True, renderer='smalldocs', nbs=nbs, proc=d / '_proc')
    finally:
        if env: os.environ['PYTHONPATH'] = env
        else: os.environ.pop('PYTHONPATH', None)


@pytest.fixture(scope='session')
def site(tmp_path_factory):
    "Built once per test run, also when pytest-xdist runs the tests of this file on two workers."
    from filelock import FileLock
    base = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'): base = base.parent
    d = base / 'docs_site'
    with FileLock(str(base / 'docs_site.lock')):
        if not (d / 'summary.json').exists():
            d.mkdir(exist_ok=True)
            (d / 'summary.json').write_text(json.dumps(_build(d)))
    return json.loads((d / 'summary.json').read_text()), d / '_docs'


def _page(stem: str) -> str:
    return re.sub(r'^\d+[a-z]?_', '', stem) + '.html'


def test_site_pages_navigation_api_and_links(site):
    summary, out = site
    assert summary['failed'] == {}, summary
    # the test builds a subset: a link into a library page that exists in the full site but was not built here is
    # expected to dangle (nbdev links every symbol to its page); every other broken link is a real one
    not_built = {_page(p.stem) for p in (ROOT / 'nbs').glob('*.ipynb')} - {_page(Path(r).stem) for r in SUBSET}
    broken = [(page, ref) for page, ref in summary['broken_links'] if ref.split('#')[0].split('/')[-1] not in not_built]
    assert broken == [], broken
    for page in ('index.html', 'heat.html', 'lessons/standing_waves.html', 'results.html'):
        assert (out / page).exists(), page
    front = (out / 'index.html').read_text()
    # nbdev's sidebar (the same sidebar.yml Quarto reads) links every notebook of the subset
    assert 'href="heat.html"' in front and 'href="lessons/standing_waves.html"' in front
    # the front page: a lesson with its thumbnail, the results page, how to start
    assert 'lessons/thumbs/01_standing_waves.png' in front or 'lessons/thumbs/standing_waves.png' in front, front[-3000:]
    assert 'href="results.html"' in front and 'make lab' in front and 'make demo' in front
    heat = (out / 'heat.html').read_text()
    text = html.unescape(re.sub(r'<[^>]+>', '', heat))
    # API reference from nbdev's show_doc: signature with parameters and types, docstring with shapes, source link
    assert 'def solve_diffusion(' in text and 'alpha:float' in text and 'Integrate u_t' in text and '(ny, nx)' in text
    assert 'heat.py#L' in heat
    # executed outputs: pictures and the validation numbers printed by the notebook
    assert heat.count('<img') >= 2
    # nothing from a CDN: the site's own MathJax is referenced instead
    for page in out.rglob('*.html'):
        if 'mathjax' in page.parts: continue
        t = page.read_text()
        assert 'cdn.jsdelivr' not in t and 'fonts.googleapis' not in t, page
    assert 'site_libs/mathjax/MathJax.js' in heat
    assert not list((out / 'site_libs').rglob('*.css')) or all(
        '@import url(http' not in c.read_text(errors='replace') for c in (out / 'site_libs').rglob('*.css') if 'mathjax' not in c.parts)


def test_sidebar_lists_every_notebook():
    "nbdev's sidebar of the real nbs/ (what both renderers read) has every library notebook and lesson."
    from nbdev.quarto import nbdev_sidebar
    import io, contextlib
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf): nbdev_sidebar.__wrapped__(path=ROOT / 'nbs', printit=True)
    yml = buf.getvalue()
    for p in (ROOT / 'nbs').rglob('*.ipynb'):
        rel = p.relative_to(ROOT / 'nbs')
        if any(part.startswith(('_', '.')) for part in rel.parts): continue
        assert rel.as_posix() in yml, rel


def _serve(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    handler = functools.partial(Quiet, directory=str(folder))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.mark.browser
def test_pages_in_chromium_math_pictures_offline(site, tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get('CI'): pytest.fail('playwright is missing')
        pytest.skip('needs playwright')
    if not os.path.exists(CHROMIUM):
        if os.environ.get('CI'): pytest.fail('chromium is missing (tools/ensure_chromium.sh)')
        pytest.skip('needs /usr/bin/chromium')
    _, out = site
    srv = _serve(out)
    base = f'http://127.0.0.1:{srv.server_address[1]}/'
    requests, errors = [], []
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(str(tmp_path / 'profile'), executable_path=CHROMIUM,
                                                       headless=True, args=FLAGS)
            ctx.on('request', lambda r: requests.append(r.url))
            page = ctx.new_page()
            page.on('pageerror', lambda e: errors.append(str(e)))
            for name, min_imgs in (('heat.html', 1), ('lessons/standing_waves.html', 2)):
                page.goto(base + name, wait_until='load', timeout=60_000)
                # MathJax 2 has typeset every formula: no span.math still holds raw TeX delimiters
                page.wait_for_function("""() => window.MathJax && MathJax.isReady &&
                    document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_SVG').length > 0 &&
                    MathJax.Hub.queue.pending === 0 && MathJax.Hub.queue.running === 0""", timeout=60_000)
                info = page.evaluate("""() => ({
                    typeset: document.querySelectorAll('.MathJax, .MathJax_Display').length,
                    scripts: document.querySelectorAll('script[type^="math/tex"]').length,
                    text: document.querySelector('main, #quarto-content, body').innerText,
                    imgs: [...document.querySelectorAll('main img, #quarto-content img, body img')].map(i => [i.src, i.complete, i.naturalWidth])})""")
                assert info['typeset'] > 0 and info['scripts'] > 0, (name, info['typeset'], info['scripts'])
                assert '$$' not in info['text'] and '\\(' not in info['text'] and '\\[' not in info['text'], name
                loaded = [i for i in info['imgs'] if i[1] and i[2] > 0]
                assert len(loaded) >= min_imgs and len(loaded) == len(info['imgs']), (name, info['imgs'])
                if 'lesson' in name: assert 'JupyterLab' in info['text']
                page.screenshot(path=str(tmp_path / (Path(name).stem + '.png')), full_page=False)
            ctx.close()
    finally:
        srv.shutdown()
    outside = [u for u in requests if not u.startswith(('http://127.0.0.1', 'data:', 'blob:', 'about:'))]
    assert not outside, outside[:10]
    assert any('site_libs/mathjax/' in u for u in requests)
    assert not errors, errors
