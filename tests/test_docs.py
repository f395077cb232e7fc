"""The docs site, built in full as `make docs` builds it: every notebook executed (light settings) and rendered from
`_quarto.yml` with the grouped sidebar; no notebook may stop on an error and no internal link may be broken; two pages
opened in headless Chromium (math typeset by the site's own MathJax, pictures loaded, no request leaving 127.0.0.1).
This is how CI builds the docs: `make test` runs it. The notebooks are copied to a temporary folder first, so the
build never writes into the checkout while other tests read it."""
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


def _build(d: Path) -> dict:
    from mathphys_nb.runs.docs import build_docs
    nbs = d / 'nbs'
    shutil.copytree(ROOT / 'nbs', nbs, ignore=shutil.ignore_patterns('_proc', '_docs', '.ipynb_checkpoints', 'sidebar.yml', 'nbdev.yml'))
    shutil.copy2(ROOT / '_quarto.yml', nbs / '_quarto.yml')
    for name in ('settings.ini', 'mathphys_nb', 'data', 'bench', 'csrc'):   # what nbdev and notebooks find beside nbs/ (from the cwd)
        if (ROOT / name).exists(): (d / name).symlink_to(ROOT / name)
    env = os.environ.get('PYTHONPATH', '')
    os.environ['PYTHONPATH'] = os.pathsep.join([str(ROOT)] + ([env] if env else []))   # the spawned workers import the package
    try:
        return build_docs(d / '_docs', execute=True, renderer='smalldocs', nbs=nbs, proc=d / '_proc')
    finally:
        if env: os.environ['PYTHONPATH'] = env
        else: os.environ.pop('PYTHONPATH', None)


SITE = pytest.mark.xdist_group('docs_site')    # `make test` runs with --dist loadgroup: one worker builds the site


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


@SITE
def test_site_builds_every_notebook_without_error(site):
    "What `make docs` must give on a fresh clone: every notebook ran to its end, no broken internal link."
    from mathphys_nb.runs.docs import failure_text
    summary, out = site
    assert summary['notebooks'] >= len([p for p in (ROOT / 'nbs').rglob('*.ipynb') if '_proc' not in p.parts]), summary
    assert summary['failed'] == {}, '\n'.join(f'{nb}: {failure_text(e)}' for nb, e in summary['failed'].items())
    assert summary['broken_links'] == [], summary['broken_links'][:20]


@SITE
def test_site_pages_navigation_api_and_links(site):
    summary, out = site
    for page in ('index.html', 'heat.html', 'lessons/standing_waves.html', 'results.html'):
        assert (out / page).exists(), page
    front = (out / 'index.html').read_text()
    # the sidebar (the sidebar.yml Quarto reads too) links every page, in one folding section per area
    assert 'href="heat.html"' in front and 'href="lessons/standing_waves.html"' in front and 'href="claims.html"' in front
    sections = re.findall(r'sidebar-item-section">.*?<span class="menu-text">([^<]+)</span>', front, re.S)
    assert sections == ['Core and data', 'Physics', 'Codec', 'Emulator', 'Forecast', 'Widgets', 'Running', 'Lessons'], sections
    # the claims page: a verdict for every claim, computed, with links to where it is measured
    claims = html.unescape(re.sub(r'<[^>]+>', ' ', (out / 'claims.html').read_text()))
    for words in ('256:1', '2 µs', '100 ms', '500 ms', 'PCC 0.1–0.2 → 0.7–0.9', 'MSE 10× lower', 'keeps the physics',
                  'diffusion better than deterministic', '60 fps', 'rendering 100× faster', '90 % less memory'):
        assert words in claims, words
    assert 'href="poincare.html"' in (out / 'claims.html').read_text() and 'href="results.html"' in (out / 'claims.html').read_text()
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
    # nothing loaded from a CDN (a page may show such a URL as text, as the docs notebook's tests do): the site's own MathJax instead
    remote = re.compile(r'(?:src|href)\s*=\s*["\']https?://(?:cdn\.jsdelivr|fonts\.googleapis)', re.I)
    for page in out.rglob('*.html'):
        if 'mathjax' in page.parts: continue
        assert not remote.search(page.read_text()), page
    assert 'site_libs/mathjax/MathJax.js' in heat
    assert not list((out / 'site_libs').rglob('*.css')) or all(
        '@import url(http' not in c.read_text(errors='replace') for c in (out / 'site_libs').rglob('*.css') if 'mathjax' not in c.parts)


def test_sidebar_groups_every_notebook_by_area():
    "The sidebar of the real nbs/ (what both renderers read) has every library notebook and lesson, in its area's section."
    import yaml
    from mathphys_nb.runs.docs import grouped_sidebar
    contents = yaml.safe_load(grouped_sidebar(ROOT / 'nbs', extra=['results.md']))['website']['sidebar']['contents']
    top = [c for c in contents if isinstance(c, str)]
    sections = {c['section']: c['contents'] for c in contents if isinstance(c, dict)}
    assert top == ['index.ipynb', '98_claims.ipynb', 'results.md'], top
    assert list(sections) == ['Core and data', 'Physics', 'Codec', 'Emulator', 'Forecast', 'Widgets', 'Running', 'Lessons'], list(sections)
    area = {'0': 'Core and data', '1': 'Physics', '2': 'Codec', '3': 'Emulator', '4': 'Forecast', '5': 'Widgets', '9': 'Running'}
    for p in (ROOT / 'nbs').rglob('*.ipynb'):
        rel = p.relative_to(ROOT / 'nbs').as_posix()
        if any(part.startswith(('_', '.')) for part in rel.split('/')) or rel in top: continue
        where = 'Lessons' if rel.startswith('lessons/') else area[rel[0]]
        assert rel in sections[where], (rel, where)


def _serve(folder: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    handler = functools.partial(Quiet, directory=str(folder))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@SITE
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


# ---- "the seed": the design documents are called the design documents in the project's text --------------------
# `seed` stays where it means a random seed (seed=0, seed_everything, --seed) or a codec's seed word (a Packed128
# seed, SeedLM's LFSR seed, the seed codec); what is refused is "the seed" meaning the design documents.
SEED_WORDING = re.compile(r"\b[Tt]he seed(?:'s)?\b(?! (?:codec|word|words|drives|is its|\(uint16\)))|\b[Ss]eeds? 00[0-2]\b|\bseed claims\b"
                          r"|\b[Ss]eed design\b")
# notebooks whose wording is done on this branch (0x, 1x but 19a, 2x but 21, 9x but 95, the front page, claims);
# the others (19a, 21, 3x, 4x, 5x, 95, lessons) are reworded on other branches: flip ALL_REWORDED when they are in
def _reworded_here(rel: str) -> bool:
    return rel == 'index.ipynb' or bool(re.match(r'[0129]\d[a-z]?_', rel)) and not rel.startswith(('19a_', '21_', '95_'))
ALL_REWORDED = True


def _seed_wording():
    "{notebook: [offending lines]} from markdown cells of every notebook and string constants of every module (by its notebook)."
    import ast
    bad = {}
    for p in sorted((ROOT / 'nbs').rglob('*.ipynb')):
        rel = p.relative_to(ROOT / 'nbs').as_posix()
        for c in json.loads(p.read_text())['cells']:
            s = ''.join(c['source'])
            if c['cell_type'] != 'markdown' or 'SeedLM' in s: continue
            bad.setdefault(rel, []).extend(l.strip()[:120] for l in s.splitlines() if SEED_WORDING.search(l))
    for m in sorted((ROOT / 'mathphys_nb').rglob('*.py')):
        text = m.read_text(); nb = re.search(r'File to edit: [./]*nbs/(\S+?\.ipynb)', text)
        rel = nb.group(1) if nb else m.relative_to(ROOT).as_posix()
        for n in ast.walk(ast.parse(text)):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and 'SeedLM' not in n.value:
                bad.setdefault(rel, []).extend(l.strip()[:120] for l in n.value.splitlines() if SEED_WORDING.search(l))
    return {k: v for k, v in bad.items() if v}


def test_seed_wording_pattern():
    for s in ("The seed claims ~2 µs", "the seed's v1", "Seed 002's claims", "as the seed counts them", "seed claims ~100 ms"):
        assert SEED_WORDING.search(s), s
    for s in ("seed=0", "seed_everything(0)", "--seed 3", "one CORDIC seed per block", "the seed codec", "random seed",
              "a real seed's output", "seeds searched by the seed codec", "rng seeded by (seed, step)"):
        assert not SEED_WORDING.search(s), s


def test_no_seed_wording_where_reworded():
    "The notebooks reworded on the docs branch, and the modules made from them, never call the design documents \"the seed\"."
    bad = {k: v for k, v in _seed_wording().items() if _reworded_here(k)}
    assert not bad, bad


def test_no_seed_wording_anywhere():
    bad = _seed_wording()
    assert not bad, {k: v[:3] for k, v in bad.items()}


def test_every_exported_signature_can_be_shown():
    "show_doc evaluates annotations (`inspect.signature(eval_str=True)`): a name that is only imported inside a function stops the docs build."
    import importlib, inspect, pkgutil
    import mathphys_nb
    bad = []
    for m in pkgutil.walk_packages(mathphys_nb.__path__, 'mathphys_nb.'):
        if m.name.endswith('_modidx'): continue
        mod = importlib.import_module(m.name)
        for name in getattr(mod, '__all__', []):
            obj = getattr(mod, name)
            if not callable(obj): continue
            try: inspect.signature(obj, eval_str=True)
            except (ValueError, TypeError): pass            # builtins and C types without a signature: show_doc copes
            except Exception as e: bad.append(f'{m.name}.{name}: {type(e).__name__}: {e}')
    assert not bad, bad
